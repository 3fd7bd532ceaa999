"""A charger on the PyPI `ocpp` package that answers the smart charging calls of a CSMS: it validates
every call it receives against the official OCPP schemas (a call that breaks them gets a CallError),
keeps the profiles it is given, answers GetCompositeSchedule from them and, for 2.0.1
GetChargingProfiles, reports them in two ReportChargingProfiles parts. Every call received is printed
on stdout as a JSON line; the line {"ready": true} follows the boot. Ends when stdin closes.

usage: profile_charger.py --url ws://HOST:PORT/ocpp --id CP1 --password PW --version 1.6|2.0.1
"""

import argparse
import asyncio
import base64
import json
import sys
from datetime import datetime, timezone

import websockets
from ocpp.routing import on


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def say(obj):
    # The library reads OCPP decimals as Decimal.
    print(json.dumps(obj, default=float), flush=True)


def charger_16(base):
    from ocpp.v16 import call_result

    class Charger(base):
        profiles = {}

        @on("SetChargingProfile")
        def set_profile(self, connector_id, cs_charging_profiles, **kw):
            say({"action": "SetChargingProfile", "connector_id": connector_id, "profile": cs_charging_profiles})
            self.profiles[cs_charging_profiles["charging_profile_id"]] = (connector_id, cs_charging_profiles)
            return call_result.SetChargingProfile(status="Accepted")

        @on("ClearChargingProfile")
        def clear_profile(self, **kw):
            say({"action": "ClearChargingProfile", "payload": kw})
            found = kw.get("id") in self.profiles
            self.profiles.pop(kw.get("id"), None)
            return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

        @on("GetCompositeSchedule")
        def composite(self, connector_id, duration, **kw):
            say({"action": "GetCompositeSchedule", "connector_id": connector_id, "duration": duration, **kw})
            periods = [p for (_, prof) in self.profiles.values() for p in prof["charging_schedule"]["charging_schedule_period"]]
            limit = min((p["limit"] for p in periods), default=32)
            return call_result.GetCompositeSchedule(status="Accepted", connector_id=connector_id, schedule_start=now(),
                charging_schedule={"duration": duration, "charging_rate_unit": kw.get("charging_rate_unit", "A"),
                                   "charging_schedule_period": [{"start_period": 0, "limit": limit}]})

        @on("RemoteStartTransaction")
        def remote_start(self, id_tag, **kw):
            say({"action": "RemoteStartTransaction", "id_tag": id_tag, **kw})
            return call_result.RemoteStartTransaction(status="Accepted")

    return Charger


def charger_201(base):
    from ocpp.v201 import call, call_result

    class Charger(base):
        profiles = {}

        @on("SetChargingProfile")
        def set_profile(self, evse_id, charging_profile, **kw):
            say({"action": "SetChargingProfile", "evse_id": evse_id, "profile": charging_profile})
            self.profiles[charging_profile["id"]] = (evse_id, charging_profile)
            return call_result.SetChargingProfile(status="Accepted")

        @on("ClearChargingProfile")
        def clear_profile(self, **kw):
            say({"action": "ClearChargingProfile", "payload": kw})
            found = kw.get("charging_profile_id") in self.profiles
            self.profiles.pop(kw.get("charging_profile_id"), None)
            return call_result.ClearChargingProfile(status="Accepted" if found else "Unknown")

        @on("GetCompositeSchedule")
        def composite(self, duration, evse_id, **kw):
            say({"action": "GetCompositeSchedule", "evse_id": evse_id, "duration": duration, **kw})
            return call_result.GetCompositeSchedule(status="Accepted", schedule={
                "evse_id": evse_id, "duration": duration, "schedule_start": now(),
                "charging_rate_unit": kw.get("charging_rate_unit", "A"),
                "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]})

        @on("GetChargingProfiles")
        def get_profiles(self, request_id, charging_profile, **kw):
            say({"action": "GetChargingProfiles", "request_id": request_id, "criterion": charging_profile, **kw})
            asyncio.get_running_loop().create_task(self.report(request_id))
            return call_result.GetChargingProfiles(status="Accepted" if self.profiles else "NoProfiles")

        async def report(self, request_id):
            items = list(self.profiles.values())
            for i, (evse, prof) in enumerate(items):
                await self.call(call.ReportChargingProfiles(request_id=request_id, charging_limit_source="CSO",
                    charging_profile=[prof], evse_id=evse, tbc=i + 1 < len(items)), suppress=False)

        @on("RequestStartTransaction")
        def remote_start(self, id_token, remote_start_id, **kw):
            say({"action": "RequestStartTransaction", "id_token": id_token, **kw})
            return call_result.RequestStartTransaction(status="Accepted")

    return Charger


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--version", choices=["1.6", "2.0.1"], required=True)
    a = ap.parse_args()
    if a.version == "1.6":
        from ocpp.v16 import ChargePoint, call
        proto, cls = "ocpp1.6", charger_16(ChargePoint)
    else:
        from ocpp.v201 import ChargePoint, call
        proto, cls = "ocpp2.0.1", charger_201(ChargePoint)
    auth = base64.b64encode(f"{a.id}:{a.password}".encode()).decode()
    async with websockets.connect(f"{a.url}/{a.id}", subprotocols=[proto],
                                  additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        cp = cls(a.id, ws)
        listener = asyncio.create_task(cp.start())
        if a.version == "1.6":
            r = await cp.call(call.BootNotification(charge_point_model="PyProfiles", charge_point_vendor="PyPI-ocpp"), suppress=False)
        else:
            r = await cp.call(call.BootNotification(charging_station={"model": "PyProfiles", "vendor_name": "PyPI-ocpp"},
                                                    reason="PowerUp"), suppress=False)
        assert r.status == "Accepted", r
        if a.version == "2.0.1":
            # What the charger reports about its limits: the answers are checked against the schemas.
            r = await cp.call(call.NotifyEVChargingNeeds(evse_id=1, charging_needs={
                "requested_energy_transfer": "AC_three_phase", "departure_time": now(),
                "ac_charging_parameters": {"energy_amount": 20000, "ev_min_current": 6, "ev_max_current": 16,
                                           "ev_max_voltage": 400}}), suppress=False)
            say({"notify": "NotifyEVChargingNeeds", "status": r.status})
            await cp.call(call.NotifyChargingLimit(evse_id=1, charging_limit={"charging_limit_source": "EMS"},
                charging_schedule=[{"id": 1, "charging_rate_unit": "A",
                                    "charging_schedule_period": [{"start_period": 0, "limit": 10.0}]}]), suppress=False)
            await cp.call(call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1), suppress=False)
            r = await cp.call(call.NotifyEVChargingSchedule(time_base=now(), evse_id=1, charging_schedule={
                "id": 1, "charging_rate_unit": "A", "charging_schedule_period": [{"start_period": 0, "limit": 16.0}]}),
                suppress=False)
            say({"notify": "NotifyEVChargingSchedule", "status": r.status})
        say({"ready": True})
        # Until the test closes stdin.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        listener.cancel()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # report and fail
        print(f"charger failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

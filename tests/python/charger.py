"""A charger built on the PyPI `ocpp` package (a client this project did not write). It validates every
request it sends and every answer it gets against the official OCPP JSON schemas, and fails on any
CallError or invalid answer. Runs one complete session and the common notifications, then prints a JSON
summary on stdout.

usage: charger.py --url ws://HOST:PORT/ocpp --id CP1 --password PW --version 1.6|2.0.1 --tag TAG
"""

import argparse
import asyncio
import base64
import json
import sys
from datetime import datetime, timezone

import websockets


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


async def run_16(cp, tag):
    from ocpp.v16 import call

    r = await cp.call(call.BootNotification(charge_point_model="PyCharger", charge_point_vendor="PyPI-ocpp"), suppress=False)
    assert r.status == "Accepted", r
    await cp.call(call.StatusNotification(connector_id=0, error_code="NoError", status="Available"), suppress=False)
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available", timestamp=now()), suppress=False)
    await cp.call(call.Heartbeat(), suppress=False)
    r = await cp.call(call.Authorize(id_tag=tag), suppress=False)
    assert r.id_tag_info["status"] == "Accepted", r
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing", timestamp=now()), suppress=False)
    r = await cp.call(call.StartTransaction(connector_id=1, id_tag=tag, meter_start=10000, timestamp=now()), suppress=False)
    assert r.id_tag_info["status"] == "Accepted", r
    tx = r.transaction_id
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Charging", timestamp=now()), suppress=False)
    for wh in (12000, 14500):
        await cp.call(call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{"timestamp": now(), "sampledValue": [
            {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh", "context": "Sample.Periodic"},
            {"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"},
            {"value": "32", "measurand": "Current.Import", "unit": "A", "phase": "L1"}]}]), suppress=False)
    r = await cp.call(call.StopTransaction(meter_stop=16000, timestamp=now(), transaction_id=tx, reason="EVDisconnected", id_tag=tag,
        transaction_data=[{"timestamp": now(), "sampledValue": [{"value": "16000", "context": "Transaction.End"}]}]), suppress=False)
    assert r.id_tag_info["status"] == "Accepted", r
    await cp.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Available", timestamp=now()), suppress=False)
    r = await cp.call(call.DataTransfer(vendor_id="org.example", message_id="hello", data="{}"), suppress=False)
    assert r.status == "UnknownVendorId", r
    await cp.call(call.FirmwareStatusNotification(status="Idle"), suppress=False)
    await cp.call(call.DiagnosticsStatusNotification(status="Idle"), suppress=False)
    await cp.call(call.SecurityEventNotification(type="SettingSystemTime", timestamp=now(), tech_info="clock set by NTP"), suppress=False)
    return str(tx)


async def run_201(cp, tag):
    from ocpp.v201 import call

    r = await cp.call(call.BootNotification(charging_station={"model": "PyStation", "vendor_name": "PyPI-ocpp"}, reason="PowerUp"), suppress=False)
    assert r.status == "Accepted", r
    await cp.call(call.StatusNotification(timestamp=now(), connector_status="Available", evse_id=1, connector_id=1), suppress=False)
    await cp.call(call.Heartbeat(), suppress=False)
    token = {"id_token": tag, "type": "ISO14443"}
    r = await cp.call(call.Authorize(id_token=token), suppress=False)
    assert r.id_token_info["status"] == "Accepted", r
    tx = "py-" + datetime.now().strftime("%H%M%S%f")

    def meter(wh, context):
        return [{"timestamp": now(), "sampled_value": [
            {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context, "unit_of_measure": {"unit": "kWh"}},
            {"value": 11.0, "measurand": "Power.Active.Import", "unit_of_measure": {"unit": "W", "multiplier": 3}},
            {"value": 57, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}}]}]

    await cp.call(call.StatusNotification(timestamp=now(), connector_status="Occupied", evse_id=1, connector_id=1), suppress=False)
    r = await cp.call(call.TransactionEvent(event_type="Started", timestamp=now(), trigger_reason="Authorized", seq_no=0,
        transaction_info={"transaction_id": tx, "charging_state": "Charging"}, id_token=token,
        evse={"id": 1, "connector_id": 1}, meter_value=meter(20.0, "Transaction.Begin")), suppress=False)
    assert r.id_token_info["status"] == "Accepted", r
    await cp.call(call.TransactionEvent(event_type="Updated", timestamp=now(), trigger_reason="MeterValuePeriodic", seq_no=1,
        transaction_info={"transaction_id": tx}, meter_value=meter(25.5, "Sample.Periodic")), suppress=False)
    await cp.call(call.TransactionEvent(event_type="Ended", timestamp=now(), trigger_reason="EVCommunicationLost", seq_no=2,
        transaction_info={"transaction_id": tx, "stopped_reason": "EVDisconnected", "charging_state": "Idle"},
        meter_value=meter(30.25, "Transaction.End")), suppress=False)
    await cp.call(call.StatusNotification(timestamp=now(), connector_status="Available", evse_id=1, connector_id=1), suppress=False)
    await cp.call(call.MeterValues(evse_id=0, meter_value=[{"timestamp": now(), "sampled_value": [{"value": 1234.5}]}]), suppress=False)
    await cp.call(call.NotifyEvent(generated_at=now(), seq_no=0, event_data=[{"event_id": 1, "timestamp": now(), "trigger": "Alerting",
        "actual_value": "Faulted", "component": {"name": "Connector"}, "variable": {"name": "AvailabilityState"},
        "event_notification_type": "HardWiredNotification"}]), suppress=False)
    await cp.call(call.NotifyReport(request_id=1, generated_at=now(), seq_no=0, report_data=[{"component": {"name": "Clock"},
        "variable": {"name": "DateTime"}, "variable_attribute": [{"value": now()}]}]), suppress=False)
    await cp.call(call.SecurityEventNotification(type="StartupOfTheDevice", timestamp=now()), suppress=False)
    await cp.call(call.FirmwareStatusNotification(status="Installed", request_id=7), suppress=False)
    r = await cp.call(call.DataTransfer(vendor_id="org.example", data={"any": ["json", 1]}), suppress=False)
    assert r.status == "UnknownVendorId", r
    return tx


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--id", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--version", choices=["1.6", "2.0.1"], required=True)
    ap.add_argument("--tag", required=True)
    a = ap.parse_args()
    if a.version == "1.6":
        from ocpp.v16 import ChargePoint
        proto, runner = "ocpp1.6", run_16
    else:
        from ocpp.v201 import ChargePoint
        proto, runner = "ocpp2.0.1", run_201
    auth = base64.b64encode(f"{a.id}:{a.password}".encode()).decode()
    async with websockets.connect(f"{a.url}/{a.id}", subprotocols=[proto],
                                  additional_headers={"Authorization": f"Basic {auth}"}) as ws:
        assert ws.subprotocol == proto, ws.subprotocol
        cp = ChargePoint(a.id, ws)
        listener = asyncio.create_task(cp.start())
        try:
            tx = await asyncio.wait_for(runner(cp, a.tag), timeout=60)
        finally:
            listener.cancel()
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
    print(json.dumps({"transaction_id": tx, "subprotocol": proto, "extensions": extensions}))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except Exception as e:  # report and fail
        print(f"charger failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)

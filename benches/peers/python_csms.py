"""An in-memory central system built on the PyPI `ocpp` package, for measuring what `cpms serve` costs
beside it under the same simulator load (scripts/peer-bench). It answers both OCPP 1.6 and 2.0.1 with
the package's own routing and schema validation, keeps nothing but a transaction counter, checks no
password, and sends no calls of its own.

usage: python_csms.py PORT
"""

import asyncio
import itertools
import sys
from datetime import datetime, timezone

import websockets
from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as r16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as r201

transactions = itertools.count(1)


def now():
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


class Cs16(ChargePoint16):
    @on("BootNotification")
    async def on_boot(self, **_):
        return r16.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self, **_):
        return r16.Heartbeat(current_time=now())

    @on("StatusNotification")
    async def on_status(self, **_):
        return r16.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, **_):
        return r16.Authorize(id_tag_info={"status": "Accepted"})

    @on("StartTransaction")
    async def on_start(self, **_):
        return r16.StartTransaction(transaction_id=next(transactions), id_tag_info={"status": "Accepted"})

    @on("MeterValues")
    async def on_meter_values(self, **_):
        return r16.MeterValues()

    @on("StopTransaction")
    async def on_stop(self, **_):
        return r16.StopTransaction(id_tag_info={"status": "Accepted"})

    @on("FirmwareStatusNotification")
    async def on_firmware(self, **_):
        return r16.FirmwareStatusNotification()

    @on("DataTransfer")
    async def on_data_transfer(self, **_):
        return r16.DataTransfer(status="Accepted")


class Cs201(ChargePoint201):
    @on("BootNotification")
    async def on_boot(self, **_):
        return r201.BootNotification(current_time=now(), interval=300, status="Accepted")

    @on("Heartbeat")
    async def on_heartbeat(self, **_):
        return r201.Heartbeat(current_time=now())

    @on("StatusNotification")
    async def on_status(self, **_):
        return r201.StatusNotification()

    @on("Authorize")
    async def on_authorize(self, **_):
        return r201.Authorize(id_token_info={"status": "Accepted"})

    @on("TransactionEvent")
    async def on_transaction_event(self, **kw):
        if kw.get("id_token"):
            return r201.TransactionEvent(id_token_info={"status": "Accepted"})
        return r201.TransactionEvent()

    @on("MeterValues")
    async def on_meter_values(self, **_):
        return r201.MeterValues()

    @on("FirmwareStatusNotification")
    async def on_firmware(self, **_):
        return r201.FirmwareStatusNotification()

    @on("NotifyEvent")
    async def on_notify_event(self, **_):
        return r201.NotifyEvent()

    @on("DataTransfer")
    async def on_data_transfer(self, **_):
        return r201.DataTransfer(status="Accepted")


async def serve(ws):
    cp_id = ws.request.path.rstrip("/").split("/")[-1]
    cls = Cs201 if ws.subprotocol == "ocpp2.0.1" else Cs16
    try:
        await cls(cp_id, ws).start()
    except websockets.exceptions.ConnectionClosed:
        pass
    except Exception as e:
        print("error", repr(e), file=sys.stderr, flush=True)


async def main(port):
    async with websockets.serve(serve, "127.0.0.1", port, subprotocols=["ocpp1.6", "ocpp2.0.1"], ping_interval=None):
        print(f"listening on {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

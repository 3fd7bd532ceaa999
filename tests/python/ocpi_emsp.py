"""An eMSP for the OCPI tests, written on extrawest-ocpi (py_ocpi: a FastAPI implementation of OCPI
2.2.1 this project did not write), with an in-memory store. It is what a roaming partner of the CPO
would be: it takes the CPO's credentials (the CPO registers with its token A) or registers with the
CPO itself, receives locations, sessions, tariffs and CDRs, holds tokens the CPO may pull or that it
pushes, answers real-time authorizations, and receives command results.

A control API beside OCPI (`/control/...`) lets the test see what arrived and make the eMSP act:

  GET  /control/state                     everything received, with counts of every push
  POST /control/register {versions_url, token_a}
                                          register with the CPO (eMSP-initiated handshake)
  POST /control/tokens {token}            keep a token and PUT it to the CPO's tokens receiver
  POST /control/commands/{TYPE} {...}     send a command to the CPO; the result arrives at
                                          /ocpi/emsp/2.2.1/commands/{uid} and shows in the state
  POST /control/fail {"status": 503}      answer every OCPI push with that HTTP status (0: normally)

usage: ocpi_emsp.py --port PORT --token-a TOKEN [--country NL --party EXA]

extrawest-ocpi pins pydantic 1 and an old FastAPI, so it runs in a virtualenv of its own
(tests/python/ocpi-requirements.txt).
"""

import argparse
import base64
import os
import secrets
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token-a", required=True)
    ap.add_argument("--country", default="NL")
    ap.add_argument("--party", default="EXA")
    a = ap.parse_args()
    # py_ocpi reads its settings from the environment when imported.
    os.environ.update({
        "OCPI_HOST": f"127.0.0.1:{a.port}", "PROTOCOL": "http", "COUNTRY_CODE": a.country,
        "PARTY_ID": a.party, "ENVIRONMENT": "production", "TRAILING_SLASH": "true",
    })
    app = build(a)
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning")


def b64(s):
    return base64.b64encode(s.encode()).decode()


def build(a):
    import httpx
    from fastapi import Request
    from fastapi.responses import JSONResponse
    from py_ocpi.main import get_application
    from py_ocpi.core.crud import Crud
    from py_ocpi.core.authentication.authenticator import Authenticator
    from py_ocpi.core.enums import ModuleID, RoleEnum
    from py_ocpi.modules.versions.enums import VersionNumber

    base = f"http://127.0.0.1:{a.port}"
    versions_url = f"{base}/ocpi/versions"
    me = {"role": "EMSP", "party_id": a.party, "country_code": a.country,
          "business_details": {"name": "Test eMSP"}}
    state = {
        "cpo": None,            # the CPO's credentials: token (to call it), url, endpoints
        "token_c": [],          # tokens the CPO may call us with
        "objects": {},          # module -> id -> object as last received
        "pushes": {},           # module -> count of every PUT/PATCH/POST received
        "cdr_ids": [],          # every CDR POST, in order (a CDR twice shows twice)
        "command_results": {},  # uid -> result
        "tokens": {},           # uid -> token we hold
        "fail": 0,
    }

    def count(module):
        state["pushes"][module] = state["pushes"].get(module, 0) + 1

    def key(module, id, kw):
        if module in ("locations", "sessions", "tariffs"):
            return f"{kw.get('country_code', '')}/{kw.get('party_id', '')}/{id}"
        return str(id)

    class Store(Crud):
        @classmethod
        async def get(cls, module, role, id, *args, **kw):
            m = module.value
            if m == "credentials":
                return {"token": id, "url": versions_url, "roles": [me]}
            if m == "tokens":
                return state["tokens"].get(id)
            return state["objects"].get(m, {}).get(key(m, id, kw))

        @classmethod
        async def list(cls, module, role, filters, *args, **kw):
            m = module.value
            items = list(state["tokens"].values()) if m == "tokens" else \
                list(state["objects"].get(m, {}).values())
            off, lim = int(filters.get("offset") or 0), int(filters.get("limit") or 50)
            page = items[off:off + lim]
            return page, len(items), off + lim >= len(items)

        @classmethod
        async def create(cls, module, role, data, *args, **kw):
            m = module.value
            if m == "credentials":
                creds, endpoints = data["credentials"], data["endpoints"]
                state["cpo"] = {"token": creds["token"], "url": str(creds["url"]),
                                "endpoints": endpoints.get("endpoints", endpoints)}
                token_c = secrets.token_urlsafe(24)
                state["token_c"].append(token_c)
                return {"token": token_c, "url": versions_url, "roles": [me]}
            count(m)
            if m == "cdrs":
                state["cdr_ids"].append(data["id"])
                state["objects"].setdefault(m, {})[data["id"]] = data
                return data
            id = data.get("id") or data.get("uid")
            state["objects"].setdefault(m, {})[key(m, id, kw)] = data
            return data

        @classmethod
        async def update(cls, module, role, data, id, *args, **kw):
            m = module.value
            if m == "credentials":
                return await cls.create(module, role, data, *args, **kw)
            if m == "commands":
                state["command_results"][id] = data
                return data
            count(m)
            store = state["objects"].setdefault(m, {})
            k = key(m, id, kw)
            merged = dict(store.get(k) or {})
            merged.update({f: v for f, v in data.items() if v is not None})
            store[k] = merged
            return merged

        @classmethod
        async def delete(cls, module, role, id, *args, **kw):
            m = module.value
            if m == "credentials":
                state["cpo"] = None
                state["token_c"] = [t for t in state["token_c"] if t != kw.get("auth_token")]
                return None
            state["objects"].get(m, {}).pop(key(m, id, kw), None)

        @classmethod
        async def do(cls, module, role, action, *args, data=None, **kw):
            if module.value == "tokens":
                t = state["tokens"].get(data["token_uid"])
                return t and {"allowed": "ALLOWED" if t["valid"] else "BLOCKED", "token": t}
            return None

    class Tokens(Authenticator):
        @classmethod
        async def get_valid_token_c(cls):
            return list(state["token_c"])

        @classmethod
        async def get_valid_token_a(cls):
            return [a.token_a]

    app = get_application(
        version_numbers=[VersionNumber.v_2_2_1], roles=[RoleEnum.emsp], crud=Store,
        authenticator=Tokens,
        modules=[ModuleID.credentials_and_registration, ModuleID.locations, ModuleID.sessions,
                 ModuleID.cdrs, ModuleID.tariffs, ModuleID.tokens, ModuleID.commands],
    )

    @app.middleware("http")
    async def failing(request: Request, call_next):
        if state["fail"] and request.url.path.startswith("/ocpi/emsp/"):
            return JSONResponse({"detail": "down"}, status_code=state["fail"])
        return await call_next(request)

    def cpo_endpoint(module):
        for e in (state["cpo"] or {}).get("endpoints", []):
            if e["identifier"] == module and e.get("role", "RECEIVER") == "RECEIVER":
                return e["url"].rstrip("/")
        raise RuntimeError(f"the CPO has no {module} receiver")

    def cpo_headers():
        return {"Authorization": f"Token {b64(state['cpo']['token'])}",
                "X-Request-ID": secrets.token_hex(8), "X-Correlation-ID": secrets.token_hex(8),
                "OCPI-from-country-code": a.country, "OCPI-from-party-id": a.party}

    @app.get("/control/state")
    async def control_state():
        return {k: v for k, v in state.items() if k != "token_c"} | {"registered": bool(state["token_c"])}

    @app.post("/control/fail")
    async def control_fail(body: dict):
        state["fail"] = int(body.get("status", 0))
        return {"fail": state["fail"]}

    @app.post("/control/register")
    async def control_register(body: dict):
        auth = {"Authorization": f"Token {b64(body['token_a'])}"}
        async with httpx.AsyncClient(timeout=10) as c:
            versions = (await c.get(body["versions_url"], headers=auth)).json()["data"]
            url = next(v["url"] for v in versions if v["version"] == "2.2.1")
            details = (await c.get(url, headers=auth)).json()["data"]
            creds_url = next(e["url"] for e in details["endpoints"] if e["identifier"] == "credentials")
            token_c = secrets.token_urlsafe(24)
            state["token_c"].append(token_c)
            r = await c.post(creds_url, headers=auth,
                             json={"token": token_c, "url": versions_url, "roles": [me]})
            env = r.json()
            if r.status_code != 200 or env.get("status_code") != 1000:
                return JSONResponse({"status": r.status_code, "answer": env}, status_code=502)
            state["cpo"] = {"token": env["data"]["token"], "url": body["versions_url"],
                            "endpoints": details["endpoints"]}
        return {"registered": True, "cpo_roles": env["data"]["roles"]}

    @app.post("/control/tokens")
    async def control_token(body: dict):
        t = body["token"]
        state["tokens"][t["uid"]] = t
        url = f"{cpo_endpoint('tokens')}/{a.country}/{a.party}/{t['uid']}"
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.put(url, headers=cpo_headers(), json=t)
        return {"status": r.status_code, "answer": r.json()}

    @app.post("/control/commands/{kind}")
    async def control_command(kind: str, body: dict):
        uid = secrets.token_hex(6)
        body = dict(body, response_url=f"{base}/ocpi/emsp/2.2.1/commands/{uid}")
        async with httpx.AsyncClient(timeout=10) as c:
            r = await c.post(f"{cpo_endpoint('commands')}/{kind}", headers=cpo_headers(), json=body)
        return {"uid": uid, "status": r.status_code, "answer": r.json()}

    return app


if __name__ == "__main__":
    sys.exit(main())

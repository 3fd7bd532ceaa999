"""The operator API against its own OpenAPI document, on a running server.

1. The document is valid OpenAPI 3.1 (openapi-spec-validator).
2. A client generated from it by openapi-python-client registers and reads a charger for real.
3. Every documented operation is called with real data (the caller seeded a connected charger with a
   finished session): each answer's status must be one the document gives for it, its body must match the
   schema of that status (a problem must match Problem), and every operation must answer with success at
   least once (but for the few listed in NO_DATA, which need data a fresh server cannot make).
4. schemathesis fuzzes every operation: no server error, statuses, content types and bodies as documented,
   and schema-invalid requests refused.

usage: openapi_check.py --api http://127.0.0.1:PORT --key ADMIN_KEY --charger ID
"""

import argparse
import datetime
import importlib
import json
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import jsonschema
import openapi_spec_validator
import referencing
import referencing.jsonschema

# Operations that need data a fresh server cannot make (an invoice needs CDRs made in a month that is
# over): they are called, and must answer a documented problem.
NO_DATA = {
    ("get", "/v1/invoices/{id}"): "no invoice: CDRs made this month are invoiced next month",
    ("get", "/v1/invoices/{id}/cdrs"): "no invoice: CDRs made this month are invoiced next month",
    ("get", "/v1/statements/{id}"): "no statement: CDRs made this month are invoiced next month",
}


class Api:
    def __init__(self, base, key, doc):
        self.base, self.key, self.doc = base, key, doc
        root = dict(doc)
        root["$id"] = "urn:cpms-openapi"
        resource = referencing.Resource.from_contents(root, default_specification=referencing.jsonschema.DRAFT202012)
        self.registry = referencing.Registry().with_resource("urn:cpms-openapi", resource)
        self.seen = {}  # (method, templated path) -> set of statuses
        self.failures = []

    def template(self, method, path):
        """The documented path a concrete one belongs to."""
        bare = path.split("?")[0]
        parts = bare.strip("/").split("/")
        for p, ops in self.doc["paths"].items():
            t = p.strip("/").split("/")
            if method in ops and len(t) == len(parts) and all(a == b or a.startswith("{") for a, b in zip(t, parts)):
                # Prefer the literal match (`/cdrs.csv` before `/cdrs/{id}`).
                if all(a == b for a, b in zip(t, parts)):
                    return p
        for p, ops in self.doc["paths"].items():
            t = p.strip("/").split("/")
            if method in ops and len(t) == len(parts) and all(a == b or a.startswith("{") for a, b in zip(t, parts)):
                return p
        return None

    def call(self, method, path, body=None, key=True):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method.upper())
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key:
            req.add_header("Authorization", f"Bearer {self.key}")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, ctype, raw = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, ctype, raw = e.code, e.headers.get("Content-Type", ""), e.read()
        self.check(method, path, status, ctype, raw)
        if "json" in ctype and raw:
            return status, json.loads(raw)
        return status, raw.decode(errors="replace")

    def check(self, method, path, status, ctype, raw):
        t = self.template(method, path)
        where = f"{method.upper()} {path} -> {status}"
        if t is None:
            self.failures.append(f"{where}: not a documented operation")
            return
        self.seen.setdefault((method, t), set()).add(status)
        responses = self.doc["paths"][t][method]["responses"]
        key = str(status) if str(status) in responses else ("default" if status >= 400 else None)
        if key is None:
            self.failures.append(f"{where}: status not documented ({sorted(responses)})")
            return
        content = responses[key].get("content")
        if not content:
            if raw:
                self.failures.append(f"{where}: documented without a body, got {raw[:100]!r}")
            return
        mime = ctype.split(";")[0].strip()
        if mime not in content:
            self.failures.append(f"{where}: content type {mime!r}, documented {sorted(content)}")
            return
        if "json" not in mime:
            return
        pointer = "/".join(["", "paths", t.replace("~", "~0").replace("/", "~1"), method, "responses", key,
                            "content", mime.replace("/", "~1"), "schema"])
        validator = jsonschema.Draft202012Validator({"$ref": "urn:cpms-openapi#" + pointer}, registry=self.registry)
        errors = sorted(validator.iter_errors(json.loads(raw)), key=lambda e: list(e.path))
        for e in errors[:3]:
            self.failures.append(f"{where}: body does not match its schema at {list(e.path)}: {e.message[:200]}")


def generated_client(doc, api, key):
    """openapi-python-client's package for the document, imported."""
    out = Path(tempfile.mkdtemp())
    spec = out / "openapi.json"
    spec.write_text(json.dumps(doc))
    config = out / "config.yml"
    config.write_text("project_name_override: cpms_client\npackage_name_override: cpms_client\npost_hooks: []\n")
    r = subprocess.run([str(Path(sys.executable).with_name("openapi-python-client")), "generate", "--path", str(spec),
                        "--output-path", str(out / "cpms_client"), "--meta", "none", "--config", str(config)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0 or "Unable to" in r.stdout or "Unable to" in r.stderr:
        raise SystemExit(f"the client generator failed on the document:\n{r.stdout}\n{r.stderr}")
    sys.path.insert(0, str(out))
    client = importlib.import_module("cpms_client.client")
    return client.AuthenticatedClient(base_url=api, token=key)


def use_generated_client(client):
    post_chargers = importlib.import_module("cpms_client.api.chargers.post_chargers")
    get_chargers_id = importlib.import_module("cpms_client.api.chargers.get_chargers_id")
    models = importlib.import_module("cpms_client.models")
    created = post_chargers.sync(client=client, body=models.NewCharger(id="GEN-CLIENT-1"))
    assert type(created).__name__ != "Problem" and created is not None, created
    assert created.id == "GEN-CLIENT-1" and len(created.password) == 40, created
    read = get_chargers_id.sync(client=client, id="GEN-CLIENT-1")
    assert read.id == "GEN-CLIENT-1" and read.connected is False, read
    problem = get_chargers_id.sync(client=client, id="NO-SUCH-CHARGER")
    assert type(problem).__name__ == "Problem" and problem.status == 404, problem


def walk(a, charger, emsp, emsp_token):
    """Every documented operation, with real data."""
    prev = (datetime.date.today().replace(day=1) - datetime.timedelta(days=1)).strftime("%Y-%m")
    a.call("get", "/v1/openapi.json", key=False)
    a.call("post", "/v1/tenants", {"id": "oa-tenant", "name": "OpenAPI"})
    a.call("get", "/v1/tenants")
    _, k = a.call("post", "/v1/api-keys", {"name": "dashboard", "role": "viewer"})
    a.call("get", "/v1/api-keys")
    site = {"id": "oa-site", "name": "Depot", "address": {"street": "1 Main St", "city": "Berlin", "country": "DEU"},
            "coordinates": {"latitude": 52.5, "longitude": 13.4}, "time_zone": "Europe/Berlin"}
    a.call("post", "/v1/sites", site)
    a.call("get", "/v1/sites")
    a.call("get", "/v1/sites/oa-site")
    a.call("patch", "/v1/sites/oa-site", {"name": "Depot North"})
    a.call("put", "/v1/sites/oa-site/revenue-split", {"shares": [{"partner": "HOST-1", "percent": 10}]})
    a.call("get", "/v1/sites/oa-site/revenue-split")
    a.call("get", "/v1/settings")
    a.call("patch", "/v1/settings", {"running_cost_interval_s": 120})
    a.call("post", "/v1/chargers", {"id": "OA-2", "name": "Bay 2"})
    a.call("get", "/v1/chargers")
    a.call("get", f"/v1/chargers/{charger}")
    a.call("patch", "/v1/chargers/OA-2", {"site_id": "oa-site"})
    a.call("put", "/v1/chargers/OA-2/password", {})
    a.call("get", f"/v1/chargers/{charger}/events")
    tree = {"nodes": [{"id": "grid", "kind": "grid", "limit_a": 63},
                      {"id": "board", "parent": "grid", "kind": "board", "limit_kw": 40},
                      {"id": "oa-2", "parent": "board", "kind": "charger", "charger_id": "OA-2"},
                      {"id": "oa-2-1", "parent": "oa-2", "kind": "evse", "evse_id": 1, "limit_a": 32, "phases": 1,
                       "phase_rotation": "L2"}]}
    policy = {"schedules": [{"node": "grid", "days": ["Mon", "Tue"], "from": "17:00:00", "to": "21:00:00", "limit_kw": 20}],
              "price_caps": [{"node": "grid", "at_or_above": 0.35, "limit_kw": 11}]}
    a.call("put", "/v1/sites/oa-site/electrical", {"tree": tree, "policy": policy})
    a.call("get", "/v1/sites/oa-site/electrical")
    a.call("put", "/v1/sites/oa-site/price-curve", {"points": [
        {"from": "2026-12-01T16:00:00Z", "to": "2026-12-01T17:00:00Z", "price_per_kwh": 0.42}]})
    a.call("post", "/v1/sites/oa-site/external-limits",
           {"id": "dso-1", "node": "grid", "source": "dso", "limit_a": 40, "until": "2099-01-01T00:00:00Z"})
    a.call("post", "/v1/sites/oa-site/readings", {"node": "board", "current_a": [3, 4, 5.5], "at": "2026-12-01T12:00:00Z"})
    a.call("get", "/v1/sites/oa-site/conditions")
    a.call("get", "/v1/sites/oa-site/allocation")
    a.call("post", "/v1/sites/oa-site/allocation/preview",
           {"demands": [{"charger": "OA-2", "evse_id": 1, "arrived_at": "2026-12-01T12:00:00Z", "car_max_a": 16}]})
    a.call("get", "/v1/chargers/OA-2/charging-profiles")
    a.call("get", "/v1/chargers/OA-2/timeline")
    a.call("get", "/v1/chargers/OA-2/timeline?evse_id=1&connector_id=1&limit=10")
    a.call("get", "/v1/sites/oa-site/load?resolution=1m")
    a.call("get", "/v1/sites/oa-site/load")
    a.call("get", "/v1/sites/oa-site/energy-cost")
    a.call("get", "/v1/connection-attempts")
    st, cmd = a.call("post", f"/v1/chargers/{charger}/commands?wait=5", {"type": "clear_cache"})
    assert isinstance(cmd, dict) and "id" in cmd, f"the command was not taken: {st} {cmd}"
    a.call("get", "/v1/commands")
    a.call("get", f"/v1/commands/{cmd['id']}")
    a.call("post", "/v1/tokens", {"id": "OA-TOKEN", "group_id": "FLEET-1"})
    a.call("get", "/v1/tokens")
    a.call("get", "/v1/tokens/OA-TOKEN")
    a.call("patch", "/v1/tokens/OA-TOKEN", {"status": "blocked"})
    tariff = {"id": "oa-std", "name": "Standard", "currency": "EUR", "elements": [
        {"price_components": [{"type": "FLAT", "price": 0.35, "vat": 21, "step_size": 1}]},
        {"price_components": [{"type": "ENERGY", "price": 0.33, "vat": 21, "step_size": 1}]}]}
    a.call("post", "/v1/tariffs", tariff)
    a.call("get", "/v1/tariffs")
    a.call("get", "/v1/tariffs/oa-std")
    a.call("put", "/v1/tariffs/oa-std", {k: v for k, v in tariff.items() if k != "id"})
    a.call("put", "/v1/tariff-assignments/default", {"tariff_id": "oa-std"})
    a.call("get", "/v1/tariff-assignments")
    a.call("post", "/v1/price-preview", {"tariff_id": "oa-std", "charging_minutes": 60, "energy_kwh": 10})
    a.call("get", f"/v1/chargers/{charger}/price")
    a.call("get", f"/v1/public/chargers/{charger}/price", key=False)
    _, sessions = a.call("get", "/v1/sessions")
    sid = sessions["items"][0]["id"]
    a.call("get", f"/v1/sessions/{sid}")
    a.call("get", f"/v1/sessions/{sid}/samples")
    a.call("get", f"/v1/sessions/{sid}/cost")
    a.call("post", f"/v1/sessions/{sid}/bill")
    _, cdrs = a.call("get", "/v1/cdrs")
    a.call("get", f"/v1/cdrs/{cdrs['items'][0]['id']}")
    a.call("get", "/v1/cdrs.csv")
    a.call("post", "/v1/billing-runs", {"period": prev})
    a.call("post", "/v1/billing-runs", {"period": prev})
    a.call("get", "/v1/billing-runs")
    a.call("get", f"/v1/billing-runs/{prev}")
    _, invoices = a.call("get", f"/v1/invoices?run={prev}")
    a.call("get", f"/v1/invoices.csv?run={prev}")
    _, statements = a.call("get", f"/v1/statements?run={prev}")
    inv = invoices["items"][0]["id"] if invoices["items"] else "none"
    a.call("get", f"/v1/invoices/{inv}")
    a.call("get", f"/v1/invoices/{inv}/cdrs")
    st = statements["items"][0]["id"] if statements["items"] else "none"
    a.call("get", f"/v1/statements/{st}")
    _, sub = a.call("post", "/v1/subscriptions", {"party": "fleet:FLEET-1", "plan": "basic", "currency": "EUR",
                                                  "monthly_fee": 5})
    a.call("get", "/v1/subscriptions")
    a.call("get", f"/v1/subscriptions/{sub['id']}")
    a.call("post", f"/v1/subscriptions/{sub['id']}/end")
    walk_alerts(a)
    walk_ocpi(a, emsp, emsp_token)
    a.call("get", "/v1/audit")
    a.call("delete", "/v1/tariff-assignments/default")
    a.call("delete", "/v1/tariffs/oa-std")
    a.call("delete", f"/v1/api-keys/{k['id']}")


def walk_ocpi(a, emsp, emsp_token):
    """The roaming operations against the real eMSP the test started: the tenant's party, a partner
    invited, a registration with a partner that is not there (the partner's failure), the registration
    token renewed, the registration with the eMSP and the unregistration."""
    a.call("get", "/v1/ocpi/settings")
    a.call("put", "/v1/ocpi/settings", {"country_code": "DE", "party_id": "CPO", "name": "OpenAPI CPO"})
    a.call("get", "/v1/ocpi/settings")
    a.call("post", "/v1/ocpi/partners", {"name": "OA eMSP", "country_code": "NL", "party_id": "EXA"})
    a.call("get", "/v1/ocpi/partners")
    a.call("get", "/v1/ocpi/partners/NL-EXA")
    a.call("post", "/v1/ocpi/partners/NL-EXA/register",
           {"versions_url": "http://127.0.0.1:9/ocpi/versions", "token": "their-token-a"})
    a.call("post", "/v1/ocpi/partners/NL-EXA/registration-token")
    a.call("delete", "/v1/ocpi/partners/NL-EXA/registration")
    status, _ = a.call("post", "/v1/ocpi/partners/NL-EXA/register",
                       {"versions_url": f"{emsp}/ocpi/versions", "token": emsp_token})
    if status != 200:
        a.failures.append(f"registering with the eMSP at {emsp}: {status}")
    a.call("post", "/v1/ocpi/partners/NL-EXA/resync", {})
    a.call("get", "/v1/ocpi/partners/NL-EXA/queue")
    a.call("get", "/v1/ocpi/partners/NL-EXA/deliveries")
    a.call("get", "/v1/ocpi/partners/NL-EXA/deliveries?module=locations&object=oa-site")
    a.call("delete", "/v1/ocpi/partners/NL-EXA/registration")


def walk_alerts(a):
    """The alerting operations (an incident is open: the test charger reported Faulted)."""
    a.call("get", "/v1/alert-rules")
    a.call("patch", "/v1/alert-rules", {
        "rules": {"connector_faulted": {"clear_after_s": 30, "remedies": ["trigger_status"]}},
        "overrides": [{"scope": {"kind": "site", "site_id": "oa-site"}, "rule": "charger_offline",
                       "settings": {"disconnected_s": 300}}]})
    a.call("put", "/v1/vendor-codes", {"vendor": "ACME", "code": "E-17", "severity": "major",
                                       "responsible": "vendor", "description": "contactor welded"})
    a.call("get", "/v1/vendor-codes")
    _, ch = a.call("post", "/v1/alert-channels",
                   {"name": "nowhere", "target": {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}})
    a.call("get", "/v1/alert-channels")
    a.call("post", f"/v1/alert-channels/{ch['id']}/test")
    tiers = [{"channels": [ch["id"]], "delay_s": 600}]
    _, pol = a.call("post", "/v1/escalation-policies", {"name": "on call", "tiers": tiers})
    a.call("get", "/v1/escalation-policies")
    a.call("put", f"/v1/escalation-policies/{pol['id']}", {"name": "on call", "tiers": tiers, "repeats": 2})
    _, w = a.call("post", "/v1/maintenance-windows", {
        "scope": {"kind": "site", "site_id": "oa-site"},
        "time": {"kind": "weekly", "days": ["Sun"], "start": "02:00:00", "duration_min": 60, "time_zone": "Europe/Berlin"},
        "reason": "monthly check"})
    a.call("get", "/v1/maintenance-windows")
    _, incidents = a.call("get", "/v1/incidents?state=all&limit=10")
    a.call("get", "/v1/incidents?severity=major&rule=connector_faulted")
    iid = incidents["items"][0]["id"]
    a.call("get", f"/v1/incidents/{iid}")
    a.call("post", f"/v1/incidents/{iid}/notes", {"text": "technician on the way"})
    a.call("post", f"/v1/incidents/{iid}/assign", {"assignee": "field-team-north"})
    a.call("post", f"/v1/incidents/{iid}/acknowledge")
    a.call("get", f"/v1/incidents/{iid}/deliveries")
    a.call("post", f"/v1/incidents/{iid}/resolve", {"reason": "connector replaced"})
    a.call("get", "/v1/alert-deliveries/dead")
    stream(a)
    a.call("delete", f"/v1/maintenance-windows/{w['id']}")
    a.call("delete", f"/v1/escalation-policies/{pol['id']}")
    a.call("delete", f"/v1/alert-channels/{ch['id']}")
    a.call("delete", "/v1/vendor-codes/acme%7CE-17")


def stream(a):
    """The live stream: its headers, then it is closed (it would stay open for an hour)."""
    import http.client
    from urllib.parse import urlparse
    u = urlparse(a.base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", "/v1/stream?types=incidents,status", headers={"Authorization": f"Bearer {a.key}"})
    r = c.getresponse()
    ctype = r.getheader("Content-Type", "")
    c.close()
    a.check("get", "/v1/stream", r.status, ctype, b"")


def fuzz(api, key):
    """schemathesis over every operation (schema-valid requests the API refuses by stricter rules than
    the document states are not failures: ST202)."""
    st = str(Path(sys.executable).with_name("schemathesis"))
    r = subprocess.run([st, "run", f"{api}/v1/openapi.json", "-H", f"Authorization: Bearer {key}", "--max-examples", "10",
                        "--checks", "all", "--exclude-checks", "positive_data_acceptance", "--no-color",
                        "--seed", "20261201", "--request-timeout", "30",
                        # The live stream stays open for an hour: walked above, not fuzzed.
                        "--exclude-path", "/v1/stream",
                        # Calls the partner at the URL given: walked above against the real eMSP; fuzzed,
                        # it would only try random hosts (and answer 502 when they are not there).
                        "--exclude-path", "/v1/ocpi/partners/{id}/register"],
                       capture_output=True, text=True, timeout=900, cwd=tempfile.mkdtemp())
    tail = "\n".join(r.stdout.splitlines()[-40:])
    if r.returncode != 0:
        raise SystemExit(f"schemathesis found failures:\n{r.stdout[-20000:]}\n{r.stderr[-2000:]}")
    return tail


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--charger", required=True)
    ap.add_argument("--no-fuzz", action="store_true")
    ap.add_argument("--emsp", required=True, help="base URL of the eMSP peer (tests/python/ocpi_emsp.py)")
    ap.add_argument("--emsp-token", required=True, help="the token A it takes")
    a = ap.parse_args()
    with urllib.request.urlopen(f"{a.api}/v1/openapi.json", timeout=30) as r:
        doc = json.loads(r.read())
    openapi_spec_validator.validate(doc)
    use_generated_client(generated_client(doc, a.api, a.key))
    api = Api(a.api, a.key, doc)
    walk(api, a.charger, a.emsp, a.emsp_token)
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    for op in sorted(documented):
        statuses = api.seen.get(op)
        if statuses is None:
            api.failures.append(f"{op[0].upper()} {op[1]}: never called")
        elif op not in NO_DATA and not any(200 <= s < 300 for s in statuses):
            api.failures.append(f"{op[0].upper()} {op[1]}: never answered with success ({sorted(statuses)})")
    summary = {"operations": len(documented), "called": len(api.seen), "failures": len(api.failures)}
    if not a.no_fuzz and not api.failures:
        summary["schemathesis"] = fuzz(a.api, a.key).splitlines()[-1]
    print(json.dumps(summary))
    for f in api.failures:
        print("FAIL", f, file=sys.stderr)
    sys.exit(1 if api.failures else 0)


if __name__ == "__main__":
    main()

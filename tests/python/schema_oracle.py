"""Differential test of the CSMS's OCPP types and validator against the official JSON schemas.

For every schema of OCPP 1.6 and 2.0.1 shipped in the PyPI `ocpp` package (every message, request and
response), it builds valid payloads (all properties, required only, every enumeration value) and
invalid ones (a required property removed, a wrong type, a string one character too long, a value
outside its enumeration, an undeclared property, a number below its minimum). `jsonschema` gives the
verdict on each; `cpms ocpp check --lines` must agree, must name the CallError code the OCPP-J error
table gives the violation, and must read every valid payload into its typed message and write it back
unchanged.

usage: schema_oracle.py --cpms PATH_TO_CPMS_BINARY
"""

import argparse
import copy
import itertools
import json
import os
import subprocess
import sys
from datetime import datetime

import jsonschema
import ocpp

PKG = os.path.dirname(ocpp.__file__)
VERSIONS = {"1.6": "v16", "2.0.1": "v201"}
CODES = {  # mutation kind -> expected CallError code, per version
    "required": {"1.6": "OccurenceConstraintViolation", "2.0.1": "OccurrenceConstraintViolation"},
    "type": {"1.6": "TypeConstraintViolation", "2.0.1": "TypeConstraintViolation"},
    "maxLength": {"1.6": "PropertyConstraintViolation", "2.0.1": "PropertyConstraintViolation"},
    "enum": {"1.6": "PropertyConstraintViolation", "2.0.1": "PropertyConstraintViolation"},
    "minimum": {"1.6": "PropertyConstraintViolation", "2.0.1": "PropertyConstraintViolation"},
    "additional": {"1.6": "FormationViolation", "2.0.1": "FormatViolation"},
}


class Gen:
    """Builds instances of one schema file."""

    def __init__(self, root):
        self.root = root

    def resolve(self, s):
        while "$ref" in s:
            s = self.root["definitions"][s["$ref"].rsplit("/", 1)[-1]]
        return s

    def value(self, s, full, pick):
        """An instance of `s`: all properties when `full`, else required only; enum choice by `pick`."""
        s = self.resolve(s)
        if "enum" in s:
            return s["enum"][pick % len(s["enum"])]
        t = s.get("type")
        if t == "object":
            out = {}
            for name, ps in s.get("properties", {}).items():
                if full or name in s.get("required", []):
                    out[name] = self.value(ps, full, pick)
            if not s.get("properties") and s.get("additionalProperties", True) is not False:
                out = {"vendorId": "org.example"} if "vendorId" in s.get("required", []) else out
            return out
        if t == "array":
            n = max(s.get("minItems", 1), 1)
            n = min(n + (1 if full else 0), s.get("maxItems", 2))
            return [self.value(s["items"], full, pick + i) for i in range(n)]
        if t == "string":
            if s.get("format") == "date-time":
                return "2024-06-01T12:34:56.789Z"
            limit = s.get("maxLength", 24)
            return ("Ab3" * 20)[: min(limit, 12 if not full else limit if limit <= 40 else 40)]
        if t == "integer":
            lo, hi = s.get("minimum", 0), s.get("maximum", 10**6)
            return int(min(max(7, lo), hi))
        if t == "number":
            if "multipleOf" in s:
                return 12.3
            lo, hi = s.get("minimum", 0), s.get("maximum", 10**6)
            return float(min(max(21.75, lo), hi))
        if t == "boolean":
            return True
        return {"anything": [1, "two", None]}

    def places(self, s, path=()):
        """Every (path, schema, parent object schema) below `s`, objects and arrays entered once."""
        s = self.resolve(s)
        yield path, s
        if s.get("type") == "object":
            for name, ps in s.get("properties", {}).items():
                yield from self.places(ps, path + (name,))
        elif s.get("type") == "array":
            yield from self.places(s["items"], path + (0,))


def get_in(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def set_in(obj, path, value):
    get_in(obj, path[:-1])[path[-1]] = value


def mutations(gen, schema, base):
    """(kind, payload) pairs, each breaking `base` in one place."""
    for path, s in gen.places(schema):
        try:
            here = get_in(base, path)
        except (KeyError, IndexError, TypeError):
            continue
        t = s.get("type")
        if t == "object":
            for req in s.get("required", []):
                m = copy.deepcopy(base)
                del get_in(m, path)[req]
                yield "required", m
            if s.get("additionalProperties", True) is False:
                m = copy.deepcopy(base)
                get_in(m, path)["undeclaredProperty"] = 1
                yield "additional", m
        if not path:
            continue
        wrong = {"string": 12345, "integer": "7", "number": "7.5", "boolean": "true", "object": [1], "array": {"a": 1}}
        if t in wrong:
            m = copy.deepcopy(base)
            set_in(m, path, wrong[t])
            yield "type", m
        if "enum" in s:
            m = copy.deepcopy(base)
            set_in(m, path, "NotAValueOfThisEnum")
            yield "enum", m
        if t == "string" and "maxLength" in s and s.get("format") != "date-time":
            m = copy.deepcopy(base)
            set_in(m, path, "x" * (s["maxLength"] + 1))
            yield "maxLength", m
        if t in ("integer", "number") and "minimum" in s:
            m = copy.deepcopy(base)
            set_in(m, path, s["minimum"] - 1)
            yield "minimum", m
        del here


def same(a, b):
    """Semantic equality: numbers by value, date-times by instant."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) < 1e-9
    if isinstance(a, str) and isinstance(b, str) and a != b:
        try:
            return datetime.fromisoformat(a.replace("Z", "+00:00")) == datetime.fromisoformat(b.replace("Z", "+00:00"))
        except ValueError:
            return False
    return a == b


def cases():
    for version, folder in VERSIONS.items():
        d = os.path.join(PKG, folder, "schemas")
        for fname in sorted(os.listdir(d)):
            if not fname.endswith(".json"):
                continue
            with open(os.path.join(d, fname), encoding="utf-8-sig") as f:
                schema = json.load(f)
            base = fname[:-5]
            response = base.endswith("Response")
            action = base[: -len("Response")] if response else (base[: -len("Request")] if base.endswith("Request") else base)
            gen = Gen(schema)
            validator = jsonschema.validators.validator_for(schema)(schema)
            n_enum = max([len(gen.resolve(s).get("enum", [])) for _, s in gen.places(schema)] + [1])
            valid = [gen.value(schema, True, p) for p in range(n_enum)] + [gen.value(schema, False, 0)]
            for payload in valid:
                yield version, action, response, payload, validator.is_valid(payload), None
            for kind, payload in mutations(gen, schema, valid[0]):
                yield version, action, response, payload, validator.is_valid(payload), kind


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpms", required=True)
    a = ap.parse_args()
    all_cases = list(cases())
    jobs = "\n".join(json.dumps({"version": v, "action": act, "response": r, "payload": p})
                     for v, act, r, p, _, _ in all_cases)
    out = subprocess.run([a.cpms, "ocpp", "check", "--lines"], input=jobs, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        sys.exit(2)
    verdicts = [json.loads(l) for l in out.stdout.splitlines()]
    assert len(verdicts) == len(all_cases), (len(verdicts), len(all_cases))
    failures = []
    stats = {"valid": 0, "invalid": 0, "roundtrips": 0, "actions": set()}
    for (version, action, response, payload, oracle, kind), got in zip(all_cases, verdicts):
        where = f"{version} {action}{'Response' if response else 'Request'} ({kind or 'valid'})"
        stats["actions"].add((version, action))
        if got.get("valid") != oracle:
            failures.append(f"{where}: jsonschema says {oracle}, cpms says {got} for {json.dumps(payload)[:300]}")
            continue
        if oracle:
            stats["valid"] += 1
            if not same(payload, got.get("typed")):
                failures.append(f"{where}: typed round trip changed {json.dumps(payload)[:300]} into {json.dumps(got.get('typed'))[:300]} ({got.get('typed_error')})")
            else:
                stats["roundtrips"] += 1
        else:
            stats["invalid"] += 1
            want = CODES[kind][version] if kind else None
            if want and got.get("error_code") != want:
                failures.append(f"{where}: expected {want}, got {got.get('error_code')} ({got.get('message')}) for {json.dumps(payload)[:200]}")
    print(json.dumps({"actions": len(stats["actions"]), "valid_payloads": stats["valid"],
                      "invalid_payloads": stats["invalid"], "typed_roundtrips": stats["roundtrips"],
                      "failures": len(failures)}))
    for f in failures[:40]:
        print("FAIL", f, file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()

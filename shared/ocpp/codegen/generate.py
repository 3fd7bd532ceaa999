#!/usr/bin/env python3
"""Generates the OCPP message types and validation tables of `cpms-ocpp` from the official JSON schemas.

The schemas are read from the PyPI package `ocpp` (folders `v16/schemas`, `v201/schemas`); they are not
copied into this repository. What is generated is facts about the specification (message and field names,
types, enumerations, lengths, bounds) written as Rust:

  shared/ocpp/src/<version>/types.rs   serde types for every message of the version
  shared/ocpp/src/<version>/schema.rs  static validation tables walked by `crate::schema::validate`

Usage:  python3 shared/ocpp/codegen/generate.py [--check]
        --check exits 1 when the committed files differ from what the installed schemas produce.
"""

from __future__ import annotations

import argparse
import json
import keyword
import os
import re
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.dirname(HERE)

# Which side sends the CALL of each action (from the specifications' message lists).
# "cp" = charger -> CSMS, "csms" = CSMS -> charger, "both" = either.
DIRECTION = {
    "v16": {
        "cp": [
            "Authorize", "BootNotification", "DiagnosticsStatusNotification", "FirmwareStatusNotification",
            "Heartbeat", "MeterValues", "StartTransaction", "StatusNotification", "StopTransaction",
            "SecurityEventNotification", "SignCertificate", "LogStatusNotification",
            "SignedFirmwareStatusNotification",
        ],
        "both": ["DataTransfer"],
    },
    "v201": {
        "cp": [
            "Authorize", "BootNotification", "ClearedChargingLimit", "FirmwareStatusNotification",
            "Get15118EVCertificate", "GetCertificateStatus", "Heartbeat", "LogStatusNotification", "MeterValues",
            "NotifyChargingLimit", "NotifyCustomerInformation", "NotifyDisplayMessages", "NotifyEVChargingNeeds",
            "NotifyEVChargingSchedule", "NotifyEvent", "NotifyMonitoringReport", "NotifyReport",
            "PublishFirmwareStatusNotification", "ReportChargingProfiles", "ReservationStatusUpdate",
            "SecurityEventNotification", "SignCertificate", "StatusNotification", "TransactionEvent",
        ],
        "both": ["DataTransfer"],
    },
}

# OCPP 1.6 nests its types inline; these are the names the 1.6 specification gives them.
# Key: property name (any owner) or "Owner.property". Objects and enums alike.
V16_NAMES = {
    "idTagInfo": "IdTagInfo",
    "meterValue": "MeterValue",
    "transactionData": "MeterValue",
    "sampledValue": "SampledValue",
    "context": "ReadingContext",
    "format": "ValueFormat",
    "measurand": "Measurand",
    "phase": "Phase",
    "location": "Location",
    "unit": "UnitOfMeasure",
    "chargingProfile": "ChargingProfile",
    "csChargingProfiles": "ChargingProfile",
    "chargingSchedule": "ChargingSchedule",
    "chargingSchedulePeriod": "ChargingSchedulePeriod",
    "chargingProfilePurpose": "ChargingProfilePurposeType",
    "chargingProfileKind": "ChargingProfileKindType",
    "recurrencyKind": "RecurrencyKindType",
    "chargingRateUnit": "ChargingRateUnitType",
    "configurationKey": "KeyValue",
    "localAuthorizationList": "AuthorizationData",
    "IdTagInfo.status": "AuthorizationStatus",
    "BootNotificationResponse.status": "RegistrationStatus",
    "StatusNotificationRequest.status": "ChargePointStatus",
    "StatusNotificationRequest.errorCode": "ChargePointErrorCode",
    "StopTransactionRequest.reason": "Reason",
    "DataTransferResponse.status": "DataTransferStatus",
    "DiagnosticsStatusNotificationRequest.status": "DiagnosticsStatus",
    "FirmwareStatusNotificationRequest.status": "FirmwareStatus",
    "ChangeAvailabilityRequest.type": "AvailabilityType",
    "ChangeAvailabilityResponse.status": "AvailabilityStatus",
    "ChangeConfigurationResponse.status": "ConfigurationStatus",
    "ClearCacheResponse.status": "ClearCacheStatus",
    "ClearChargingProfileResponse.status": "ClearChargingProfileStatus",
    "GetCompositeScheduleResponse.status": "GetCompositeScheduleStatus",
    "RemoteStartTransactionResponse.status": "RemoteStartStopStatus",
    "RemoteStopTransactionResponse.status": "RemoteStartStopStatus",
    "ReserveNowResponse.status": "ReservationStatus",
    "CancelReservationResponse.status": "CancelReservationStatus",
    "ResetRequest.type": "ResetType",
    "ResetResponse.status": "ResetStatus",
    "SendLocalListRequest.updateType": "UpdateType",
    "SendLocalListResponse.status": "UpdateStatus",
    "SetChargingProfileResponse.status": "ChargingProfileStatus",
    "TriggerMessageRequest.requestedMessage": "MessageTrigger",
    "TriggerMessageResponse.status": "TriggerMessageStatus",
    "UnlockConnectorResponse.status": "UnlockStatus",
}


def pascal(name: str) -> str:
    parts = re.split(r"[^0-9A-Za-z]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not out or out[0].isdigit():
        out = "V" + out
    return out


def snake(name: str) -> str:
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    s = s.lower()
    if keyword.iskeyword(s) or s in RUST_KEYWORDS:
        return "r#" + s
    return s


RUST_KEYWORDS = {"type", "match", "ref", "mod", "use", "impl", "fn", "struct", "enum", "trait", "loop", "move", "self"}


def serde_camel(rust_field: str) -> str:
    """What serde's rename_all = "camelCase" makes of a snake_case field."""
    f = rust_field[2:] if rust_field.startswith("r#") else rust_field
    words = f.split("_")
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


# ---------------------------------------------------------------------------------------------------------
# Intermediate model


@dataclass(frozen=True)
class Ty:
    kind: str  # str, datetime, int, num, bool, any, enum, obj, arr
    name: str = ""  # enum / obj type name
    max_len: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    multiple_of: str | None = None
    item: "Ty | None" = None
    min_items: int | None = None
    max_items: int | None = None
    values: tuple = ()  # enum values accepted at this place of the schema
    props: tuple = ()  # object: ((json_name, required, Ty), ...) at this place of the schema
    additional: bool = False  # object: whether undeclared properties are allowed


@dataclass
class Obj:
    name: str
    props: list  # (json_name, required, Ty)
    additional: bool

    def key(self):
        return json.dumps([[p, r, repr(shape(t))] for p, r, t in self.props] + [self.additional])


def shape(t: Ty) -> Ty:
    """What the Rust type depends on: names and kinds, not the constraints of one place of the schema.
    Places of the same shape share one Rust type; each keeps its own validation table."""
    if t.kind in ("enum", "obj"):
        return Ty(t.kind, name=t.name)
    if t.kind == "arr":
        return Ty("arr", item=shape(t.item))
    if t.kind in ("str", "int", "num"):
        return Ty(t.kind)
    return t


@dataclass
class Enum:
    name: str
    values: list

    def key(self):
        return json.dumps(self.values)


@dataclass
class Version:
    tag: str  # v16 / v201
    objs: dict = field(default_factory=dict)  # name -> Obj
    enums: dict = field(default_factory=dict)  # name -> Enum
    messages: list = field(default_factory=list)  # (action, kind, root Obj name)

    def add_obj(self, obj: Obj):
        """Places of the same shape share one object; where the schemas disagree on an enum's values
        (1.6 `SampledValue.unit`), the object accepts the union."""
        old = self.objs.get(obj.name)
        if old is None:
            self.objs[obj.name] = obj
            return
        if old.key() != obj.key():
            raise SystemExit(f"{self.tag}: two different objects named {obj.name}")

    def add_enum(self, en: Enum):
        """The Rust enum takes the union of the values (the 1.6 schemas disagree, e.g. on `Hertz`);
        validation keeps the values of each place."""
        old = self.enums.get(en.name)
        if old is None:
            self.enums[en.name] = en
            return
        for v in en.values:
            if v not in old.values:
                old.values.append(v)


def load(path):
    with open(path, encoding="utf-8-sig") as f:
        return json.load(f)


class Converter:
    def __init__(self, ver: Version, root: dict, msg_name: str):
        self.ver = ver
        self.root = root
        self.msg_name = msg_name

    def resolve(self, s):
        ref = s.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            return name, self.root["definitions"][name]
        return None, s

    def ty(self, s, owner: str, prop: str) -> Ty:
        ref_name, s = self.resolve(s)
        t = s.get("type")
        if "enum" in s:
            name = ref_name or self.inline_name(owner, prop, enum=True)
            self.ver.add_enum(Enum(name, list(s["enum"])))
            return Ty("enum", name=name, values=tuple(s["enum"]))
        if t == "object":
            name = ref_name or self.inline_name(owner, prop, enum=False)
            return self.obj(s, name)
        if t == "array":
            item = self.ty(s["items"], owner, prop)
            return Ty("arr", item=item, min_items=s.get("minItems"), max_items=s.get("maxItems"))
        if t == "string":
            if s.get("format") == "date-time":
                return Ty("datetime")
            return Ty("str", max_len=s.get("maxLength"))
        if t == "integer":
            return Ty("int", minimum=s.get("minimum"), maximum=s.get("maximum"))
        if t == "number":
            mo = s.get("multipleOf")
            return Ty("num", minimum=s.get("minimum"), maximum=s.get("maximum"),
                      multiple_of=None if mo is None else repr(mo))
        if t == "boolean":
            return Ty("bool")
        if t is None:
            return Ty("any")
        raise SystemExit(f"unsupported schema type {t!r} in {self.msg_name}.{prop}")

    def inline_name(self, owner: str, prop: str, enum: bool) -> str:
        if self.ver.tag == "v16":
            for key in (f"{owner}.{prop}", prop):
                if key in V16_NAMES:
                    return V16_NAMES[key]
            base = owner.removesuffix("Request").removesuffix("Response") if enum else ""
            return pascal(base + pascal(prop)) if enum else pascal(prop)
        raise SystemExit(f"{self.ver.tag}: inline type at {owner}.{prop} has no definition name")

    def obj(self, s, name: str) -> Ty:
        required = set(s.get("required", []))
        props = []
        for pname, ps in s.get("properties", {}).items():
            props.append((pname, pname in required, self.ty(ps, name, pname)))
        missing = required - set(s.get("properties", {}))
        if missing:
            raise SystemExit(f"{name}: required but undeclared {missing}")
        additional = s.get("additionalProperties", True) is not False
        self.ver.add_obj(Obj(name, props, additional))
        return Ty("obj", name=name, props=tuple(props), additional=additional)


def read_version(pkg_dir: str, tag: str) -> Version:
    ver = Version(tag)
    d = os.path.join(pkg_dir, tag, "schemas")
    for fname in sorted(os.listdir(d)):
        if not fname.endswith(".json"):
            continue
        base = fname[:-5]
        if base.endswith("Response"):
            action, kind = base[: -len("Response")], "Response"
        elif base.endswith("Request"):
            action, kind = base[: -len("Request")], "Request"
        else:
            action, kind = base, "Request"
        schema = load(os.path.join(d, fname))
        root_name = action + kind
        root = Converter(ver, schema, root_name).obj(schema, root_name)
        ver.messages.append((action, kind, root_name, root))
    return ver


# ---------------------------------------------------------------------------------------------------------
# Rust output

HEADER = """// @generated by shared/ocpp/codegen/generate.py from the official OCPP {label} JSON schemas.
// Do not edit by hand: change the generator and run it again.
"""


def rust_type(t: Ty) -> str:
    return {
        "str": "String",
        "datetime": "DateTime<Utc>",
        "int": "i64",
        "num": "Decimal",
        "bool": "bool",
        "any": "serde_json::Value",
        "enum": t.name,
        "obj": t.name,
    }.get(t.kind) or f"Vec<{rust_type(t.item)}>"


def variant_names(values):
    names = []
    for v in values:
        n = pascal(v)
        if n in names:
            raise SystemExit(f"variant name collision: {v} -> {n}")
        names.append(n)
    return names


def gen_types(ver: Version, label: str) -> str:
    out = [HEADER.format(label=label)]
    out.append(f"//! Serde types for every OCPP {label} message (requests and responses) and the types they use.\n")
    out.append("#![allow(clippy::upper_case_acronyms, clippy::large_enum_variant, missing_docs)]\n")
    out.append("use chrono::{DateTime, Utc};\nuse rust_decimal::Decimal;\nuse serde::{Deserialize, Serialize};\n")
    for name in sorted(ver.enums):
        en = ver.enums[name]
        out.append(f"\n/// OCPP {label} enumeration `{name}`.")
        out.append("#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]")
        out.append(f"pub enum {name} {{")
        for v, n in zip(en.values, variant_names(en.values)):
            out.append(f'    #[serde(rename = "{v}")]')
            out.append(f"    {n},")
        out.append("}\n")
        out.append(f"impl {name} {{")
        out.append("    /// Every value, in the schema's order.")
        out.append("    pub const ALL: &'static [Self] = &[" + ", ".join(f"Self::{n}" for n in variant_names(en.values)) + "];\n")
        out.append("    /// The value as it is written on the wire.")
        out.append("    pub fn as_str(&self) -> &'static str {")
        out.append("        match self {")
        for v, n in zip(en.values, variant_names(en.values)):
            out.append(f'            Self::{n} => "{v}",')
        out.append("        }\n    }\n}")
    messages = {root for _, _, root, _ in ver.messages}

    def defaultable(t: Ty, seen=()) -> bool:
        if t.kind == "enum":
            return False
        if t.kind == "obj":
            o = ver.objs[t.name]
            return t.name not in seen and all(
                defaultable(pt, seen + (t.name,)) for _, req, pt in o.props if req)
        return True

    for name in sorted(ver.objs):
        o = ver.objs[name]
        if name in messages:
            action, kind = next((a, k) for a, k, r, _ in ver.messages if r == name)
            what = "CALL payload" if kind == "Request" else "CALLRESULT payload"
            out.append(f"\n/// OCPP {label} `{action}` {kind.lower()} ({what}).")
        else:
            out.append(f"\n/// OCPP {label} type `{name}`.")
        derive = "Debug, Clone, PartialEq, Serialize, Deserialize"
        if defaultable(Ty("obj", name=name)):
            derive += ", Default"
        out.append(f"#[derive({derive})]")
        out.append('#[serde(rename_all = "camelCase")]')
        out.append(f"pub struct {name} {{")
        for pname, req, t in o.props:
            fname = snake(pname)
            attrs = []
            if serde_camel(fname) != pname:
                attrs.append(f'rename = "{pname}"')
            rt = rust_type(t)
            inner_num = t.kind == "num" or (t.kind == "arr" and t.item.kind == "num")
            inner_dt = t.kind == "datetime"
            if not req:
                attrs.append('default, skip_serializing_if = "Option::is_none"')
                if inner_num and t.kind == "num":
                    attrs.append('with = "crate::number::option"')
                elif inner_dt:
                    attrs.append('with = "crate::datetime::option"')
                elif inner_num:
                    attrs.append('with = "crate::number::option_vec"')
                rt = f"Option<{rt}>"
            else:
                if inner_num and t.kind == "num":
                    attrs.append('with = "crate::number"')
                elif inner_dt:
                    attrs.append('with = "crate::datetime"')
                elif inner_num:
                    attrs.append('with = "crate::number::vec"')
            if attrs:
                out.append(f"    #[serde({', '.join(attrs)})]")
            out.append(f"    pub {fname}: {rt},")
        if o.additional and name == "CustomDataType":
            out.append("    /// Vendor-specific properties, kept as received.")
            out.append("    #[serde(flatten)]")
            out.append("    pub extra: serde_json::Map<String, serde_json::Value>,")
        out.append("}")
    return "\n".join(out) + "\n"


def fmt_float(x):
    return "None" if x is None else f"Some({float(x)!r}_f64)".replace("_f64", "")


def gen_schema(ver: Version, label: str, mod: str) -> str:
    out = [HEADER.format(label=label)]
    out.append(f"//! Validation tables of the OCPP {label} JSON schemas, walked by `crate::schema::validate`.\n")
    out.append("use crate::schema::{Direction, Object, Prop, Schema};\n")
    consts: dict[str, str] = {}  # rust expression -> static name; identical places share one static
    order: list[str] = []
    obj_names: dict[str, int] = {}

    def const_for(t: Ty) -> str:
        expr = schema_expr(t)
        if expr not in consts:
            if t.kind == "obj":
                base = "OBJ_" + snake(t.name).replace("r#", "").upper()
                n = obj_names.get(base, 0)
                obj_names[base] = n + 1
                consts[expr] = base if n == 0 else f"{base}_{n + 1}"
            else:
                consts[expr] = f"S{len(consts)}"
            order.append(expr)
        return consts[expr]

    def schema_expr(t: Ty) -> str:
        k = t.kind
        if k == "str":
            return f"Schema::String {{ max_len: {'None' if t.max_len is None else f'Some({t.max_len})'} }}"
        if k == "datetime":
            return "Schema::DateTime"
        if k == "int":
            return f"Schema::Integer {{ min: {fmt_float(t.minimum)}, max: {fmt_float(t.maximum)} }}"
        if k == "num":
            mo = "None" if t.multiple_of is None else f'Some("{t.multiple_of}")'
            return f"Schema::Number {{ min: {fmt_float(t.minimum)}, max: {fmt_float(t.maximum)}, multiple_of: {mo} }}"
        if k == "bool":
            return "Schema::Boolean"
        if k == "any":
            return "Schema::Any"
        if k == "enum":
            return "Schema::Enum(&[" + ", ".join(f'"{v}"' for v in t.values) + "])"
        if k == "arr":
            mi = "None" if t.min_items is None else f"Some({t.min_items})"
            ma = "None" if t.max_items is None else f"Some({t.max_items})"
            return f"Schema::Array {{ items: &{const_for(t.item)}, min_items: {mi}, max_items: {ma} }}"
        if k == "obj":
            props = " ".join(
                f'Prop {{ name: "{p}", required: {str(r).lower()}, schema: &{const_for(pt)} }},'
                for p, r, pt in t.props
            )
            return (f'Schema::Object(&Object {{ name: "{t.name}", additional: {str(t.additional).lower()}, '
                    f"props: &[{props}] }})")
        raise AssertionError(k)

    roots = {}
    for action, kind, _, root in ver.messages:
        roots[(action, kind)] = const_for(root)
    for expr in order:
        out.append(f"static {consts[expr]}: Schema = {expr};")

    actions = sorted({a for a, _, _, _ in ver.messages})
    d = DIRECTION[ver.tag]
    out.append("\n/// Every action of the version, with the side that sends its CALL.")
    out.append("pub static ACTIONS: &[(&str, Direction)] = &[")
    for a in actions:
        dirn = "Both" if a in d["both"] else ("ChargerToCsms" if a in d["cp"] else "CsmsToCharger")
        out.append(f'    ("{a}", Direction::{dirn}),')
    out.append("];\n")
    out.append("/// The schema of an action's CALL payload.")
    out.append("pub fn request(action: &str) -> Option<&'static Schema> {")
    out.append("    Some(match action {")
    for a in actions:
        out.append(f'        "{a}" => &{roots[(a, "Request")]},')
    out.append("        _ => return None,\n    })\n}\n")
    out.append("/// The schema of an action's CALLRESULT payload.")
    out.append("pub fn response(action: &str) -> Option<&'static Schema> {")
    out.append("    Some(match action {")
    for a in actions:
        out.append(f'        "{a}" => &{roots[(a, "Response")]},')
    out.append("        _ => return None,\n    })\n}\n")
    out.append("/// Parses a payload into the typed message of `action` and writes it back, proving the types")
    out.append("/// carry every field. `None` for an unknown action.")
    out.append("pub fn roundtrip(action: &str, response: bool, payload: serde_json::Value)")
    out.append("    -> Option<Result<serde_json::Value, serde_json::Error>> {")
    out.append(f"    use super::types as t;")
    out.append("    fn rt<T: serde::de::DeserializeOwned + serde::Serialize>(v: serde_json::Value)")
    out.append("        -> Result<serde_json::Value, serde_json::Error> {")
    out.append("        serde_json::to_value(serde_json::from_value::<T>(v)?)\n    }")
    out.append("    Some(match (action, response) {")
    for a in actions:
        out.append(f'        ("{a}", false) => rt::<t::{a}Request>(payload),')
        out.append(f'        ("{a}", true) => rt::<t::{a}Response>(payload),')
    out.append("        _ => return None,\n    })\n}")
    return "\n".join(out) + "\n"


def rustfmt(text: str) -> str:
    """Formats generated code the way `cargo fmt` would, so `cargo fmt --check` stays clean."""
    import subprocess

    res = subprocess.run(["rustfmt", "--edition", "2024", "--emit", "stdout"], input=text, capture_output=True,
                         text=True, check=True)
    return res.stdout


def find_pkg() -> str:
    try:
        import ocpp  # noqa: F401
    except ImportError:
        raise SystemExit("the PyPI package `ocpp` is not installed (pip install ocpp)")
    import ocpp as pkg

    return os.path.dirname(pkg.__file__)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail when the committed files are stale")
    args = ap.parse_args()
    pkg = find_pkg()
    stale = []
    for tag, label in (("v16", "1.6"), ("v201", "2.0.1")):
        ver = read_version(pkg, tag)
        for fname, raw in (("types.rs", gen_types(ver, label)), ("schema.rs", gen_schema(ver, label, tag))):
            text = rustfmt(raw)
            path = os.path.join(CRATE, "src", tag, fname)
            old = open(path).read() if os.path.exists(path) else None
            if old != text:
                if args.check:
                    stale.append(path)
                else:
                    with open(path, "w") as f:
                        f.write(text)
                    print(f"wrote {os.path.relpath(path, CRATE)}")
    if stale:
        print("stale generated files:", *stale, sep="\n  ")
        sys.exit(1)


if __name__ == "__main__":
    main()

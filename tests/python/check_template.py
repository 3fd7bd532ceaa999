"""Checks infra/template.yaml against the code: the EventBridge rules route exactly the event types
events/catalog/routing.json gives each consumer; every consumer queue has a dead-letter queue with an
alarm; every function builds a binary of the workspace, has its own log group, and an error alarm.

usage: check_template.py TEMPLATE ROUTING_JSON WORKSPACE_ROOT
"""

import json
import os
import re
import sys

from cfnlint.decode import decode


# Functions whose code paths send frames to chargers or close their connections (the command path:
# submitting, pumping the queue after an answer or a timeout, dropping a replaced connection; billing
# sends running costs).
SENDS_TO_CHARGERS = {"ocpp-connect", "ocpp-message", "operator-api", "command-sweeper", "billing"}


def ref(v):
    """The logical id a !GetAtt X.Arn / !Ref X points to."""
    if isinstance(v, dict):
        if "Fn::GetAtt" in v:
            g = v["Fn::GetAtt"]
            return g[0] if isinstance(g, list) else g.split(".")[0]
        if "Ref" in v:
            return v["Ref"]
    return None


def main():
    template_path, routing_path, root = sys.argv[1:4]
    template, errors = decode(template_path)
    assert not errors, errors
    res = template["Resources"]
    routing = json.load(open(routing_path))
    problems = []

    def camel(name):
        return "".join(p.capitalize() for p in re.split(r"[-_]", name))

    for consumer, types in routing.items():
        queue = camel(consumer) + "Queue"
        if queue not in res:
            problems.append(f"no queue {queue} for consumer {consumer}")
            continue
        rules = [r for r in res.values() if r["Type"] == "AWS::Events::Rule" and "EventPattern" in r["Properties"]
                 and any(ref(t["Arn"]) == queue for t in r["Properties"]["Targets"])]
        routed = sorted(t for r in rules for t in r["Properties"]["EventPattern"]["detail-type"])
        if routed != sorted(types):
            problems.append(f"{queue} receives {routed}, routing.json says {sorted(types)}")
        redrive = res[queue]["Properties"].get("RedrivePolicy", {})
        dlq = ref(redrive.get("deadLetterTargetArn"))
        if not dlq:
            problems.append(f"{queue} has no dead-letter queue")
        elif not any(r["Type"] == "AWS::CloudWatch::Alarm" and any(ref(d.get("Value")) == dlq for d in r["Properties"].get("Dimensions", []))
                     for r in res.values()):
            problems.append(f"no alarm on {dlq}")

    # Every queue keeps its messages 14 days (SQS's default is 4), as infra/README.md says.
    for name, r in res.items():
        if r["Type"] == "AWS::SQS::Queue" and r["Properties"].get("MessageRetentionPeriod") != 1209600:
            problems.append(f"{name} keeps messages {r['Properties'].get('MessageRetentionPeriod', 345600)} s, not 14 days")

    binaries = set()
    for d in os.listdir(os.path.join(root, "functions")):
        if os.path.exists(os.path.join(root, "functions", d, "Cargo.toml")):
            binaries.add(d)
    built = set()
    for name, r in res.items():
        if r["Type"] != "AWS::Serverless::Function":
            continue
        binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        if binary not in binaries:
            problems.append(f"{name} builds {binary!r}, not a binary in functions/")
        built.add(binary)
        logs = ref(r["Properties"].get("LoggingConfig", {}).get("LogGroup"))
        if not logs or "RetentionInDays" not in res.get(logs, {}).get("Properties", {}):
            problems.append(f"{name} has no log group with a retention")
        if not r["Properties"].get("Policies"):
            problems.append(f"{name} has no policies of its own")
        if not any(r2["Type"] == "AWS::CloudWatch::Alarm" and r2["Properties"].get("MetricName") == "Errors"
                   and any(ref(d.get("Value")) == name for d in r2["Properties"].get("Dimensions", []))
                   for r2 in res.values()):
            problems.append(f"no error alarm on {name}")
        env = r["Properties"].get("Environment", {}).get("Variables", {})
        statements = [st for pol in r["Properties"].get("Policies", []) if isinstance(pol, dict)
                      for st in pol.get("Statement", [])]
        actions = {a for st in statements for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
        if binary in SENDS_TO_CHARGERS and "CPMS_WS_MANAGEMENT_URL" not in env:
            problems.append(f"{name} sends to chargers but has no CPMS_WS_MANAGEMENT_URL")
        if ("CPMS_WS_MANAGEMENT_URL" in env) != ("execute-api:ManageConnections" in actions):
            problems.append(f"{name}: CPMS_WS_MANAGEMENT_URL and execute-api:ManageConnections go together")
        for st in statements:
            acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if "dynamodb:Query" in acts and "/index/" not in json.dumps(st["Resource"]):
                problems.append(f"{name} may Query but not the table's indexes")
    if built != binaries:
        problems.append(f"functions without a stack resource: {sorted(binaries - built)}")
    if template.get("Globals", {}).get("Function", {}).get("Architectures") != ["arm64"]:
        problems.append("functions are not arm64")
    for p in problems:
        print("FAIL", p)
    print(json.dumps({"consumers": len(routing), "functions": len(built), "problems": len(problems)}))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()

"""The review summary: each stack as a few stable lines a person reads in a pull request.

    python -m tools review [cdk.out | snapshot dir] [--env NAME] [STACK ...]

The raw template snapshots are the deploy guard's exact baseline, but a change to a shared
construct rewrites thousands of their lines. This summary keeps what a reviewer judges:
tables (keys, GSIs, TTL, stream, billing, protections, key), keys, buckets, alarms (metric,
threshold, periods), roles (trust; actions on resources), the database, the archive and
backup plumbing, and a count of everything else. Each line holds one thing, so that a change
adds, removes or rewrites only the lines of what changed: a table's settings, an alarm, one
policy statement's effect, one principal, action or resource of a statement, one condition
value. A threshold change is one line per environment, a change to every table one line per
table, and a new table adds lines (its own, and one resource line in each statement that
names it) instead of rewriting a policy that lists every table on one line. No line is over
WIDTH (200) characters: tests/test_review.py checks every snapshot.
tests/test_review.py snapshots it per stack beside the raw templates.

One job: say what each stack of one input holds. It compares nothing; a change is the diff
of its output (the snapshot diff). Which resources a pull request adds, removes or modifies,
the deploy guard's verdict and the cost delta are tools/summary.py's (two inputs, Markdown
for the pull request's job summary). They are kept apart, not merged, because they share
no logic beyond tools.assembly's reader; see tools/summary.py.
Standard library only, like the other readers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from tools.assembly import AssemblyError, Stack, canon, load_stacks, props
from tools.guard.model import TABLE_TYPES, policy
from tools.tables import attribute_types

# GlobalTable before Table, the order the summaries have always listed them in.
TABLES = sorted(TABLE_TYPES)
# The longest line a review snapshot may hold: longer ones list many things on one line, and
# a reviewer cannot see which of them a change added.
WIDTH = 200


def ref(value: Any) -> str:
    """An intrinsic as a short name: {"Fn::GetAtt": ["TableUsers", "Arn"]} -> TableUsers.Arn."""
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return str(arg).removeprefix("AWS::").lower() if str(arg).startswith("AWS::") else str(arg)
        if fn == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else str(arg)
        if fn == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(ref(part) for part in arg[1])
        if fn == "Fn::Sub":
            return str(arg if isinstance(arg, str) else arg[0])
    if isinstance(value, list):
        return ",".join(ref(v) for v in value)
    return value if isinstance(value, str) else canon(value)


def listed(value: Any) -> list:
    """A policy field that is one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def principals(value: Any) -> list[str]:
    """{"Service": ["a.amazonaws.com", "b.amazonaws.com"]} -> service a.amazonaws.com, service b.amazonaws.com."""
    if isinstance(value, dict) and all(k in ("AWS", "Service", "Federated", "CanonicalUser") for k in value):
        return [f"{kind.lower()} {who}" for kind, v in sorted(value.items()) for who in sorted(ref(p) for p in listed(v))]
    return [ref(value)]


def policies(resource: dict) -> str:
    # The guard's reading, CloudFormation's defaults included (an RDS cluster snapshots).
    deletion, replace = policy(resource, "DeletionPolicy"), policy(resource, "UpdateReplacePolicy")
    return deletion if deletion == replace else f"{deletion}/{replace}"


def keys(schema: list | None, types: dict) -> str:
    order = {"HASH": 0, "RANGE": 1}
    return " + ".join(
        f"{k['AttributeName']}:{types.get(k['AttributeName'], '?')}"
        for k in sorted(schema or [], key=lambda k: order.get(k.get("KeyType"), 2))
    )


def replicas_and_home(p: dict, region: str) -> tuple[list[dict], dict]:
    """A table's replicas and the one in the stack's region, whose settings the summary shows.
    A Table holds its per-region settings itself: it is its own one replica."""
    replicas = p.get("Replicas") or [p]
    return replicas, next((r for r in replicas if r.get("Region") in (region, None)), replicas[0])


def table_lines(lid: str, res: dict, region: str) -> list[str]:
    p = props(res)
    types = attribute_types(p)
    replicas, home = replicas_and_home(p, region)
    pitr = home.get("PointInTimeRecoverySpecification") or {}
    ttl = p.get("TimeToLiveSpecification") or {}
    sse = home.get("SSESpecification") or p.get("SSESpecification") or {}
    # The keys head the block; the settings are the next line, so a change to them is one line.
    settings = [
        p.get("BillingMode", "PROVISIONED"),
        f"ttl {ttl.get('AttributeName')}" if ttl.get("Enabled") else "no ttl",
        f"stream {p['StreamSpecification'].get('StreamViewType')}" if p.get("StreamSpecification") else "no stream",
        f"pitr {pitr.get('RecoveryPeriodInDays', 35)}d" if pitr.get("PointInTimeRecoveryEnabled") else "no pitr",
        "deletion-protected" if home.get("DeletionProtectionEnabled") else "not deletion-protected",
        policies(res),
        f"key {ref(sse.get('KMSMasterKeyId'))}"
        if sse.get("KMSMasterKeyId")
        else f"sse {p.get('SSESpecification', {}).get('SSEType', 'default')}",
    ]
    if home.get("TableClass", "STANDARD") != "STANDARD":
        settings.append(home["TableClass"])
    lines = [f"table {lid} {ref(p.get('TableName'))}: {keys(p.get('KeySchema'), types)}", "  " + ", ".join(settings)]
    if len(replicas) > 1:
        lines += [f"  replica {name}" for name in sorted(str(ref(r.get("Region"))) for r in replicas)]
    for index in sorted(p.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"]):
        projection = index.get("Projection", {})
        shown = projection.get("ProjectionType", "ALL")
        if projection.get("NonKeyAttributes"):
            shown += "(" + ",".join(sorted(projection["NonKeyAttributes"])) + ")"
        lines.append(f"  gsi {index['IndexName']}: {keys(index['KeySchema'], types)}, {shown}")
    for index in sorted(p.get("LocalSecondaryIndexes", []), key=lambda i: i["IndexName"]):
        lines.append(f"  lsi {index['IndexName']}: {keys(index['KeySchema'], types)}")
    return lines


def table_policy(res: dict, region: str) -> dict:
    """A table's resource policy document: a GlobalTable holds it per replica, a Table itself."""
    _, home = replicas_and_home(props(res), region)
    return (home.get("ResourcePolicy") or {}).get("PolicyDocument") or {}


def stream_policy(res: dict, region: str) -> dict:
    """A table's stream's resource policy document ({} without one)."""
    _, home = replicas_and_home(props(res), region)
    spec = home.get("ReplicaStreamSpecification") or props(res).get("StreamSpecification") or {}
    return (spec.get("ResourcePolicy") or {}).get("PolicyDocument") or {}


def issuer_arns(pattern: dict) -> list:
    """What a pattern (or one of its $or branches) requires of the caller's session issuer ARN."""
    return pattern.get("userIdentity", {}).get("sessionContext", {}).get("sessionIssuer", {}).get("arn", [])


def matcher(value: object) -> str:
    """An event-pattern value as a reviewer reads it: AccessDenied*, *UnauthorizedOperation."""
    if isinstance(value, dict) and set(value) <= {"prefix", "suffix"}:
        return f"{value['prefix']}*" if "prefix" in value else f"*{value['suffix']}"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def rule_line(lid: str, res: dict) -> str:
    """An EventBridge rule: which calls it matches, by whom, how many callers it exempts, its
    state and target (a tamper alert's exemption added or a rule dropped shows in a diff)."""
    p = props(res)
    pattern = p.get("EventPattern", {})
    detail = pattern.get("detail", {})
    source = ",".join(pattern.get("source") or ["any source"])
    names = detail.get("eventName")
    # Narrowed by category or outcome (the denied data calls): say so, or it reads as "any call".
    category = ",".join(detail.get("eventCategory", ["any"]))
    calls = ",".join(names) if names else f"{category} call"
    if len(calls) > 90:
        calls = f"{len(names)} calls"
    if "errorCode" in detail:
        calls += " failing " + ",".join(matcher(v) for v in detail["errorCode"])
    # A service's own events (a restore job's state), not API calls: their kind and status.
    kinds = pattern.get("detail-type") or []
    if kinds and kinds != ["AWS API Call via CloudTrail"]:
        calls = ",".join(kinds) + (f" status {','.join(detail['status'])}" if "status" in detail else "")
    issuer = issuer_arns(detail)
    by = f" by {','.join(a.rsplit('/', 1)[-1] for a in issuer)}" if issuer else ""
    exempt = sum(len(v.get("anything-but", [])) for branch in detail.get("$or", []) for v in issuer_arns(branch) if isinstance(v, dict))
    exempt += sum(
        len(v.get("anything-but", []))
        for branch in detail.get("$or", [])
        for v in branch.get("iamRoleArn", [])
        if isinstance(v, dict) and isinstance(v.get("anything-but"), list)
    )
    targets = ",".join(ref(t.get("Arn")) for t in p.get("Targets", [])) or "nothing"
    return f"rule {lid}: {source} {calls}{by}, {exempt} exempt, {p.get('State')}, to {targets}"


def alarm_line(res: dict) -> str:
    p = props(res)
    if p.get("Metrics"):
        stats = [m["MetricStat"] for m in p["Metrics"] if m.get("MetricStat")]
        expression = next((m.get("Expression") for m in p["Metrics"] if m.get("Expression")), "?")
        metric = f"{expression} of {len(stats)} {stats[0]['Metric']['MetricName'] if stats else '?'}"
        period = stats[0].get("Period") if stats else None
    else:
        metric = f"{p.get('MetricName')} {p.get('Statistic', p.get('ExtendedStatistic', ''))}".strip()
        period = p.get("Period")
    operator = p.get("ComparisonOperator")
    symbols = {
        "GreaterThanOrEqualToThreshold": ">=",
        "GreaterThanThreshold": ">",
        "LessThanThreshold": "<",
        "LessThanOrEqualToThreshold": "<=",
    }
    op = symbols.get(operator, operator) if isinstance(operator, str) else operator
    actions = len(p.get("AlarmActions", []))
    return (
        f"alarm {ref(p.get('AlarmName'))}: {metric} {op} {p.get('Threshold')}, "
        f"{p.get('DatapointsToAlarm', p.get('EvaluationPeriods'))} of {p.get('EvaluationPeriods')} x {period}s, "
        f"{actions} action{'s' if actions != 1 else ''}"
    )


def condition_lines(condition: dict) -> list[str]:
    """`if KEY OPERATOR VALUE`, or `if KEY OPERATOR:` over one value a line when the template
    lists the values (any one of them matches; for a negated operator, none may)."""
    tests = [
        (key, operator, value)
        for operator, by_key in condition.items()
        for key, value in (by_key.items() if isinstance(by_key, dict) else [("?", by_key)])
    ]
    lines = []
    for key, operator, value in sorted(tests, key=lambda test: (test[0], test[1])):
        if isinstance(value, list):
            lines += [f"if {key} {operator}:", *(f"  {v}" for v in sorted(ref(v) for v in value))]
        else:
            lines.append(f"if {key} {operator} {ref(value)}")
    return lines


# A statement's fields, each value on a line of its own under the label.
PRINCIPALS = (("Principal", "principal"), ("NotPrincipal", "not principal"))
ITEMS = (("Action", "action"), ("NotAction", "not action"), ("Resource", "resource"), ("NotResource", "not resource"))


def statement_lines(document: dict, indent: str = "  ", trust: bool = False) -> list[str]:
    """Each statement as its effect, then one line per principal, action, resource and
    condition value. A trust policy's statements head `trust` and show whom and when only,
    as the summary always has: their actions are the sts:AssumeRole family."""
    lines = []
    for s in listed(document.get("Statement", [])):
        body = [f"{label} {p}" for field, label in PRINCIPALS for p in (principals(s[field]) if field in s else [])]
        for field, label in () if trust else ITEMS:
            body += [f"{label} {item}" for item in sorted(ref(v) for v in listed(s.get(field, [])))]
        body += condition_lines(s.get("Condition") or {})
        lines.append(indent + ("trust" if trust else s.get("Effect", "Allow").lower()))
        lines += [f"{indent}  {line}" for line in body]
    return lines


def role_lines(lid: str, res: dict, policies_of: dict[str, list[str]]) -> list[str]:
    p = props(res)
    lines = [f"role {lid} {ref(p.get('RoleName', '(generated name)'))}:"]
    lines += statement_lines(p.get("AssumeRolePolicyDocument", {}), trust=True)
    lines += [f"  managed {ref(arn)}" for arn in p.get("ManagedPolicyArns", [])]
    lines += policies_of.get(lid, [])
    for inline in p.get("Policies", []):
        lines += statement_lines(inline.get("PolicyDocument", {}))
    return lines


def summary_lines(stack: Stack) -> list[str]:
    """The stack's review summary, in a fixed order so that diffs only show real changes."""
    resources = stack.resources
    by_type: dict[str, dict[str, dict]] = {}
    for lid, res in sorted(resources.items()):
        by_type.setdefault(res.get("Type", "?"), {})[lid] = res
    protection = {True: "on", False: "off", None: "not recorded"}[stack.termination_protection]
    lines = [f"stack {stack.name} aws://{stack.account}/{stack.region}, termination protection {protection}, {len(resources)} resources"]
    table_policies: dict[str, list[str]] = {}
    stream_policies: dict[str, list[str]] = {}
    for rtype in TABLES:
        for lid, res in by_type.pop(rtype, {}).items():
            lines += table_lines(lid, res, stack.region)
            table_policies.setdefault(canon(table_policy(res, stack.region)), []).append(lid)
            if stream_policy(res, stack.region):
                stream_policies.setdefault(canon(stream_policy(res, stack.region)), []).append(lid)
    # Tables share their resource policy: one block per distinct policy, not one per table,
    # naming its tables a line each (a new table adds a line; a count would be rewritten).
    for document, lids in sorted(table_policies.items(), key=lambda item: item[1]):
        policy = json.loads(document)
        lines.append("table policy:" if policy else "no table policy:")
        lines += [f"  of {lid}" for lid in lids]
        lines += statement_lines(policy)
    for document, lids in sorted(stream_policies.items(), key=lambda item: item[1]):
        lines.append("stream policy:")
        lines += [f"  of {lid}" for lid in lids]
        lines += statement_lines(json.loads(document))
    for lid, res in by_type.pop("AWS::KMS::Key", {}).items():
        p = props(res)
        lines.append(
            f"key {lid}: rotation {'on' if p.get('EnableKeyRotation') else 'off'}, {policies(res)}, "
            f"pending window {p.get('PendingWindowInDays', 30)}d"
        )
        lines += statement_lines(p.get("KeyPolicy", {}))
    for res in by_type.pop("AWS::KMS::Alias", {}).values():
        lines.append(f"alias {props(res).get('AliasName')} -> {ref(props(res).get('TargetKeyId'))}")
    for lid, res in by_type.pop("AWS::S3::Bucket", {}).items():
        p = props(res)
        lock = p.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
        lines.append(
            f"bucket {lid} {ref(p.get('BucketName', '(generated name)'))}: {policies(res)}, "
            f"versioning {p.get('VersioningConfiguration', {}).get('Status', 'off')}, "
            f"{len(p.get('LifecycleConfiguration', {}).get('Rules', []))} lifecycle rules"
            + (f", object lock {lock.get('Mode')} {lock.get('Days', lock.get('Years'))}" if lock else "")
        )
    for lid, res in by_type.pop("AWS::RDS::DBCluster", {}).items():
        p = props(res)
        lines.append(
            f"database {lid} {ref(p.get('DBClusterIdentifier'))}: {p.get('Engine')} {p.get('EngineVersion')}, "
            f"{policies(res)}, deletion protection {'on' if p.get('DeletionProtection') else 'off'}, "
            f"backups {p.get('BackupRetentionPeriod')}d, iam auth {'on' if p.get('EnableIAMDatabaseAuthentication') else 'off'}"
        )
    policies_of: dict[str, list[str]] = {}
    for lid, res in by_type.pop("AWS::IAM::ManagedPolicy", {}).items():
        p = props(res)
        for role in p.get("Roles", []):
            policies_of.setdefault(ref(role), []).extend(statement_lines(p.get("PolicyDocument", {})))
        if not p.get("Roles"):
            lines.append(f"policy {lid} {ref(p.get('ManagedPolicyName'))} (attached to no role here)")
            lines += statement_lines(p.get("PolicyDocument", {}))
    for lid, res in by_type.pop("AWS::IAM::Role", {}).items():
        lines += role_lines(lid, res, policies_of)
    for lid, res in by_type.pop("AWS::IAM::Policy", {}).items():
        lines.append(f"inline policy {lid}:")
        lines += [f"  on role {ref(role)}" for role in sorted(listed(props(res).get("Roles", [])), key=ref)]
        lines += statement_lines(props(res).get("PolicyDocument", {}))
    for res in by_type.pop("AWS::Pipes::Pipe", {}).values():
        lines.append(f"pipe {ref(props(res).get('Name'))}: {ref(props(res).get('Source'))} -> {ref(props(res).get('Target'))}")
    for res in by_type.pop("AWS::Backup::BackupPlan", {}).values():
        plan = props(res).get("BackupPlan", {})
        for rule in plan.get("BackupPlanRule", []):
            life = rule.get("Lifecycle", {})
            lines.append(
                f"backup {plan.get('BackupPlanName')}/{rule.get('RuleName')}: {rule.get('ScheduleExpression')} to "
                f"{rule.get('TargetBackupVault')}, keep {life.get('DeleteAfterDays')}d"
                + (f", cold after {life['MoveToColdStorageAfterDays']}d" if life.get("MoveToColdStorageAfterDays") else "")
            )
    for res in by_type.pop("AWS::CloudTrail::Trail", {}).values():
        p = props(res)
        for selector in p.get("AdvancedEventSelectors", []):
            fields = {f["Field"]: f.get("Equals") or f.get("StartsWith") for f in selector.get("FieldSelectors", [])}
            arns = len(fields.get("resources.ARN") or [])
            kind = "writes" if fields.get("readOnly") == ["false"] else "reads and writes"
            # The selector's name and how many resources it names: a narrowed selector shows.
            what = selector.get("Name") or f"{','.join(fields.get('eventCategory') or ['?'])} events"
            lines.append(
                f"trail {ref(p.get('TrailName'))}: {what}"
                + (f", {kind} of {arns} ARN prefixes" if arns else "")
                + f", to {ref(p.get('S3BucketName'))} under {ref(p.get('KMSKeyId'))}, "
                f"validation {'on' if p.get('EnableLogFileValidation') else 'off'}"
            )
    for res in by_type.pop("AWS::CloudWatch::Alarm", {}).values():
        lines.append(alarm_line(res))
    for lid, res in by_type.pop("AWS::Events::Rule", {}).items():
        lines.append(rule_line(lid, res))
    others = Counter({t: len(r) for t, r in by_type.items()})
    lines += [f"other: {n} {t}" for t, n in sorted(others.items())]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools review", description=__doc__.split("\n\n")[0])
    parser.add_argument("location", nargs="?", default="cdk.out", help="cloud assembly or snapshot dir (default cdk.out)")
    parser.add_argument("stacks", nargs="*", help="only these stacks")
    parser.add_argument("--env", action="append", default=[], help="only this environment's stacks")
    args = parser.parse_args(argv)
    try:
        stacks = load_stacks(args.location, args.env)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unknown = sorted(set(args.stacks) - set(stacks))
    if unknown:
        print(f"error: no stack {', '.join(unknown)} in {args.location}", file=sys.stderr)
        return 2
    for name in args.stacks or sorted(stacks):
        print("\n".join(summary_lines(stacks[name])) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

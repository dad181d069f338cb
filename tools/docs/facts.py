"""What the data-model docs say, read out of the synthesized stacks: tables (through
tools.tables, the one table parser), alarms, IAM roles and KMS keys. Each fact is already
formatted the way the pages show it; tools.docs.render lays them out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from config.model import EnvironmentConfig
from constructs_lib.specs import SystemSpec
from constructs_lib.table import READ_ACTIONS, WRITE_ACTIONS
from stacks import naming
from tools.assembly import AssemblyError, Stack
from tools.tables import TABLE_TYPE, TableDef, table_def

WRITE_ONLY = frozenset(WRITE_ACTIONS) - frozenset(READ_ACTIONS)
COMPARISON = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
DEFAULT_PITR_DAYS = 35  # DynamoDB's recovery period when the template names none


class DataModelError(Exception):
    """Input the docs cannot be generated from; the message names it and what is expected."""


Stacks = Mapping[str, Stack]  # stack name -> stack, as tools.assembly reads it


def stack_of(stacks: Stacks, cfg: EnvironmentConfig, key: str) -> Stack:
    name = naming.stack_name(cfg, key)
    if name not in stacks:
        raise DataModelError(
            f"stack {name!r} is not among the templates ({', '.join(sorted(stacks)) or 'none'}); the docs cover every environment, so synthesize all of them (make synth without ENV)"
        )
    return stacks[name]


def of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}


def getatt_target(value: object) -> str | None:
    """The logical id in {"Fn::GetAtt": [id, "Arn"]}, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


# --- tables: tools.tables' reading, formatted ------------------------------------------------


@dataclass(frozen=True)
class IndexFacts:
    partition: str
    sort: str
    projection: str


@dataclass(frozen=True)
class TableFacts:
    name: str
    partition: str
    sort: str
    indexes: dict[str, IndexFacts]
    ttl: str
    billing: str
    pitr: str
    deletion_protection: str
    removal: str
    table_class: str = "STANDARD"
    contributor_insights: str = "off"
    on_demand_ceiling: str = "—"


def key_text(schema: tuple[tuple[str, str], ...], types: Mapping[str, str], role: str) -> str:
    names = [name for name, kind in schema if kind == role]
    return f"`{names[0]} ({types[names[0]]})`" if names else "—"


def autoscaling_text(low: int, high: int, settings: dict | None) -> str:
    """ "min-max at target%" for autoscaled capacity. The target utilisation is not part of
    tools.tables' Capacity, so it is read from the same settings the bounds came from."""
    target = (settings or {}).get("TargetTrackingScalingPolicyConfiguration", {}).get("TargetValue")
    return f"{low}-{high} at {target:g}%" if target is not None else "?"


def billing_text(table: TableDef, resource: dict) -> str:
    if table.billing_mode != "PROVISIONED" or table.capacity is None:  # table_def reads PROVISIONED with its capacity
        return table.billing_mode
    props = resource["Properties"]
    replica = next(r for r in props["Replicas"] if r.get("Region") == table.region)  # table_def found exactly one
    read = replica.get("ReadProvisionedThroughputSettings", {}).get("ReadCapacityAutoScalingSettings")
    write = props.get("WriteProvisionedThroughputSettings", {}).get("WriteCapacityAutoScalingSettings")
    capacity = table.capacity
    return f"PROVISIONED (read {autoscaling_text(capacity.read_min, capacity.read_max, read)}, write {autoscaling_text(capacity.write_min, capacity.write_max, write)})"


def projection_text(projection: str, non_key_attributes: tuple[str, ...]) -> str:
    return projection + (f" ({', '.join(non_key_attributes)})" if non_key_attributes else "")


def table_facts(table: TableDef, resource: dict) -> TableFacts:
    """A table as the docs show it: tools.tables.table_def's reading, plus the removal policy
    (a resource attribute, not a table setting)."""
    types = table.attribute_types
    return TableFacts(
        name=table.name,
        partition=key_text(table.key_schema, types, "HASH"),
        sort=key_text(table.key_schema, types, "RANGE"),
        indexes={
            index.name: IndexFacts(
                key_text(index.key_schema, types, "HASH"),
                key_text(index.key_schema, types, "RANGE"),
                projection_text(index.projection, index.non_key_attributes),
            )
            for index in table.indexes
        },
        ttl=f"`{table.ttl_attribute}`" if table.ttl_attribute else "—",
        billing=billing_text(table, resource),
        pitr=f"{table.pitr_days or DEFAULT_PITR_DAYS} days" if table.pitr_enabled else "off",
        deletion_protection="on" if table.deletion_protection else "off",
        removal=resource.get("DeletionPolicy", "Delete"),
        table_class=table.table_class,
        contributor_insights=insights_text(table, resource),
        on_demand_ceiling=ceiling_text(resource),
    )


def _home(table: TableDef, resource: dict) -> dict:
    return next((r for r in resource["Properties"].get("Replicas", []) if r.get("Region") == table.region), {})


def insights_text(table: TableDef, resource: dict) -> str:
    spec = _home(table, resource).get("ContributorInsightsSpecification") or resource["Properties"].get("ContributorInsightsSpecification")
    return f"on, {spec.get('Mode', 'ACCESSED_AND_THROTTLED_KEYS')}" if spec and spec.get("Enabled") else "off"


def ceiling_text(resource: dict) -> str:
    """The on-demand ceiling (request units per second), read and write."""
    props = resource["Properties"]
    read = next((r.get("ReadOnDemandThroughputSettings", {}).get("MaxReadRequestUnits") for r in props.get("Replicas", [])), None)
    write = (props.get("WriteOnDemandThroughputSettings") or {}).get("MaxWriteRequestUnits")
    return f"{read or 'none'} read / {write or 'none'} write per second" if read or write else "—"


def system_tables(stacks: Stacks, system: SystemSpec) -> dict[str, dict[str, TableFacts]]:
    """table id -> environment -> facts, every table of the catalogue found by its pinned logical id."""
    result: dict[str, dict[str, TableFacts]] = {spec.id: {} for spec in system.tables}
    for cfg in ENVIRONMENTS.values():
        stack = stack_of(stacks, cfg, system.key)
        found = of_type(stack.template, TABLE_TYPE)
        for spec in system.tables:
            if spec.logical_id not in found:
                raise DataModelError(f"{stack.name} has no table {spec.logical_id} ({system.key}.{spec.id} in config/catalogue.py)")
            try:
                table = table_def(stack, spec.logical_id)
            except AssemblyError as error:
                raise DataModelError(str(error)) from error
            result[spec.id][cfg.name] = table_facts(table, found[spec.logical_id])
    return result


def all_tables(stacks: Stacks) -> dict[str, dict[str, dict[str, TableFacts]]]:
    """system key -> table id -> environment -> facts."""
    return {s.key: system_tables(stacks, s) for s in SYSTEMS}


# --- alarms ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlarmFacts:
    name: str
    table: str | None
    metric: str
    condition: str
    actions: tuple[str, ...]
    ok_actions: tuple[str, ...]


def value_text(value: object) -> str:
    """A literal, or `<Resource>` / `<Resource.Attribute>` for a Ref / Fn::GetAtt of another resource."""
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<" + ".".join(value["Fn::GetAtt"]) + ">"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(value_text(p) for p in parts)
    return str(value)


def dims(metric: dict) -> dict[str, str]:
    return {d["Name"]: value_text(d["Value"]) for d in metric.get("Dimensions", [])}


def period_text(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def dims_text(dimensions: dict[str, str]) -> str:
    extra = {k: v for k, v in dimensions.items() if k not in ("TableName", "Operation")}
    return "".join(f", {k}={v}" for k, v in sorted(extra.items()))


def metric_text(props: dict) -> tuple[str, dict[str, str], int]:
    """What an alarm watches, the dimensions of (one of) its metrics, and its period."""
    if "MetricName" in props:
        d = dims(props)
        return f"{props['MetricName']} ({props['Statistic']}{dims_text(d)})", d, props["Period"]
    expression = next(m for m in props["Metrics"] if "Expression" in m)["Expression"]
    queries = [m for m in props["Metrics"] if "MetricStat" in m]
    stats = [m["MetricStat"] for m in queries]
    d = dims(stats[0]["Metric"])
    function = re.fullmatch(r"([A-Z_]+)\(METRICS\(\)\)", expression)
    if function is None:
        # Arithmetic over named metrics ("100 * (consumed / 300) / provisioned"): say what each name is.
        where = ", ".join(f"{m['Id']} = {m['MetricStat']['Metric']['MetricName']} ({m['MetricStat']['Stat']})" for m in queries)
        return f"{expression}, where {where}{dims_text(d)}", d, stats[0]["Period"]
    names = sorted({s["Metric"]["MetricName"] for s in stats})
    operations = [dims(s["Metric"]).get("Operation") for s in stats]
    over = f" over {', '.join(op for op in operations if op)}" if any(operations) else ""
    return f"{function[1]} of {', '.join(names)} ({stats[0]['Stat']}{dims_text(d)}){over}", d, stats[0]["Period"]


def alarm_facts(resource: dict) -> AlarmFacts:
    props = resource["Properties"]
    metric, dimensions, period = metric_text(props)
    op = COMPARISON.get(props["ComparisonOperator"], props["ComparisonOperator"])
    condition = f"{op} {props['Threshold']:g} in {props['DatapointsToAlarm']} of {props['EvaluationPeriods']} × {period_text(period)}"
    return AlarmFacts(
        props["AlarmName"],
        dimensions.get("TableName"),
        metric,
        condition,
        tuple(props.get("AlarmActions", [])),
        tuple(props.get("OKActions", [])),
    )


def alarms(template: dict) -> list[AlarmFacts]:
    return sorted((alarm_facts(r) for r in of_type(template, "AWS::CloudWatch::Alarm").values()), key=lambda a: a.name)


# --- roles and keys --------------------------------------------------------------------------


@dataclass
class RoleFacts:
    kind: str
    name: str
    description: str
    trust: str
    tables: dict[str, str]  # table id -> "read" | "read-write"
    indexes: set[str]  # "Table/index"
    leading_keys: set[str]
    kms: dict[str, str]  # key logical id -> "via ...: actions" | "direct: actions"
    assumes: set[str]
    managed: set[str]  # AWS-managed policies attached by ARN


def table_id(logical_id: str) -> str:
    return logical_id.removeprefix("Table")


def resource_target(resource: object) -> tuple[str | None, str | None]:
    """(logical id, index name) of a table or index ARN in a policy, else (None, None)."""
    target = getatt_target(resource)
    if target:
        return target, None
    if isinstance(resource, dict) and "Fn::Join" in resource:
        parts = resource["Fn::Join"][1]
        suffix = parts[1] if len(parts) == 2 and isinstance(parts[1], str) else ""
        if getatt_target(parts[0]) and suffix.startswith("/index/"):
            return getatt_target(parts[0]), suffix.removeprefix("/index/")
    return None, None


def principal_text(principal: dict, role_kinds: Mapping[str, str]) -> list[str]:
    texts = [f"service `{s}`" for s in as_list(principal.get("Service", []))]
    for arn in as_list(principal.get("AWS", [])):
        target = getatt_target(arn)
        texts.append(f"the `{role_kinds.get(target, target)}` role" if target else f"`{arn}`")
    return texts


def trust_text(role: dict, role_kinds: Mapping[str, str]) -> str:
    texts = []
    for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
        tags = [
            k.removeprefix("aws:RequestTag/")
            for k in statement.get("Condition", {}).get("StringLike", {})
            if k.startswith("aws:RequestTag/")
        ]
        suffix = f" with session tag {', '.join(f'`{t}`' for t in tags)}" if tags else ""
        texts += [t + suffix for t in principal_text(statement["Principal"], role_kinds)]
    return ", ".join(sorted(texts))


def add_statement(facts: RoleFacts, statement: dict, role_kinds: Mapping[str, str]) -> None:
    actions = set(as_list(statement["Action"]))
    resources = as_list(statement["Resource"])
    condition = statement.get("Condition", {})
    if any(a.startswith("dynamodb:") for a in actions):
        level = "read-write" if actions & WRITE_ONLY else "read"
        for resource in resources:
            target, index = resource_target(resource)
            if target and index:
                facts.indexes.add(f"{table_id(target)}/{index}")
            elif target:
                known = facts.tables.get(table_id(target))
                facts.tables[table_id(target)] = "read-write" if "read-write" in (known, level) else level
        facts.leading_keys.update(condition.get("ForAllValues:StringEquals", {}).get("dynamodb:LeadingKeys", []))
    if any(a.startswith("kms:") for a in actions):
        via = condition.get("StringEquals", {}).get("kms:ViaService")
        text = f"via {via}: " if via else "direct: "
        for resource in resources:
            facts.kms[getatt_target(resource) or value_text(resource)] = text + ", ".join(sorted(a.removeprefix("kms:") for a in actions))
    if "sts:AssumeRole" in actions:
        for resource in resources:
            target = getatt_target(resource)
            facts.assumes.add(str(resource) if target is None else role_kinds.get(target, str(resource)))


def role_kind(logical_id: str, props: dict, stack_name: str) -> str:
    """ "app" for the role named `<stack>-app`; an unnamed role goes by its logical id without CDK's hash."""
    name = props.get("RoleName")
    return name.removeprefix(f"{stack_name}-") if isinstance(name, str) else re.sub(r"[0-9A-F]{8}$", "", logical_id)


def managed_policy_names(props: dict) -> set[str]:
    """The names of AWS-managed policies in ManagedPolicyArns (literal or joined with the partition)."""
    names = set()
    for arn in props.get("ManagedPolicyArns", []):
        text = arn if isinstance(arn, str) else "".join(p for p in arn.get("Fn::Join", ["", []])[1] if isinstance(p, str))
        if ":iam::aws:policy/" in text:
            names.add(text.rsplit("/", 1)[-1])
    return names


def new_role(kind: str, props: dict, kinds: Mapping[str, str], resource: dict) -> RoleFacts:
    role_name = props.get("RoleName")
    name = role_name if isinstance(role_name, str) else "(named by CloudFormation)"
    return RoleFacts(
        kind, name, props.get("Description", ""), trust_text(resource, kinds), {}, set(), set(), {}, set(), managed_policy_names(props)
    )


def roles(template: dict, stack_name: str) -> dict[str, RoleFacts]:
    """role kind (app, readonly, ...) -> what the role may do, from the roles and their policies."""
    role_resources = of_type(template, "AWS::IAM::Role")
    kinds = {lid: role_kind(lid, r["Properties"], stack_name) for lid, r in role_resources.items()}
    result = {kinds[lid]: new_role(kinds[lid], r["Properties"], kinds, r) for lid, r in role_resources.items()}
    # Inline (AWS::IAM::Policy) or customer-managed: both name the roles they attach to.
    policies = [*of_type(template, "AWS::IAM::Policy").values(), *of_type(template, "AWS::IAM::ManagedPolicy").values()]
    for policy in policies:
        for ref in policy["Properties"].get("Roles", []):
            if isinstance(ref, dict) and ref.get("Ref") in kinds:  # a role of this stack
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    add_statement(result[kinds[ref["Ref"]]], statement, kinds)
    return result


@dataclass(frozen=True)
class KeyFacts:
    alias: str
    description: str
    rotation: str
    pending_window: str
    removal: str


def kms_keys(template: dict) -> dict[str, KeyFacts]:
    aliases = {
        getatt_target(a["Properties"]["TargetKeyId"]): a["Properties"]["AliasName"] for a in of_type(template, "AWS::KMS::Alias").values()
    }
    return {
        lid: KeyFacts(
            alias=f"`{aliases.get(lid, '—')}`",
            description=k["Properties"].get("Description", ""),
            rotation="on" if k["Properties"].get("EnableKeyRotation") else "off",
            pending_window=f"{k['Properties'].get('PendingWindowInDays', 30)} days",
            removal=k.get("DeletionPolicy", "Delete"),
        )
        for lid, k in of_type(template, "AWS::KMS::Key").items()
    }

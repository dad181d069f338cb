"""What the synthesized templates declare, counted for the estimate: each table's billing mode,
class, PITR, replicas, provisioned floors and Contributor Insights rules; the metrics each alarm
is billed for; each Aurora Serverless cluster's minimum capacity, instances and Performance
Insights retention; the backup rules' intervals; the budgets. No prices here: tools.cost.pricing
prices these counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from tools.assembly import Stack, props
from tools.prices import DAYS_PER_MONTH

ACCESSED = "ACCESSED_AND_THROTTLED_KEYS"
PI_FREE_DAYS = 7


@dataclass(frozen=True)
class Table:
    stack: str
    logical_id: str
    on_demand: bool
    infrequent_access: bool
    pitr: bool
    replicas: int
    rcu_floor: int  # provisioned: table + indexes, autoscaling minimums
    wcu_floor: int
    # (mode, rules) of the table and of each index with Contributor Insights on.
    insights: tuple[tuple[str, int], ...]


def _capacity(settings: object, kind: str) -> int:
    """A provisioned floor: fixed units, or the autoscaling minimum."""
    if not isinstance(settings, dict):
        return 0
    scaling = settings.get(f"{kind}CapacityAutoScalingSettings")
    if isinstance(scaling, dict):
        return int(scaling.get("MinCapacity", 0))
    return int(settings.get(f"{kind}CapacityUnits", 0))


def _insights(spec: object, keys: object) -> list[tuple[str, int]]:
    """Contributor Insights creates a rule per view: most accessed and most throttled (or
    throttled only), each for partition keys and, with a sort key, for items too."""
    if not (isinstance(spec, dict) and spec.get("Enabled") in (True, "true")):
        return []
    mode = str(spec.get("Mode", ACCESSED))
    sort_key = any(k.get("KeyType") == "RANGE" for k in keys if isinstance(k, dict)) if isinstance(keys, list) else False
    return [(mode, (2 if mode == ACCESSED else 1) * (2 if sort_key else 1))]


def _table(stack: Stack, lid: str, kind: str, p: dict) -> Table:
    """A GlobalTable keeps class, PITR, read capacity and insights per replica (the first is
    this region's); a plain Table keeps them on itself."""
    global_table = kind == "AWS::DynamoDB::GlobalTable"
    replicas = [r for r in p.get("Replicas", []) if isinstance(r, dict)] if global_table else [p]
    here = replicas[0] if replicas else {}
    gsis = [g for g in p.get("GlobalSecondaryIndexes", []) if isinstance(g, dict)]
    here_gsis = [g for g in here.get("GlobalSecondaryIndexes", []) if isinstance(g, dict)] if global_table else gsis
    key_schemas = {g.get("IndexName"): g.get("KeySchema") for g in gsis}
    if global_table:
        rcu = _capacity(here.get("ReadProvisionedThroughputSettings"), "Read") + sum(
            _capacity(g.get("ReadProvisionedThroughputSettings"), "Read") for g in here_gsis
        )
        wcu = _capacity(p.get("WriteProvisionedThroughputSettings"), "Write") + sum(
            _capacity(g.get("WriteProvisionedThroughputSettings"), "Write") for g in gsis
        )
    else:
        throughput = [t for t in [p.get("ProvisionedThroughput")] + [g.get("ProvisionedThroughput") for g in gsis] if isinstance(t, dict)]
        rcu = sum(int(t.get("ReadCapacityUnits", 0)) for t in throughput)
        wcu = sum(int(t.get("WriteCapacityUnits", 0)) for t in throughput)
    return Table(
        stack.name,
        lid,
        p.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST",
        here.get("TableClass") == "STANDARD_INFREQUENT_ACCESS",
        bool((here.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")),
        max(1, len(replicas)),
        rcu,
        wcu,
        tuple(_insights(here.get("ContributorInsightsSpecification"), p.get("KeySchema")))
        + tuple(m for g in here_gsis for m in _insights(g.get("ContributorInsightsSpecification"), key_schemas.get(g.get("IndexName")))),
    )


def tables(stacks: Iterable[Stack]) -> list[Table]:
    return [
        _table(stack, lid, resource["Type"], props(resource))
        for stack in stacks
        for lid, resource in stack.resources.items()
        if resource.get("Type") in ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table")
    ]


def alarm_metrics(resource: dict) -> tuple[int, int]:
    """(standard, high-resolution) metrics an alarm is billed for: one per metric it reads,
    math expressions free."""
    p = props(resource)
    if "Metrics" in p:
        stats = [m["MetricStat"] for m in p["Metrics"] if isinstance(m, dict) and isinstance(m.get("MetricStat"), dict)]
        high = sum(1 for s in stats if int(s.get("Period", 60)) < 60)
        return len(stats) - high, high
    return (0, 1) if int(p.get("Period", 60)) < 60 else (1, 0)


def of_type(stacks: Iterable[Stack], kind: str) -> list[tuple[Stack, str, dict]]:
    return [(s, lid, r) for s in stacks for lid, r in s.resources.items() if r.get("Type") == kind]


@dataclass(frozen=True)
class Cluster:
    min_acu: float
    instances: int
    insights_beyond_free: bool


def clusters(stacks: Iterable[Stack]) -> list[Cluster]:
    found = []
    for stack, lid, resource in of_type(stacks, "AWS::RDS::DBCluster"):
        p = props(resource)
        scaling = p.get("ServerlessV2ScalingConfiguration")
        if not isinstance(scaling, dict):
            continue
        members = sum(
            1
            for _, _, instance in of_type([stack], "AWS::RDS::DBInstance")
            if props(instance).get("DBClusterIdentifier") == {"Ref": lid} and props(instance).get("DBInstanceClass") == "db.serverless"
        )
        insights = int(p.get("PerformanceInsightsRetentionPeriod", 0) or 0) > PI_FREE_DAYS
        found.append(Cluster(float(scaling.get("MinCapacity", 0.5)), members, insights))
    return found


_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")


def interval_days(schedule: str) -> float:
    """Days between a backup rule's runs: daily, weekly or monthly cron expressions."""
    match = _CRON.match(schedule.strip())
    if not match:
        return 1.0
    fields = match["fields"].split()
    day_of_month, day_of_week = (fields[2], fields[4]) if len(fields) >= 5 else ("*", "?")
    if day_of_month not in ("*", "?"):
        return DAYS_PER_MONTH
    if day_of_week not in ("*", "?"):
        return 7.0
    return 1.0


SYSTEM_FILTER = re.compile(r"user:System\$([\w-]+)")


def budget(stacks: Iterable[Stack]) -> tuple[str, float] | None:
    """The environment's own budget: the one not filtered to a single system."""
    for _, _, resource in of_type(stacks, "AWS::Budgets::Budget"):
        spec = props(resource).get("Budget") or {}
        if SYSTEM_FILTER.search(str(spec.get("CostFilters"))):
            continue
        limit = spec.get("BudgetLimit") or {}
        return str(spec.get("BudgetName", "budget")), float(limit.get("Amount", 0))
    return None


def system_budgets(stacks: Iterable[Stack]) -> dict[str, float]:
    """system key -> the amount of its budget (filtered on the System tag)."""
    found = {}
    for _, _, resource in of_type(stacks, "AWS::Budgets::Budget"):
        spec = props(resource).get("Budget") or {}
        match = SYSTEM_FILTER.search(str(spec.get("CostFilters")))
        if match:
            found[match.group(1)] = float((spec.get("BudgetLimit") or {}).get("Amount", 0))
    return found

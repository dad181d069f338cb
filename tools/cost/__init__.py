"""cost: a monthly estimate of what an environment declares, printed beside its budget.

Usage: python -m tools cost [--env ENV] [ASSEMBLY]   (make cost ENV=dev)

Fixed cost is counted in the synthesized templates: keys, alarm metrics, dashboards,
Contributor Insights rules, provisioned capacity floors, Aurora's minimum capacity, RDS
Proxy's minimum, interface endpoints, secrets, budgets. Variable cost comes from the
environment's assumed workload (config/environments.py, `workload`) applied to what the
templates declare: each table's class and PITR, the trail's event selectors, the archive
buckets' lifecycle rules, the backup plans' schedules and lifecycles. Every price comes from
tools/prices.py, dated and sourced. docs/cost.md says what is left out and why.

Written by hand: no maintained tool prices a CDK assembly offline (infracost reads
Terraform; AWS's Pricing Calculator is a web form). Standard library plus config only, so
the change summary can price an old ref's snapshots too.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.model import WorkloadConfig
from tools.assembly import AssemblyError, Stack, load_stacks, props
from tools.prices import AS_OF, DAYS_PER_MONTH, HOURS_PER_MONTH, PRICES, REGION, Price

KB_PER_GB = 1024 * 1024
FIREHOSE_ROUNDING_KB = 5
# The archive pipe sends one message per expired item; the drain pipe reads, and deletes, in
# batches of ten (constructs_lib/archive.py).
DRAIN_BATCH = 10
RDS_PROXY_MINIMUM_ACU = 8
ACCESSED = "ACCESSED_AND_THROTTLED_KEYS"
PI_FREE_DAYS = 7


@dataclass(frozen=True)
class Line:
    group: str  # "fixed" (declared) or "variable" (workload)
    item: str
    quantity: float  # in the price's unit
    price_key: str

    @property
    def price(self) -> Price:
        return PRICES[self.price_key]

    @property
    def usd(self) -> float:
        return self.quantity * self.price.usd


@dataclass
class Estimate:
    environment: str
    lines: list[Line] = field(default_factory=list)
    budget_usd: float | None = None
    budget_name: str = ""
    # system key ("" for the shared stacks) -> (its estimate, its budget or None), where the
    # environment declares per-system budgets.
    systems: dict[str, tuple[float, float | None]] = field(default_factory=dict)

    def add(self, group: str, item: str, quantity: float, price_key: str) -> None:
        if quantity > 0:
            self.lines.append(Line(group, item, quantity, price_key))

    def total(self, group: str | None = None) -> float:
        return sum(line.usd for line in self.lines if group in (None, line.group))

    @property
    def fixed_over_half(self) -> bool:
        return self.budget_usd is not None and self.total("fixed") > self.budget_usd / 2


# --- what the templates declare ---------------------------------------------------------


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


def _of_type(stacks: Iterable[Stack], kind: str) -> list[tuple[Stack, str, dict]]:
    return [(s, lid, r) for s in stacks for lid, r in s.resources.items() if r.get("Type") == kind]


def _fixed(estimate: Estimate, stacks: list[Stack], found: list[Table]) -> None:
    add = estimate.add
    add("fixed", "KMS customer-managed keys", len(_of_type(stacks, "AWS::KMS::Key")), "kms.key")
    standard = high = 0
    for _, _, alarm in _of_type(stacks, "AWS::CloudWatch::Alarm"):
        s, h = alarm_metrics(alarm)
        standard, high = standard + s, high + h
    add("fixed", "CloudWatch alarm metrics", standard, "cloudwatch.alarm.metric")
    add("fixed", "CloudWatch alarm metrics, high resolution", high, "cloudwatch.alarm.metric_high_resolution")
    add("fixed", "CloudWatch dashboards", len(_of_type(stacks, "AWS::CloudWatch::Dashboard")), "cloudwatch.dashboard")
    rules = sum(count for t in found for _, count in t.insights)
    add("fixed", "Contributor Insights rules", rules, "dynamodb.contributor_insights.rule")
    add("fixed", "DynamoDB provisioned reads (floor)", sum(t.rcu_floor * t.replicas for t in found) * HOURS_PER_MONTH, "dynamodb.rcu_hour")
    add("fixed", "DynamoDB provisioned writes (floor)", sum(t.wcu_floor * t.replicas for t in found) * HOURS_PER_MONTH, "dynamodb.wcu_hour")
    endpoints = sum(
        len(props(r).get("SubnetIds", []))
        for _, _, r in _of_type(stacks, "AWS::EC2::VPCEndpoint")
        if props(r).get("VpcEndpointType") == "Interface"
    )
    add("fixed", "VPC interface endpoints (per zone)", endpoints * HOURS_PER_MONTH, "vpc.interface_endpoint")
    secrets = len(_of_type(stacks, "AWS::SecretsManager::Secret")) + sum(
        1 for _, _, r in _of_type(stacks, "AWS::RDS::DBCluster") if props(r).get("ManageMasterUserPassword") in (True, "true")
    )
    add("fixed", "Secrets Manager secrets", secrets, "secretsmanager.secret")


@dataclass(frozen=True)
class Cluster:
    min_acu: float
    instances: int
    insights_beyond_free: bool


def clusters(stacks: Iterable[Stack]) -> list[Cluster]:
    found = []
    for stack, lid, resource in _of_type(stacks, "AWS::RDS::DBCluster"):
        p = props(resource)
        scaling = p.get("ServerlessV2ScalingConfiguration")
        if not isinstance(scaling, dict):
            continue
        members = sum(
            1
            for _, _, instance in _of_type([stack], "AWS::RDS::DBInstance")
            if props(instance).get("DBClusterIdentifier") == {"Ref": lid} and props(instance).get("DBInstanceClass") == "db.serverless"
        )
        insights = int(p.get("PerformanceInsightsRetentionPeriod", 0) or 0) > PI_FREE_DAYS
        found.append(Cluster(float(scaling.get("MinCapacity", 0.5)), members, insights))
    return found


def _database(estimate: Estimate, stacks: list[Stack], workload: WorkloadConfig) -> None:
    found = clusters(stacks)
    proxies = len(_of_type(stacks, "AWS::RDS::DBProxy"))
    for cluster in found:
        floor = cluster.min_acu * cluster.instances
        average = (workload.database_average_acu or cluster.min_acu) * cluster.instances
        estimate.add("fixed", "Aurora Serverless v2 minimum capacity", floor * HOURS_PER_MONTH, "aurora.acu_hour")
        estimate.add("variable", "Aurora Serverless v2 capacity above the minimum", (average - floor) * HOURS_PER_MONTH, "aurora.acu_hour")
        if cluster.insights_beyond_free:
            estimate.add("fixed", "Performance Insights retention beyond 7 days", floor, "aurora.performance_insights")
            estimate.add("variable", "Performance Insights retention, above the minimum", average - floor, "aurora.performance_insights")
        if proxies:
            proxy_floor = max(RDS_PROXY_MINIMUM_ACU, floor)
            estimate.add("fixed", "RDS Proxy (at least 8 ACUs)", proxy_floor * HOURS_PER_MONTH, "rds_proxy.acu_hour")
            estimate.add(
                "variable",
                "RDS Proxy above its minimum",
                (max(RDS_PROXY_MINIMUM_ACU, average) - proxy_floor) * HOURS_PER_MONTH,
                "rds_proxy.acu_hour",
            )
    if found:
        estimate.add("variable", "Aurora storage", workload.database_gb * len(found), "aurora.storage")


# --- what the workload adds ----------------------------------------------------------------


def _tables(estimate: Estimate, found: list[Table], every: list[Table], workload: WorkloadConfig) -> None:
    """`found`: the tables priced; `every`: all of the environment's, over which the workload
    is spread."""
    on_demand = [t for t in found if t.on_demand]
    every_on_demand = sum(1 for t in every if t.on_demand)
    if not found:
        return
    share = workload.table_gb / len(every)
    for cls, label in (("standard", "Standard"), ("standard_ia", "Standard-IA")):
        in_class = [t for t in on_demand if t.infrequent_access == (cls == "standard_ia")]
        if on_demand:
            reads = workload.read_million * len(in_class) / every_on_demand
            writes = workload.write_million * sum(t.replicas for t in in_class) / every_on_demand
            estimate.add("variable", f"DynamoDB on-demand reads, {label}", reads, f"dynamodb.read.{cls}")
            estimate.add("variable", f"DynamoDB on-demand writes, {label}", writes, f"dynamodb.write.{cls}")
        stored = share * sum(t.replicas for t in found if t.infrequent_access == (cls == "standard_ia"))
        estimate.add("variable", f"DynamoDB storage, {label}", stored, f"dynamodb.storage.{cls}")
    estimate.add("variable", "DynamoDB point-in-time recovery", share * sum(t.replicas for t in found if t.pitr), "dynamodb.pitr")
    if on_demand:
        # An ACCESSED_AND_THROTTLED_KEYS rule counts every request of its table; a THROTTLED_KEYS
        # rule only throttled ones (none, in a healthy month). An index is priced at its table's requests.
        per_table = (workload.read_million + workload.write_million) / every_on_demand
        events = sum(per_table * count for t in on_demand for mode, count in t.insights if mode == ACCESSED)
        estimate.add("variable", "Contributor Insights events", events, "dynamodb.contributor_insights.events")


def _trail(estimate: Estimate, stacks: list[Stack], workload: WorkloadConfig) -> None:
    for _, _, trail in _of_type(stacks, "AWS::CloudTrail::Trail"):
        p = props(trail)
        selectors = [s for s in p.get("AdvancedEventSelectors", []) if isinstance(s, dict)]
        dynamodb = [s for s in selectors if "AWS::DynamoDB::Table" in str(s.get("FieldSelectors"))]
        if not dynamodb:
            continue
        writes_only = all(
            any(f.get("Field") == "readOnly" and f.get("Equals") == ["false"] for f in s.get("FieldSelectors", [])) for s in dynamodb
        )
        events = workload.write_million + (0 if writes_only else workload.read_million)  # millions, one event per request unit at most
        estimate.add(
            "variable",
            "CloudTrail data events" + (" (writes)" if writes_only else " (reads and writes)"),
            events * 10,
            "cloudtrail.data_event",
        )
        if p.get("CloudWatchLogsLogGroupArn"):
            estimate.add(
                "variable",
                "CloudTrail events into CloudWatch Logs",
                events * 1e6 * workload.trail_event_kb / KB_PER_GB,
                "cloudwatch.logs.ingest",
            )


def _buckets(stacks: list[Stack]) -> dict[str, dict]:
    return {
        str(props(r).get("BucketName")): props(r)
        for _, _, r in _of_type(stacks, "AWS::S3::Bucket")
        if isinstance(props(r).get("BucketName"), str)
    }


def _rule_for(bucket: Mapping, prefix: str) -> dict | None:
    rules = (bucket.get("LifecycleConfiguration") or {}).get("Rules", [])
    matching = [r for r in rules if r.get("Status") == "Enabled" and prefix.startswith(r.get("Prefix", ""))]
    return max(matching, key=lambda r: len(r.get("Prefix", "")), default=None)


def _storage_days(rule: Mapping | None) -> dict[str, float]:
    """Days an object spends in each storage class under a lifecycle rule (no rule: a year in Standard)."""
    if rule is None:
        return {"s3.standard": 365.0}
    expires = float(rule.get("ExpirationInDays", 365))
    steps = sorted((float(t["TransitionInDays"]), t["StorageClass"]) for t in rule.get("Transitions", []))
    keys = {"GLACIER": "s3.glacier", "DEEP_ARCHIVE": "s3.deep_archive"}
    days: dict[str, float] = defaultdict(float)
    start, current = 0.0, "s3.standard"
    for at, storage_class in [*steps, (expires, "")]:
        days[current] += max(0.0, min(at, expires) - start)
        start, current = at, keys.get(storage_class, "s3.standard")
    return dict(days)


def _destinations(stacks: Iterable[Stack]) -> list[dict]:
    streams = [props(r) for _, _, r in _of_type(stacks, "AWS::KinesisFirehose::DeliveryStream")]
    return [s["ExtendedS3DestinationConfiguration"] for s in streams if isinstance(s.get("ExtendedS3DestinationConfiguration"), dict)]


def _archive(estimate: Estimate, stacks: list[Stack], every: list[Stack], workload: WorkloadConfig) -> None:
    archives = _destinations(stacks)
    if not archives or not workload.expired_million:
        return
    expired = workload.expired_million / len(_destinations(every))  # millions per stream
    gb = expired * 1e6 * workload.item_kb / KB_PER_GB
    record_kb = math.ceil(workload.item_kb / FIREHOSE_ROUNDING_KB) * FIREHOSE_ROUNDING_KB
    buckets = _buckets(every)
    storage: dict[str, float] = defaultdict(float)
    transfer = 0.0
    for destination in archives:
        estimate.add("variable", "Archive pipes (stream to buffer, buffer to Firehose)", expired * (1 + 1 / DRAIN_BATCH), "pipes.request")
        estimate.add(
            "variable", "Archive buffer queue (send; receive and delete in batches)", expired * (1 + 2 / DRAIN_BATCH), "sqs.request"
        )
        estimate.add("variable", "Firehose ingestion of expired items", expired * 1e6 * record_kb / KB_PER_GB, "firehose.ingest")
        name = str(destination.get("BucketARN", "")).rsplit(":", 1)[-1]
        bucket = buckets.get(name, {})
        prefix = str(destination.get("Prefix", "")).split("!{", 1)[0]
        for key, days in _storage_days(_rule_for(bucket, prefix)).items():
            storage[key] += gb * days / DAYS_PER_MONTH
        for target in (bucket.get("ReplicationConfiguration") or {}).get("Rules", []):
            replica = buckets.get(str((target.get("Destination") or {}).get("Bucket", "")).rsplit(":", 1)[-1], bucket)
            for key, days in _storage_days(_rule_for(replica, prefix)).items():
                storage[key] += gb * days / DAYS_PER_MONTH
            transfer += gb
    for key, label in (
        ("s3.standard", "Standard"),
        ("s3.glacier", "Glacier Flexible Retrieval"),
        ("s3.deep_archive", "Glacier Deep Archive"),
    ):
        estimate.add("variable", f"Archive storage at full retention, {label}", storage.get(key, 0.0), key)
    estimate.add("variable", "Archive replication to the off-site region", transfer, "transfer.inter_region")


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


def _backups(estimate: Estimate, stacks: list[Stack], all_tables: list[Table], workload: WorkloadConfig) -> None:
    if not all_tables:
        return
    table_gb = workload.table_gb / len(all_tables)
    region = REGION
    for stack in stacks:
        region = stack.region or region
        selected_tables = selected_clusters = 0
        for resource in stack.resources.values():
            if resource.get("Type") != "AWS::Backup::BackupSelection":
                continue
            for ref in (props(resource).get("BackupSelection") or {}).get("Resources", []):
                text = str(ref)
                if "Fn::GetAtt" in text and stack.resources.get(ref["Fn::GetAtt"][0], {}).get("Type", "").startswith("AWS::DynamoDB::"):
                    selected_tables += 1
                elif ":rds:" in text:
                    selected_clusters += 1
        for resource in stack.resources.values():
            if resource.get("Type") != "AWS::Backup::BackupPlan":
                continue
            for rule in (props(resource).get("BackupPlan") or {}).get("BackupPlanRule", []):
                every = interval_days(str(rule.get("ScheduleExpression", "")))
                for lifecycle, copy in [(rule.get("Lifecycle") or {}, None)] + [
                    (c.get("Lifecycle") or {}, c) for c in rule.get("CopyActions", [])
                ]:
                    kept = float(lifecycle.get("DeleteAfterDays", every)) / every
                    cold_after = lifecycle.get("MoveToColdStorageAfterDays")
                    warm = min(kept, float(cold_after) / every) if cold_after else kept
                    where = "" if copy is None else ", copies"
                    estimate.add("variable", f"Table backups, warm{where}", warm * table_gb * selected_tables, "backup.dynamodb.warm")
                    estimate.add(
                        "variable", f"Table backups, cold{where}", (kept - warm) * table_gb * selected_tables, "backup.dynamodb.cold"
                    )
                    # Aurora snapshots are incremental: priced as one full copy per rule.
                    estimate.add("variable", f"Database backups{where}", workload.database_gb * selected_clusters, "backup.aurora")
                    if copy is not None and f":{region}:" not in str(copy.get("DestinationBackupVaultArn", "")):
                        gb = DAYS_PER_MONTH / every * (table_gb * selected_tables + workload.database_gb * selected_clusters)
                        estimate.add("variable", "Backup copies to the off-site region", gb, "transfer.inter_region")


def _merge(lines: list[Line]) -> list[Line]:
    """One line per item: the same item from many stacks adds up."""
    merged: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in lines:
        merged[(line.group, line.item, line.price_key)] += line.quantity
    return [Line(group, item, quantity, key) for (group, item, key), quantity in merged.items()]


SYSTEM_FILTER = re.compile(r"user:System\$([\w-]+)")


def budget(stacks: Iterable[Stack]) -> tuple[str, float] | None:
    """The environment's own budget: the one not filtered to a single system."""
    for _, _, resource in _of_type(stacks, "AWS::Budgets::Budget"):
        spec = props(resource).get("Budget") or {}
        if SYSTEM_FILTER.search(str(spec.get("CostFilters"))):
            continue
        limit = spec.get("BudgetLimit") or {}
        return str(spec.get("BudgetName", "budget")), float(limit.get("Amount", 0))
    return None


def system_budgets(stacks: Iterable[Stack]) -> dict[str, float]:
    """system key -> the amount of its budget (filtered on the System tag)."""
    found = {}
    for _, _, resource in _of_type(stacks, "AWS::Budgets::Budget"):
        spec = props(resource).get("Budget") or {}
        match = SYSTEM_FILTER.search(str(spec.get("CostFilters")))
        if match:
            found[match.group(1)] = float((spec.get("BudgetLimit") or {}).get("Amount", 0))
    return found


def estimate(environment: str, stacks: Iterable[Stack], workload: WorkloadConfig, every: Iterable[Stack] | None = None) -> Estimate:
    """The estimate of `stacks`, with the workload spread over the tables of `every` (default:
    the same stacks), so the estimates of a partition of an environment's stacks add up to it."""
    chosen = list(stacks)
    context = chosen if every is None else list(every)
    result = Estimate(environment)
    found, all_tables = tables(chosen), tables(context)
    _fixed(result, chosen, found)
    _database(result, chosen, workload)
    _tables(result, found, all_tables, workload)
    _trail(result, chosen, workload)
    _archive(result, chosen, context, workload)
    _backups(result, chosen, all_tables, workload)
    result.lines = _merge(result.lines)
    declared = budget(context)
    if declared:
        result.budget_name, result.budget_usd = declared
    systems = system_budgets(context)
    if systems and every is None:
        # A stack belongs to the system its name starts with ("personalpod-database-prod");
        # the rest (platform, CI, off-site) is shared, in the environment's budget only.
        owner = {s.name: next((k for k in sorted(systems, key=len, reverse=True) if s.name.startswith(f"{k}-")), "") for s in chosen}
        for system in [*sorted(systems), ""]:
            members = [s for s in chosen if owner[s.name] == system]
            result.systems[system] = (estimate(environment, members, workload, chosen).total(), systems.get(system))
    return result


def estimates(stacks: Mapping[str, Stack], workloads: Mapping[str, WorkloadConfig] | None = None) -> dict[str, Estimate]:
    """One estimate per environment of `stacks`, with each environment's workload (default:
    the one config/environments.py assumes)."""
    if workloads is None:
        from config.environments import ENVIRONMENTS

        workloads = {name: cfg.workload for name, cfg in ENVIRONMENTS.items()}
    by_env: dict[str, list[Stack]] = defaultdict(list)
    for stack in stacks.values():
        by_env[stack.environment].append(stack)
    return {env: estimate(env, members, workloads.get(env, WorkloadConfig())) for env, members in sorted(by_env.items())}


# --- output -------------------------------------------------------------------------------


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def render(result: Estimate) -> str:
    width = max([len(line.item) for line in result.lines] + [36])

    def row(label: str, quantity: str, usd: float, price: str = "") -> str:
        return f"  {label:{width}}  {quantity:>12}  {usd:>10,.2f}  {price}".rstrip()

    out = [
        f"Monthly estimate for {result.environment}, USD ({REGION} list prices of {AS_OF}, tools/prices.py; "
        "workload assumed in config/environments.py)",
    ]
    for group, title in (("fixed", "fixed: declared in the templates"), ("variable", "variable: the assumed workload")):
        out += ["", f"  {title:{width}}  {'quantity':>12}  {'USD/month':>10}  unit price"]
        for line in sorted((x for x in result.lines if x.group == group), key=lambda x: -x.usd):
            out.append(row(line.item, _quantity(line.quantity), line.usd, f"{line.price.usd:g} per {line.price.per}"))
        out.append(row(f"{group} total", "", result.total(group)))
    out += ["", row("total", "", result.total())]
    if result.budget_usd is None:
        out.append("  no budget declared for this environment")
    else:
        share = result.total() / result.budget_usd * 100 if result.budget_usd else float("inf")
        out.append(row(f"budget {result.budget_name}", "", result.budget_usd, f"the estimate is {share:.0f}% of it"))
    for system, (usd, limit) in result.systems.items():
        label = f"  system {system}" if system else "  shared: platform, CI, off-site"
        note = f"budget {limit:,.2f}, the estimate is {usd / limit * 100:.0f}% of it" if limit else "in the environment's budget only"
        out.append(row(label, "", usd, note))
    if result.fixed_over_half:
        out.append(
            f"warning: {result.environment}: fixed cost alone ({result.total('fixed'):,.2f} USD) is more than half of the budget "
            f"({result.budget_usd:,.2f} USD): the environment costs this much before it serves a request"
        )
    return "\n".join(out) + "\n"


def delta_markdown(before: Mapping[str, Estimate], after: Mapping[str, Estimate]) -> list[str]:
    """The change summary's cost section: each environment's estimate before and after, and
    the items that moved."""
    lines = [f"### Estimated monthly cost (USD, {REGION} list prices of {AS_OF}, `make cost`)", ""]
    lines += ["| environment | before | after | change | budget |", "| --- | ---: | ---: | ---: | ---: |"]
    moved: list[str] = []
    for env in sorted(before.keys() | after.keys()):
        old = before[env].total() if env in before else 0.0
        new = after[env] if env in after else None
        total = new.total() if new else 0.0
        limit = f"{new.budget_usd:,.0f}" if new and new.budget_usd is not None else ""
        lines.append(f"| {env} | {old:,.2f} | {total:,.2f} | {total - old:+,.2f} | {limit} |")
        was = {(x.group, x.item): x.usd for x in before[env].lines} if env in before else {}
        now = {(x.group, x.item): x.usd for x in new.lines} if new else {}
        for key in sorted(was.keys() | now.keys()):
            change = now.get(key, 0.0) - was.get(key, 0.0)
            if abs(change) >= 0.005:
                moved.append(f"| {env} | {key[1]} ({key[0]}) | {was.get(key, 0.0):,.2f} | {now.get(key, 0.0):,.2f} | {change:+,.2f} |")
    lines.append("")
    if moved:
        lines += ["| environment | item | before | after | change |", "| --- | --- | ---: | ---: | ---: |", *moved, ""]
    else:
        lines += ["No change to the estimate.", ""]
    warned = [e for e in after.values() if e.fixed_over_half]
    lines += [
        f"Warning: {e.environment}'s fixed cost ({e.total('fixed'):,.2f}) is more than half its budget ({e.budget_usd:,.2f})."
        for e in warned
    ]
    return lines + ([""] if warned else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", help="a synthesized cloud assembly (default: cdk.out)")
    parser.add_argument("--env", help="one environment (default: every environment in the assembly)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from config.environments import ENVIRONMENTS

    if args.env is not None and args.env not in ENVIRONMENTS:
        print(f"cost: error: --env {args.env!r} is not an environment: one of {', '.join(ENVIRONMENTS)}", file=sys.stderr)
        return 2
    if not (Path(args.assembly) / "manifest.json").is_file():
        print(
            f"cost: error: {args.assembly}: no synthesized cloud assembly here (run make synth first, or make cost, which does)",
            file=sys.stderr,
        )
        return 2
    try:
        stacks = load_stacks(args.assembly, [args.env] if args.env else [])
    except AssemblyError as error:
        print(f"cost: error: {error}", file=sys.stderr)
        return 2
    results = estimates(stacks)
    print("\n".join(render(result) for result in results.values()), end="")
    return 0

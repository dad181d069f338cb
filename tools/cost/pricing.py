"""The estimate: what the templates declare (tools.cost.declared) and the environment's assumed
workload, priced with tools/prices.py. Each Line is fixed (declared) or variable (workload); an
Estimate sums an environment's lines and, where budgets are per system, each system's share.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from config.model import WorkloadConfig
from tools.assembly import Stack, props
from tools.cost.declared import ACCESSED, Table, alarm_metrics, budget, clusters, interval_days, of_type, system_budgets, tables
from tools.prices import DAYS_PER_MONTH, HOURS_PER_MONTH, PRICES, REGION, Price

KB_PER_GB = 1024 * 1024
FIREHOSE_ROUNDING_KB = 5
# The archive pipe sends one message per expired item; the drain pipe reads, and deletes, in
# batches of ten (constructs_lib/archive_path.py).
DRAIN_BATCH = 10
RDS_PROXY_MINIMUM_ACU = 8


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
        """A line; nothing for a zero quantity (a negative one is a free tier's credit)."""
        if quantity != 0:
            self.lines.append(Line(group, item, quantity, price_key))

    def total(self, group: str | None = None) -> float:
        return sum(line.usd for line in self.lines if group in (None, line.group))

    @property
    def fixed_over_half(self) -> bool:
        return self.budget_usd is not None and self.total("fixed") > self.budget_usd / 2


# --- what the templates declare ---------------------------------------------------------


# CloudWatch's free tier, per account and month: 3 dashboards (of up to 50 metrics) and 10
# alarm metrics (https://aws.amazon.com/cloudwatch/pricing/, free tier; one account per environment).
FREE_DASHBOARDS = 3
FREE_ALARM_METRICS = 10


def _free_tier(estimate: Estimate, stacks: list[Stack], context: list[Stack]) -> None:
    """The account's free dashboards and alarm metrics, counted once: on the stacks that hold the
    environment's budget (the platform's), so a partition of the stacks still adds up."""
    if not any(of_type([s], "AWS::Budgets::Budget") for s in stacks):
        return
    dashboards = len(of_type(context, "AWS::CloudWatch::Dashboard"))
    metrics = sum(alarm_metrics(alarm)[0] for _, _, alarm in of_type(context, "AWS::CloudWatch::Alarm"))
    estimate.add("fixed", "CloudWatch dashboards, free tier", -min(FREE_DASHBOARDS, dashboards), "cloudwatch.dashboard")
    estimate.add("fixed", "CloudWatch alarm metrics, free tier", -min(FREE_ALARM_METRICS, metrics), "cloudwatch.alarm.metric")


def _fixed(estimate: Estimate, stacks: list[Stack], found: list[Table]) -> None:
    add = estimate.add
    add("fixed", "KMS customer-managed keys", len(of_type(stacks, "AWS::KMS::Key")), "kms.key")
    standard = high = 0
    for _, _, alarm in of_type(stacks, "AWS::CloudWatch::Alarm"):
        s, h = alarm_metrics(alarm)
        standard, high = standard + s, high + h
    add("fixed", "CloudWatch alarm metrics", standard, "cloudwatch.alarm.metric")
    add("fixed", "CloudWatch alarm metrics, high resolution", high, "cloudwatch.alarm.metric_high_resolution")
    add("fixed", "CloudWatch dashboards", len(of_type(stacks, "AWS::CloudWatch::Dashboard")), "cloudwatch.dashboard")
    rules = sum(count for t in found for _, count in t.insights)
    add("fixed", "Contributor Insights rules", rules, "dynamodb.contributor_insights.rule")
    add("fixed", "DynamoDB provisioned reads (floor)", sum(t.rcu_floor * t.replicas for t in found) * HOURS_PER_MONTH, "dynamodb.rcu_hour")
    add("fixed", "DynamoDB provisioned writes (floor)", sum(t.wcu_floor * t.replicas for t in found) * HOURS_PER_MONTH, "dynamodb.wcu_hour")
    endpoints = sum(
        len(props(r).get("SubnetIds", []))
        for _, _, r in of_type(stacks, "AWS::EC2::VPCEndpoint")
        if props(r).get("VpcEndpointType") == "Interface"
    )
    add("fixed", "VPC interface endpoints (per zone)", endpoints * HOURS_PER_MONTH, "vpc.interface_endpoint")
    secrets = len(of_type(stacks, "AWS::SecretsManager::Secret")) + sum(
        1 for _, _, r in of_type(stacks, "AWS::RDS::DBCluster") if props(r).get("ManageMasterUserPassword") in (True, "true")
    )
    add("fixed", "Secrets Manager secrets", secrets, "secretsmanager.secret")


def _database(estimate: Estimate, stacks: list[Stack], workload: WorkloadConfig) -> None:
    found = clusters(stacks)
    proxies = len(of_type(stacks, "AWS::RDS::DBProxy"))
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


# A pipe polls each shard of its DynamoDB stream source about four times a second, as AWS
# documents for Lambda's stream event sources (docs/cost.md: an assumption to check).
STREAM_POLLS_PER_MONTH = 4 * 60 * 60 * 24 * 30


def _trail(estimate: Estimate, stacks: list[Stack], workload: WorkloadConfig) -> None:
    for _, _, trail in of_type(stacks, "AWS::CloudTrail::Trail"):
        p = props(trail)
        selectors = [s for s in p.get("AdvancedEventSelectors", []) if isinstance(s, dict)]
        dynamodb = [s for s in selectors if "AWS::DynamoDB::Table" in str(s.get("FieldSelectors"))]
        if not dynamodb:
            continue

        # Writes of every table a selector names; reads of those a selector logs reads for (the
        # catalogue's PHI and audit tables): the workload's reads spread evenly over the tables.
        def arns(selector: dict) -> set[str]:
            return {
                str(v)
                for f in selector.get("FieldSelectors", [])
                if f.get("Field") == "resources.ARN"
                for v in (f.get("StartsWith") or f.get("Equals") or [])
            }

        def writes_only(selector: dict) -> bool:
            return any(f.get("Field") == "readOnly" and f.get("Equals") == ["false"] for f in selector.get("FieldSelectors", []))

        every = set().union(*(arns(s) for s in dynamodb))
        read = set().union(*(arns(s) for s in dynamodb if not writes_only(s)))
        estimate.add("variable", "CloudTrail data events (writes)", workload.write_million * 10, "cloudtrail.data_event")
        if read:
            share = len(read) / len(every) if every else 1.0
            estimate.add(
                "variable",
                "CloudTrail data events (reads of PHI and audit tables)",
                workload.read_million * share * 10,
                "cloudtrail.data_event",
            )
        # The archived tables' streams: the archive pipe polls each one's shard all month, every
        # GetRecords a data event (one shard a table assumed: these tables are small).
        streams = sum(
            len(f.get("StartsWith") or f.get("Equals") or [])
            for s in selectors
            if "AWS::DynamoDB::Stream" in str(s.get("FieldSelectors"))
            for f in s.get("FieldSelectors", [])
            if f.get("Field") == "resources.ARN"
        )
        stream_events = streams * STREAM_POLLS_PER_MONTH / 1e6  # millions
        if stream_events:
            estimate.add("variable", "CloudTrail data events (archive stream reads)", stream_events * 10, "cloudtrail.data_event")


def _buckets(stacks: list[Stack]) -> dict[str, dict]:
    return {
        str(props(r).get("BucketName")): props(r)
        for _, _, r in of_type(stacks, "AWS::S3::Bucket")
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
    streams = [props(r) for _, _, r in of_type(stacks, "AWS::KinesisFirehose::DeliveryStream")]
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


def _restore_tests(
    estimate: Estimate, stacks: list[Stack], context: list[Stack], all_tables: list[Table], workload: WorkloadConfig
) -> None:
    """Each run of the restore tests restores every selected table (a DynamoDB restore is billed
    per GB) on the plan's schedule. Restoring the Aurora cluster is not billed (its copy has no
    instance and lives `keep_hours`)."""
    plans = [props(r) for _, _, r in of_type(context, "AWS::Backup::RestoreTestingPlan")]
    if not plans or not all_tables:
        return
    runs = DAYS_PER_MONTH / interval_days(str(plans[0].get("ScheduleExpression", "")))
    table_gb = workload.table_gb / len(all_tables)
    for _, _, selection in of_type(stacks, "AWS::Backup::RestoreTestingSelection"):
        if props(selection).get("ProtectedResourceType") == "DynamoDB":
            count = len(props(selection).get("ProtectedResourceArns", []))
            estimate.add("variable", "Restore tests (table restores)", runs * count * table_gb, "backup.dynamodb.restore")


def _merge(lines: list[Line]) -> list[Line]:
    """One line per item: the same item from many stacks adds up."""
    merged: dict[tuple[str, str, str], float] = defaultdict(float)
    for line in lines:
        merged[(line.group, line.item, line.price_key)] += line.quantity
    return [Line(group, item, quantity, key) for (group, item, key), quantity in merged.items()]


def estimate(environment: str, stacks: Iterable[Stack], workload: WorkloadConfig, every: Iterable[Stack] | None = None) -> Estimate:
    """The estimate of `stacks`, with the workload spread over the tables of `every` (default:
    the same stacks), so the estimates of a partition of an environment's stacks add up to it."""
    chosen = list(stacks)
    context = chosen if every is None else list(every)
    result = Estimate(environment)
    found, all_tables = tables(chosen), tables(context)
    _fixed(result, chosen, found)
    _free_tier(result, chosen, context)
    _database(result, chosen, workload)
    _tables(result, found, all_tables, workload)
    _trail(result, chosen, workload)
    _archive(result, chosen, context, workload)
    _backups(result, chosen, all_tables, workload)
    _restore_tests(result, chosen, context, all_tables, workload)
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

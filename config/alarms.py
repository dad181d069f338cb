"""The alarm catalogue: every alarm kind whose reach or threshold is a decision, declared once.

Each kind says what it measures (a metric or metric math, its statistic and period), which
threshold it reads, how it compares, and what it applies to: every table, every GSI, every
replica region, the account, every database instance or every reader. The constructs build
one CloudWatch alarm per kind and resource from it (constructs_lib/monitoring.py), config
validation checks the thresholds against it, and the docs list it.

- Add an alarm kind: add an `AlarmKind` here, and a `ThresholdSpec` if it reads a new
  threshold (with a default, or set it in every environment in config/environments.py).
- Change a threshold: `alarm_thresholds(...)` of the environment in config/environments.py, or
  one table's own in config/catalogue.py (`TableSpec.alarm_thresholds`).
- Never change a kind's `id` or `name` once deployed: with the resource's own part they are
  the alarm's logical id and AlarmName, and CloudFormation replaces an alarm whose id changes.

The archive pipeline's and the audit trail's alarms are part of those constructs: each fires
on the first failure (a dead letter, a failed pipe run, a denied request), so there is no
threshold to decide.
"""

from __future__ import annotations

from types import MappingProxyType

from constructs_lib.props import AlarmKind, MathSpec, MetricSpec, ThresholdSpec, WatchedCalls

# Operations whose SystemErrors and latency the table alarms watch (DynamoDB publishes both per Operation).
ERROR_OPERATIONS = (
    "GetItem",
    "BatchGetItem",
    "Query",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
)
LATENCY_OPERATIONS = ("GetItem", "Query", "PutItem", "UpdateItem")

THRESHOLDS: MappingProxyType[str, ThresholdSpec] = MappingProxyType(
    {
        "throttle_events": ThresholdSpec(description="Sum of throttle events in one 60 s period (table and each GSI)", default=None),
        "system_errors": ThresholdSpec(description="Sum of SystemErrors over all operations in one 60 s period", default=None),
        "latency_ms": ThresholdSpec(description="Average SuccessfulRequestLatency of the slowest operation, in milliseconds", default=None),
        "replication_latency_ms": ThresholdSpec(
            description="Average ReplicationLatency per receiving region, in milliseconds", default=180_000
        ),
        "capacity_utilization_percent": ThresholdSpec(
            description="A provisioned table's or GSI's consumed capacity as a percentage of provisioned (5-minute average); "
            "autoscaling aims at its target, so sustained use above this means it is at its ceiling",
            default=90,
            maximum=100,
        ),
        "user_errors": ThresholdSpec(
            description="Account-level UserErrors (no TableName dimension exists) in one 60 s period", default=None
        ),
        "account_capacity_utilization_percent": ThresholdSpec(
            description="Account provisioned-capacity utilization (Maximum over 300 s), percent", default=80, maximum=100
        ),
        "database_cpu_percent": ThresholdSpec(description="CPUUtilization of each Aurora instance, percent", default=80, maximum=100),
        "database_acu_percent": ThresholdSpec(
            description="ACUUtilization of each instance: capacity in use as a percentage of the configured maximum ACU",
            default=90,
            maximum=100,
        ),
        "database_connections": ThresholdSpec(description="DatabaseConnections of each instance (Maximum)", default=400),
        "database_freeable_memory_mib": ThresholdSpec(
            description="FreeableMemory of each instance at or below this many MiB: short of memory for its load", default=512
        ),
        "database_replica_lag_ms": ThresholdSpec(description="AuroraReplicaLag of each reader, in milliseconds", default=2000),
    }
)


def alarm_thresholds(**values: int) -> dict[str, int]:
    """An environment's thresholds: the catalogue's defaults with `values` over them. Names
    are checked by config validation (an unknown or missing one is a config error)."""
    return {**{name: spec.default for name, spec in THRESHOLDS.items() if spec.default is not None}, **values}


def _per_operation(metric: str, statistic: str, operations: tuple[str, ...]) -> tuple[tuple[str, MetricSpec], ...]:
    return tuple((op.lower(), MetricSpec(name=metric, statistic=statistic, dimensions=(("Operation", op),))) for op in operations)


def _throttles(kind: str) -> tuple[AlarmKind, AlarmKind]:
    metric = MetricSpec(name=f"{kind}ThrottleEvents", statistic="Sum")
    return (
        AlarmKind(
            id=f"{kind}Throttles",
            name=f"{{table}}-{kind.lower()}-throttles",
            description=f"{kind} requests to {{table}} are being throttled: raise capacity or spread the partition keys.",
            applies_to=("table",),
            metric=metric,
            threshold="throttle_events",
        ),
        AlarmKind(
            id=f"{kind}Throttles",
            name=f"{{table}}-{{index}}-{kind.lower()}-throttles",
            description=f"{kind} throttling on index {{index}} of {{table}}; a throttled GSI also throttles writes to the table.",
            applies_to=("index",),
            metric=metric,
            threshold="throttle_events",
        ),
    )


def _capacity(kind: str) -> AlarmKind:
    return AlarmKind(
        id=f"{kind}CapacityUse",
        name=f"{{resource}}-{kind.lower()}-capacity",
        description=f"{{subject}} uses over {{threshold}}% of its provisioned {kind.lower()} capacity: "
        "autoscaling is at its ceiling (max capacity in config), throttling comes next.",
        applies_to=("table", "index"),
        # Consumed capacity per second over 5 minutes, as a percentage of provisioned.
        metric=MathSpec(
            expression="100 * (consumed / 300) / provisioned",
            label=f"{kind} capacity used (%)",
            metrics=(
                ("consumed", MetricSpec(name=f"Consumed{kind}CapacityUnits", statistic="Sum")),
                ("provisioned", MetricSpec(name=f"Provisioned{kind}CapacityUnits", statistic="Average")),
            ),
        ),
        period_seconds=300,
        threshold="capacity_utilization_percent",
        provisioned_only=True,
    )


def _account_capacity(kind: str) -> AlarmKind:
    # AWS's recommendation: Maximum over 5 minutes, one breaching period.
    return AlarmKind(
        id=f"AccountProvisioned{kind}",
        name=f"dynamodb-account-provisioned-{kind.lower()}-utilization-{{env}}",
        description=f"Provisioned {kind.lower()} capacity is near the account quota: request an increase before tables cannot scale.",
        applies_to=("account",),
        metric=MetricSpec(name=f"AccountProvisioned{kind}CapacityUtilization", statistic="Maximum"),
        period_seconds=300,
        threshold="account_capacity_utilization_percent",
        evaluation_periods=1,
        datapoints_to_alarm=1,
        provisioned_only=True,
    )


def _database(id: str, name: str, metric: str, statistic: str, threshold: str, description: str, **more) -> AlarmKind:
    return AlarmKind(
        id=id,
        name=f"{{instance}}-{name}",
        description=description,
        applies_to=more.pop("applies_to", ("database_instance",)),
        namespace="AWS/RDS",
        metric=MetricSpec(name=metric, statistic=statistic),
        threshold=threshold,
        **more,
    )


# CloudWatch's recommended alarms for DynamoDB and Aurora, in the order each resource's alarms
# are created (and so appear in its template).
ALARM_KINDS: MappingProxyType[str, AlarmKind] = MappingProxyType(
    {
        **dict(zip(("read_throttles", "index_read_throttles"), _throttles("Read"), strict=True)),
        **dict(zip(("write_throttles", "index_write_throttles"), _throttles("Write"), strict=True)),
        "system_errors": AlarmKind(
            id="SystemErrors",
            name="{table}-system-errors",
            description="DynamoDB returned HTTP 500s for {table}; clients retry, persistent errors need an AWS support case.",
            applies_to=("table",),
            # SystemErrors is published per Operation only: sum the operations.
            metric=MathSpec(
                expression="SUM(METRICS())",
                label="SystemErrors (sum over operations)",
                metrics=_per_operation("SystemErrors", "Sum", ERROR_OPERATIONS),
            ),
            threshold="system_errors",
        ),
        "latency": AlarmKind(
            id="Latency",
            name="{table}-latency",
            description=f"Average latency of the slowest of {', '.join(LATENCY_OPERATIONS)} on {{table}} is above {{threshold}} ms.",
            applies_to=("table",),
            metric=MathSpec(
                expression="MAX(METRICS())",
                label="SuccessfulRequestLatency (max over operations)",
                metrics=_per_operation("SuccessfulRequestLatency", "Average", LATENCY_OPERATIONS),
            ),
            threshold="latency_ms",
        ),
        "replication_latency": AlarmKind(
            id="ReplicationLatency",
            name="{table}-replication-latency-{region}",
            description="Replication of {table} to {region} is lagging.",
            applies_to=("replica",),
            metric=MetricSpec(name="ReplicationLatency", statistic="Average"),
            threshold="replication_latency_ms",
        ),
        "read_capacity": _capacity("Read"),
        "write_capacity": _capacity("Write"),
        # UserErrors has no TableName dimension: it exists once per account and region.
        "user_errors": AlarmKind(
            id="UserErrors",
            name="dynamodb-user-errors-{env}",
            description="HTTP 400s from DynamoDB across the account and region: malformed requests, missing permissions "
            "or conditional-write misuse.",
            applies_to=("account",),
            metric=MetricSpec(name="UserErrors", statistic="Sum"),
            threshold="user_errors",
        ),
        "account_read_capacity": _account_capacity("Read"),
        "account_write_capacity": _account_capacity("Write"),
        "database_cpu": _database(
            "Cpu",
            "cpu",
            "CPUUtilization",
            "Average",
            "database_cpu_percent",
            "CPU of {instance} is at or above {threshold}%: queries are CPU-bound or capacity is capped.",
        ),
        "database_capacity": _database(
            "Capacity",
            "acu-utilization",
            "ACUUtilization",
            "Average",
            "database_acu_percent",
            "{instance} uses {threshold}% or more of its maximum ACU ({max_capacity_acu}): raise max_capacity_acu before it throttles.",
        ),
        "database_connections": _database(
            "Connections",
            "connections",
            "DatabaseConnections",
            "Maximum",
            "database_connections",
            "{instance} holds {threshold} or more connections: clients may be bypassing the proxy or leaking connections.",
        ),
        "database_memory": _database(
            "Memory",
            "freeable-memory",
            "FreeableMemory",
            "Minimum",
            "database_freeable_memory_mib",
            "Freeable memory of {instance} is at or below {threshold} MiB: the instance is short of memory for its load.",
            comparison="<=",
            threshold_scale=1024 * 1024,
        ),
        "database_replica_lag": _database(
            "ReplicaLag",
            "replica-lag",
            "AuroraReplicaLag",
            "Maximum",
            "database_replica_lag_ms",
            "Reader {instance} lags the writer by {threshold} ms or more: reads are stale and a failover would wait.",
            applies_to=("database_reader",),
        ),
    }
)


def kinds_for(*scopes: str) -> tuple[AlarmKind, ...]:
    """The catalogue's kinds that apply to any of `scopes`, in catalogue order (none for none)."""
    return tuple(kind for kind in ALARM_KINDS.values() if set(kind.applies_to) & set(scopes))


# The control-plane calls that would undo a protection, each group one EventBridge rule to the
# alert topic (constructs_lib/tamper.py). `exempt`: who makes them unannounced ("deployer":
# CloudFormation on a reviewed deploy; "backup": AWS Backup's plan roles; "restore-tests": the
# role AWS Backup's restore tests run as).
TAMPER_WATCH: tuple[WatchedCalls, ...] = (
    WatchedCalls(
        id="KeyDestruction", what="a key was disabled or scheduled for deletion", service="kms", names=("DisableKey", "ScheduleKeyDeletion")
    ),
    WatchedCalls(
        id="KeyPolicy", what="a key policy was rewritten outside a deploy", service="kms", names=("PutKeyPolicy",), exempt=("deployer",)
    ),
    WatchedCalls(
        id="TrailStopped", what="the audit trail was stopped or deleted", service="cloudtrail", names=("DeleteTrail", "StopLogging")
    ),
    WatchedCalls(
        id="TrailChanged",
        what="the audit trail's settings or selectors changed outside a deploy",
        service="cloudtrail",
        names=("PutEventSelectors", "UpdateTrail"),
        exempt=("deployer",),
    ),
    WatchedCalls(
        id="RecoveryPoints",
        what="a backup vault or recovery point was deleted or its lifecycle changed",
        service="backup",
        names=("DeleteBackupVault", "DeleteRecoveryPoint", "UpdateRecoveryPointLifecycle"),
    ),
    WatchedCalls(
        id="VaultPolicy",
        what="a backup vault's access policy or lock changed outside a deploy",
        service="backup",
        names=(
            "DeleteBackupVaultAccessPolicy",
            "DeleteBackupVaultLockConfiguration",
            "PutBackupVaultAccessPolicy",
            "PutBackupVaultLockConfiguration",
        ),
        exempt=("deployer",),
    ),
    WatchedCalls(
        id="RestoresAndCopies",
        what="a restore or a copy of backed-up data was started by hand",
        service="backup",
        names=("StartCopyJob", "StartRestoreJob"),
        exempt=("backup", "restore-tests"),
    ),
    WatchedCalls(
        id="TableProtection",
        what="a table's policy, point-in-time recovery or existence changed, or a table was restored, outside a deploy",
        service="dynamodb",
        names=(
            "DeleteResourcePolicy",
            "DeleteTable",
            "PutResourcePolicy",
            "RestoreTableFromBackup",
            "RestoreTableToPointInTime",
            "UpdateContinuousBackups",
        ),
        # The restore tests create and delete their own tables (awsbackup-restore-test-*);
        # a real table's policy denies them its deletion.
        exempt=("deployer", "restore-tests"),
    ),
    WatchedCalls(
        id="ArchiveBuckets",
        what="an archive or trail bucket's policy, replication, lifecycle or Object Lock changed outside a deploy",
        service="s3",
        names=(
            "DeleteBucketLifecycle",
            "DeleteBucketPolicy",
            "DeleteBucketReplication",
            "PutBucketLifecycle",
            "PutBucketPolicy",
            "PutBucketReplication",
            "PutObjectLockConfiguration",
        ),
        exempt=("deployer",),
        buckets=True,
    ),
    # The alerts' own wiring: a rule disabled or a subscriber removed silences every rule above.
    # Account-wide (these accounts hold only this project); deleting the one rule that watches
    # EventBridge is the blind spot a rule cannot close: docs/security.md, "Threats".
    WatchedCalls(
        id="AlertRules",
        what="an EventBridge rule was deleted or disabled, or its targets removed, outside a deploy",
        service="events",
        names=("DeleteRule", "DisableRule", "RemoveTargets"),
        exempt=("deployer",),
    ),
    WatchedCalls(
        id="AlertTopic",
        what="an SNS topic, its subscribers or its policy changed outside a deploy",
        service="sns",
        names=("DeleteTopic", "RemovePermission", "SetTopicAttributes", "Unsubscribe"),
        exempt=("deployer",),
    ),
    # Every metric alarm (the denied-calls queue's among them) is silenced by deleting it or
    # switching its actions off; the queue by losing its policy or key.
    WatchedCalls(
        id="AlertAlarms",
        what="a CloudWatch alarm was deleted or its actions switched off outside a deploy",
        service="cloudwatch",
        endpoint="monitoring",
        names=("DeleteAlarms", "DisableAlarmActions"),
        exempt=("deployer",),
    ),
    WatchedCalls(
        id="AlertQueue",
        what="an SQS queue or its policy changed outside a deploy",
        service="sqs",
        names=("AddPermission", "DeleteQueue", "RemovePermission", "SetQueueAttributes"),
        exempt=("deployer",),
    ),
)

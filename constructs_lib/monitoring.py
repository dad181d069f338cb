"""Alarms, kept apart from the resources they watch: metric factories for a DynamoDB table and
its GSIs, the table's alarms, and the Aurora instances' alarms. Every alarm goes to the stack's
`AlarmActions`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from constructs_lib.alerts import AlarmActions, include_alarms
from constructs_lib.facts import remember_path
from constructs_lib.identity import cfn_resource
from constructs_lib.props import DatabaseAlarmThresholds, TableAlarmThresholds

# Operations whose SystemErrors and latency the alarms watch (DynamoDB publishes per Operation).
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


class TableMetrics:
    """A table's metrics, as CfnAlarm properties (see `_metric`)."""

    def __init__(self, table_name: str) -> None:
        self.dims = {"TableName": table_name}

    def throttle_events(self, kind: str) -> dict:
        return _metric(f"{kind}ThrottleEvents", self.dims, "Sum")

    def system_errors(self) -> dict:
        # SystemErrors is published per Operation only: sum the operations in metric math.
        return _math("SUM(METRICS())", "SystemErrors", self.dims, ERROR_OPERATIONS, "Sum")

    def latency(self) -> dict:
        return _math("MAX(METRICS())", "SuccessfulRequestLatency", self.dims, LATENCY_OPERATIONS, "Average")

    def replication_latency(self, region: str) -> dict:
        return _metric("ReplicationLatency", {**self.dims, "ReceivingRegion": region}, "Average")


class IndexMetrics:
    """A GSI's metrics: DynamoDB publishes them under the table's name and the index's."""

    def __init__(self, table_name: str, index_name: str) -> None:
        self.index_name = index_name
        self.dims = {"TableName": table_name, "GlobalSecondaryIndexName": index_name}

    def throttle_events(self, kind: str) -> dict:
        return _metric(f"{kind}ThrottleEvents", self.dims, "Sum")


class TableAlarms(Construct):
    """The CloudWatch "recommended alarms" for DynamoDB, for one table and its GSIs.

    Written as CfnAlarm properties rather than L2 Alarm/Metric objects: a table has 6+ alarms
    over up to 13 metrics, and each L2 object is a round trip to the jsii runtime, which made
    them a third of the whole app's synth time. The template is the same either way.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        table_name: str,
        index_names: Sequence[str],
        replica_regions: Sequence[str],
        thresholds: TableAlarmThresholds,
        actions: AlarmActions,
        provisioned: bool = False,
    ) -> None:
        super().__init__(scope, id)
        remember_path(self, scope, id)  # include_alarms writes each alarm's path from it
        self._table_name = table_name
        self._thresholds = thresholds
        self._actions = actions
        # (construct id, CloudFormation properties): created together at the end (include_alarms).
        self.alarms: list[tuple[str, dict]] = []
        table = TableMetrics(table_name)
        indexes = [IndexMetrics(table_name, name) for name in index_names]
        for kind in ("Read", "Write"):
            self._alarm(
                f"{kind}Throttles",
                f"{table_name}-{kind.lower()}-throttles",
                table.throttle_events(kind),
                thresholds.throttle_events,
                f"{kind} requests to {table_name} are being throttled: raise capacity or spread the partition keys.",
            )
            # Each kind's GSI alarms right after the table's: templates keep their resource order.
            for index in indexes:
                self._index_throttles(index, kind)
        self._alarm(
            "SystemErrors",
            f"{table_name}-system-errors",
            table.system_errors(),
            thresholds.system_errors,
            f"DynamoDB returned HTTP 500s for {table_name}; clients retry, persistent errors need an AWS support case.",
        )
        self._alarm(
            "Latency",
            f"{table_name}-latency",
            table.latency(),
            thresholds.latency_ms,
            f"Average latency of the slowest of {', '.join(LATENCY_OPERATIONS)} on {table_name} is above {thresholds.latency_ms} ms.",
        )
        for region in replica_regions:
            self._alarm(
                f"ReplicationLatency{region}",
                f"{table_name}-replication-latency-{region}",
                table.replication_latency(region),
                thresholds.replication_latency_ms,
                f"Replication of {table_name} to {region} is lagging.",
            )
        if provisioned:
            for kind in ("Read", "Write"):
                for dims, what, id_suffix in [
                    (table.dims, table_name, ""),
                    *((i.dims, f"index {i.index_name} of {table_name}", i.index_name) for i in indexes),
                ]:
                    self._alarm(
                        f"{kind}CapacityUse{id_suffix}",
                        f"{table_name}{'-' + id_suffix if id_suffix else ''}-{kind.lower()}-capacity",
                        _utilization(kind, dims),
                        thresholds.capacity_utilization_percent,
                        f"{what} uses over {thresholds.capacity_utilization_percent}% of its provisioned {kind.lower()} capacity: "
                        "autoscaling is at its ceiling (max capacity in config), throttling comes next.",
                    )
        include_alarms(self, self.alarms)

    def _index_throttles(self, index: IndexMetrics, kind: str) -> None:
        name = index.index_name
        self._alarm(
            f"{kind}Throttles{name}",
            f"{self._table_name}-{name}-{kind.lower()}-throttles",
            index.throttle_events(kind),
            self._thresholds.throttle_events,
            f"{kind} throttling on index {name} of {self._table_name}; a throttled GSI also throttles writes to the table.",
        )

    def _alarm(self, id: str, name: str, metric: dict, threshold: int, description: str) -> None:
        self.alarms.append(
            (
                id,
                self._actions.alarm_kwargs(
                    name=name,
                    description=description,
                    threshold=threshold,
                    evaluation_periods=self._thresholds.evaluation_periods,
                    datapoints_to_alarm=self._thresholds.datapoints_to_alarm,
                    **metric,
                ),
            )
        )


# CfnAlarm's nested properties as plain objects in the jsii (camelCase) shape: the runtime
# takes them as they are, where each struct class is built and serialized field by field in
# Python (half of an alarm's cost, with hundreds of alarms per environment).
def _dimensions(dims: dict[str, str]) -> list[dict]:
    return [{"name": k, "value": v} for k, v in sorted(dims.items())]


def _metric(name: str, dims: dict[str, str], statistic: str) -> dict:
    """CfnAlarm properties of a single-metric alarm over 60-second periods."""
    return dict(namespace="AWS/DynamoDB", metric_name=name, dimensions=_dimensions(dims), statistic=statistic, period=60)


def _math(expression: str, name: str, dims: dict[str, str], operations: Sequence[str], statistic: str) -> dict:
    """CfnAlarm properties of a metric-math alarm over one metric per DynamoDB operation."""
    label = f"{name} ({expression.split('(')[0].lower()} over operations)"
    return dict(
        metrics=[
            {"id": "expr_1", "expression": expression, "label": label, "returnData": True},
            *(
                {
                    "id": op.lower(),
                    "metricStat": {
                        "metric": {"namespace": "AWS/DynamoDB", "metricName": name, "dimensions": _dimensions({**dims, "Operation": op})},
                        "period": 60,
                        "stat": statistic,
                    },
                    "returnData": False,
                }
                for op in operations
            ),
        ]
    )


def _utilization(kind: str, dims: dict[str, str]) -> dict:
    """CfnAlarm properties: consumed capacity per second, over 5 minutes, as a percentage of provisioned."""

    def stat(id: str, name: str, statistic: str) -> dict:
        metric = {"namespace": "AWS/DynamoDB", "metricName": name, "dimensions": _dimensions(dims)}
        return {"id": id, "metricStat": {"metric": metric, "period": 300, "stat": statistic}, "returnData": False}

    return dict(
        metrics=[
            {
                "id": "utilization",
                "expression": "100 * (consumed / 300) / provisioned",
                "label": f"{kind} capacity used (%)",
                "returnData": True,
            },
            stat("consumed", f"Consumed{kind}CapacityUnits", "Sum"),
            stat("provisioned", f"Provisioned{kind}CapacityUnits", "Average"),
        ]
    )


class DatabaseAlarms(Construct):
    """CloudWatch's recommended Aurora alarms, per instance (construct id -> instance identifier)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        instances: Mapping[str, str],
        thresholds: DatabaseAlarmThresholds,
        max_capacity_acu: float,
        actions: AlarmActions,
    ) -> None:
        super().__init__(scope, id)
        a = thresholds
        periods = dict(evaluation_periods=a.evaluation_periods, datapoints_to_alarm=a.datapoints_to_alarm)
        self.alarms: list[cloudwatch.Alarm] = []
        for construct_id, instance in instances.items():
            dims = {"DBInstanceIdentifier": instance}
            self.alarms += [
                actions.alarm(
                    self,
                    f"{construct_id}Cpu",
                    name=f"{instance}-cpu",
                    metric=_rds_metric("CPUUtilization", dims, "Average"),
                    threshold=a.cpu_percent,
                    description=f"CPU of {instance} is at or above {a.cpu_percent}%: queries are CPU-bound or capacity is capped.",
                    **periods,
                ),
                actions.alarm(
                    self,
                    f"{construct_id}Capacity",
                    name=f"{instance}-acu-utilization",
                    metric=_rds_metric("ACUUtilization", dims, "Average"),
                    threshold=a.acu_percent,
                    description=f"{instance} uses {a.acu_percent}% or more of its maximum ACU ({max_capacity_acu}): raise max_capacity_acu before it throttles.",
                    **periods,
                ),
                actions.alarm(
                    self,
                    f"{construct_id}Connections",
                    name=f"{instance}-connections",
                    metric=_rds_metric("DatabaseConnections", dims, "Maximum"),
                    threshold=a.connections,
                    description=f"{instance} holds {a.connections} or more connections: clients may be bypassing the proxy or leaking connections.",
                    **periods,
                ),
            ]
            memory = actions.alarm(
                self,
                f"{construct_id}Memory",
                name=f"{instance}-freeable-memory",
                metric=_rds_metric("FreeableMemory", dims, "Minimum"),
                threshold=a.freeable_memory_mib * 1024 * 1024,
                description=f"Freeable memory of {instance} is at or below {a.freeable_memory_mib} MiB: the instance is short of memory for its load.",
                **periods,
            )
            # Memory alarms on a low value; AlarmActions sets up >= alarms, so flip the operator.
            cfn_resource(memory, cloudwatch.CfnAlarm).comparison_operator = "LessThanOrEqualToThreshold"
            self.alarms.append(memory)
            if construct_id != "Writer":
                self.alarms.append(
                    actions.alarm(
                        self,
                        f"{construct_id}ReplicaLag",
                        name=f"{instance}-replica-lag",
                        metric=_rds_metric("AuroraReplicaLag", dims, "Maximum"),
                        threshold=a.replica_lag_ms,
                        description=f"Reader {instance} lags the writer by {a.replica_lag_ms} ms or more: reads are stale and a failover would wait.",
                        **periods,
                    )
                )


def _rds_metric(name: str, dims: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="AWS/RDS", metric_name=name, dimensions_map=dims, statistic=statistic, period=Duration.minutes(1))

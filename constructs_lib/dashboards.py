"""CloudWatch dashboards on-call opens first: one per system and environment, one for the
PostgreSQL store, and one overview per environment with the state of every alarm.

Written in CloudWatch's own dashboard-body JSON (its documented widget format) on a
CfnDashboard, so the template holds exactly what the console's "View/edit source" shows. Why
not cdk-monitoring-constructs or CDK's L2 widgets: docs/architecture.md, "Alarms and dashboards".
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from constructs_lib.archive_path import drain_name

WIDTH, HEIGHT = 8, 6  # three widgets a row
ALARMS_PER_WIDGET = 100  # CloudWatch's limit for an alarm status widget


def metric_widget(title: str, region: str, metrics: list[list], *, stat: str = "Sum", period: int = 60, annotations=None) -> dict:
    properties = {"title": title, "region": region, "metrics": metrics, "stat": stat, "period": period, "view": "timeSeries"}
    if annotations:
        properties["annotations"] = {"horizontal": annotations}
    return {"type": "metric", "properties": properties}


def table_widgets(
    table_name: str,
    index_names: Sequence[str],
    region: str,
    *,
    ceilings: tuple[int | None, int | None] = (None, None),
    replica_regions: Sequence[str] = (),
) -> list[dict]:
    """A table's row: capacity (against its on-demand ceiling), throttles per table and GSI,
    errors, latency, TTL deletions, and replication latency where it has replicas."""
    ns, dims = "AWS/DynamoDB", ["TableName", table_name]
    read_max, write_max = ceilings
    per_second: list[list] = [
        [{"expression": "m1/60", "label": "read units/s", "id": "r"}],
        [{"expression": "m2/60", "label": "write units/s", "id": "w"}],
        [ns, "ConsumedReadCapacityUnits", *dims, {"id": "m1", "visible": False}],
        [ns, "ConsumedWriteCapacityUnits", *dims, {"id": "m2", "visible": False}],
        [ns, "ProvisionedReadCapacityUnits", *dims, {"stat": "Average", "label": "provisioned read"}],
        [ns, "ProvisionedWriteCapacityUnits", *dims, {"stat": "Average", "label": "provisioned write"}],
    ]
    ceiling = [{"label": f"max {kind}", "value": value} for kind, value in (("read", read_max), ("write", write_max)) if value]
    throttles = [[ns, f"{kind}ThrottleEvents", *dims] for kind in ("Read", "Write")]
    throttles += [
        [ns, f"{kind}ThrottleEvents", *dims, "GlobalSecondaryIndexName", index] for index in index_names for kind in ("Read", "Write")
    ]
    widgets = [
        metric_widget(f"{table_name}: capacity used", region, per_second, annotations=ceiling),
        metric_widget(f"{table_name}: throttles (table and indexes)", region, throttles),
        metric_widget(
            f"{table_name}: errors",
            region,
            [
                [
                    {
                        "expression": 'SUM(SEARCH(\'{AWS/DynamoDB,Operation,TableName} MetricName="SystemErrors" TableName="'
                        + table_name
                        + "\"', 'Sum', 60))",
                        "label": "system errors",
                        "id": "e",
                    }
                ]
            ],
        ),  # fmt: skip
        metric_widget(
            f"{table_name}: latency (ms)",
            region,
            [[ns, "SuccessfulRequestLatency", *dims, "Operation", op] for op in ("GetItem", "Query", "PutItem", "UpdateItem")],
            stat="Average",
        ),
        metric_widget(f"{table_name}: TTL deletions", region, [[ns, "TimeToLiveDeletedItemCount", *dims]], period=300),
    ]
    if replica_regions:
        widgets.append(
            metric_widget(
                f"{table_name}: replication latency (ms)",
                region,
                [[ns, "ReplicationLatency", *dims, "ReceivingRegion", r] for r in replica_regions],
                stat="Average",
            )
        )
    return widgets


def archive_widgets(archive: str, region: str) -> list[dict]:
    """A TTL archive's flow: what the pipes moved and failed, the buffer's depth and age, the
    held records, and what Firehose wrote to S3."""
    pipes = "AWS/EventBridge/Pipes"
    return [
        metric_widget(
            f"{archive}: pipes",
            region,
            [
                [pipes, metric, "PipeName", pipe]
                for pipe in (archive, drain_name(archive))
                for metric in ("ExecutionSucceeded", "ExecutionFailed")
            ],
            period=300,
        ),
        metric_widget(
            f"{archive}: buffer and held records",
            region,
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"{archive}-buffer"],
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", f"{archive}-buffer", {"yAxis": "right"}],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", f"{archive}-held"],
            ],
            stat="Maximum",
            period=300,
        ),
        metric_widget(
            f"{archive}: delivered to S3",
            region,
            [
                ["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", archive],
                ["AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName", archive, {"stat": "Maximum", "yAxis": "right"}],
            ],
            period=300,
        ),
    ]


def database_widgets(cluster: str, instances: Sequence[str], proxy: str | None, region: str) -> list[dict]:
    """PersonalPod's store: CPU, capacity (ACUs), connections per instance, and the proxy's
    health where there is one."""
    rds = "AWS/RDS"

    def per_instance(metric: str) -> list[list]:
        return [[rds, metric, "DBInstanceIdentifier", i] for i in instances]

    widgets = [
        metric_widget(f"{cluster}: CPU (%)", region, per_instance("CPUUtilization"), stat="Average"),
        metric_widget(
            f"{cluster}: capacity (ACUs, % of max)",
            region,
            [
                *per_instance("ServerlessDatabaseCapacity"),
                *([rds, "ACUUtilization", "DBInstanceIdentifier", i, {"yAxis": "right"}] for i in instances),
            ],
            stat="Average",
        ),
        metric_widget(f"{cluster}: connections", region, per_instance("DatabaseConnections"), stat="Maximum"),
    ]
    if proxy is not None:
        widgets.append(
            metric_widget(
                f"{proxy}: proxy",
                region,
                [
                    [rds, "ClientConnections", "ProxyName", proxy],
                    [rds, "DatabaseConnections", "ProxyName", proxy],
                    [rds, "AvailabilityPercentage", "ProxyName", proxy, "TargetGroup", "default", {"yAxis": "right", "stat": "Average"}],
                ],
                stat="Maximum",
            )
        )
    return widgets


def alarm_widgets(title: str, alarm_arns: Sequence[str]) -> list[dict]:
    """Every alarm's state, 100 to a widget."""
    arns = sorted(alarm_arns)
    chunks = [arns[i : i + ALARMS_PER_WIDGET] for i in range(0, len(arns), ALARMS_PER_WIDGET)]
    return [
        {
            "type": "alarm",
            "width": 24,
            "height": 8,
            "properties": {
                "title": f"{title} ({n} of {len(chunks)})" if len(chunks) > 1 else title,
                "alarms": chunk,
                "sortBy": "stateUpdatedTimestamp",
            },
        }
        for n, chunk in enumerate(chunks, start=1)
    ]


class Dashboard(Construct):
    """A dashboard of `widgets`, laid out three to a row (alarm widgets full width)."""

    def __init__(self, scope: Construct, id: str, *, name: str, widgets: Sequence[dict]) -> None:
        super().__init__(scope, id)
        placed, x, y, row = [], 0, 0, 0
        for widget in widgets:
            width, height = widget.get("width", WIDTH), widget.get("height", HEIGHT)
            if x + width > 24:
                x, y, row = 0, y + row, 0
            placed.append({**widget, "x": x, "y": y, "width": width, "height": height})
            x, row = x + width, max(row, height)
        self.widgets = placed
        cloudwatch.CfnDashboard(self, "Resource", dashboard_name=name, dashboard_body=json.dumps({"widgets": placed}, sort_keys=True))

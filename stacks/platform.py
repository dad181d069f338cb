"""Per-environment shared platform: alert topic and its key, access-log bucket, account alarms."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from config.model import EnvironmentConfig
from constructs_lib.alerts import AlarmActions, AlertTopic
from constructs_lib.buckets import AccessLogBucket
from constructs_lib.kms import DataKey
from stacks import naming


class PlatformStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, any_provisioned: bool, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        policy = naming.removal_policy(config)
        self.alerts_key = DataKey(
            self, "AlertsKey", alias=f"alias/data-alerts-{config.name}", description=f"Encrypts the {config.name} data alert topic", removal_policy=policy, logical_id="KeyAlerts"
        ).key
        alerts = config.alerts
        self.alert_topic = AlertTopic(
            self,
            "Alerts",
            topic_name=naming.alert_topic_name(config),
            key=self.alerts_key,
            emails=alerts.emails,
            slack_workspace_id=alerts.slack.workspace_id if alerts.slack else None,
            slack_channel_id=alerts.slack.channel_id if alerts.slack else None,
        ).topic

        access_logs = AccessLogBucket(self, "AccessLogs", retention_days=config.access_log_retention_days, removal_policy=policy)
        self.access_log_bucket = access_logs.bucket
        cfn_bucket = self.access_log_bucket.node.default_child
        cfn_bucket.bucket_name = naming.access_log_bucket_name(config)
        cfn_bucket.override_logical_id("AccessLogsBucket")

        topic_arns = [self.alert_topic.topic_arn, *([alerts.external_topic_arn] if alerts.external_topic_arn else [])]
        actions = AlarmActions(self, topic_arns=topic_arns)
        a = config.alarms
        # UserErrors has no TableName dimension: it exists once per account and region.
        actions.alarm(
            self,
            "UserErrors",
            name=f"dynamodb-user-errors-{config.name}",
            description="HTTP 400s from DynamoDB across the account and region: malformed requests, missing permissions or conditional-write misuse.",
            metric=cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name="UserErrors", statistic="Sum", period=Duration.minutes(1)),
            threshold=a.user_errors,
            evaluation_periods=a.evaluation_periods,
            datapoints_to_alarm=a.datapoints_to_alarm,
        )
        if any_provisioned:
            # AWS's recommendation: Maximum over 5 minutes, one breaching period.
            for kind in ("Read", "Write"):
                actions.alarm(
                    self,
                    f"AccountProvisioned{kind}",
                    name=f"dynamodb-account-provisioned-{kind.lower()}-utilization-{config.name}",
                    description=f"Provisioned {kind.lower()} capacity is near the account quota: request an increase before tables cannot scale.",
                    metric=cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=f"AccountProvisioned{kind}CapacityUtilization", statistic="Maximum", period=Duration.minutes(5)),
                    threshold=a.account_capacity_utilization_percent,
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                )

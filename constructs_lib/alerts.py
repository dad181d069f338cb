"""The alert topic every alarm notifies, and how alarms in other stacks reach it."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

# Services that notify the alert topic: alarms, AWS Budgets and AWS Backup. (EventBridge's
# tamper alerts publish as a role of their own, constructs_lib/tamper.py.)
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "backup.amazonaws.com")


class AlertTopic(Construct):
    """An encrypted, TLS-only SNS topic with email and Slack (AWS Chatbot) subscribers.

    The topic has a fixed name so other stacks address it by ARN (`stacks.naming.alert_topic_arns`) without a
    CloudFormation export: exports would pin the topic and block its updates.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        topic_name: str,
        key: kms.IKey,
        emails: Sequence[str],
        slack_workspace_id: str | None = None,
        slack_channel_id: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        # AWS services publish to an encrypted topic only if the key lets them use it.
        account = Stack.of(self).account
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertPublishersToUseTheKey",
                principals=[iam.ServicePrincipal(p) for p in PUBLISHERS],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" means this key
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        self.topic = sns.Topic(self, "Topic", topic_name=topic_name, display_name=topic_name, master_key=key, enforce_ssl=True)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowAlertPublishers",
                principals=[iam.ServicePrincipal(p) for p in PUBLISHERS],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
        for email in emails:
            self.topic.add_subscription(subs.EmailSubscription(email))
        if slack_workspace_id and slack_channel_id:
            chatbot.SlackChannelConfiguration(
                self,
                "Slack",
                slack_channel_configuration_name=topic_name,
                slack_workspace_id=slack_workspace_id,
                slack_channel_id=slack_channel_id,
                notification_topics=[self.topic],
                # Chatbot users may only read CloudWatch from Slack, never change anything.
                guardrail_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("CloudWatchReadOnlyAccess")],
                logging_level=chatbot.LoggingLevel.ERROR,
            )


class AlarmActions:
    """The SNS actions every alarm of a stack gets: the alert topic and any external topic."""

    def __init__(self, scope: Construct, *, topic_arns: Sequence[str]) -> None:
        # Every alarm made through these actions, by name: the overview dashboard shows them all.
        self.names: list[str] = []
        self._actions = [cw_actions.SnsAction(sns.Topic.from_topic_arn(scope, f"AlarmTopic{i}", arn)) for i, arn in enumerate(topic_arns)]

    def alarm(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        evaluation_periods: int,
        datapoints_to_alarm: int,
        comparison_operator: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
    ) -> cloudwatch.Alarm:
        """An alarm with this project's defaults: it fires at or above its threshold unless told
        otherwise; no requests means no data points, which is not a problem (unless told: an
        alarm on something that must happen); and OK actions go out too, so the channel also
        hears when a problem clears."""
        self.names.append(name)
        alarm = cloudwatch.Alarm(
            scope,
            id,
            alarm_name=name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=comparison_operator,
            treat_missing_data=treat_missing_data,
        )
        alarm.add_alarm_action(*self._actions)
        alarm.add_ok_action(*self._actions)
        return alarm

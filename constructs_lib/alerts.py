"""The alert topic every alarm notifies, and how alarms in other stacks reach it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_chatbot as chatbot
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from aws_cdk import cloudformation_include as cfn_inc
from constructs import Construct

from constructs_lib.facts import facts, node_path

# Services that notify the alert topic: alarms, AWS Budgets and AWS Backup.
PUBLISHERS = ("cloudwatch.amazonaws.com", "budgets.amazonaws.com", "backup.amazonaws.com")


class AlertTopic(Construct):
    """An encrypted, TLS-only SNS topic with email and Slack (AWS Chatbot) subscribers.

    The topic has a fixed name so other stacks address it by ARN (`topic_arn_for`) without a
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


def topic_arn_for(scope: Construct, topic_name: str) -> str:
    return facts(scope).arn("sns", topic_name)


# Every alarm fires at or above its threshold; no requests means no data points, which is not a
# problem; and OK actions go out too, so the channel also hears when a problem clears.
COMPARISON = "GreaterThanOrEqualToThreshold"
MISSING_DATA = "notBreaching"


class AlarmActions:
    """The SNS actions every alarm of a stack gets: the alert topic and any external topic."""

    def __init__(self, scope: Construct, *, topic_arns: Sequence[str]) -> None:
        self._topic_arns = list(topic_arns)
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
        threshold: int,
        evaluation_periods: int,
        datapoints_to_alarm: int,
    ) -> cloudwatch.Alarm:
        """A >= threshold alarm with this project's defaults, notifying on ALARM and on OK."""
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
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,  # = COMPARISON
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,  # = MISSING_DATA
        )
        alarm.add_alarm_action(*self._actions)
        alarm.add_ok_action(*self._actions)
        return alarm

    def alarm_kwargs(
        self,
        *,
        name: str,
        description: str,
        threshold: int,
        evaluation_periods: int,
        datapoints_to_alarm: int,
        **metric,
    ) -> dict:
        """A >= threshold alarm with this project's defaults as CfnAlarm's keyword arguments
        (`metric`: the metric or metric-math properties), notifying on ALARM and on OK."""
        self.names.append(name)
        return dict(
            alarm_name=name,
            alarm_description=description,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm,
            comparison_operator=COMPARISON,
            treat_missing_data=MISSING_DATA,
            alarm_actions=self._topic_arns,
            ok_actions=self._topic_arns,
            **metric,
        )

    def cfn_alarm(self, scope: Construct, id: str, **alarm) -> cloudwatch.CfnAlarm:
        """`alarm_kwargs`'s alarm as a CfnAlarm, for callers with many alarms: each L2 Alarm/Metric
        object is a jsii round trip. The construct path matches an L2 Alarm's (<id>/Resource),
        so logical ids agree."""
        return cloudwatch.CfnAlarm(Construct(scope, id), "Resource", **self.alarm_kwargs(**alarm))


def _pascal(key: str) -> str:
    """metric_name / metricName -> MetricName: CloudFormation's spelling of a jsii property."""
    if key == "ok_actions":
        return "OKActions"
    head, *rest = key.split("_")
    return head[:1].upper() + head[1:] + "".join(part.title() for part in rest)


def _cloudformation(value: object) -> object:
    if isinstance(value, dict):
        return {_pascal(k): _cloudformation(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cloudformation(v) for v in value]
    return value


def include_alarms(scope: Construct, alarms: Sequence[tuple[str, dict]]) -> None:
    """Alarms (construct id, `AlarmActions.alarm_kwargs`) under `scope`, created in one jsii call.

    A table has six or more alarms, and each CfnAlarm under its own `<id>` scope costs two round
    trips to the jsii runtime: about 1,000 per synth. Instead they are written as a template
    fragment and included (aws_cdk.cloudformation_include), each at the logical id and
    aws:cdk:path that it would have had as `<scope>/<id>/Resource`, so the template is the same
    byte for byte. Properties holding a token cannot be written to a file: they fall back to
    one CfnAlarm each.
    """
    if "${Token[" in json.dumps([kwargs for _, kwargs in alarms]):
        for id, kwargs in alarms:
            cloudwatch.CfnAlarm(Construct(scope, id), "Resource", **kwargs)
        return
    path = node_path(scope)
    stack = facts(scope)
    relative = path.removeprefix(stack.path + "/").split("/")
    resources = {}
    for id, kwargs in alarms:
        resource: dict = {"Type": "AWS::CloudWatch::Alarm", "Properties": _cloudformation(kwargs)}
        if stack.path_metadata:
            resource["Metadata"] = {"aws:cdk:path": f"{path}/{id}/Resource"}
        resources[logical_id([*relative, id, "Resource"])] = resource
    handle, fragment = tempfile.mkstemp(suffix=".template.json")
    try:
        with os.fdopen(handle, "w") as out:
            json.dump({"Resources": resources}, out)
        cfn_inc.CfnInclude(scope, "Alarms", template_file=fragment)
    finally:
        os.unlink(fragment)


_NOT_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")


def logical_id(components: Sequence[str]) -> str:
    """CDK's logical id of the resource at `components` below its stack (core's makeUniqueId):
    the path's alphanumeric parts, minus "Default", "Resource" and repeats, then the first 8
    hex digits of the MD5 of the path, upper-cased."""
    parts = [c for c in components if c != "Default"]
    if len(parts) == 1 and len(_NOT_ALPHANUMERIC.sub("", parts[0])) <= 255:
        return _NOT_ALPHANUMERIC.sub("", parts[0])
    digest = hashlib.md5("/".join(parts).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for part in parts:
        if not human or not human[-1].endswith(part):
            human.append(part)
    return "".join(_NOT_ALPHANUMERIC.sub("", part) for part in human if part != "Resource")[:240] + digest

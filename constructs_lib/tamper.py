"""Tamper alerts: an EventBridge rule per group of control-plane calls that would undo a
protection (a key disabled, the trail stopped, a recovery point deleted, a table policy removed,
an archive bucket's policy rewritten), each sending on-call what happened, who and where.

The rules read "AWS API Call via CloudTrail" events, which EventBridge receives only while a
trail logs them in the rule's region ("Events delivered via AWS CloudTrail", in the EventBridge
user guide; CloudTrail: "Logging management events"): management events for the watched calls,
the trail's data events for the break-glass role's reads and for denied data calls; global
services' calls (IAM) arrive in us-east-1. The platform stack creates the rules wherever a
trail records the environment (audit_trail.mode create or organization).

Denied data calls do not page one by one (a deploy that breaks a grant would send thousands):
they queue, and one alarm on the queue pages until someone has read and purged it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.kms import allow_use, role_arn, via
from constructs_lib.nag import acknowledge, control_tower
from constructs_lib.props import WatchedCalls

API_CALL = "AWS API Call via CloudTrail"


def pattern(watched: WatchedCalls, exempt_arns: Sequence[str], buckets: Sequence[str] = ()) -> dict:
    """The rule's event pattern: the service's calls by name, from anyone but `exempt_arns`."""
    detail: dict = {"eventSource": [watched.event_source], "eventName": sorted(watched.names)}
    if exempt_arns:
        detail["$or"] = [
            {"userIdentity": {"type": [{"anything-but": ["AssumedRole"]}]}},
            {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": sorted(exempt_arns)}]}}}},
        ]
    if watched.buckets:
        detail["requestParameters"] = {"bucketName": sorted(buckets)}
    return {"source": [f"aws.{watched.service}"], "detail-type": [API_CALL], "detail": detail}


def denied_pattern() -> dict:
    """A data call (a table's, a stream's, an archive object's) refused for want of permission:
    a grant a deploy broke, or somebody trying. Data events only: a denied console click is not."""
    errors = [{"prefix": "AccessDenied"}, {"suffix": "UnauthorizedOperation"}]
    return {"detail-type": [API_CALL], "detail": {"eventCategory": ["Data"], "errorCode": errors}}


RESTORE_JOB = "Restore Job State Change"


def restore_failed_pattern() -> dict:
    """A restore job that failed or was aborted: a restore test's, or anyone's."""
    return {"source": ["aws.backup"], "detail-type": [RESTORE_JOB], "detail": {"status": ["FAILED", "ABORTED"]}}


def restore_completed_pattern(restore_tests_arns: Sequence[str]) -> dict:
    """A completed restore (somebody has a copy of the data now), unless the restore tests' role
    made it. An event without the role's field pages too: a renamed field must not silence it."""
    detail: dict = {"status": ["COMPLETED"]}
    if restore_tests_arns:
        detail["$or"] = [{"iamRoleArn": [{"anything-but": sorted(restore_tests_arns)}]}, {"iamRoleArn": [{"exists": False}]}]
    return {"source": ["aws.backup"], "detail-type": [RESTORE_JOB], "detail": detail}


def break_glass_pattern(break_glass_arn: str) -> dict:
    """Any call the break-glass role makes (its use is an incident)."""
    return {"detail-type": [API_CALL], "detail": {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [break_glass_arn]}}}}}


class TamperAlerts(Construct):
    """One rule per watched group, and one for the break-glass role, each to `topic` with a
    message naming the call, the caller and the region, or forwarding the event unchanged to
    the primary region's bus (in the off-site region: rules see only their own region's calls)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        watched: Sequence[WatchedCalls],
        exempt: Mapping[str, Sequence[str]],
        buckets: Sequence[str],
        break_glass_arn: str,
        role_name: str,
        env: str,
        topic: sns.ITopic | None = None,
        key: kms.IKey | None = None,
        actions: AlarmActions | None = None,
        denied_calls_queue: str | None = None,
        denied_calls_readers: Sequence[str] = (),
        forward_to_bus_arn: str | None = None,
        restore_tests_arns: Sequence[str] = (),
    ) -> None:
        """To `topic` (under `key`) in the primary region, denied data calls to the queue
        `denied_calls_queue` (which `denied_calls_readers` may read) with an alarm to `actions`;
        elsewhere, `forward_to_bus_arn`: the primary region's default bus, whose rules (the same
        patterns) page."""
        super().__init__(scope, id)
        primary = topic is not None and key is not None and actions is not None and denied_calls_queue is not None
        if primary == (forward_to_bus_arn is not None):
            raise ValueError("TamperAlerts: give either topic, key, actions and denied_calls_queue, or forward_to_bus_arn")
        # EventBridge publishes as this role, which only this account's rules may assume: the
        # target's default would grant the service itself, from any account, on the topic.
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "PublishRole",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("events.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": stack.account}}),
            description="EventBridge publishes tamper alerts to the alert topic"
            if topic is not None
            else "EventBridge forwards tamper events to the primary region's bus",
        )
        # A managed policy, not the target's inline one (cdk-nag IAMNoInlinePolicy).
        policy = iam.ManagedPolicy(self, "PublishPolicy", managed_policy_name=role_name, roles=[self.role])
        self._topic, self._bus = topic, None
        if forward_to_bus_arn is not None:
            policy.add_statements(iam.PolicyStatement(actions=["events:PutEvents"], resources=[forward_to_bus_arn]))
            self._bus = events.EventBus.from_event_bus_arn(self, "PrimaryBus", forward_to_bus_arn)
            self._verb = f"Forwards to {forward_to_bus_arn.split(':')[3]}'s bus"
        elif topic is not None and key is not None:
            self._allow_publishing(stack, policy, topic, key, role_name)
            self._verb = "Pages on-call"
        for group in watched:
            arns = sorted({arn for who in group.exempt for arn in exempt[who]})
            self._rule(group.id, f"{group.what} in {env}", pattern(group, arns, buckets))
        # Reads too: a break-glass session that only reads PHI keys or lists tables is as much an
        # incident. EventBridge matches read-only management events (Get, List, Describe) only
        # for a rule in this state ("Receiving read-only management events", EventBridge user
        # guide); the L2 Rule has no property for it, hence the L1 override.
        rule = self._rule("BreakGlass", f"the break-glass role was used in {env}", break_glass_pattern(break_glass_arn))
        cast(events.CfnRule, rule.node.default_child).state = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
        # Restores (AWS Backup's events, not API calls): every failure, and every completed
        # restore but the restore tests' (the vault's own notifications leave them to these).
        restore = events.RuleTargetInput.from_text(
            f"Restore job {events.EventField.from_path('$.detail.status')}: {events.EventField.from_path('$.detail.resourceType')} "
            f"{events.EventField.from_path('$.detail.createdResourceArn')} as {events.EventField.from_path('$.detail.iamRoleArn')} "
            f"in {events.EventField.from_path('$.region')} (account {events.EventField.from_path('$.account')}, "
            f"{events.EventField.from_path('$.time')})"
        )
        self._rule("RestoreFailed", f"a restore job failed in {env}", restore_failed_pattern(), restore)
        self._rule(
            "RestoreCompleted", f"a restore completed in {env}: somebody has a copy", restore_completed_pattern(restore_tests_arns), restore
        )
        what = f"a data call was denied in {env}"
        if self._bus is not None:
            self._rule("DeniedDataCalls", what, denied_pattern())
        elif primary:
            self._denied_calls(what, cast(kms.IKey, key), cast(AlarmActions, actions), cast(str, denied_calls_queue), denied_calls_readers)

    def _denied_calls(self, what: str, key: kms.IKey, actions: AlarmActions, queue_name: str, readers: Sequence[str]) -> None:
        """Denied data calls into a queue kept 14 days (the events name the caller and the item's
        key: encrypted under the alerts key), and one alarm while it holds any: on-call hears
        once, reads who was denied what, and purges the queue to clear the alarm."""
        queue = sqs.Queue(
            self,
            "DeniedDataCallsQueue",
            queue_name=queue_name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            retention_period=Duration.days(14),
            enforce_ssl=True,
        )
        no_dlq = (
            "This queue is itself the place denied calls wait for a person to read them; nothing consumes it "
            "automatically, so there are no failed receives a dead-letter queue would catch."
        )
        acknowledge(queue, {"AwsSolutions-SQS3": no_dlq, control_tower("sqs_dlq_check"): no_dlq})
        # EventBridge sends as the service, for this account's rules only (the target's policy).
        events.Rule(
            self,
            "DeniedDataCalls",
            description=f"Queues for on-call: {what}",
            event_pattern=_event_pattern(denied_pattern()),
            targets=[targets.SqsQueue(queue)],
        )
        if readers:
            allow_use(
                key, self, sid="DeniedCallsReadersDecrypt", principal_arns=list(readers), actions=("kms:Decrypt",), via_services=("sqs",)
            )
        actions.alarm(
            self,
            "DeniedDataCallsAlarm",
            name=queue_name,
            description=f"A principal was denied a data call (table, stream or archive object): a grant a deploy broke, or "
            f"somebody trying. Read the events in SQS queue {queue_name}, then purge it to clear this alarm.",
            # By the queue's name, as the dashboards and docs read it.
            metric=cloudwatch.Metric(
                namespace="AWS/SQS",
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions_map={"QueueName": queue_name},
                statistic="Maximum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )

    def _allow_publishing(self, stack: Stack, policy: iam.ManagedPolicy, topic: sns.ITopic, key: kms.IKey, role_name: str) -> None:
        """The role may publish to the topic; the topic's key trusts no IAM policy alone, so its
        policy names the role too."""
        policy.add_statements(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via(self, "sns")}},
            ),
        )
        allow_use(
            key,
            self,
            sid="AllowTamperAlertsToPublish",
            principal_arns=[role_arn(self, role_name)],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            via_services=["sns"],
        )

    def _target(self, what: str, message: events.RuleTargetInput | None = None) -> events.IRuleTarget:
        """The primary bus, the event unchanged; or the topic, with a message of what, who, where."""
        role = self.role.without_policy_updates()
        if self._bus is not None:
            return targets.EventBus(self._bus, role=role)
        assert self._topic is not None  # __init__ takes one of the two
        if message is not None:
            return targets.SnsTopic(self._topic, message=message, role=role)
        message = events.RuleTargetInput.from_text(
            f"Tamper alert: {what}. {events.EventField.from_path('$.detail.eventName')} "
            f"by {events.EventField.from_path('$.detail.userIdentity.arn')} "
            f"in {events.EventField.from_path('$.detail.awsRegion')} "
            f"(account {events.EventField.from_path('$.account')}, {events.EventField.from_path('$.time')})"
        )
        return targets.SnsTopic(self._topic, message=message, role=role)

    def _rule(self, id: str, what: str, event_pattern: dict, message: events.RuleTargetInput | None = None) -> events.Rule:
        return events.Rule(
            self,
            id,
            description=f"{self._verb}: {what}",
            event_pattern=_event_pattern(event_pattern),
            targets=[self._target(what, message)],
        )


def _event_pattern(pattern: dict) -> events.EventPattern:
    return events.EventPattern(source=pattern.get("source"), detail_type=pattern["detail-type"], detail=pattern["detail"])

"""Tamper alerts: an EventBridge rule per group of control-plane calls that would undo a
protection (a key disabled, the trail stopped, a recovery point deleted, a table policy removed,
an archive bucket's policy rewritten), each sending on-call what happened, who and where.

The rules read "AWS API Call via CloudTrail" events, which EventBridge receives only while a
trail logs management events in the rule's region ("Events delivered via AWS CloudTrail", in
the EventBridge user guide; CloudTrail: "Logging management events"); global services' calls
(IAM) arrive in us-east-1. The platform stack creates the rules where config's trail logs
management events (audit_trail.management_events, or an organization trail).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.kms import allow_use, role_arn, via
from constructs_lib.props import WatchedCalls

API_CALL = "AWS API Call via CloudTrail"


def pattern(watched: WatchedCalls, exempt_arns: Sequence[str], buckets: Sequence[str] = ()) -> dict:
    """The rule's event pattern: the service's calls by name, from anyone but `exempt_arns`."""
    detail: dict = {"eventSource": [f"{watched.service}.amazonaws.com"], "eventName": sorted(watched.names)}
    if exempt_arns:
        detail["$or"] = [
            {"userIdentity": {"type": [{"anything-but": ["AssumedRole"]}]}},
            {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": sorted(exempt_arns)}]}}}},
        ]
    if watched.buckets:
        detail["requestParameters"] = {"bucketName": sorted(buckets)}
    return {"source": [f"aws.{watched.service}"], "detail-type": [API_CALL], "detail": detail}


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
        forward_to_bus_arn: str | None = None,
    ) -> None:
        """To `topic` (under `key`) in the primary region; elsewhere, `forward_to_bus_arn`: the
        primary region's default bus, whose rules (the same patterns) page."""
        super().__init__(scope, id)
        if (topic is None or key is None) == (forward_to_bus_arn is None):
            raise ValueError("TamperAlerts: give either topic and key, or forward_to_bus_arn")
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

    def _target(self, what: str) -> events.IRuleTarget:
        """The primary bus, the event unchanged; or the topic, with a message of what, who, where."""
        role = self.role.without_policy_updates()
        if self._bus is not None:
            return targets.EventBus(self._bus, role=role)
        assert self._topic is not None  # __init__ takes one of the two
        message = events.RuleTargetInput.from_text(
            f"Tamper alert: {what}. {events.EventField.from_path('$.detail.eventName')} "
            f"by {events.EventField.from_path('$.detail.userIdentity.arn')} "
            f"in {events.EventField.from_path('$.detail.awsRegion')} "
            f"(account {events.EventField.from_path('$.account')}, {events.EventField.from_path('$.time')})"
        )
        return targets.SnsTopic(self._topic, message=message, role=role)

    def _rule(self, id: str, what: str, event_pattern: dict) -> events.Rule:
        return events.Rule(
            self,
            id,
            description=f"{self._verb}: {what}",
            event_pattern=events.EventPattern(
                source=event_pattern.get("source"),
                detail_type=event_pattern["detail-type"],
                detail=event_pattern["detail"],
            ),
            targets=[self._target(what)],
        )

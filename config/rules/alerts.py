"""Alerts: where alarms go (email, Slack through AWS Chatbot, an external SNS topic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import EMAIL, SLACK_CHANNEL, SLACK_WORKSPACE, SNS_ARN


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    alerts = cfg.alerts
    for i, email in enumerate(alerts.emails):
        p.check(bool(EMAIL.match(email)), f"alerts.emails[{i}]", email, "an email address such as ops@example.com")
    p.check(len(set(alerts.emails)) == len(alerts.emails), "alerts.emails", alerts.emails, "each address once")
    if alerts.slack is not None:
        p.check(
            bool(SLACK_WORKSPACE.match(alerts.slack.workspace_id)),
            "alerts.slack.workspace_id",
            alerts.slack.workspace_id,
            "a Slack team id such as T0123ABCD",
        )
        p.check(
            bool(SLACK_CHANNEL.match(alerts.slack.channel_id)),
            "alerts.slack.channel_id",
            alerts.slack.channel_id,
            "a Slack channel id such as C0123ABCD",
        )
    if alerts.external_topic_arn is not None:
        match = SNS_ARN.match(alerts.external_topic_arn)
        p.check(bool(match), "alerts.external_topic_arn", alerts.external_topic_arn, "an SNS topic ARN arn:aws:sns:REGION:ACCOUNT:NAME")
        if match:
            # CloudWatch alarm actions can only notify a topic in the alarm's own region.
            p.check(
                match["region"] == cfg.region,
                "alerts.external_topic_arn",
                alerts.external_topic_arn,
                f"a topic in the environment's region {cfg.region}",
            )
    p.check(
        bool(alerts.emails or alerts.slack or alerts.external_topic_arn),
        "alerts",
        "no endpoints",
        "at least one email, Slack channel or external topic: alarms must reach someone",
    )

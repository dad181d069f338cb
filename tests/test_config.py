"""Bad config never reaches a template: each invalid value stops synth with one clear message."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

import config
from config.environments import DEV, PROD, STAGING
from config.model import AccessConfig, AlarmConfig, AlertConfig, BillingConfig, ConfigError, PitrConfig, ReplicaConfig, SlackConfig
from tests.support import ROOT

ENVS = {"dev": DEV, "staging": STAGING, "prod": PROD}


def load_with(**changed) -> None:
    """Validate the real environments with some of them replaced."""
    config.load(None, {**ENVS, **changed})


def assert_rejected(expected: list[str], **changed) -> str:
    with pytest.raises(ConfigError) as caught:
        load_with(**changed)
    message = str(caught.value)
    for part in expected:
        assert part in message, f"{part!r} missing from:\n{message}"
    return message


def test_the_shipped_config_is_valid():
    assert [c.name for c in config.load()] == ["dev", "staging", "prod"]


def test_env_selects_one_environment():
    (prod,) = config.load("prod")
    assert prod is PROD


def test_unknown_environment_names_the_allowed_ones():
    with pytest.raises(ConfigError) as caught:
        config.load("qa")
    assert str(caught.value) == "env = 'qa' is not allowed: one of dev, staging, prod"


@pytest.mark.parametrize(
    "env, change, expected",
    [
        ("dev", {"account": "12345"}, ["dev.account = '12345'", "12-digit"]),
        ("dev", {"account": "11111111111a"}, ["dev.account = '11111111111a'", "12-digit"]),
        ("dev", {"region": "us-east"}, ["dev.region = 'us-east'", "region name"]),
        ("dev", {"region": "mars-north-1"}, ["dev.region = 'mars-north-1'", "region name"]),
        ("staging", {"alerts": AlertConfig(emails=("not-an-email",))}, ["staging.alerts.emails[0] = 'not-an-email'", "email address"]),
        ("staging", {"alerts": AlertConfig(external_topic_arn="arn:aws:sns:us-east-1:123:topic")}, ["staging.alerts.external_topic_arn", "SNS topic ARN"]),
        ("staging", {"alerts": AlertConfig(external_topic_arn="arn:aws:sns:eu-west-1:222222222222:t")}, ["staging.alerts.external_topic_arn", "region us-east-1"]),
        ("staging", {"alerts": AlertConfig(slack=SlackConfig(workspace_id="workspace", channel_id="C0123ABCD"))}, ["staging.alerts.slack.workspace_id = 'workspace'", "Slack team id"]),
        ("staging", {"alerts": AlertConfig()}, ["staging.alerts", "at least one email, Slack channel or external topic"]),
        ("dev", {"billing": BillingConfig(mode="PROVISIONED", read_capacity=0, write_capacity=5, max_read_capacity=10, max_write_capacity=10)}, ["dev.billing.read_capacity = 0", "> 0"]),
        ("dev", {"billing": BillingConfig(mode="PROVISIONED", read_capacity=5, write_capacity=-1, max_read_capacity=10, max_write_capacity=10)}, ["dev.billing.write_capacity = -1", "> 0"]),
        ("dev", {"billing": BillingConfig(mode="PROVISIONED", read_capacity=5, write_capacity=5, max_read_capacity=2, max_write_capacity=10)}, ["dev.billing.max_read_capacity = 2", ">= read_capacity (5)"]),
        ("dev", {"billing": BillingConfig(mode="ON_DEMAND")}, ["dev.billing.mode = 'ON_DEMAND'", "PAY_PER_REQUEST or PROVISIONED"]),
        ("dev", {"billing": BillingConfig(read_capacity=5)}, ["dev.billing.read_capacity = 5", "unset when mode is PAY_PER_REQUEST"]),
        ("dev", {"billing_overrides": {"fusion": BillingConfig()}}, ["dev.billing_overrides['fusion']", "fusion-health"]),
        ("dev", {"pitr": PitrConfig(enabled=True, recovery_period_days=0)}, ["dev.pitr.recovery_period_days = 0", "1-35"]),
        ("staging", {"pitr": PitrConfig(enabled=True, recovery_period_days=36)}, ["staging.pitr.recovery_period_days = 36", "1-35"]),
        ("prod", {"pitr": PitrConfig(enabled=False)}, ["prod.pitr.enabled = False", "True in prod"]),
        ("prod", {"deletion_protection": False}, ["prod.deletion_protection = False", "True in prod"]),
        ("prod", {"removal_policy": "destroy"}, ["prod.removal_policy = 'destroy'", "'retain' in prod"]),
        ("prod", {"termination_protection": False}, ["prod.termination_protection = False", "True in prod"]),
        ("dev", {"removal_policy": "snapshot"}, ["dev.removal_policy = 'snapshot'", "retain or destroy"]),
        ("dev", {"alarms": AlarmConfig(throttle_events=0, system_errors=1, user_errors=1, latency_ms=10)}, ["dev.alarms.throttle_events = 0", "> 0"]),
        ("dev", {"alarms": AlarmConfig(throttle_events=1, system_errors=1, user_errors=1, latency_ms=10, evaluation_periods=2, datapoints_to_alarm=3)}, ["dev.alarms.datapoints_to_alarm = 3", "<= evaluation_periods (2)"]),
        ("dev", {"access": AccessConfig(app_service_principal="ecs", readonly_principal_arns=DEV.access.readonly_principal_arns, migration_principal_arns=DEV.access.migration_principal_arns)}, ["dev.access.app_service_principal = 'ecs'", "service principal"]),
        ("dev", {"access": AccessConfig(readonly_principal_arns=("arn:aws:iam::111111111111:user/bob",), migration_principal_arns=DEV.access.migration_principal_arns)}, ["dev.access.readonly_principal_arns[0]", "IAM role ARN"]),
        ("dev", {"access": AccessConfig(readonly_principal_arns=(), migration_principal_arns=DEV.access.migration_principal_arns)}, ["dev.access.readonly_principal_arns = ()", "at least one"]),
        ("dev", {"monthly_budget_usd": 0}, ["dev.monthly_budget_usd = 0", "> 0"]),
        ("dev", {"replicas": (ReplicaConfig(region="us-east-1", kms_key_arn="arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000"),)}, ["dev.replicas[0].region = 'us-east-1'", "other than the primary"]),
        ("dev", {"replicas": (ReplicaConfig(region="us-west-2", kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"),)}, ["dev.replicas[0].kms_key_arn", "KMS key ARN in us-west-2"]),
        ("dev", {"tags": {"aws:owner": "me"}}, ["dev.tags['aws:owner']", "not starting with aws:"]),
        ("dev", {"table_name_overrides": {"daylight.Nope": "x-table"}}, ["dev.table_name_overrides['daylight.Nope']", "daylight.Users"]),
        ("dev", {"table_name_overrides": {"daylight.Users": "a b"}}, ["dev.daylight.Users table name 'a b'", "A-Z a-z 0-9"]),
    ],
)
def test_invalid_value_is_named_with_what_is_allowed(env, change, expected):
    assert_rejected(expected, **{env: replace(ENVS[env], **change)})


def test_duplicate_table_names_in_one_environment():
    dev = replace(DEV, table_name_overrides={"daylight.Plans": "daylight-dev-users"})
    assert_rejected(["dev.daylight.Plans table name 'daylight-dev-users'", "dev.daylight.Users already uses it"], dev=dev)


def test_duplicate_table_names_across_environments_sharing_an_account():
    # Staging moved into dev's account and region, adopting one of dev's table names.
    staging = replace(STAGING, account=DEV.account, table_name_overrides={"madmall.Main": "madmall-dev-main"}, access=DEV.access)
    assert_rejected(["staging.madmall.Main table name 'madmall-dev-main'", "dev.madmall.Main already uses it in account 111111111111"], staging=staging)


def test_every_problem_is_reported_at_once():
    message = assert_rejected(["prod.account", "prod.region"], prod=replace(PROD, account="x", region="y"))
    assert message.count("\n") >= 2


def test_environment_key_must_match_its_name():
    assert_rejected(["qa.name = 'dev'"], qa=DEV)


def test_config_objects_are_frozen():
    with pytest.raises(Exception):
        PROD.deletion_protection = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        PROD.tags["Owner"] = "someone"  # type: ignore[index]


def test_synth_stops_with_the_message_and_writes_nothing(tmp_path):
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps({"env": "qa"}), "CDK_OUTDIR": str(outdir)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "env = 'qa' is not allowed: one of dev, staging, prod" in result.stderr
    assert not outdir.exists() or not any(outdir.iterdir())

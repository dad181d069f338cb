"""The per-environment platform stack: alert topic, access logs, account-level alarms."""

from __future__ import annotations

import pytest

from config import ENVIRONMENTS
from stacks.stage import stack_names, stack_regions
from tests.expected import ENVS
from tests.support import resources


def platform(synthesized, env):
    return synthesized[f"data-platform-{env}"]


@pytest.mark.parametrize("env", ENVS)
def test_alert_topic_is_named_and_encrypted_with_a_rotating_key(synthesized, env):
    template = platform(synthesized, env).template
    (topic,) = resources(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["TopicName"] == f"data-alerts-{env}"
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": ["KeyAlerts", "Arn"]}
    assert resources(template, "AWS::KMS::Key")["KeyAlerts"]["Properties"]["EnableKeyRotation"] is True


def test_prod_reaches_all_three_seed_channels(synthesized):
    template = platform(synthesized, "prod").template
    assert [s["Properties"]["Endpoint"] for s in resources(template, "AWS::SNS::Subscription").values()] == ["data-oncall@example.com"]
    assert len(resources(template, "AWS::Chatbot::SlackChannelConfiguration")) == 1
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms.values():
        assert "arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall" in alarm["Properties"]["AlarmActions"]


@pytest.mark.parametrize("env", ENVS)
def test_user_errors_alarm_is_account_level(synthesized, env):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(platform(synthesized, env).template, "AWS::CloudWatch::Alarm").values()
    }
    user_errors = alarms[f"dynamodb-user-errors-{env}"]
    assert user_errors["MetricName"] == "UserErrors" and "Dimensions" not in user_errors
    assert user_errors["AlarmActions"][0] == {"Ref": "AlertsTopicCF7C81C9"}


@pytest.mark.parametrize("env, provisioned", [("dev", False), ("staging", False), ("prod", True)])
def test_account_capacity_alarms_only_where_tables_are_provisioned(synthesized, env, provisioned):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(platform(synthesized, env).template, "AWS::CloudWatch::Alarm").values()
    }
    name = f"dynamodb-account-provisioned-read-utilization-{env}"
    assert (name in alarms) is provisioned
    if provisioned:
        assert alarms[name]["Statistic"] == "Maximum" and alarms[name]["Period"] == 300 and alarms[name]["Threshold"] == 80


@pytest.mark.parametrize("env, retention, policy", [("dev", 90, "Delete"), ("staging", 365, "Retain"), ("prod", 730, "Retain")])
def test_access_log_bucket(synthesized, env, retention, policy):
    stack = platform(synthesized, env)
    bucket = resources(stack.template, "AWS::S3::Bucket")["AccessLogsBucket"]
    assert bucket["Properties"]["BucketName"] == f"data-access-logs-{env}-{stack.account}-us-east-1"
    assert bucket["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == retention
    assert bucket["DeletionPolicy"] == policy


@pytest.mark.parametrize("env, protected", [("dev", False), ("staging", True), ("prod", True)])
def test_termination_protection_follows_config(synthesized, env, protected):
    stacks = {name: stack for name, stack in synthesized.items() if stack.environment == env}
    assert len(stacks) == (9 if env == "prod" else 8)  # prod: its off-site stack too
    for name, stack in stacks.items():
        assert stack.termination_protection is protected, name


@pytest.mark.parametrize("env, account", [("dev", "111111111111"), ("staging", "222222222222"), ("prod", "333333333333")])
def test_every_stack_is_region_specific(synthesized, env, account):
    stacks = [s for s in synthesized.values() if s.environment == env]
    assert sorted(s.name for s in stacks) == sorted(stack_names(ENVIRONMENTS[env]))
    # Every stack in its environment's region; prod's off-site copies in the second region.
    assert {s.name: (s.account, s.region) for s in stacks} == {
        name: (account, region) for name, region in stack_regions(ENVIRONMENTS[env]).items()
    }
    assert {s.region for s in stacks} == ({"us-east-1", "us-west-2"} if env == "prod" else {"us-east-1"})

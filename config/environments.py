"""The three environments' values. Ops change deployment settings here, in a reviewed pull request.

The account ids are placeholders that let `cdk synth` run offline; replace them with the real
ones (see README, "Environments and config"). Everything else is a real default.
"""

from config.model import (
    AccessConfig,
    AlarmConfig,
    AlertConfig,
    BillingConfig,
    EnvironmentConfig,
    PitrConfig,
    SlackConfig,
)

REGION = "us-east-1"  # the seeds' region

DEV = EnvironmentConfig(
    name="dev",
    account="111111111111",
    region=REGION,
    # Lower cost and easy teardown, as the fusion-health seed's development example does.
    pitr=PitrConfig(enabled=False, recovery_period_days=35),
    deletion_protection=False,
    removal_policy="destroy",
    termination_protection=False,
    alarms=AlarmConfig(throttle_events=10, system_errors=5, user_errors=50, latency_ms=250),
    alerts=AlertConfig(emails=("dev-alerts@example.com",)),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::111111111111:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::111111111111:role/DataMigration",),
    ),
    monthly_budget_usd=200,
    access_log_retention_days=90,
    tags={"CostCenter": "data-platform-dev"},
)

STAGING = EnvironmentConfig(
    name="staging",
    account="222222222222",
    region=REGION,
    pitr=PitrConfig(enabled=True, recovery_period_days=35),
    deletion_protection=True,
    removal_policy="retain",
    termination_protection=True,
    alarms=AlarmConfig(throttle_events=5, system_errors=1, user_errors=25, latency_ms=100),
    alerts=AlertConfig(emails=("data-alerts@example.com",)),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::222222222222:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::222222222222:role/DataMigration",),
    ),
    monthly_budget_usd=1000,
    tags={"CostCenter": "data-platform-staging"},
)

PROD = EnvironmentConfig(
    name="prod",
    account="333333333333",
    region=REGION,
    # The fusion-health seed: provisioned capacity for production's steady load, autoscaled.
    billing_overrides={
        "fusion-health": BillingConfig(
            mode="PROVISIONED", read_capacity=10, write_capacity=5, max_read_capacity=100, max_write_capacity=50
        ),
    },
    pitr=PitrConfig(enabled=True, recovery_period_days=35),
    deletion_protection=True,
    removal_policy="retain",
    termination_protection=True,
    alarms=AlarmConfig(throttle_events=1, system_errors=1, user_errors=10, latency_ms=50, evaluation_periods=3, datapoints_to_alarm=2),
    # The daylight seed's three channels: email, Slack (through AWS Chatbot) and an external SNS topic.
    alerts=AlertConfig(
        emails=("data-oncall@example.com",),
        external_topic_arn="arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall",
        slack=SlackConfig(workspace_id="T00000000", channel_id="C00000000"),
    ),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::333333333333:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::333333333333:role/DataMigration",),
    ),
    monthly_budget_usd=5000,
    access_log_retention_days=730,
    tags={"CostCenter": "data-platform-prod"},
)

ENVIRONMENTS = {cfg.name: cfg for cfg in (DEV, STAGING, PROD)}

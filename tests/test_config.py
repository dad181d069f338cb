"""Bad config never reaches a template: each invalid value stops synth with one clear message."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

import config
from config.environments import DEV, PROD, STAGING
from config.errors import ConfigError, Problems
from config.model import (
    AccessConfig,
    AlarmConfig,
    AlertConfig,
    ArchiveConfig,
    AuditTrailConfig,
    BackupConfig,
    BackupRuleConfig,
    BillingConfig,
    CiConfig,
    KeyConfig,
    OffsiteConfig,
    PitrConfig,
    ReplicaConfig,
    SlackConfig,
)
from config.rules import trust
from constructs_lib.specs import IndexSpec, Key, TableSpec
from tests.support import ROOT


def db(env: str, **changed):
    """The environment's database config with some values changed."""
    return {"database": replace(ENVS[env].database, **changed)}


def alarms(env: str, **thresholds):
    """The environment with some alarm thresholds changed (or added: an unknown name)."""
    return {"alarms": replace(ENVS[env].alarms, thresholds={**ENVS[env].alarms.thresholds, **thresholds})}


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
        ("dev", {"region": "us-east"}, ["dev.region = 'us-east'", "an AWS region of the aws partition (botocore's list)"]),
        ("dev", {"region": "mars-north-1"}, ["dev.region = 'mars-north-1'", "an AWS region of the aws partition"]),
        # Looks like a region, is none: checked against botocore's bundled partition data.
        ("dev", {"region": "us-east-9"}, ["dev.region = 'us-east-9' is not allowed: an AWS region of the aws partition"]),
        ("staging", {"alerts": AlertConfig(emails=("not-an-email",))}, ["staging.alerts.emails[0] = 'not-an-email'", "email address"]),
        (
            "staging",
            {"alerts": AlertConfig(external_topic_arn="arn:aws:sns:us-east-1:123:topic")},
            ["staging.alerts.external_topic_arn", "SNS topic ARN"],
        ),
        (
            "staging",
            {"alerts": AlertConfig(external_topic_arn="arn:aws:sns:eu-west-1:222222222222:t")},
            ["staging.alerts.external_topic_arn", "region us-east-1"],
        ),
        (
            "staging",
            {"alerts": AlertConfig(slack=SlackConfig(workspace_id="workspace", channel_id="C0123ABCD"))},
            ["staging.alerts.slack.workspace_id = 'workspace'", "Slack team id"],
        ),
        ("staging", {"alerts": AlertConfig()}, ["staging.alerts", "at least one email, Slack channel or external topic"]),
        (
            "dev",
            {"billing": BillingConfig(mode="PROVISIONED", read_capacity=0, write_capacity=5, max_read_capacity=10, max_write_capacity=10)},
            ["dev.billing.read_capacity = 0", "> 0"],
        ),
        (
            "dev",
            {"billing": BillingConfig(mode="PROVISIONED", read_capacity=5, write_capacity=-1, max_read_capacity=10, max_write_capacity=10)},
            ["dev.billing.write_capacity = -1", "> 0"],
        ),
        (
            "dev",
            {"billing": BillingConfig(mode="PROVISIONED", read_capacity=5, write_capacity=5, max_read_capacity=2, max_write_capacity=10)},
            ["dev.billing.max_read_capacity = 2", ">= read_capacity (5)"],
        ),
        ("dev", {"billing": BillingConfig(mode="ON_DEMAND")}, ["dev.billing.mode = 'ON_DEMAND'", "PAY_PER_REQUEST or PROVISIONED"]),
        ("dev", {"billing": BillingConfig(read_capacity=5)}, ["dev.billing.read_capacity = 5", "unset when mode is PAY_PER_REQUEST"]),
        ("dev", {"billing_overrides": {"fusion": BillingConfig()}}, ["dev.billing_overrides['fusion']", "fusion-health"]),
        ("dev", {"pitr": PitrConfig(enabled=True, recovery_period_days=0)}, ["dev.pitr.recovery_period_days = 0", "1-35"]),
        ("staging", {"pitr": PitrConfig(enabled=True, recovery_period_days=36)}, ["staging.pitr.recovery_period_days = 36", "1-35"]),
        ("prod", {"pitr": PitrConfig(enabled=False)}, ["prod.pitr.enabled = False", "True where protection is 'production'"]),
        ("staging", {"pitr": PitrConfig(enabled=False)}, ["staging.pitr.enabled = False", "True where protection is 'protected'"]),
        ("staging", {"deletion_protection": False}, ["staging.deletion_protection = False", "True where protection is 'protected'"]),
        ("dev", {"protection": "precious"}, ["dev.protection = 'precious'", "one of rebuildable, protected, production"]),
        ("prod", {"deletion_protection": False}, ["prod.deletion_protection = False", "True where protection is 'production'"]),
        ("prod", {"removal_policy": "destroy"}, ["prod.removal_policy = 'destroy'", "'retain' where protection is 'production'"]),
        ("prod", {"termination_protection": False}, ["prod.termination_protection = False", "True where protection is 'production'"]),
        ("dev", {"removal_policy": "snapshot"}, ["dev.removal_policy = 'snapshot'", "retain or destroy"]),
        ("dev", alarms("dev", throttle_events=0), ["dev.alarms.thresholds['throttle_events'] = 0", "a whole number >= 1"]),
        ("dev", alarms("dev", database_cpu_percent=0), ["dev.alarms.thresholds['database_cpu_percent'] = 0", "a whole number 1-100"]),
        ("dev", alarms("dev", database_acu_percent=101), ["dev.alarms.thresholds['database_acu_percent'] = 101", "1-100"]),
        ("dev", alarms("dev", latency_ms=2.5), ["dev.alarms.thresholds['latency_ms'] = 2.5", "a whole number >= 1"]),
        (
            "dev",
            alarms("dev", latency=50),
            ["dev.alarms.thresholds['latency'] = 50", "a threshold of the alarm catalogue (config/alarms.py): throttle_events,"],
        ),
        (
            "dev",
            {"alarms": AlarmConfig(thresholds={k: v for k, v in DEV.alarms.thresholds.items() if k != "user_errors"})},
            ["dev.alarms.thresholds['user_errors'] = None", "a value: Account-level UserErrors", "kinds user_errors read it"],
        ),
        (
            "dev",
            {"alarms": replace(DEV.alarms, evaluation_periods=2, datapoints_to_alarm=3)},
            ["dev.alarms.datapoints_to_alarm = 3", "<= evaluation_periods (2)"],
        ),
        (
            "dev",
            {
                "access": AccessConfig(
                    app_service_principal="ecs",
                    readonly_principal_arns=DEV.access.readonly_principal_arns,
                    migration_principal_arns=DEV.access.migration_principal_arns,
                )
            },
            ["dev.access.app_service_principal = 'ecs'", "service principal"],
        ),
        (
            "dev",
            {
                "access": AccessConfig(
                    readonly_principal_arns=("arn:aws:iam::111111111111:user/bob",),
                    migration_principal_arns=DEV.access.migration_principal_arns,
                )
            },
            ["dev.access.readonly_principal_arns[0]", "IAM role ARN"],
        ),
        (
            "dev",
            {"access": AccessConfig(readonly_principal_arns=(), migration_principal_arns=DEV.access.migration_principal_arns)},
            ["dev.access.readonly_principal_arns = ()", "at least one"],
        ),
        ("dev", {"monthly_budget_usd": 0}, ["dev.monthly_budget_usd = 0", "> 0"]),
        (
            "dev",
            {
                "replicas": (
                    ReplicaConfig(
                        region="us-east-1", kms_key_arn="arn:aws:kms:us-east-1:111111111111:key/00000000-0000-0000-0000-000000000000"
                    ),
                )
            },
            ["dev.replicas[0].region = 'us-east-1'", "other than the primary"],
        ),
        (
            "dev",
            {
                "replicas": (
                    ReplicaConfig(
                        region="us-west-2", kms_key_arn="arn:aws:kms:eu-west-1:111111111111:key/00000000-0000-0000-0000-000000000000"
                    ),
                )
            },
            ["dev.replicas[0].kms_key_arn", "KMS key ARN in us-west-2"],
        ),
        ("dev", {"tags": {"aws:owner": "me"}}, ["dev.tags['aws:owner']", "not starting with aws:"]),
        ("dev", {"table_name_overrides": {"daylight.Nope": "x-table"}}, ["dev.table_name_overrides['daylight.Nope']", "daylight.Users"]),
        ("dev", {"table_name_overrides": {"daylight.Users": "a b"}}, ["dev.daylight.Users table name 'a b'", "A-Z a-z 0-9"]),
        (
            "dev",
            {"archive": ArchiveConfig(glacier_after_days=30, deep_archive_after_days=60)},
            ["dev.archive.deep_archive_after_days = 60", ">= glacier_after_days + 90 (120)"],
        ),
        ("dev", {"archive": ArchiveConfig(glacier_after_days=-1)}, ["dev.archive.glacier_after_days = -1", ">= 0"]),
        (
            "dev",
            {"archive": ArchiveConfig(audit_object_lock="STRICT")},
            ["dev.archive.audit_object_lock = 'STRICT'", "COMPLIANCE, GOVERNANCE or None"],
        ),
        ("staging", {"backup": BackupConfig()}, ["staging.backup.enabled = False", "True where protection is 'protected'"]),
        ("staging", {"backup": BackupConfig(enabled=True)}, ["staging.backup.rules = ()", "at least one rule"]),
        (
            "staging",
            {"backup": BackupConfig(enabled=True, rules=(BackupRuleConfig(name="daily", schedule="every day", delete_after_days=35),))},
            ["staging.backup.rules[0].schedule = 'every day'", "cron("],
        ),
        (
            "staging",
            {
                "backup": BackupConfig(
                    enabled=True,
                    rules=(
                        BackupRuleConfig(name="m", schedule="cron(0 6 1 * ? *)", move_to_cold_storage_after_days=30, delete_after_days=100),
                    ),
                )
            },
            ["staging.backup.rules[0].delete_after_days = 100", ">= move_to_cold_storage_after_days + 90 (120)"],
        ),
        (
            "staging",
            {
                "backup": BackupConfig(
                    enabled=True, rules=(BackupRuleConfig(name="d", schedule="cron(0 5 * * ? *)", delete_after_days=35),) * 2
                )
            },
            ["staging.backup.rules", "unique rule names"],
        ),
        (
            "prod",
            {"backup": BackupConfig(enabled=True, rules=(BackupRuleConfig(name="d", schedule="cron(0 5 * * ? *)", delete_after_days=35),))},
            ["prod.backup.vault_lock_min_retention_days = None", "the vault must be locked"],
        ),
        (
            "prod",
            {
                "backup": BackupConfig(
                    enabled=True,
                    rules=(BackupRuleConfig(name="d", schedule="cron(0 5 * * ? *)", delete_after_days=35),),
                    vault_lock_min_retention_days=60,
                )
            },
            ["prod.backup.vault_lock_min_retention_days = 60", "<= the shortest of backup.rules' delete_after_days (35)"],
        ),
        ("dev", {"ci": CiConfig(github_owner="-acme")}, ["dev.ci.github_owner = '-acme'", "GitHub user or organisation"]),
        ("dev", {"ci": CiConfig(github_owner="acme--data")}, ["dev.ci.github_owner = 'acme--data'", "inner single hyphens"]),
        ("dev", {"ci": CiConfig(github_owner="a" * 40)}, ["dev.ci.github_owner = '" + "a" * 40 + "'", "1-39"]),
        ("dev", {"ci": CiConfig(github_owner="acme/data")}, ["dev.ci.github_owner = 'acme/data'", "GitHub user or organisation"]),
        ("dev", {"ci": CiConfig(github_repo="data infra")}, ["dev.ci.github_repo = 'data infra'", "GitHub repository name"]),
        ("dev", {"ci": CiConfig(github_repo="..")}, ["dev.ci.github_repo = '..'", "GitHub repository name"]),
        ("dev", {"ci": CiConfig(github_repo="*")}, ["dev.ci.github_repo = '*'", "GitHub repository name"]),
        (
            "dev",
            {"ci": CiConfig(oidc_provider_arn="arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com")},
            ["dev.ci.oidc_provider_arn", "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"],
        ),
        (
            "dev",
            {"ci": CiConfig(oidc_provider_arn="arn:aws:iam::111111111111:oidc-provider/gitlab.com")},
            ["dev.ci.oidc_provider_arn = 'arn:aws:iam::111111111111:oidc-provider/gitlab.com'", "token.actions.githubusercontent.com"],
        ),
        (
            "dev",
            {"ci": CiConfig(bootstrap_qualifier="HNB659FDS")},
            ["dev.ci.bootstrap_qualifier = 'HNB659FDS'", "1-10 lowercase letters or digits"],
        ),
        ("dev", {"ci": CiConfig(bootstrap_qualifier="averylongqualifier")}, ["dev.ci.bootstrap_qualifier = 'averylongqualifier'", "1-10"]),
        ("dev", db("dev", vpc_cidr="8.8.0.0/16"), ["dev.database.vpc_cidr = '8.8.0.0/16'", "a private IPv4 network from /16 to /22"]),
        ("dev", db("dev", vpc_cidr="10.40.0.0/24"), ["dev.database.vpc_cidr = '10.40.0.0/24'", "/16 to /22"]),
        ("dev", db("dev", vpc_cidr="ten"), ["dev.database.vpc_cidr = 'ten'", "private IPv4 network"]),
        ("dev", db("dev", zone_count=1), ["dev.database.zone_count = 1", "2-6"]),
        (
            "dev",
            db("dev", vpc_cidr="10.40.0.0/22", zone_count=5),
            ["dev.database.zone_count = 5", "at most 4: one /24 per zone in 10.40.0.0/22"],
        ),
        ("dev", db("dev", min_capacity_acu=0.3), ["dev.database.min_capacity_acu = 0.3", "0-256 in steps of 0.5"]),
        ("dev", db("dev", max_capacity_acu=0.5), ["dev.database.max_capacity_acu = 0.5", "1-256 in steps of 0.5"]),
        ("dev", db("dev", min_capacity_acu=8, max_capacity_acu=4), ["dev.database.max_capacity_acu = 4", ">= min_capacity_acu (8)"]),
        ("dev", db("dev", readers=16), ["dev.database.readers = 16", "0-15"]),
        ("dev", db("dev", backup_retention_days=0), ["dev.database.backup_retention_days = 0", "1-35"]),
        ("staging", db("staging", backup_retention_days=36), ["staging.database.backup_retention_days = 36", "1-35"]),
        ("dev", db("dev", removal_policy="delete"), ["dev.database.removal_policy = 'delete'", "retain, snapshot or destroy"]),
        (
            "dev",
            db("dev", performance_insights_retention_days=30),
            ["dev.database.performance_insights_retention_days = 30", "7, a multiple of 31 up to 713, or 731"],
        ),
        (
            "dev",
            db("dev", log_retention_days=45),
            ["dev.database.log_retention_days = 45", "a CloudWatch Logs retention: 1, 3, 5, 7, 14, 30"],
        ),
        ("dev", db("dev", monitoring_interval_seconds=0), ["dev.database.monitoring_interval_seconds = 0", "one of 1, 5, 10, 15, 30, 60"]),
        (
            "prod",
            db("prod", deletion_protection=False),
            ["prod.database.deletion_protection = False", "True where protection is 'production'"],
        ),
        (
            "prod",
            db("prod", removal_policy="destroy"),
            ["prod.database.removal_policy = 'destroy'", "'snapshot' or 'retain' where protection is 'production'"],
        ),
        ("prod", db("prod", backup_retention_days=3), ["prod.database.backup_retention_days = 3", ">= 7 where protection is 'production'"]),
        # Auto-pause: exactly at 0 ACUs, never behind a proxy, never in production.
        ("dev", db("dev", auto_pause_minutes=None), ["dev.database.auto_pause_minutes = None", "5-1440 where min_capacity_acu is 0"]),
        ("dev", db("dev", auto_pause_minutes=2), ["dev.database.auto_pause_minutes = 2", "None, or 5-1440"]),
        ("dev", db("dev", auto_pause_minutes=True), ["dev.database.auto_pause_minutes = True", "None, or 5-1440"]),
        ("dev", db("dev", proxy=True), ["dev.database.min_capacity_acu = 0", "at least 0.5 where database.proxy is True", "never pause"]),
        ("dev", db("dev", proxy="no"), ["dev.database.proxy = 'no'", "True or False"]),
        (
            "staging",
            db("staging", auto_pause_minutes=30),
            ["staging.database.auto_pause_minutes = 30", "None where min_capacity_acu is 0.5: only an instance that may scale to 0"],
        ),
        ("prod", db("prod", proxy=False), ["prod.database.proxy = False", "True where protection is 'production'"]),
        (
            "prod",
            db("prod", proxy=False, min_capacity_acu=0, auto_pause_minutes=5),
            ["prod.database.min_capacity_acu = 0", "at least 0.5 where protection is 'production'"],
        ),
    ],
)
def test_invalid_value_is_named_with_what_is_allowed(env, change, expected):
    assert_rejected(expected, **{env: replace(ENVS[env], **change)})


def test_archive_expiry_must_outlast_deep_archive_minimum():
    # Locations are archived for 730 of their 1095 days; Deep Archive after 1000 would never be reached in time.
    message = assert_rejected(
        [
            "prod: retention[daylight.Locations] keeps 730 days in the archive (days 1095 - table_days 365)",
            ">= archive.deep_archive_after_days + 180 (1180)",
        ],
        prod=replace(PROD, archive=ArchiveConfig(glacier_after_days=30, deep_archive_after_days=1000)),
    )
    assert "AuditLogs" not in message


def test_duplicate_table_names_in_one_environment():
    dev = replace(DEV, table_name_overrides={"daylight.Plans": "daylight-dev-users"})
    assert_rejected(["dev.daylight.Plans table name 'daylight-dev-users'", "dev.daylight.Users already uses it"], dev=dev)


def test_duplicate_table_names_across_environments_sharing_an_account():
    # Staging moved into dev's account and region, adopting one of dev's table names.
    staging = replace(STAGING, account=DEV.account, table_name_overrides={"madmall.Main": "madmall-dev-main"}, access=DEV.access)
    assert_rejected(
        ["staging.madmall.Main table name 'madmall-dev-main'", "dev.madmall.Main already uses it in account 111111111111"], staging=staging
    )


def test_every_problem_is_reported_at_once():
    message = assert_rejected(["prod.account", "prod.region"], prod=replace(PROD, account="x", region="y"))
    assert message.count("\n") >= 2


def test_environment_key_must_match_its_name():
    assert_rejected(["qa.name = 'dev'"], qa=DEV)


def test_config_objects_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
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


def cdk_modules_after(code: str, *args: str) -> str:
    """The CDK's modules (aws_cdk, jsii, constructs) loaded once `code` has run in a fresh
    interpreter with `args` as sys.argv[1:], as a printed sorted list ("[]": none)."""
    probe = f"import sys\n{code}\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('aws_cdk', 'jsii', 'constructs')))"
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_config_loads_without_cdk():
    # Docs and local tools read config without starting jsii: the constructs' props that config
    # reuses (constructs_lib/props.py) must stay plain data.
    assert cdk_modules_after("import config; config.load()") == "[]"


def test_replicas_are_refused_while_tables_are_archived_through_old_image_streams():
    key = "arn:aws:kms:us-west-2:222222222222:key/00000000-0000-0000-0000-000000000000"
    staging = dataclasses.replace(config.ENVIRONMENTS["staging"], replicas=(ReplicaConfig(region="us-west-2", kms_key_arn=key),))
    assert staging.archive.stream_view == "OLD_IMAGE"
    with pytest.raises(ConfigError) as caught:
        config.load(environments={**config.ENVIRONMENTS, "staging": staging})
    message = str(caught.value)
    assert "staging.replicas = ('us-west-2',) is not allowed while tables are archived through OLD_IMAGE streams" in message
    assert "daylight.AuditLogs" in message and "daylight.Users" in message
    assert "staging.archive.stream_view = 'NEW_AND_OLD_IMAGES'" in message and "one replica per deployment" in message
    assert message.count("\n") == 1  # one problem, one line: the replica itself is valid
    # With the streams moved first, the replica is accepted.
    moved = dataclasses.replace(staging, archive=dataclasses.replace(staging.archive, stream_view="NEW_AND_OLD_IMAGES"))
    config.load(environments={**config.ENVIRONMENTS, "staging": moved})


def test_an_unknown_stream_view_is_a_config_error_naming_it():
    staging = config.ENVIRONMENTS["staging"]
    wrong = dataclasses.replace(staging, archive=dataclasses.replace(staging.archive, stream_view="NEW_IMAGE"))
    with pytest.raises(ConfigError, match=r"staging.archive.stream_view = 'NEW_IMAGE' is not allowed: OLD_IMAGE or NEW_AND_OLD_IMAGES"):
        config.load(environments={**config.ENVIRONMENTS, "staging": wrong})


def test_a_mistyped_context_key_stops_synth_naming_it(tmp_path):
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=ROOT,
        env={
            **os.environ,
            "CDK_CONTEXT_JSON": json.dumps({"enviroment": "prod", "aws:cdk:enable-path-metadata": True}),
            "CDK_OUTDIR": str(outdir),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "cdk synth stopped: context key 'enviroment' (did you mean 'env'?) is not allowed: the app reads only "
        "env: the environment to synthesize: dev, staging or prod (every one when unset); "
        "CDK's own keys are cdk.json's feature flags and aws:cdk:*"
    )
    assert not outdir.exists() or not any(outdir.iterdir())


def test_context_keys_of_cdk_and_its_cli_are_allowed():
    from config.context import unknown_context

    flags = {"@aws-cdk/core:newStyleStackSynthesis": True}
    cli = ["aws:cdk:bundling-stacks", "aws:cdk:enable-asset-metadata", "availability-zones:account=1:region=us-east-1"]
    assert unknown_context(["env", *flags, *cli], flags) == []
    assert [line.split(" is not")[0] for line in unknown_context(["region", "env"], flags)] == ["context key 'region'"]


def _catalogue_with(edit):
    """The real catalogue with Fusion health's entries table changed by edit(table)."""
    from dataclasses import replace as swap

    from config.catalogue import SYSTEMS

    systems = []
    for system in SYSTEMS:
        if system.key == "fusion-health":
            entries, *rest = system.tables
            system = swap(system, tables=(edit(entries), *rest))
        systems.append(system)
    return tuple(systems)


CATALOGUE_MISTAKES = [
    (
        "duplicate index name",
        lambda t: dataclasses.replace(t, indexes=t.indexes + (t.indexes[0],)),
        "catalogue fusion-health.Entries: index name 'medication-index' is used 2 times; index names are unique per table",
    ),
    (
        "attribute with two types",
        lambda t: dataclasses.replace(
            t, indexes=t.indexes + (IndexSpec(name="by-date-number", partition_key=Key("date", "N"), serves="test"),)
        ),
        "catalogue fusion-health.Entries: attribute 'date' is a key with types N, S; an attribute has one type (S, N or B) in a table and its indexes",
    ),
    (
        "index on the table's own keys",
        lambda t: dataclasses.replace(
            t, indexes=t.indexes + (IndexSpec(name="same", partition_key=t.partition_key, sort_key=t.sort_key, serves="test"),)
        ),
        "catalogue fusion-health.Entries: index 'same' has the table's own keys (date + timestamp); query the table instead, or give the index other keys",
    ),
    (
        "too many GSIs",
        lambda t: dataclasses.replace(
            t, indexes=tuple(IndexSpec(name=f"i{n}", partition_key=Key(f"a{n}"), serves="test") for n in range(21))
        ),
        "catalogue fusion-health.Entries: 21 global secondary indexes; DynamoDB allows 20 per table",
    ),
]


@pytest.mark.parametrize("edit, message", [m[1:] for m in CATALOGUE_MISTAKES], ids=[m[0] for m in CATALOGUE_MISTAKES])
def test_catalogue_mistakes_are_one_config_error_naming_system_table_and_index(monkeypatch, edit, message):
    monkeypatch.setattr(config, "SYSTEMS", _catalogue_with(edit))
    with pytest.raises(ConfigError) as caught:
        config.load()
    assert str(caught.value) == "invalid table catalogue (config/catalogue.py):\n  " + message


def test_the_shipped_catalogue_has_no_mistakes():
    from config.catalogue import SYSTEMS
    from config.rules.catalogue import catalogue_problems

    assert SYSTEMS and catalogue_problems(SYSTEMS) == []


FOREIGN = "arn:aws:iam::999999999999:role/Contractor"


@pytest.mark.parametrize(
    "changes, key, value",
    [
        (
            {"access": AccessConfig(readonly_principal_arns=(FOREIGN,), migration_principal_arns=STAGING.access.migration_principal_arns)},
            "access.readonly_principal_arns[0]",
            FOREIGN,
        ),
        (
            {"alerts": AlertConfig(emails=("a@b.co",), external_topic_arn="arn:aws:sns:us-east-1:999999999999:their-pager")},
            "alerts.external_topic_arn",
            "arn:aws:sns:us-east-1:999999999999:their-pager",
        ),
        (
            {"keys": KeyConfig(administrator_arns=(FOREIGN,), break_glass_arn=STAGING.keys.break_glass_arn)},
            "keys.administrator_arns[0]",
            FOREIGN,
        ),
        (
            {"keys": KeyConfig(administrator_arns=STAGING.keys.administrator_arns, break_glass_arn=FOREIGN)},
            "keys.break_glass_arn",
            FOREIGN,
        ),
    ],
    ids=["principal", "external topic", "key administrator", "break glass"],
)
def test_arns_of_another_account_are_refused_unless_trusted(changes, key, value):
    staging = replace(STAGING, **changes)
    message = assert_rejected(
        [f"staging.{key} = {value!r} is not allowed: an ARN in this environment's (222222222222) account"], staging=staging
    )
    assert "list 999999999999 in trusted_accounts to trust it on purpose" in message
    # Listed as trusted, the same ARN is accepted.
    (loaded,) = config.load("staging", {**config.ENVIRONMENTS, "staging": replace(staging, trusted_accounts=("999999999999",))})
    assert loaded.trusted_accounts == ("999999999999",)


def test_a_replica_key_of_another_account_is_refused_unless_trusted():
    key = "arn:aws:kms:us-west-2:999999999999:key/00000000-0000-0000-0000-000000000000"
    p = Problems("dev")
    trust.check(p, replace(DEV, replicas=(ReplicaConfig(region="us-west-2", kms_key_arn=key),)), ())
    problems = p.lines
    assert [line for line in problems if "trusted_accounts" in line] == [
        f"dev.replicas[0].kms_key_arn = {key!r} is not allowed: an ARN in this environment's (111111111111) account; "
        "list 999999999999 in trusted_accounts to trust it on purpose"
    ]


def test_trusted_accounts_must_be_other_account_ids():
    assert_rejected(
        ["dev.trusted_accounts[0] = '111111111111' is not allowed", "other than this environment's own"],
        dev=replace(DEV, trusted_accounts=("111111111111",)),
    )
    assert_rejected(["dev.trusted_accounts[0] = 'abc'"], dev=replace(DEV, trusted_accounts=("abc",)))


# --- key governance: administrators and the break-glass role (docs/security.md)

ADMIN = "arn:aws:iam::111111111111:role/KeyAdministrator"
GLASS = "arn:aws:iam::111111111111:role/BreakGlass"


@pytest.mark.parametrize(
    "keys, expected",
    [
        (
            KeyConfig(administrator_arns=(), break_glass_arn=GLASS),
            "dev.keys.administrator_arns = () is not allowed: at least one IAM role or user ARN that administers the keys",
        ),
        (
            KeyConfig(administrator_arns=("KeyAdministrator",), break_glass_arn=GLASS),
            "dev.keys.administrator_arns[0] = 'KeyAdministrator' is not allowed: an IAM role or user ARN arn:aws:iam::ACCOUNT:role/NAME",
        ),
        (
            KeyConfig(administrator_arns=(ADMIN,), break_glass_arn=ADMIN),
            f"dev.keys.break_glass_arn = {ADMIN!r} is not allowed: a principal other than the key administrators: "
            "break-glass use must stand out in CloudTrail",
        ),
        (
            KeyConfig(administrator_arns=("arn:aws:iam::111111111111:role/DataAnalyst",), break_glass_arn=GLASS),
            "dev.keys.administrator_arns[0] = 'arn:aws:iam::111111111111:role/DataAnalyst' is not allowed: a principal that cannot "
            "read the data: not a data role, nor one listed in access.readonly/migration_principal_arns",
        ),
        (
            KeyConfig(administrator_arns=(ADMIN,), break_glass_arn="arn:aws:iam::111111111111:role/daylight-dev-app"),
            "dev.keys.break_glass_arn = 'arn:aws:iam::111111111111:role/daylight-dev-app' is not allowed: a principal that cannot "
            "read the data",
        ),
        (
            KeyConfig(
                administrator_arns=("arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1",),
                break_glass_arn=GLASS,
            ),
            "dev.keys.administrator_arns[0] = 'arn:aws:iam::111111111111:role/cdk-hnb659fds-cfn-exec-role-111111111111-us-east-1' "
            "is not allowed: a principal of your own: the CDK deploy role is named in every key policy already, with less",
        ),
    ],
    ids=[
        "no administrator",
        "not an arn",
        "break glass is an administrator",
        "administrator reads data",
        "break glass is the app",
        "deployer",
    ],
)
def test_key_governance_is_refused_when_it_would_mix_administration_and_use(keys, expected):
    assert_rejected([expected], dev=replace(DEV, keys=keys))


def test_the_app_source_arn_must_be_of_this_account_and_region():
    assert_rejected(
        [
            "dev.access.app_source_arn = 'arn:aws:ecs:us-east-1:999999999999:*' is not allowed: None, or an ARN pattern of this "
            "environment's account and region, such as arn:aws:ecs:us-east-1:111111111111:*"
        ],
        dev=replace(DEV, access=replace(DEV.access, app_source_arn="arn:aws:ecs:us-east-1:999999999999:*")),
    )
    (dev,) = config.load("dev", {**config.ENVIRONMENTS, "dev": replace(DEV, access=replace(DEV.access, app_source_arn=CLUSTER_TASKS))})
    assert dev.access.app_source_arn == CLUSTER_TASKS


CLUSTER_TASKS = "arn:aws:ecs:us-east-1:111111111111:task/data-apps/*"


def test_the_app_role_trust_follows_config():
    from stacks.naming import app_principal_conditions as trust

    assert trust(DEV) == {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {"aws:SourceArn": "arn:aws:ecs:us-east-1:111111111111:*"},
    }
    assert trust(replace(DEV, access=replace(DEV.access, app_source_arn=CLUSTER_TASKS)))["ArnLike"] == {"aws:SourceArn": CLUSTER_TASKS}
    # Another service: only this account, since no SourceArn is known for it.
    assert trust(replace(DEV, access=replace(DEV.access, app_service_principal="lambda.amazonaws.com"))) == {
        "StringEquals": {"aws:SourceAccount": "111111111111"}
    }


# --- the audit trail

ORG_TRAIL = "arn:aws:cloudtrail:us-east-1:999999999999:trail/organization"


@pytest.mark.parametrize(
    "trail, expected",
    [
        (
            AuditTrailConfig(mode="off"),
            "staging.audit_trail.mode = 'off' is not allowed: create or organization where tables are deletion-protected",
        ),
        (AuditTrailConfig(mode="cloudtrail"), "staging.audit_trail.mode = 'cloudtrail' is not allowed: create, organization or off"),
        (
            AuditTrailConfig(mode="organization"),
            "staging.audit_trail.organization_trail_arn = None is not allowed: the organization trail's ARN",
        ),
        (
            AuditTrailConfig(mode="create", organization_trail_arn=ORG_TRAIL),
            f"staging.audit_trail.organization_trail_arn = {ORG_TRAIL!r} is not allowed: None unless mode is organization",
        ),
        (AuditTrailConfig(mode="create", retention_days=0), "staging.audit_trail.retention_days = 0 is not allowed"),
        (AuditTrailConfig(mode="create", object_lock="LEGAL"), "staging.audit_trail.object_lock = 'LEGAL' is not allowed"),
        (
            AuditTrailConfig(mode="create", reader_arns=("arn:aws:iam::999999999999:role/Auditor",)),
            "staging.audit_trail.reader_arns[0] = 'arn:aws:iam::999999999999:role/Auditor' is not allowed: an ARN in this "
            "environment's (222222222222) account",
        ),
    ],
    ids=[
        "off where protected",
        "unknown mode",
        "organization without arn",
        "arn without organization",
        "retention",
        "lock",
        "foreign reader",
    ],
)
def test_audit_trail_mistakes_are_named(trail, expected):
    assert_rejected([expected], staging=replace(STAGING, audit_trail=trail))


def test_an_organization_trail_of_a_trusted_account_is_accepted():
    staging = replace(STAGING, audit_trail=AuditTrailConfig(mode="organization", organization_trail_arn=ORG_TRAIL))
    assert_rejected(["staging.audit_trail.organization_trail_arn", "list 999999999999 in trusted_accounts"], staging=staging)
    (loaded,) = config.load("staging", {**config.ENVIRONMENTS, "staging": replace(staging, trusted_accounts=("999999999999",))})
    assert loaded.audit_trail.mode == "organization"


def test_a_cold_rule_needs_its_days_in_the_table(monkeypatch):
    from config import retention
    from config.rules.retention import check_rules

    broken = {**retention.RETENTION, ("daylight", "Users"): retention.RetentionRule(tier="cold", days=2555, table_days=2555)}
    monkeypatch.setattr(retention, "RETENTION", broken)
    problems = check_rules({"daylight": {"Users": "expiresAt"}})
    assert (
        "retention[daylight.Users].table_days = 2555 is not allowed: a cold table's days in the table, a whole number > 0 "
        "and < days (2555); the archive keeps the rest"
    ) in problems


def test_database_backups_have_no_cold_storage_and_are_required_with_backup():
    cold = BackupRuleConfig(name="monthly", schedule="cron(0 6 1 * ? *)", move_to_cold_storage_after_days=30, delete_after_days=365)
    assert_rejected(
        [
            "staging.database.backup_rules[0].move_to_cold_storage_after_days = 30 is not allowed: None: AWS Backup keeps no Aurora backups in cold storage"
        ],
        staging=replace(STAGING, database=replace(STAGING.database, backup_rules=(cold,))),
    )
    assert_rejected(
        ["staging.database.backup_rules = () is not allowed: at least one rule when backup is enabled"],
        staging=replace(STAGING, database=replace(STAGING.database, backup_rules=())),
    )


# --- off-site copies


@pytest.mark.parametrize(
    "env, offsite, backup, expected",
    [
        ("prod", OffsiteConfig(), None, "prod.offsite.region = None is not allowed: a second region where protection is 'production'"),
        (
            "prod",
            OffsiteConfig(region="us-east-1"),
            None,
            "prod.offsite.region = 'us-east-1' is not allowed: an AWS region other than the environment's (us-east-1)",
        ),
        ("prod", OffsiteConfig(region="us-west-9"), None, "prod.offsite.region = 'us-west-9' is not allowed: an AWS region other than"),
        ("dev", OffsiteConfig(region="us-west-2"), None, "dev.offsite.region = 'us-west-2' is not allowed: None unless backup.enabled"),
        (
            "prod",
            OffsiteConfig(region="us-west-2", account_vault_arn="arn:aws:backup:us-west-2:999999999999:vault"),
            None,
            "prod.offsite.account_vault_arn = 'arn:aws:backup:us-west-2:999999999999:vault' is not allowed: a backup vault ARN",
        ),
        (
            "prod",
            OffsiteConfig(region="us-west-2", account_vault_arn="arn:aws:backup:us-west-2:999999999999:backup-vault:central"),
            None,
            "prod.offsite.account_vault_arn = 'arn:aws:backup:us-west-2:999999999999:backup-vault:central' is not allowed: an ARN in "
            "this environment's (333333333333) account; list 999999999999 in trusted_accounts",
        ),
    ],
    ids=["prod without", "same region", "unknown region", "nothing to copy", "not a vault", "foreign vault"],
)
def test_offsite_mistakes_are_named(env, offsite, backup, expected):
    assert_rejected([expected], **{env: replace(ENVS[env], offsite=offsite)})


def test_system_budgets_name_a_system_and_fit_the_environments_budget():
    assert_rejected(
        ["prod.system_budgets_usd['payments'] = 'payments' is not allowed: a system key: "],
        prod=replace(PROD, system_budgets_usd={"payments": 10}),
    )
    assert_rejected(
        ["prod.system_budgets_usd = {'daylight': 6000} is not allowed: shares adding up to at most monthly_budget_usd (5000), not 6000"],
        prod=replace(PROD, system_budgets_usd={"daylight": 6000}),
    )
    assert_rejected(
        ["dev.tags['CostCenter'] = None is not allowed: set: the environment's budget filters on it"], dev=replace(DEV, tags={})
    )


CONFIG_MODULES = sorted(
    ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for path in (ROOT / "config").rglob("*.py")
)


# Imports each module as if first: every config module forgotten before the next import, so an
# import cycle, which only breaks the module imported first, shows; and none may start the CDK.
IMPORT_EACH_ALONE = """
import importlib, sys
for module in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "config" or m.startswith("config.")]:
        del sys.modules[loaded]
    importlib.import_module(module)
    assert "aws_cdk" not in sys.modules and "jsii" not in sys.modules, (module, "started the CDK")
print(len(sys.argv) - 1)
"""


def test_each_config_module_imports_alone_without_the_cdk():
    """Config is layered in one direction (config/__init__.py): any module imports on its own."""
    assert len(CONFIG_MODULES) > 10, CONFIG_MODULES
    done = subprocess.run([sys.executable, "-c", IMPORT_EACH_ALONE, *CONFIG_MODULES], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == str(len(CONFIG_MODULES)), done.stderr[-2000:]


# What the tools import to know a name or a plain value: none may start the CDK (jsii and Node,
# a second or more, and from a fresh HOME several while jsii unpacks its package cache).
CDK_FREE = (
    "stacks.naming",
    "constructs_lib.props",
    "constructs_lib.arns",
    "tools.preflight.checks",
    "tools.preflight.resources",
    "tools.db_bootstrap",
)


def test_names_and_the_preflight_checks_import_without_the_cdk():
    assert cdk_modules_after("import importlib\nfor m in sys.argv[1:]: importlib.import_module(m)", *CDK_FREE) == "[]"


def test_no_config_module_imports_a_private_name_from_another():
    private = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in (ROOT / "config").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if line.lstrip().startswith("from config")
        and any(name.strip().startswith("_") for name in line.split(" import ", 1)[-1].split(","))
    ]
    assert private == []


# --- tenant isolation: opted into per table, and able to match each table's partition key


def _madmall_with(table, listed: tuple[str, ...]):
    from config.catalogue import MADMALL

    rule = replace(MADMALL.tenant_isolation, tables=listed)
    return replace(MADMALL, tables=(*MADMALL.tables, table), tenant_isolation=rule)


NOTIFICATIONS = TableSpec(
    id="Notifications", name="madmall-{env}-notifications", partition_key=Key("userId"), serves="a user's notifications", holds=("phi",)
)


def test_a_new_table_is_not_confined_by_the_tenant_rule_unless_listed():
    from config.rules.catalogue import tenant_problems

    assert tenant_problems(_madmall_with(NOTIFICATIONS, ("Main",))) == []


def test_a_tenant_pattern_that_cannot_match_a_listed_tables_key_is_refused():
    from config.rules.catalogue import tenant_problems

    (line,) = tenant_problems(_madmall_with(NOTIFICATIONS, ("Main", "Notifications")))
    assert line == (
        "catalogue madmall: tenant_isolation: pattern 'USER#${aws:PrincipalTag/userId}' can never match Notifications's "
        "partition key userId (S): a key named userId holds the bare id, so the pattern must be '${aws:PrincipalTag/userId}'; "
        "or leave Notifications out of tenant_isolation.tables"
    )


@pytest.mark.parametrize(
    "listed, expected",
    [
        ((), "tenant_isolation.tables is empty: list the table ids it confines (a table opts in; none inherits the rule)"),
        (("Main", "Nope"), "tenant_isolation.tables names 'Nope', which is not a table of madmall"),
    ],
)
def test_a_tenant_rule_names_the_tables_it_confines(listed, expected):
    from config.rules.catalogue import tenant_problems

    problems = tenant_problems(_madmall_with(NOTIFICATIONS, listed))
    assert any(expected in line for line in problems), problems


def test_a_bare_pattern_cannot_match_a_composed_key():
    from config.catalogue import PERSONALPOD
    from config.rules.catalogue import tenant_problems

    composed = TableSpec(id="Feed", name="personalpod-{env}-feed", partition_key=Key("PK"), serves="x", holds=())
    rule = replace(PERSONALPOD.tenant_isolation, tables=(*PERSONALPOD.tenant_isolation.tables, "Feed"))
    (line,) = tenant_problems(replace(PERSONALPOD, tables=(*PERSONALPOD.tables, composed), tenant_isolation=rule))
    assert "can never match Feed's partition key PK (S): PK holds composed values, so the pattern needs their prefix" in line


# --- sample items against the catalogue (config/rules/samples.py)


def test_the_shipped_samples_fit_the_catalogue():
    from config.rules.samples import sample_problems

    assert config.SYSTEMS and sample_problems(config.SYSTEMS, ROOT / "samples") == []


@pytest.mark.parametrize(
    "item, expected",
    [
        ({"PK": "USER#u1"}, "t.json: tables['Main'][0] lacks the sort key 'SK' (S)"),
        ({"PK": 7, "SK": "x"}, "t.json: tables['Main'][0] has PK = 7, which is not of the partition key's type S"),
        ({"PK": "a", "SK": "b", "GSI1PK": 3}, "t.json: tables['Main'][0] has GSI1PK = 3, which is not of the key of index GSI1's type S"),
        ("nope", "t.json: tables['Main'][0] is not an item (a JSON object)"),
    ],
)
def test_a_bad_sample_item_is_one_line_naming_file_table_item_and_key(item, expected):
    from config.catalogue import MADMALL
    from config.rules.samples import item_problems

    assert item_problems("t.json: tables['Main'][0]", MADMALL.table("Main"), item)[:1] == [expected]


def test_a_sample_file_naming_an_unknown_table_is_refused(tmp_path):
    from config.catalogue import MADMALL
    from config.rules.samples import sample_problems

    (tmp_path / "madmall.json").write_text('{"tables": {"Mian": []}}')
    assert sample_problems([MADMALL], tmp_path) == [f"{tmp_path / 'madmall.json'}: tables['Mian'] is not a table of madmall: one of Main"]


@pytest.mark.parametrize(
    "env, backup_changes, expected",
    [
        (
            "prod",
            {"vault_lock_mode": "governance"},
            "prod.backup.vault_lock_mode = 'governance' is not allowed: 'compliance' where protection is 'production'",
        ),
        (
            "prod",
            {"vault_lock_max_retention_days": 100},
            "prod.backup.vault_lock_max_retention_days = 100 is not allowed: set with the lock, >= the longest rule's delete_after_days and the minimum (365)",
        ),
        (
            "prod",
            {"vault_lock_max_retention_days": None},
            "prod.backup.vault_lock_max_retention_days = None is not allowed: set with the lock",
        ),
        ("staging", {"vault_lock_mode": "soft"}, "staging.backup.vault_lock_mode = 'soft' is not allowed: compliance or governance"),
        (
            "staging",
            {"restore_principal_arns": ("DataRestore",)},
            "staging.backup.restore_principal_arns[0] = 'DataRestore' is not allowed: an IAM role ARN",
        ),
        (
            "staging",
            {"vault_lock_min_retention_days": None, "vault_lock_max_retention_days": 400},
            "staging.backup.vault_lock_max_retention_days = 400 is not allowed: None unless vault_lock_min_retention_days is set",
        ),
    ],
)
def test_a_vault_lock_needs_a_maximum_and_production_a_compliance_lock(env, backup_changes, expected):
    cfg = ENVS[env]
    assert_rejected([expected], **{env: replace(cfg, backup=replace(cfg.backup, **backup_changes))})


def test_database_people_mistakes_are_named():
    from config.model import DatabasePerson

    staging = config.ENVIRONMENTS["staging"]
    alice = DatabasePerson(name="alice", principal_arn="arn:aws:iam::222222222222:role/Alice")
    people = (
        alice,
        DatabasePerson(name="alice", principal_arn="arn:aws:iam::222222222222:role/Other"),
        DatabasePerson(name="bob", principal_arn=alice.principal_arn),
        DatabasePerson(name="Robert'); DROP", principal_arn="arn:aws:iam::999999999999:role/Bob"),
        DatabasePerson(name="personalpod_admin", principal_arn="arn:aws:iam::222222222222:role/Admin"),
    )
    database = replace(staging.database, people=people, bootstrap_principal_arn=staging.access.migration_principal_arns[0])
    assert_rejected(
        [
            "staging.database.people[1].name = 'alice' is not allowed: each person once: database.people[0] has it already",
            "staging.database.people[2].principal_arn = 'arn:aws:iam::222222222222:role/Alice' is not allowed: each person once",
            'staging.database.people[3].name = "Robert\'); DROP" is not allowed: a PostgreSQL user name',
            "staging.database.people[3].principal_arn = 'arn:aws:iam::999999999999:role/Bob' is not allowed: an IAM role ARN",
            "staging.database.people[4].name = 'personalpod_admin' is not allowed",
            "staging.database.bootstrap_principal_arn = 'arn:aws:iam::222222222222:role/DataMigration' is not allowed: a non-human identity",
        ],
        staging=replace(staging, database=database),
    )


def test_fewer_alarms_or_dashboards_only_where_the_data_is_rebuildable():
    staging, dev = config.ENVIRONMENTS["staging"], config.ENVIRONMENTS["dev"]
    assert dev.alarms.scopes == ("account",) and dev.dashboards == "overview"  # dev declines them (docs/cost.md)
    assert_rejected(
        ["staging.alarms.scopes = ('account',) is not allowed: None where protection is 'protected'"],
        staging=replace(staging, alarms=replace(staging.alarms, scopes=("account",))),
    )
    assert_rejected(
        ["dev.alarms.scopes = ('table',) is not allowed: None (every scope) or a tuple of"],
        dev=replace(dev, alarms=replace(dev.alarms, scopes=("table",))),
    )
    assert_rejected(["dev.dashboards = 'some' is not allowed: all or overview"], dev=replace(dev, dashboards="some"))


# --- multi-Region strong consistency (issue 27) ----------------------------------------------


def strong(*tables: str, witness: str | None = "us-west-2", regions: tuple[str, ...] = ("us-east-2",)) -> dict:
    """Staging with replicas in `regions` (archive streams ready for them) and MRSC tables."""
    from config.model import StrongConsistencyConfig

    key = "arn:aws:kms:{}:222222222222:key/00000000-0000-0000-0000-000000000000"
    return {
        "replicas": tuple(ReplicaConfig(region=r, kms_key_arn=key.format(r)) for r in regions),
        "archive": replace(STAGING.archive, stream_view="NEW_AND_OLD_IMAGES"),
        "strong_consistency": StrongConsistencyConfig(tables=tables, witness_region=witness),
    }


def test_strong_consistency_with_a_witness_or_three_regions_is_valid():
    load_with(staging=replace(STAGING, **strong("daylight.ApiKeys", "fusion-health.Entries")))
    load_with(staging=replace(STAGING, **strong("daylight.Roles", witness=None, regions=("us-east-2", "us-west-2"))))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (strong("daylight.Nope"), ["staging.strong_consistency.tables[0] = 'daylight.Nope'", "a catalogue table as 'system.TableId'"]),
        (strong("daylight.ApiKeys", "daylight.ApiKeys"), ["staging.strong_consistency.tables[1] = 'daylight.ApiKeys'", "each table once"]),
        (
            strong("daylight.Users"),
            ["staging.strong_consistency.tables[0] = 'daylight.Users'", "a table without TTL: MRSC tables do not support it"],
        ),
        (
            strong("daylight.ApiKeys", witness=None),
            ["staging.replicas = ('us-east-2',)", "two regions for the MRSC tables (or one and a strong_consistency.witness_region)"],
        ),
        (
            strong("daylight.ApiKeys", regions=("us-east-2", "us-west-1")),
            ["staging.replicas = ('us-east-2', 'us-west-1')", "one region for the MRSC tables (with the witness us-west-2"],
        ),
        (
            strong("daylight.ApiKeys", regions=("eu-west-1",), witness="us-west-2"),
            ["staging.replicas[0].region = 'eu-west-1'", "a region of us-east-1's MRSC region set: us-east-1, us-east-2, us-west-2"],
        ),
        (
            strong("daylight.ApiKeys", witness="eu-west-1"),
            ["staging.strong_consistency.witness_region = 'eu-west-1'", "a region of us-east-1's MRSC region set"],
        ),
        (
            strong("daylight.ApiKeys", witness="us-east-2"),
            ["staging.strong_consistency.witness_region = 'us-east-2'", "other than the environment's (us-east-1) and its replicas'"],
        ),
        (strong(), ["staging.strong_consistency.witness_region = 'us-west-2'", "None while strong_consistency.tables is empty"]),
    ],
    ids=[
        "unknown",
        "twice",
        "ttl",
        "too few regions",
        "too many regions",
        "replica elsewhere",
        "witness elsewhere",
        "witness is a replica",
        "witness alone",
    ],
)
def test_strong_consistency_refuses_what_dynamodb_does_not_support(change, expected):
    assert_rejected(expected, staging=replace(STAGING, **change))


def test_strong_consistency_refuses_a_table_with_local_indexes():
    from config.catalogue import SYSTEMS
    from config.rules import replication
    from constructs_lib.specs import LocalIndexSpec

    with_lsi = [
        replace(
            s,
            tables=tuple(
                replace(t, local_indexes=(LocalIndexSpec(name="by-x", sort_key=Key("x"), serves="x"),)) if t.id == "Roles" else t
                for t in s.tables
            ),
        )
        if s.key == "daylight"
        else s
        for s in SYSTEMS
    ]
    p = Problems("staging")
    replication.check(p, replace(STAGING, **strong("daylight.Roles")), with_lsi)
    assert p.lines == [
        "staging.strong_consistency.tables[0] = 'daylight.Roles' is not allowed: a table without local secondary indexes: MRSC tables do not support them"
    ]

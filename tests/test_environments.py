"""Environments and tables are data: a fourth environment and an extra table, added to config
alone, synthesize, are judged by the guard, are listed by preflight's placeholder check and are
priced by the cost estimate; the tests' expectations (tests/expected.py) follow them; and every
physical name the templates hold is one config validation checks (config/rules/names.py).

One synthesis of the fixture app (the shipped environments plus `qa`, the catalogue plus
MADMall's `Notifications`) serves the module.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import pytest

import config
from config import ENVIRONMENTS, SYSTEMS
from config.model import AccessConfig, KeyConfig
from config.rules import problems
from config.rules.names import physical_names
from constructs_lib.specs import IndexSpec, Key, TableSpec
from stacks import naming, stage
from tests.expected import pinned_ids, table_count
from tests.support import new_app, resources
from tools import cost
from tools.assembly import Stack
from tools.guard import compare
from tools.preflight import run

QA_ACCOUNT = "444444444444"  # a placeholder, like the shipped accounts
NOTIFICATIONS = TableSpec(
    id="Notifications",
    name="madmall-{env}-notifications",
    partition_key=Key("userId"),
    sort_key=Key("createdAt"),
    indexes=(IndexSpec(name="unread-index", partition_key=Key("userId"), sort_key=Key("readAt"), serves="a user's unread notifications"),),
    ttl_attribute="expiresAt",
    serves="a user's notifications, newest first",
)


def _qa() -> config.EnvironmentConfig:
    """A copy of the environment that deploys second, as a new `qa` in its own account."""
    second = sorted(ENVIRONMENTS.values(), key=lambda cfg: cfg.deploy_order)[1]
    role = f"arn:aws:iam::{QA_ACCOUNT}:role"
    return dataclasses.replace(
        second,
        name="qa",
        account=QA_ACCOUNT,
        deploy_order=max(cfg.deploy_order for cfg in ENVIRONMENTS.values()) + 1,
        access=AccessConfig(readonly_principal_arns=(f"{role}/DataAnalyst",), migration_principal_arns=(f"{role}/DataMigration",)),
        keys=KeyConfig(administrator_arns=(f"{role}/KeyAdministrator",), break_glass_arn=f"{role}/BreakGlass"),
        tags={**second.tags, "CostCenter": "data-platform-qa"},
    )


def _catalogue():
    return tuple(
        dataclasses.replace(system, tables=(*system.tables, NOTIFICATIONS)) if system.key == "madmall" else system for system in SYSTEMS
    )


@pytest.fixture(scope="module")
def fixture_app(tmp_path_factory):
    """(environments, catalogue, stacks by name) of the fixture app, synthesized once."""
    environments = {**ENVIRONMENTS, "qa": _qa()}
    catalogue = _catalogue()
    assert problems(environments, catalogue) == [], "the fixture config must be valid"
    with pytest.MonkeyPatch.context() as patch:
        for module in (stage, naming):  # the modules that read the catalogue while building
            patch.setattr(module, "SYSTEMS", catalogue)
        app = new_app(outdir=str(tmp_path_factory.mktemp("fixture-app")))
        stages = [stage.DataStage(app, config=cfg) for cfg in environments.values()]
        app.synth()
        stacks = {
            artifact.stack_name: Stack(
                name=artifact.stack_name,
                environment=built.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                source=artifact.template_full_path,
            )
            for built in stages
            for artifact in built.synth().stacks
        }
    return environments, catalogue, stacks, app.outdir


def test_a_fourth_environment_synthesizes_every_stack_it_should(fixture_app):
    environments, catalogue, stacks, _ = fixture_app
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stage, "SYSTEMS", catalogue)
        expected = stage.stack_names(environments["qa"])
    assert expected and sorted(name for name in stacks if name.endswith("-qa")) == sorted(expected)


def test_the_expectations_follow_an_extra_table_in_every_environment(fixture_app):
    environments, catalogue, stacks, _ = fixture_app
    assert table_count(catalogue) == table_count() + 1
    for env, cfg in environments.items():
        madmall = stacks[f"madmall-{env}"].template
        stateful = {lid for lid, r in madmall["Resources"].items() if r["Type"] in ("AWS::DynamoDB::GlobalTable", "AWS::KMS::Key")}
        assert stateful == pinned_ids("madmall", cfg, catalogue), env
        table = resources(madmall, "AWS::DynamoDB::GlobalTable")["TableNotifications"]["Properties"]
        assert table["TableName"] == f"madmall-{env}-notifications"
        assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["unread-index"]
        assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
        alarms = {a["Properties"]["AlarmName"] for a in resources(madmall, "AWS::CloudWatch::Alarm").values()}
        assert {f"madmall-{env}-notifications-unread-index-read-throttles", f"madmall-{env}-notifications-latency"} <= alarms


def test_the_tenant_rule_does_not_reach_the_extra_table(fixture_app):
    """The new table is keyed on the bare userId and not listed in MADMall's tenant rule: the
    tenant role does not reach it (its USER# pattern could never match it)."""
    _, _, stacks, _ = fixture_app
    tenant = next(p for p in resources(stacks["madmall-qa"].template, "AWS::IAM::ManagedPolicy").values() if "tenant" in str(p))
    assert "TableNotifications" not in str(tenant["Properties"]["PolicyDocument"]) and "TableMain" in str(tenant)


def test_the_guard_judges_the_fourth_environment(fixture_app, monkeypatch):
    _, _, stacks, _ = fixture_app
    baseline = {name: s for name, s in stacks.items() if name.endswith("-qa")}
    candidate = copy.deepcopy(baseline)
    users = candidate["therapeutic-wave-qa"].template["Resources"]["TableUsers"]["Properties"]
    users["KeySchema"] = [{"AttributeName": "userKey", "KeyType": "HASH"}]
    users["Replicas"][0]["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": False}
    found = {(f.rule, f.stack, f.resource) for f in compare(baseline, candidate)}
    assert ("STATEFUL-REPLACE", "therapeutic-wave-qa", "TableUsers") in found
    # qa is "protected" (a copy of the second environment): its weakened PITR is a hazard.
    assert ("PROTECTION-WEAKENED", "therapeutic-wave-qa", "TableUsers") in found


def test_preflights_offline_check_lists_the_fourth_environments_placeholders(fixture_app):
    environments, _, _, _ = fixture_app
    lines = [str(line) for line in run(environments["qa"], offline=True)]
    text = "\n".join(lines)
    assert f"qa.account = '{QA_ACCOUNT}'" in text or "qa.account" in text, text
    assert QA_ACCOUNT in text and "placeholder" in text, text


def test_make_cost_prices_the_fourth_environment(fixture_app, monkeypatch, capsys):
    environments, _, _, outdir = fixture_app
    monkeypatch.setattr(config.environments, "ENVIRONMENTS", environments)
    assert cost.main(["--env", "qa", outdir]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\bqa\b", out) and "USD" in out, out
    assert str(environments["qa"].monthly_budget_usd) in out.replace(",", ""), out


NAMED = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Pipes::Pipe": "Name",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
}


def test_every_physical_name_built_from_an_environment_is_one_validation_checks(fixture_app):
    """config/rules/names.py repeats the stacks' name patterns to check them before synth: a
    name in the templates that it does not know would escape that check."""
    environments, catalogue, stacks, _ = fixture_app
    for env, cfg in environments.items():
        checked = {name for name, _ in physical_names(cfg, catalogue)}
        assert f"data-tables-{env}" in checked
        built = {
            value
            for stack in stacks.values()
            if stack.environment == env
            for r in stack.template["Resources"].values()
            if isinstance(value := r.get("Properties", {}).get(NAMED.get(r["Type"], "")), str)
        }
        assert built, env
        assert built - checked == set(), f"{env}: names config/rules/names.py does not check: {sorted(built - checked)}"

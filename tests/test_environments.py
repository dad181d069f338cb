"""Environments and tables are data: a fourth environment and an extra table, added to config
alone, synthesize, are judged by the guard, are listed by preflight's placeholder check and are
priced by the cost estimate; the tests' expectations (tests/expected.py) follow them; and every
physical name the templates hold is one config validation checks (config/rules/names.py).

The session's one fixture app (tests/fixture_app.py: the shipped environments plus `qa`, the
catalogue plus MADMall's `Notifications`) serves them all.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re

import pytest

import config
from config.rules.names import physical_names
from stacks import stage
from tests.expected import pinned_ids, table_count
from tests.fixture_app import QA_ACCOUNT, QA_REPLICA_REGION
from tests.support import resources
from tools import cost
from tools.guard import compare
from tools.preflight import run


def test_a_fourth_environment_synthesizes_every_stack_it_should(fixture_app):
    environments, catalogue, stacks = fixture_app.environments, fixture_app.catalogue, fixture_app.stacks
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stage, "SYSTEMS", catalogue)
        expected = stage.stack_names(environments["qa"])
    assert expected and sorted(name for name in stacks if name.endswith("-qa")) == sorted(expected)


def test_the_expectations_follow_an_extra_table_in_every_environment(fixture_app):
    environments, catalogue, stacks = fixture_app.environments, fixture_app.catalogue, fixture_app.stacks
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
        wanted = {f"madmall-{env}-notifications-unread-index-read-throttles", f"madmall-{env}-notifications-latency"}
        assert (wanted <= alarms) if cfg.alarms.alarms_on("table") else not (wanted & alarms), env


def test_the_tenant_rule_does_not_reach_the_extra_table(fixture_app):
    """The new table is keyed on the bare userId and not listed in MADMall's tenant rule: the
    tenant role does not reach it (its USER# pattern could never match it)."""
    stacks = fixture_app.stacks
    tenant = next(p for p in resources(stacks["madmall-qa"].template, "AWS::IAM::ManagedPolicy").values() if "tenant" in str(p))
    assert "TableNotifications" not in str(tenant["Properties"]["PolicyDocument"]) and "TableMain" in str(tenant)


def test_the_guard_judges_the_fourth_environment(fixture_app, monkeypatch):
    stacks = fixture_app.stacks
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
    environments = fixture_app.environments
    lines = [str(line) for line in run(environments["qa"], offline=True)]
    text = "\n".join(lines)
    assert f"qa.account = '{QA_ACCOUNT}'" in text or "qa.account" in text, text
    assert QA_ACCOUNT in text and "placeholder" in text, text


def test_make_cost_prices_the_fourth_environment(fixture_app, monkeypatch, capsys):
    environments, outdir = fixture_app.environments, fixture_app.outdir
    monkeypatch.setattr(config.environments, "ENVIRONMENTS", environments)
    assert cost.main(["--env", "qa", outdir]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\bqa\b", out) and "USD" in out, out
    assert str(environments["qa"].monthly_budget_usd) in out.replace(",", ""), out


NAMED = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::Backup::LogicallyAirGappedBackupVault": "BackupVaultName",
    "AWS::Backup::RestoreTestingPlan": "RestoreTestingPlanName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Pipes::Pipe": "Name",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
}


def test_every_physical_name_built_from_an_environment_is_one_validation_checks(fixture_app):
    """config/rules/names.py repeats the stacks' name patterns to check them before synth: a
    name in the templates that it does not know would escape that check."""
    environments, catalogue, stacks = fixture_app.environments, fixture_app.catalogue, fixture_app.stacks
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


def test_the_air_gapped_vault_name_is_checked_before_synth():
    """Its suffix is two characters longer than the off-site vault's: a name that fits one may
    not fit the other, and CloudFormation would refuse it mid-deploy."""
    from config.environments import ENVIRONMENTS
    from config.rules.names import check

    (gapped,) = [cfg for cfg in ENVIRONMENTS.values() if cfg.offsite.air_gapped]
    name = "a" * (50 - len("data-tables--offsite"))  # the off-site vault's name is exactly 50 characters
    lines = check({name: dataclasses.replace(gapped, name=name)}, config.SYSTEMS)
    assert [line for line in lines if "a backup vault name" in line] == [
        f"{name}.name = {name!r} is not allowed: it makes a backup vault name 'data-tables-{name}-airgapped' (52 characters), "
        "and a backup vault name is at most 50 characters of ^[A-Za-z0-9_.-]+$; choose a shorter name"
    ]


def test_a_replica_region_gets_the_tables_and_streams_policies(fixture_app):
    """qa has a replica region: every replica carries its table's policy, and every archived
    table's replica its stream policy, on the NEW_AND_OLD_IMAGES stream replicas require."""
    from config.retention import archived

    qa = fixture_app.environments["qa"]
    assert [r.region for r in qa.replicas] == [QA_REPLICA_REGION] and qa.archive.stream_view == "NEW_AND_OLD_IMAGES"
    archived_names = {
        qa.table_name(system, table_id, fixture_spec(fixture_app, system, table_id).name) for system, table_id, _ in archived()
    }
    tables = [
        res["Properties"]
        for stack in fixture_app.stacks.values()
        if stack.environment == "qa"
        for res in resources(stack.template, "AWS::DynamoDB::GlobalTable").values()
    ]
    assert len(tables) == table_count(fixture_app.catalogue)
    streamed = 0
    for table in tables:
        by_region = {r["Region"]: r for r in table["Replicas"]}
        assert sorted(by_region) == sorted([qa.region, QA_REPLICA_REGION]), table["TableName"]
        home, replica = by_region[qa.region], by_region[QA_REPLICA_REGION]
        assert replica["ResourcePolicy"] == home["ResourcePolicy"], table["TableName"]
        statements = {st["Sid"] for st in replica["ResourcePolicy"]["PolicyDocument"]["Statement"]}
        assert "DenyPolicyAndRecoveryChangesExceptBreakGlassAndDeployer" in statements, table["TableName"]
        if table["TableName"] in archived_names:
            streamed += 1
            assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
            policy = replica["ReplicaStreamSpecification"]["ResourcePolicy"]
            assert policy == home["ReplicaStreamSpecification"]["ResourcePolicy"], table["TableName"]
        else:
            # TableV2 streams every replicated table for replication itself (no reader of ours).
            assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES", table["TableName"]
    assert streamed == len(archived_names) > 0


def fixture_spec(fixture_app, system: str, table_id: str):
    (found,) = [s.table(table_id) for s in fixture_app.catalogue if s.key == system]
    return found


def test_qa_replicates_one_table_with_strong_consistency_and_the_rest_eventually(fixture_app):
    """qa: the strong table has its witness and no replication-latency alarm or widget (MRSC
    publishes none); every other table stays eventual, as before, with both."""
    from tests.fixture_app import QA_STRONG_TABLE, QA_WITNESS_REGION

    qa = fixture_app.environments["qa"]
    system, table_id = QA_STRONG_TABLE.split(".")
    strong_name = qa.table_name(system, table_id, fixture_spec(fixture_app, system, table_id).name)
    qa_stacks = [s for s in fixture_app.stacks.values() if s.environment == "qa"]
    tables = {
        r["Properties"]["TableName"]: r["Properties"]
        for s in qa_stacks
        for r in resources(s.template, "AWS::DynamoDB::GlobalTable").values()
    }
    assert strong_name in tables and len(tables) > 1
    for name, table in tables.items():
        if name == strong_name:
            assert table["MultiRegionConsistency"] == "STRONG"
            assert table["GlobalTableWitnesses"] == [{"Region": QA_WITNESS_REGION}]
            assert sorted(r["Region"] for r in table["Replicas"]) == sorted([qa.region, QA_REPLICA_REGION])
        else:
            # Eventual is DynamoDB's default: the property is left out, so no existing table changes.
            assert "MultiRegionConsistency" not in table and "GlobalTableWitnesses" not in table, name
    alarms = {r["Properties"]["AlarmName"] for s in qa_stacks for r in resources(s.template, "AWS::CloudWatch::Alarm").values()}
    latency = {name for name in alarms if "-replication-latency-" in name}
    assert latency == {f"{name}-replication-latency-{QA_REPLICA_REGION}" for name in tables if name != strong_name}
    (daylight,) = [s for s in qa_stacks if s.name == f"{system}-qa"]
    (dashboard,) = resources(daylight.template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert f"{strong_name}: replication latency" not in body and ": replication latency" in body

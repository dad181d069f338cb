"""Restore tests on a schedule (constructs_lib/restore_tests.py; issue 27): every table and the
cluster the catalogue and config declare, restored under the environment's keys and deleted
after the configured hours; a failed restore pages, a week without one alarms.

The restore job events follow AWS Backup's "Restore Job State Change" shape (AWS Backup
developer guide, "Monitoring AWS Backup events using Amazon EventBridge"; fields as in
DescribeRestoreJob), matched by moto's EventBridge pattern engine.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from botocore.stub import ANY
from moto.events.models import EventPattern

import config
from config.catalogue import SYSTEMS
from config.model import RestoreTestingConfig
from constructs_lib.restore_tests import restore_test_selections
from stacks import naming
from tests.expected import ENVS
from tests.support import new_app, resources
from tests.test_config import assert_rejected

TESTED = [env for env in ENVS if config.ENVIRONMENTS[env].backup.restore_testing]
assert TESTED and set(TESTED) != set(ENVS), "the tests need an environment with restore tests and one without"


def selections(synthesized, env: str) -> dict[str, list[dict]]:
    """Stack name -> its restore testing selections' properties."""
    found = {}
    for stack in (s for s in synthesized.values() if s.environment == env):
        props = [r["Properties"] for r in resources(stack.template, "AWS::Backup::RestoreTestingSelection").values()]
        if props:
            found[stack.name] = props
    return found


@pytest.mark.parametrize("env", TESTED)
def test_every_table_and_the_cluster_is_restored_under_its_own_key_and_deleted_after_the_configured_hours(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    tests = cfg.backup.restore_testing
    role = naming.role_arn(cfg, naming.restore_tests_role_name(cfg))
    found = selections(synthesized, env)
    # Derived from the catalogue: every system stack selects each of its tables, once.
    for system in SYSTEMS:
        stack = naming.stack_name(cfg, system.key)
        chosen = [arn for props in found[stack] for arn in props["ProtectedResourceArns"]]
        assert sorted(chosen, key=json.dumps) == sorted(
            ({"Fn::GetAtt": [spec.logical_id, "Arn"]} for spec in system.tables), key=json.dumps
        ), stack
        for props in found[stack]:
            assert props["ProtectedResourceType"] == "DynamoDB" and len(props["ProtectedResourceArns"]) <= 30
            assert props["RestoreMetadataOverrides"] == {"encryptionType": "KMS", "kmsMasterKeyArn": {"Fn::GetAtt": ["KeyData", "Arn"]}}
            assert props["IamRoleArn"] == role and props["ValidationWindowHours"] == tests.keep_hours
            assert props["RestoreTestingPlanName"] == naming.restore_tests_plan_name(cfg)
    (cluster,) = found[f"personalpod-database-{env}"]
    assert cluster["ProtectedResourceType"] == "Aurora" and len(cluster["ProtectedResourceArns"]) == 1
    overrides = cluster["RestoreMetadataOverrides"]
    assert overrides["kmsKeyId"] == {"Fn::GetAtt": ["KeyDatabase", "Arn"]}
    assert overrides["dbSubnetGroupName"] == {"Ref": "DatabaseClusterSubnets5540150D"}
    assert "DatabaseClusterSecurityGroup98A24926" in json.dumps(overrides["vpcSecurityGroupIds"])
    assert cluster["IamRoleArn"] == role
    assert sum(len(p) for p in found.values()) == len(SYSTEMS) + 1  # no system has more than 30 tables
    # The plan: the latest recovery point in the environment's vault, on config's schedule.
    platform = synthesized[f"data-platform-{env}"].template
    (plan,) = [r["Properties"] for r in resources(platform, "AWS::Backup::RestoreTestingPlan").values()]
    assert plan["RestoreTestingPlanName"] == naming.restore_tests_plan_name(cfg)
    assert plan["ScheduleExpression"] == tests.schedule and plan["StartWindowHours"] == tests.start_window_hours
    assert plan["RecoveryPointSelection"] == {
        "Algorithm": "LATEST_WITHIN_WINDOW",
        "IncludeVaults": [f"arn:aws:backup:{cfg.region}:{cfg.account}:backup-vault:{naming.backup_vault_name(cfg)}"],
        "RecoveryPointTypes": ["SNAPSHOT"],
        "SelectionWindowDays": tests.window_days,
    }


def test_environments_without_restore_tests_have_none(synthesized):
    for env in set(ENVS) - set(TESTED):
        assert not selections(synthesized, env), env
        assert not resources(synthesized[f"data-platform-{env}"].template, "AWS::Backup::RestoreTestingPlan"), env


def test_more_than_thirty_resources_are_split_into_selections_of_thirty():
    stack = Stack(new_app(), "S", env={"account": "111111111111", "region": "us-east-1"})
    arns = [f"arn:aws:dynamodb:us-east-1:111111111111:table/t{i}" for i in range(65)]
    made = restore_test_selections(
        stack, plan_name="p", name="big", resource_type="DynamoDB", resource_arns=arns, role_arn="r", overrides={}, keep_hours=1
    )
    assert len(made) == 3
    props = sorted(
        Template.from_stack(stack).find_resources("AWS::Backup::RestoreTestingSelection").values(),
        key=lambda r: r["Properties"]["RestoreTestingSelectionName"],
    )
    assert [p["Properties"]["RestoreTestingSelectionName"] for p in props] == ["big_1", "big_2", "big_3"]
    assert [len(p["Properties"]["ProtectedResourceArns"]) for p in props] == [30, 30, 5]
    assert sum((p["Properties"]["ProtectedResourceArns"] for p in props), []) == arns


@pytest.mark.parametrize("env", TESTED)
def test_the_restore_tests_role_may_use_each_key_it_restores_under_through_its_service(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    role = naming.role_arn(cfg, naming.restore_tests_role_name(cfg))
    checked = 0
    for stack_name, key, sid, service in [
        *((naming.stack_name(cfg, s.key), "KeyData", "RestoreTestsCreateTables", "dynamodb") for s in SYSTEMS),
        (f"personalpod-database-{env}", "KeyDatabase", "RestoreTestsCreateClusters", "rds"),
        (f"data-platform-{env}", "KeyBackup", "RestoreTestsReadRecoveryPoints", "backup"),
    ]:
        statements = {s.get("Sid"): s for s in synthesized[stack_name].template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]}
        statement = statements[sid]
        assert statement["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [role], (stack_name, sid)
        assert f"{service}.{cfg.region}.amazonaws.com" in statement["Condition"]["StringEquals"]["kms:ViaService"], (stack_name, sid)
        checked += 1
    assert checked == len(SYSTEMS) + 2
    (role_props,) = [
        r["Properties"]
        for r in resources(synthesized[f"data-platform-{env}"].template, "AWS::IAM::Role").values()
        if r["Properties"].get("RoleName") == naming.restore_tests_role_name(cfg)
    ]
    assert role_props["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "backup.amazonaws.com"}
    assert role_props["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}


@pytest.mark.parametrize("env", TESTED)
def test_a_week_without_a_completed_restore_alarms(synthesized, env):
    """A run that never happened produces no event: the alarm counts missing days as breaching,
    over 7 days, CloudWatch's longest evaluation range (a day's period, seven periods)."""
    cfg = config.ENVIRONMENTS[env]
    platform = synthesized[f"data-platform-{env}"].template
    (alarm,) = [
        r["Properties"]
        for r in resources(platform, "AWS::CloudWatch::Alarm").values()
        if r["Properties"]["AlarmName"] == f"{naming.restore_tests_plan_name(cfg).replace('_', '-')}-missed"
    ]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Backup", "NumberOfRestoreJobsCompleted", "Sum")
    assert alarm["Period"] * alarm["EvaluationPeriods"] == 7 * 86400 and alarm["DatapointsToAlarm"] == alarm["EvaluationPeriods"]
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching" and alarm["AlarmActions"]


def restore_event(cfg, status: str, role: str | None) -> dict:
    detail: dict = {
        "restoreJobId": "6D3EB2D8-FC7E-4B4E-9D5A-0000000000AA",
        "status": status,
        "resourceType": "DynamoDB",
        "createdResourceArn": f"arn:aws:dynamodb:{cfg.region}:{cfg.account}:table/awsbackup-restore-test-1",
    }
    if role is not None:
        detail["iamRoleArn"] = naming.role_arn(cfg, role)
    return {"version": "0", "id": "1", "detail-type": "Restore Job State Change", "source": "aws.backup", "account": cfg.account,
            "time": "2026-12-07T07:00:00Z", "region": cfg.region, "resources": [], "detail": detail}  # fmt: skip


def matches(props: dict, event: dict) -> bool:
    return EventPattern.load(json.dumps(props["EventPattern"])).matches_event(event)


@pytest.mark.parametrize("env", TESTED)
def test_failed_restores_page_and_completed_ones_page_unless_the_restore_tests_made_them(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    rules = {lid: r["Properties"] for lid, r in resources(synthesized[f"data-platform-{env}"].template, "AWS::Events::Rule").items()}
    (failed,) = [p for lid, p in rules.items() if lid.startswith("TamperAlertsRestoreFailed")]
    (completed,) = [p for lid, p in rules.items() if lid.startswith("TamperAlertsRestoreCompleted")]
    tests = naming.restore_tests_role_name(cfg)
    for status in ("FAILED", "ABORTED"):
        assert matches(failed, restore_event(cfg, status, tests)) and matches(failed, restore_event(cfg, status, "DataRestore"))
    assert not matches(failed, restore_event(cfg, "COMPLETED", tests)) and not matches(failed, restore_event(cfg, "RUNNING", "DataRestore"))
    assert matches(completed, restore_event(cfg, "COMPLETED", "DataRestore"))  # somebody has a copy now
    assert matches(completed, restore_event(cfg, "COMPLETED", None))  # no role field: pages rather than stays silent
    assert not matches(completed, restore_event(cfg, "COMPLETED", tests))
    assert not matches(completed, restore_event(cfg, "FAILED", "DataRestore"))
    for props in (failed, completed):
        (target,) = props["Targets"]
        paths = target["InputTransformer"]["InputPathsMap"]
        assert set(paths.values()) >= {"$.detail.status", "$.detail.createdResourceArn", "$.detail.iamRoleArn", "$.region"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"backup": "disabled"}, "staging.backup.restore_testing = 'set' is not allowed: None unless backup.enabled"),
        ({"schedule": "weekly"}, "staging.backup.restore_testing.schedule = 'weekly' is not allowed: cron(...) or rate("),
        ({"keep_hours": 0}, "staging.backup.restore_testing.keep_hours = 0 is not allowed: a whole number from 1 to 168"),
        ({"window_days": 400}, "staging.backup.restore_testing.window_days = 400 is not allowed: a whole number from 1 to 365"),
    ],
    ids=["without backups", "schedule", "keep hours", "window"],
)
def test_restore_testing_mistakes_are_named(change, message):
    staging = config.ENVIRONMENTS["staging"]
    tests = RestoreTestingConfig(**{k: v for k, v in change.items() if k != "backup"})
    backup = replace(staging.backup, restore_testing=tests, **({"enabled": False} if "backup" in change else {}))
    assert_rejected([message], staging=replace(staging, backup=backup))


# --- the validator: a restored table must hold items when its source does -------------------

PLAN = "arn:aws:backup:us-east-1:222222222222:restore-testing-plan:data_restore_tests_staging-abc"
JOB = "6D3EB2D8-FC7E-4B4E-9D5A-0000000000AA"
COPY = "arn:aws:dynamodb:us-east-1:222222222222:table/awsbackup-restore-test-1"
SOURCE = "arn:aws:dynamodb:us-east-1:222222222222:table/daylight-staging-users"
POINT = "arn:aws:backup:us-east-1:222222222222:recovery-point:0123"


def stubbed(service: str):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def job(**changed) -> dict:
    found = {
        "RestoreJobId": JOB,
        "Status": "COMPLETED",
        "ResourceType": "DynamoDB",
        "CreatedResourceArn": COPY,
        "RecoveryPointArn": POINT,
        "CreatedBy": {"RestoreTestingPlanArn": PLAN},
    }
    return {**found, **changed}


@pytest.mark.parametrize(
    ("copy_count", "source_items", "verdict"),
    [(1, 120, "SUCCESSFUL"), (0, 0, "SUCCESSFUL"), (0, 120, "FAILED")],
    ids=["copy holds items", "source empty too", "copy empty, source not"],
)
def test_the_validator_counts_one_item_of_the_copy_against_its_source(copy_count, source_items, verdict):
    from constructs_lib.lambdas.restore_validation import RestoreValidationFailed, validate

    backup, backup_stub = stubbed("backup")
    dynamodb, dynamodb_stub = stubbed("dynamodb")
    backup_stub.add_response("describe_restore_job", job(), {"RestoreJobId": JOB})
    # An older API answer without SourceResourceArn: the source comes from the recovery point.
    backup_stub.add_response(
        "describe_recovery_point", {"ResourceArn": SOURCE}, {"BackupVaultName": "data-tables-staging", "RecoveryPointArn": POINT}
    )
    dynamodb_stub.add_response("describe_table", {"Table": {"ItemCount": source_items}}, {"TableName": "daylight-staging-users"})
    # Select=COUNT: the answer holds a count and no item.
    dynamodb_stub.add_response(
        "scan", {"Count": copy_count, "ScannedCount": copy_count}, {"TableName": "awsbackup-restore-test-1", "Limit": 1, "Select": "COUNT"}
    )
    backup_stub.add_response(
        "put_restore_validation_result", {}, {"RestoreJobId": JOB, "ValidationStatus": verdict, "ValidationStatusMessage": ANY}
    )
    event = {"source": "aws.backup", "detail-type": "Restore Job State Change", "detail": {"restoreJobId": JOB, "status": "COMPLETED"}}
    with backup_stub, dynamodb_stub:
        if verdict == "FAILED":
            with pytest.raises(RestoreValidationFailed, match="is empty, but its source .*daylight-staging-users holds about 120 items"):
                validate(event, backup, dynamodb, plan_arn=PLAN, vault="data-tables-staging")
        else:
            assert validate(event, backup, dynamodb, plan_arn=PLAN, vault="data-tables-staging") == verdict
        backup_stub.assert_no_pending_responses()
        dynamodb_stub.assert_no_pending_responses()


@pytest.mark.parametrize(
    "changed",
    [{"CreatedBy": {}}, {"CreatedBy": {"RestoreTestingPlanArn": PLAN + "x"}}, {"ResourceType": "Aurora"}, {"Status": "FAILED"}],
    ids=["a person's restore", "another plan", "the cluster", "not completed"],
)
def test_the_validator_leaves_other_jobs_alone(changed):
    from constructs_lib.lambdas.restore_validation import validate

    backup, backup_stub = stubbed("backup")
    dynamodb, dynamodb_stub = stubbed("dynamodb")
    backup_stub.add_response("describe_restore_job", job(**changed), {"RestoreJobId": JOB})
    with backup_stub, dynamodb_stub:
        assert validate({"detail": {"restoreJobId": JOB}}, backup, dynamodb, plan_arn=PLAN, vault="v") == "skipped"
        backup_stub.assert_no_pending_responses()


def test_the_validator_names_a_malformed_event():
    from constructs_lib.lambdas.restore_validation import validate

    with pytest.raises(ValueError, match=r"no restoreJobId in the event's detail: \['status'\]"):
        validate({"detail": {"status": "COMPLETED"}}, None, None, plan_arn=PLAN, vault="v")


@pytest.mark.parametrize("env", TESTED)
def test_the_validator_is_deployed_with_its_code_its_narrow_role_and_an_error_alarm(synthesized, env):
    from constructs_lib.restore_tests import VALIDATION_CODE

    cfg = config.ENVIRONMENTS[env]
    tpl = synthesized[f"data-platform-{env}"].template
    name = naming.restore_validation_name(cfg)
    (function,) = [r["Properties"] for r in resources(tpl, "AWS::Lambda::Function").values() if r["Properties"].get("FunctionName") == name]
    assert function["Code"]["ZipFile"] == VALIDATION_CODE.read_text()  # what the reviewer read is what runs
    assert function["Runtime"].startswith("python3.") and function["ReservedConcurrentExecutions"] == 2
    assert function["Environment"]["Variables"]["BACKUP_VAULT_NAME"] == naming.backup_vault_name(cfg)
    assert "KmsKeyArn" in function
    (rule,) = [r["Properties"] for lid, r in resources(tpl, "AWS::Events::Rule").items() if lid.startswith("RestoreTestsValidateRestores")]
    assert rule["EventPattern"] == {
        "source": ["aws.backup"],
        "detail-type": ["Restore Job State Change"],
        "detail": {"status": ["COMPLETED"]},
    }
    # Every completed restore reaches it (it skips the ones not of the plan); nothing else does.
    assert matches(rule, restore_event(cfg, "COMPLETED", naming.restore_tests_role_name(cfg)))
    assert matches(rule, restore_event(cfg, "COMPLETED", "DataRestore"))
    assert not matches(rule, restore_event(cfg, "FAILED", naming.restore_tests_role_name(cfg)))
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 2}
    (policy,) = [
        r["Properties"] for r in resources(tpl, "AWS::IAM::ManagedPolicy").values() if "validator" in r["Properties"].get("Description", "")
    ]
    actions = {
        a for st in policy["PolicyDocument"]["Statement"] for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])
    }
    assert actions == {
        "backup:DescribeRestoreJob",
        "backup:PutRestoreValidationResult",
        "backup:DescribeRecoveryPoint",
        "dynamodb:Scan",
        "dynamodb:DescribeTable",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    (scan,) = [st for st in policy["PolicyDocument"]["Statement"] if st["Action"] == "dynamodb:Scan"]
    assert scan["Resource"] == f"arn:aws:dynamodb:{cfg.region}:{cfg.account}:table/awsbackup-restore-test-*"
    alarms = {r["Properties"]["AlarmName"]: r["Properties"] for r in resources(tpl, "AWS::CloudWatch::Alarm").values()}
    errors = alarms[f"{name}-errors"]
    assert errors["MetricName"] == "Errors" and errors["Threshold"] == 1 and errors["AlarmActions"]
    # Each system key lets it count a copy through DynamoDB, nothing more.
    for system in SYSTEMS:
        statements = synthesized[f"{system.key}-{env}"].template["Resources"]["KeyData"]["Properties"]["KeyPolicy"]["Statement"]
        (grant,) = [s for s in statements if s.get("Sid") == "RestoreValidationCounts"]
        assert grant["Action"] == "kms:Decrypt" and grant["Condition"]["StringEquals"]["kms:ViaService"] == [
            f"dynamodb.{cfg.region}.amazonaws.com"
        ]

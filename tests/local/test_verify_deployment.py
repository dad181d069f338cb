"""`python -m tools verify` (tools.local.verify; tools/verify-deployment wraps it) against the
local stand-in: a faithful copy has no drift, and each kind of injected drift is reported, on the
drifted table only. Tests that inject drift create their own tables (another region, or an
environment no other test uses)."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from tests.local.helpers import CREDENTIALS, ROOT, aws_session, cli_env, in_process, in_region, local_stack, recreate, tool, write_assembly
from tools.local import verify


# moto 5.2.5 keeps no table class (its DescribeTable has no TableClassSummary), so a
# Standard-IA table of the templates reads as STANDARD there. That one drift is moto's, not the
# stand-in's; test_a_table_class_drift_is_reported checks the comparison itself.
def _moto_gap(drift) -> bool:
    return drift.what == "table class" and (drift.expected, drift.found) == ("STANDARD_INFREQUENT_ACCESS", "STANDARD")


def _verify(endpoint, tables):
    return [d for d in verify.verify(tables, aws_session("us-east-1"), endpoint) if not _moto_gap(d)]


class _WithTableClass:
    """A DynamoDB client whose DescribeTable answers with a table class, as AWS does."""

    def __init__(self, client, table_class: str) -> None:
        self._client, self._class = client, table_class

    def __getattr__(self, name):
        return getattr(self._client, name)

    def describe_table(self, **kwargs):
        answer = self._client.describe_table(**kwargs)
        answer["Table"]["TableClassSummary"] = {"TableClass": self._class}
        return answer


def _without_table_class(stack):
    """The stack as moto can mirror it: no table class (see _moto_gap)."""
    template = json.loads(json.dumps(stack.template))
    for res in template["Resources"].values():
        for replica in res.get("Properties", {}).get("Replicas", []) if res["Type"] == "AWS::DynamoDB::GlobalTable" else []:
            replica.pop("TableClass", None)
    return dataclasses.replace(stack, template=template)


def test_a_table_class_drift_is_reported(moto_endpoint, env_tables):
    (audit,) = [dataclasses.replace(t, region="ca-west-1") for t in env_tables("dev") if t.name == "daylight-dev-audit_logs"]
    assert audit.table_class == "STANDARD_INFREQUENT_ACCESS"
    recreate(moto_endpoint, [audit])
    dynamodb, kms = local_stack.clients(moto_endpoint, "ca-west-1")
    assert verify.Checker(_WithTableClass(dynamodb, "STANDARD_INFREQUENT_ACCESS"), kms).check(audit) == []
    (drift,) = verify.Checker(_WithTableClass(dynamodb, "STANDARD"), kms).check(audit)
    assert str(drift) == "daylight-dev-audit_logs: table class: expected STANDARD_INFREQUENT_ACCESS, found STANDARD"


def test_the_dev_stand_in_has_no_drift(moto_endpoint, dev_stack):
    """The tables `make local` creates match the templates in every checked setting."""
    assert dev_stack["tables"]
    assert _verify(moto_endpoint, dev_stack["tables"]) == []


def test_every_injected_drift_is_reported_on_its_table(moto_endpoint, env_tables):
    tables = in_region(env_tables("prod"), "eu-central-1")
    assert tables
    recreate(moto_endpoint, tables)
    assert _verify(moto_endpoint, tables) == []  # prod's settings (PITR, protection, capacity) are mirrored too
    dynamodb, kms = local_stack.clients(moto_endpoint, "eu-central-1")
    dynamodb.update_continuous_backups(
        TableName="daylight-prod-users", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    dynamodb.update_time_to_live(TableName="daylight-prod-plans", TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"})
    roles_arn = dynamodb.describe_table(TableName="daylight-prod-roles")["Table"]["TableArn"]
    dynamodb.tag_resource(ResourceArn=roles_arn, Tags=[{"Key": "Environment", "Value": "dev"}])
    dynamodb.untag_resource(ResourceArn=roles_arn, TagKeys=["CostCenter"])
    dynamodb.update_table(TableName="daylight-prod-permissions", DeletionProtectionEnabled=False)
    dynamodb.update_table(
        TableName="therapeutic-wave-sessions-prod", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "userId-startTime-index"}}]
    )
    # Provisioned capacity is a per-system choice (config): drift whichever tables have it.
    with_index, without_index = _provisioned_pair(tables)
    index = with_index.indexes[0]
    dynamodb.update_table(TableName=without_index.name, BillingMode="PAY_PER_REQUEST")
    dynamodb.update_table(TableName=with_index.name, ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    dynamodb.update_table(
        TableName=with_index.name,
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": index.name, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}
        ],
    )
    dynamodb.update_table(TableName="daylight-prod-error_logs", DeletionProtectionEnabled=False)
    dynamodb.delete_table(TableName="daylight-prod-error_logs")
    dynamodb.update_table(TableName="personalpod-prod-cache", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    dynamodb.update_table(
        TableName="personalpod-prod-activity",
        AttributeDefinitions=[
            *dynamodb.describe_table(TableName="personalpod-prod-activity")["Table"]["AttributeDefinitions"],
            {"AttributeName": "action", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by-action",
                    "KeySchema": [{"AttributeName": "action", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
                }
            }
        ],
    )
    # The alias now names another key: the table is no longer encrypted with the stack's key.
    kms.update_alias(
        AliasName="alias/madmall-prod-data", TargetKeyId=kms.create_key(Description="not the stack's key")["KeyMetadata"]["KeyId"]
    )

    drifts = {(d.table, d.what): (d.expected, d.found) for d in _verify(moto_endpoint, tables)}

    madmall_encryption = drifts.pop(("madmall-prod-main", "encryption"))
    assert madmall_encryption[0] != madmall_encryption[1] and madmall_encryption[0].startswith("KMS key arn:aws:kms:eu-central-1:")
    assert drifts == {
        ("daylight-prod-users", "point-in-time recovery"): ("enabled, 35 days", "disabled"),
        ("daylight-prod-plans", "TTL attribute"): ("expiresAt", "disabled"),
        ("daylight-prod-roles", "tag Environment"): ("prod", "dev"),
        ("daylight-prod-roles", "tag CostCenter"): ("data-platform-prod", "no such tag"),
        ("daylight-prod-permissions", "deletion protection"): (True, False),
        ("therapeutic-wave-sessions-prod", "index userId-startTime-index"): ("present", "missing"),
        (without_index.name, "billing mode"): ("PROVISIONED", "PAY_PER_REQUEST"),
        (with_index.name, "read capacity"): (f"{with_index.capacity.read_min}-{with_index.capacity.read_max}", 1),
        (with_index.name, "write capacity"): (f"{with_index.capacity.write_min}-{with_index.capacity.write_max}", 1),
        (with_index.name, f"index {index.name} read capacity"): (f"{index.capacity.read_min}-{index.capacity.read_max}", 1),
        (with_index.name, f"index {index.name} write capacity"): (f"{index.capacity.write_min}-{index.capacity.write_max}", 1),
        ("daylight-prod-error_logs", "table"): ("to exist", "no such table"),
        ("personalpod-prod-cache", "stream"): ("disabled", "NEW_IMAGE"),
        ("personalpod-prod-activity", "index by-action"): ("no such index", "present"),
    }


def _provisioned_pair(tables):
    """A provisioned table with a GSI and another provisioned table, not among those drifted above."""
    provisioned = [
        t for t in tables if t.billing_mode == "PROVISIONED" and t.system not in ("daylight", "therapeutic-wave", "personalpod", "madmall")
    ]
    with_index = next(t for t in provisioned if t.indexes)
    return with_index, next(t for t in provisioned if t is not with_index)


def _cli(endpoint: str, *args: str) -> subprocess.CompletedProcess:
    # Endpoint and credentials the usual way, through the environment, as after a deploy.
    env = cli_env(
        PATH="/usr/bin:/bin",
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return subprocess.run([*tool("verify"), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def verify_here(moto_endpoint, monkeypatch, capsys):
    """_cli's in-process twin: the same environment, the same result shape."""
    return in_process(
        verify.main,
        monkeypatch,
        capsys,
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )


def test_the_command_prints_each_drift_and_exits_1(moto_endpoint, synthesized, env_tables, tmp_path):
    # Staging in the stacks' own region is this test's alone (the others use other regions or dev).
    region = "us-east-1"
    assembly = write_assembly(tmp_path / "cdk.out", [_without_table_class(s) for s in synthesized.values() if s.environment == "staging"])
    tables = env_tables("staging")
    assert {t.region for t in tables} == {region}
    recreate(moto_endpoint, tables)

    clean = _cli(moto_endpoint, "--env", "staging", "--assembly", str(assembly))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert clean.stdout.splitlines()[-1] == f"{len(tables)} tables checked: no drift"

    dynamodb, _ = local_stack.clients(moto_endpoint, region)
    dynamodb.update_continuous_backups(
        TableName="fusion-health-entries-staging", PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    dynamodb.update_table(TableName="madmall-staging-main", DeletionProtectionEnabled=False)
    drifted = _cli(moto_endpoint, "--env", "staging", "--assembly", str(assembly))
    assert drifted.returncode == 1
    assert drifted.stdout.splitlines()[1:] == [
        "DRIFT fusion-health-entries-staging: point-in-time recovery: expected enabled, 35 days, found disabled",
        "DRIFT madmall-staging-main: deletion protection: expected True, found False",
        f"{len(tables)} tables checked: 2 drifts in 2 tables",
    ]


def test_the_command_exits_2_when_it_cannot_check(verify_here, synthesized, tmp_path):
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    unknown = verify_here("--env", "qa", "--assembly", str(assembly))
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == f"error: no environment 'qa' in {assembly}; it has dev"
    missing = verify_here("--env", "dev", "--assembly", str(tmp_path / "nowhere"))
    assert missing.returncode == 2
    assert "manifest.json not found: run `make synth` first" in missing.stderr


def test_the_wrapper_script_runs_the_tool_from_any_directory(synthesized, tmp_path):
    """tools/verify-deployment from another cwd, with a relative --assembly: the path is the
    caller's, the tool is found through the wrapper's own location."""
    help_ = subprocess.run([str(ROOT / "tools" / "verify-deployment"), "--help"], capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert help_.returncode == 0, help_.stderr
    assert "--env" in help_.stdout and "Exit code: 0 no drift, 1 drift, 2 could not check." in help_.stdout
    write_assembly(tmp_path / "here" / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }  # no PYTHONPATH: the wrapper's job
    unknown = subprocess.run(
        [str(ROOT / "tools" / "verify-deployment"), "--env", "qa", "--assembly", "here/cdk.out"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == "error: no environment 'qa' in here/cdk.out; it has dev"


def test_a_restored_table_is_checked_against_its_original_and_told_what_to_set(
    moto_endpoint, verify_here, synthesized, env_tables, tmp_path
):
    """A restore (PITR or backup) brings keys, indexes and items back, not TTL, PITR, deletion
    protection or tags: verify --restored says what to set before the copy replaces the original."""
    import dataclasses

    region = "ap-southeast-2"  # this test's alone
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "prod"])
    (users,) = [t for t in env_tables("prod") if t.name == "daylight-prod-users"]
    restored = dataclasses.replace(users, name="daylight-prod-users-restored", region=region)
    recreate(moto_endpoint, [restored])
    dynamodb, _ = local_stack.clients(moto_endpoint, region)
    # As restore-table-to-point-in-time leaves it: keys, indexes, the key; no TTL, PITR, protection, tags.
    dynamodb.update_time_to_live(TableName=restored.name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"})
    dynamodb.update_continuous_backups(TableName=restored.name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
    dynamodb.update_table(TableName=restored.name, DeletionProtectionEnabled=False)
    arn = dynamodb.describe_table(TableName=restored.name)["Table"]["TableArn"]
    dynamodb.untag_resource(ResourceArn=arn, TagKeys=list(restored.tags))
    restored_args = ["--restored", "daylight-prod-users-restored", "--as", "daylight-prod-users", "--region", region]
    result = verify_here("--env", "prod", "--assembly", str(assembly), *restored_args)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == "1 tables checked: " + f"{len(lines) - 2} drifts in 1 tables"
    drifts = "\n".join(lines)
    for what in (
        "TTL attribute: expected expiresAt",
        "point-in-time recovery: expected enabled, 35 days",
        "deletion protection: expected True",
        "tag Environment",
    ):
        assert f"DRIFT daylight-prod-users-restored: {what}" in drifts, drifts
    assert "key schema" not in drifts and "index" not in drifts  # what a restore does bring back
    unknown = verify_here("--env", "prod", "--assembly", str(assembly), "--restored", "x", "--as", "daylight-prod-nope")
    assert unknown.returncode == 2 and "prod has no table 'daylight-prod-nope' in its templates" in unknown.stderr

"""`python -m tools preflight` (tools.preflight): each check passes on a ready account and fails
on a missing or wrong piece, against the session's moto server where moto has the API, with
botocore's Stubber where it has not (AWS Chatbot, RDS engine versions, AWS Backup's region
settings). Every test works in a region of its own, so no other test's resources are seen."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from config.environments import DEV, ENVIRONMENTS, PROD, STAGING
from config.model import (
    AccessConfig,
    AlertConfig,
    AuditTrailConfig,
    BackupConfig,
    CiConfig,
    KeyConfig,
    OffsiteConfig,
    ReplicaConfig,
    SlackConfig,
)
from tests.local.helpers import CREDENTIALS, ROOT, cli_env, tool, write_assembly
from tools.assembly import Stack
from tools.bootstrap import execution_policies
from tools.preflight import checks, placeholders, resources, run, synthesized
from tools.preflight.aws import Aws
from tools.preflight.checks import Context
from tools.preflight.offline import walk

# One botocore session for the whole module: it loads each service's model once, where a new
# session per test would load them again (most of a test's time). Every Aws still makes its
# own clients, so a Stubber on one never reaches another test.
_BOTOCORE = botocore.session.get_session()


def session(*, region_name: str, **credentials: str) -> boto3.Session:
    return boto3.Session(region_name=region_name, botocore_session=_BOTOCORE, **credentials)


MOTO_ACCOUNT = "123456789012"  # the account moto answers as
PROD_PLACEHOLDERS = {
    "prod.account": "333333333333",
    "prod.alerts.emails[0]": "data-oncall@example.com",
    "prod.alerts.slack.workspace_id": "T00000000",
    "prod.alerts.slack.channel_id": "C00000000",
    "prod.alerts.external_topic_arn": "arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall",
    "prod.access.readonly_principal_arns[0]": "arn:aws:iam::333333333333:role/DataAnalyst",
    "prod.access.migration_principal_arns[0]": "arn:aws:iam::333333333333:role/DataMigration",
    "prod.database.people[0].principal_arn": "arn:aws:iam::333333333333:role/DatabaseOnCall",
    "prod.database.bootstrap_principal_arn": "arn:aws:iam::333333333333:role/DatabaseBootstrap",
    "prod.keys.administrator_arns[0]": "arn:aws:iam::333333333333:role/KeyAdministrator",
    "prod.keys.break_glass_arn": "arn:aws:iam::333333333333:role/BreakGlass",
    "prod.backup.restore_principal_arns[0]": "arn:aws:iam::333333333333:role/DataRestore",
    "prod.ci.github_owner": "example-org",
}


def ready(region: str, **changes: object):
    """PROD with every placeholder replaced by a real-looking value, in moto's account."""
    values: dict[str, object] = {
        "account": MOTO_ACCOUNT,
        "region": region,
        "alerts": AlertConfig(emails=("oncall@acme.io",), slack=SlackConfig(workspace_id="T0123ABCD", channel_id="C0123ABCD")),
        "access": AccessConfig(),
        "keys": KeyConfig(
            administrator_arns=(f"arn:aws:iam::{MOTO_ACCOUNT}:role/KeyAdministrator",),
            break_glass_arn=f"arn:aws:iam::{MOTO_ACCOUNT}:role/BreakGlass",
        ),
        "ci": CiConfig(github_owner="acme"),
        # No restore role: the principals tests name the roles they create.
        "backup": dataclasses.replace(PROD.backup, restore_principal_arns=()),
        # Off-site copies get a test of their own (test_bootstrap_covers_the_offsite_region).
        "offsite": OffsiteConfig(),
        # Nobody signs in to the database, and nothing runs db-bootstrap: the principals tests
        # name the roles they create.
        "database": dataclasses.replace(PROD.database, people=(), bootstrap_principal_arn=None),
    }
    return dataclasses.replace(PROD, **{**values, **changes})


@pytest.fixture
def aws_at(moto_endpoint, monkeypatch):
    """aws_at(region): an Aws on the moto server, as boto3 finds it from AWS_ENDPOINT_URL."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    return lambda region: Aws(session(region_name=region, **CREDENTIALS))


def context(aws: Aws, cfg, assembly: Path = Path("/nonexistent")) -> Context:
    return Context(cfg, aws, MOTO_ACCOUNT, assembly)


def one(lines) -> object:
    lines = list(lines)
    assert len(lines) == 1, lines
    return lines[0]


def bootstrap_rule(refused: list[int]) -> dict:
    """The CheckBootstrapVersion rule as `cdk synth` writes it (see any template in cdk.out)."""
    contains = [[str(v) for v in refused], {"Ref": "BootstrapVersion"}]
    return {"CheckBootstrapVersion": {"Assertions": [{"Assert": {"Fn::Not": [{"Fn::Contains": contains}]}, "AssertDescription": "..."}]}}


def assembly_with(root: Path, env: str, *, refused: list[int] | None = None, engine: str | None = None) -> Path:
    template: dict = {"Resources": {}}
    if refused is not None:
        template["Rules"] = bootstrap_rule(refused)
    if engine is not None:
        template["Resources"]["Cluster"] = {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {"Engine": "aurora-postgresql", "EngineVersion": engine},
        }
    stack = Stack(f"personalpod-database-{env}", env, template, account=MOTO_ACCOUNT, region="us-east-1")
    return write_assembly(root, [stack])


def create_toolkit(aws: Aws, region: str, version: str, qualifier: str = "hnb659fds", policies: str | None = None) -> None:
    """A CDKToolkit stack as `make bootstrap ENV=prod` leaves it (its execution policies), or
    with `policies` ("" : CDK's default, AdministratorAccess)."""
    if policies is None:
        policies = ",".join(f"arn:aws:iam::{MOTO_ACCOUNT}:policy/data-cfn-exec-prod-{i}" for i in range(1, len(execution_policies()) + 1))
    template = {
        "Parameters": {
            "Qualifier": {"Type": "String", "Default": qualifier},
            "CloudFormationExecutionPolicies": {"Type": "CommaDelimitedList", "Default": policies},
        },
        "Resources": {
            "Version": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {"Type": "String", "Name": f"/cdk-bootstrap/{qualifier}/version", "Value": version},
            }
        },
        "Outputs": {"BootstrapVersion": {"Value": version}},
    }
    aws.client("cloudformation", region).create_stack(StackName="CDKToolkit", TemplateBody=json.dumps(template))


# --- 1. placeholders (offline)


def test_every_placeholder_of_prod_is_named_by_its_key():
    found = placeholders(PROD)
    assert {key: value for key, value, _ in found} == PROD_PLACEHOLDERS
    assert all(todo for _, _, todo in found)
    assert dict((k, t) for k, _, t in found)["prod.account"] == "set the real AWS account id in config/environments.py"


@pytest.mark.parametrize("cfg", [DEV, STAGING, PROD], ids=lambda c: c.name)
def test_every_shipped_environment_still_has_its_placeholder_account(cfg):
    keys = {key for key, _, _ in placeholders(cfg)}
    assert {f"{cfg.name}.account", f"{cfg.name}.alerts.emails[0]", f"{cfg.name}.ci.github_owner"} <= keys


def test_a_ready_config_has_no_placeholder_and_passes_offline():
    cfg = ready("us-east-1")
    assert placeholders(cfg) == []
    line = one(run(cfg, offline=True))
    assert line.status == "PASS" and line.check == "placeholders"
    assert f"({sum(1 for _ in walk(cfg))} values looked at)" in line.seen


def test_placeholders_are_found_in_any_field_nested_or_new():
    """A field the preflight has never heard of is walked too: dataclasses, tuples, mappings."""

    @dataclasses.dataclass(frozen=True)
    class Copy:
        region: str
        key_arn: str

    @dataclasses.dataclass(frozen=True)
    class Future:
        name: str
        copies: tuple[Copy, ...]
        owners: dict[str, str]

    future = Future(
        name="prod",
        copies=(
            Copy(region="us-west-2", key_arn="arn:aws:kms:us-west-2:123456789012:key/x"),
            Copy(region="eu-west-1", key_arn="arn:aws:kms:eu-west-1:222222222222:key/y"),
        ),
        owners={"team": "owner@sub.example.com", "repo": "example-org"},
    )
    assert [key for key, _, _ in placeholders(future)] == ["prod.copies[1].key_arn", "prod.owners['team']", "prod.owners['repo']"]
    replica = ready("us-east-1", replicas=(ReplicaConfig(region="us-west-2", kms_key_arn="arn:aws:kms:us-west-2:111111111111:key/abc"),))
    assert [key for key, _, _ in placeholders(replica)] == ["prod.replicas[0].kms_key_arn"]


def test_an_account_id_inside_a_longer_number_is_not_a_placeholder():
    cfg = ready("us-east-1", tags={"Ref": "41111111111114", "Owner": "ops@example.company.io"})
    assert placeholders(cfg) == []


# --- 2. identity


def test_identity_passes_in_the_configs_account_and_region(aws_at):
    lines, account = checks.identity(ready("ap-southeast-2"), aws_at("ap-southeast-2"))
    assert account == MOTO_ACCOUNT
    assert [line.status for line in lines] == ["PASS", "PASS"], lines


def test_identity_fails_naming_both_accounts_and_both_regions(aws_at):
    lines, _ = checks.identity(dataclasses.replace(PROD, region="us-east-1"), aws_at("eu-west-1"))
    assert [line.status for line in lines] == ["FAIL", "FAIL"], lines
    assert MOTO_ACCOUNT in lines[0].seen and "'333333333333'" in lines[0].seen
    assert "eu-west-1" in lines[1].seen and "'us-east-1'" in lines[1].seen and "AWS_REGION=us-east-1" in lines[1].todo


def test_refused_credentials_fail_identity_and_skip_the_other_aws_checks():
    aws = Aws(session(region_name="sa-east-1", **CREDENTIALS))
    with Stubber(aws.client("sts", "sa-east-1")) as sts:
        sts.add_client_error("get_caller_identity", "ExpiredToken", "The security token included in the request is expired")
        lines = list(run(ready("sa-east-1"), aws=aws))
    assert [(line.status, line.check) for line in lines] == [
        ("PASS", "placeholders"),
        ("FAIL", "identity"),
        ("SKIP", "aws checks"),
    ]
    assert "ExpiredToken" in lines[1].seen and "aws sso login" in lines[1].todo


# --- 3. bootstrap


ACTIVE_TAGS = {
    "CostAllocationTags": [
        {"TagKey": "CostCenter", "Type": "UserDefined", "Status": "Active"},
        {"TagKey": "System", "Type": "UserDefined", "Status": "Active"},
    ]
}


def test_inactive_cost_allocation_tags_fail_with_the_command_to_activate_them():
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    ctx = context(aws, ready("us-east-1"))
    with Stubber(aws.client("ce", resources.COST_EXPLORER_REGION)) as ce:
        ce.add_response(
            "list_cost_allocation_tags", {"CostAllocationTags": [{"TagKey": "CostCenter", "Type": "UserDefined", "Status": "Inactive"}]}
        )
        (line,) = resources.cost_tags(ctx, ("CostCenter", "System"))
    assert line.status == "FAIL"
    assert line.seen == "CostCenter (Inactive), System (never seen on a resource): the budgets filter on them and would count nothing"
    assert "TagKey=CostCenter,Status=Active TagKey=System,Status=Active" in line.todo
    with Stubber(aws.client("ce", resources.COST_EXPLORER_REGION)) as ce:
        ce.add_response("list_cost_allocation_tags", ACTIVE_TAGS)
        (line,) = resources.cost_tags(ctx, ("CostCenter", "System"))
    assert line.status == "PASS"


def test_bootstrap_covers_the_offsite_region(aws_at, tmp_path):
    aws = aws_at("sa-east-1")
    create_toolkit(aws, "sa-east-1", "21")
    assembly = assembly_with(tmp_path, "prod", refused=[1, 2, 3, 4, 5])
    lines = list(checks.bootstrap(context(aws, ready("sa-east-1", offsite=OffsiteConfig(region="eu-north-1")), assembly)))
    assert [(line.check, line.status) for line in lines] == [
        (f"bootstrap aws://{MOTO_ACCOUNT}/sa-east-1", "PASS"),
        (f"bootstrap aws://{MOTO_ACCOUNT}/eu-north-1", "FAIL"),
    ]
    assert lines[1].todo == f"run `cdk bootstrap aws://{MOTO_ACCOUNT}/eu-north-1` once (npx cdk from this repository)"


def test_bootstrap_passes_when_the_toolkit_is_new_enough(aws_at, tmp_path):
    aws = aws_at("ca-central-1")
    create_toolkit(aws, "ca-central-1", "21")
    assembly = assembly_with(tmp_path, "prod", refused=[1, 2, 3, 4, 5])
    line = one(checks.bootstrap(context(aws, ready("ca-central-1"), assembly)))
    assert line.status == "PASS", line
    assert "BootstrapVersion 21 >= 6" in line.seen and "personalpod-database-prod" in line.seen


def test_bootstrap_fails_below_the_templates_minimum_and_where_a_replica_region_has_none(aws_at, tmp_path):
    aws = aws_at("eu-north-1")
    create_toolkit(aws, "eu-north-1", "7")
    assembly = assembly_with(tmp_path, "prod", refused=list(range(1, 9)))  # a newer CDK: 9 and up
    cfg = ready("eu-north-1", replicas=(ReplicaConfig(region="eu-south-1", kms_key_arn=f"arn:aws:kms:eu-south-1:{MOTO_ACCOUNT}:key/x"),))
    old, missing = checks.bootstrap(context(aws, cfg, assembly))
    assert old.status == "FAIL" and "BootstrapVersion 7 < 9" in old.seen, old
    assert "cdk bootstrap aws://123456789012/eu-north-1" in old.todo
    assert missing.status == "FAIL" and missing.check == "bootstrap aws://123456789012/eu-south-1", missing
    assert "no CDKToolkit stack" in missing.seen and "cdk bootstrap aws://123456789012/eu-south-1" in missing.todo


def test_bootstrap_fails_on_another_qualifier(aws_at):
    aws = aws_at("ap-northeast-3")
    create_toolkit(aws, "ap-northeast-3", "21", qualifier="other1")
    line = one(checks.bootstrap(context(aws, ready("ap-northeast-3"))))
    assert line.status == "FAIL" and "'other1'" in line.seen and "'hnb659fds'" in line.seen, line


def test_the_required_bootstrap_version_comes_from_the_templates_else_the_constant(tmp_path):
    assert (
        synthesized.required_bootstrap_version(synthesized.stacks_of(tmp_path / "none", "prod")).value == synthesized.MIN_BOOTSTRAP_VERSION
    )
    assembly = assembly_with(tmp_path, "prod", refused=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    assert synthesized.required_bootstrap_version(synthesized.stacks_of(assembly, "prod")).value == 12
    assert synthesized.stacks_of(assembly, "dev") == []  # another environment's assembly is not read


def test_the_rule_is_read_from_the_projects_own_synthesized_templates(stages):
    # The session's synth wrote a cloud assembly like `make synth` does.
    outdir = Path(stages[0].node.root.outdir)
    stacks = [s for env in ENVIRONMENTS for s in synthesized.stacks_of(outdir, env)]
    assert stacks
    required = synthesized.required_bootstrap_version(stacks)
    assert required.value >= 6 and required.source.startswith("the CheckBootstrapVersion rule of ")


# --- 4. principals


def key_roles(aws: Aws, region: str) -> KeyConfig:
    """Key administrator and break-glass roles that exist in moto's account."""
    iam = aws.client("iam", region)
    arns = [
        iam.create_role(RoleName=f"{kind}-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        for kind in ("KeyAdministrator", "BreakGlass")
    ]
    return KeyConfig(administrator_arns=(arns[0],), break_glass_arn=arns[1])


def test_principals_pass_when_every_role_exists(aws_at):
    aws = aws_at("us-east-1")
    name = f"Analyst-{uuid.uuid4().hex[:8]}"
    arn = aws.client("iam", "us-east-1").create_role(RoleName=name, Path="/data/", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    keys = key_roles(aws, "us-east-1")
    cfg = ready("us-east-1", access=AccessConfig(readonly_principal_arns=(arn,)), keys=keys)
    lines = list(checks.principals(context(aws, cfg)))
    assert [line.check for line in lines] == [
        "principal prod.access.readonly_principal_arns[0]",
        "principal prod.keys.administrator_arns[0]",
        "principal prod.keys.break_glass_arn",
    ]
    assert [line.status for line in lines] == ["PASS"] * 3, lines
    assert arn in lines[0].seen and keys.break_glass_arn in lines[2].seen


def test_principals_fail_on_a_missing_role_or_a_wrong_path_and_skip_another_account(aws_at):
    aws = aws_at("us-east-1")
    name = f"Migration-{uuid.uuid4().hex[:8]}"
    aws.client("iam", "us-east-1").create_role(RoleName=name, Path="/ops/", AssumeRolePolicyDocument="{}")
    missing = f"arn:aws:iam::{MOTO_ACCOUNT}:role/NoSuchRole-{uuid.uuid4().hex[:8]}"
    wrong_path = f"arn:aws:iam::{MOTO_ACCOUNT}:role/{name}"
    elsewhere = "arn:aws:iam::444455556666:role/Auditor"
    cfg = ready(
        "us-east-1",
        access=AccessConfig(readonly_principal_arns=(missing, elsewhere), migration_principal_arns=(wrong_path,)),
        keys=key_roles(aws, "us-east-1"),
    )
    lines = list(checks.principals(context(aws, cfg)))
    assert [line.status for line in lines] == ["FAIL", "SKIP", "FAIL", "PASS", "PASS"], lines
    assert lines[0].check == "principal prod.access.readonly_principal_arns[0]" and "no such role" in lines[0].seen
    assert f"role/ops/{name}" in lines[2].seen
    assert "444455556666" in lines[1].seen


# --- 5. alert topic


def test_the_alert_topic_passes_when_it_exists(aws_at):
    aws = aws_at("eu-west-3")
    arn = aws.client("sns", "eu-west-3").create_topic(Name="oncall")["TopicArn"]
    line = one(checks.alert_topic(context(aws, ready("eu-west-3", alerts=AlertConfig(external_topic_arn=arn)))))
    assert line.status == "PASS" and arn in line.seen, line


def test_the_alert_topic_fails_when_it_does_not_exist(aws_at):
    aws = aws_at("eu-west-3")
    arn = f"arn:aws:sns:eu-west-3:{MOTO_ACCOUNT}:no-such-topic"
    line = one(checks.alert_topic(context(aws, ready("eu-west-3", alerts=AlertConfig(external_topic_arn=arn)))))
    assert line.status == "FAIL" and "no such topic" in line.seen, line


# --- 6. slack (moto has no AWS Chatbot: Stubber)


def slack_check(workspaces: list[dict]):
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    with Stubber(aws.client("chatbot", checks.CHATBOT_REGION)) as chatbot:
        chatbot.add_response("describe_slack_workspaces", {"SlackWorkspaces": workspaces}, {})
        line = one(checks.slack(context(aws, ready("us-east-1"))))
        chatbot.assert_no_pending_responses()
    return line


def test_slack_passes_when_the_workspace_is_authorized():
    line = slack_check([{"SlackTeamId": "T0123ABCD", "SlackTeamName": "acme"}])
    assert line.status == "PASS" and "T0123ABCD (acme)" in line.seen, line


def test_slack_fails_until_the_workspace_is_authorized_in_the_console():
    line = slack_check([{"SlackTeamId": "T9999ZZZZ", "SlackTeamName": "other"}])
    assert line.status == "FAIL" and "T0123ABCD is not authorized" in line.seen and "T9999ZZZZ" in line.seen, line
    assert "authorize the workspace once in the AWS Chatbot console" in line.todo


# --- 7. engine (moto has no DescribeDBEngineVersions: Stubber)


def engine_check(assembly: Path, version: str, offered: list[dict]):
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    with Stubber(aws.client("rds", "us-east-1")) as rds:
        rds.add_response(
            "describe_db_engine_versions", {"DBEngineVersions": offered}, {"Engine": "aurora-postgresql", "EngineVersion": version}
        )
        line = one(resources.engine(context(aws, ready("us-east-1"), assembly)))
        rds.assert_no_pending_responses()
    return line


def test_the_engine_passes_when_the_templates_version_is_offered(tmp_path):
    line = engine_check(
        assembly_with(tmp_path, "prod", engine="16.42"),
        "16.42",
        [{"Engine": "aurora-postgresql", "EngineVersion": "16.42", "Status": "available"}],
    )
    assert line.status == "PASS" and line.check == "engine aurora-postgresql 16.42", line
    assert "personalpod-database-prod's template" in line.seen


def test_the_engine_fails_when_the_version_is_not_offered_or_deprecated(tmp_path):
    line = engine_check(assembly_with(tmp_path / "a", "prod", engine="16.42"), "16.42", [])
    assert line.status == "FAIL" and "not offered in us-east-1" in line.seen, line
    deprecated = engine_check(
        assembly_with(tmp_path / "b", "prod", engine="16.42"), "16.42", [{"EngineVersion": "16.42", "Status": "deprecated"}]
    )
    assert deprecated.status == "FAIL" and "deprecated" in deprecated.seen, deprecated


def test_without_templates_the_engine_version_is_the_constructs_own(tmp_path):
    from constructs_lib.database import ENGINE_VERSION

    version = ENGINE_VERSION.aurora_postgres_full_version
    line = engine_check(tmp_path / "none", version, [{"EngineVersion": version, "Status": "available"}])
    assert line.status == "PASS" and "constructs_lib/database.py" in line.seen, line


# --- 8. backup (moto has no DescribeRegionSettings: Stubber)


def backup_check(dynamodb: bool | None, backup: BackupConfig = PROD.backup):
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    with Stubber(aws.client("backup", "us-east-1")) as client:
        if dynamodb is not None:
            client.add_response("describe_region_settings", {"ResourceTypeManagementPreference": {"DynamoDB": dynamodb}}, {})
        line = one(resources.backup(context(aws, ready("us-east-1", backup=backup))))
        client.assert_no_pending_responses()
    return line


def test_backup_passes_with_advanced_dynamodb_features_on():
    assert any(rule.move_to_cold_storage_after_days for rule in PROD.backup.rules)
    line = backup_check(True)
    assert line.status == "PASS" and "rules monthly" in line.seen, line


def test_backup_fails_with_cold_storage_and_advanced_dynamodb_features_off():
    line = backup_check(False)
    assert line.status == "FAIL" and "off in us-east-1" in line.seen, line
    assert "update-region-settings" in line.todo


def test_backup_asks_nothing_when_no_rule_uses_cold_storage():
    line = backup_check(None, BackupConfig(enabled=True, rules=(PROD.backup.rules[0],)))
    assert line.status == "PASS" and "no backup rule" in line.seen, line


# --- 9. keys


def test_replica_keys_pass_when_enabled(aws_at):
    aws = aws_at("ap-south-1")
    arn = aws.client("kms", "ap-south-1").create_key()["KeyMetadata"]["Arn"]
    cfg = ready("ap-southeast-1", replicas=(ReplicaConfig(region="ap-south-1", kms_key_arn=arn),))
    line = one(resources.keys(context(aws, cfg)))
    assert line.status == "PASS" and line.check == "key prod.replicas[0].kms_key_arn" and "Enabled" in line.seen, line


def test_replica_keys_fail_when_disabled_or_missing(aws_at):
    aws = aws_at("ap-south-1")
    kms = aws.client("kms", "ap-south-1")
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    missing = f"arn:aws:kms:ap-northeast-2:{MOTO_ACCOUNT}:key/{uuid.uuid4()}"
    replicas = (
        ReplicaConfig(region="ap-south-1", kms_key_arn=disabled["Arn"]),
        ReplicaConfig(region="ap-northeast-2", kms_key_arn=missing),
    )
    lines = list(resources.keys(context(aws, ready("ap-southeast-1", replicas=replicas))))
    assert [line.status for line in lines] == ["FAIL", "FAIL"], lines
    assert "is Disabled" in lines[0].seen and "enable-key" in lines[0].todo
    assert "no such key in ap-northeast-2" in lines[1].seen


# --- the whole checklist, and the command


# --- 10. management events (the tamper alerts' source)

ORGANIZATION_TRAIL = AuditTrailConfig(mode="organization")


def organization_trail(aws: Aws, region: str, *, logging: bool = True, **selectors) -> str:
    """A trail in moto, as an organization's would look from the member account. Single-region:
    the moto server is shared, and a multi-region trail would show in every test's region."""
    name = f"org-{uuid.uuid4().hex[:8]}"
    # S3 from a session of its own: boto3 adds its S3 helpers to a client class once per session.
    boto3.Session(region_name=region, **CREDENTIALS).client("s3").create_bucket(
        Bucket=name, **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}})
    )
    cloudtrail = aws.client("cloudtrail", region)
    arn = cloudtrail.create_trail(Name=name, S3BucketName=name, IsMultiRegionTrail=False)["TrailARN"]
    if selectors:
        cloudtrail.put_event_selectors(TrailName=arn, **selectors)
    if logging:
        cloudtrail.start_logging(Name=arn)
    return name


def test_management_events_need_no_call_where_this_apps_trail_logs_them_or_nothing_reads_them():
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    with Stubber(aws.client("cloudtrail", "us-east-1")) as client:
        own = one(resources.management_events(context(aws, ready("us-east-1"))))
        none = one(resources.management_events(context(aws, ready("us-east-1", audit_trail=AuditTrailConfig(mode="off")))))
        client.assert_no_pending_responses()
    assert PROD.audit_trail.management_events and own.status == "PASS" and "this app's trail" in own.seen, own
    assert none.status == "PASS" and "no tamper alerts" in none.seen, none


def test_an_organization_trail_logging_management_writes_passes(aws_at):
    region = "eu-west-3"
    aws = aws_at(region)
    name = organization_trail(aws, region, EventSelectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
    line = one(resources.management_events(context(aws, ready(region, audit_trail=ORGANIZATION_TRAIL))))
    assert line.status == "PASS" and f"trail {name} logs management write events in {region}" in line.seen, line


def test_no_trail_or_one_stopped_or_reads_only_fails_naming_each(aws_at):
    region = "eu-south-1"
    aws = aws_at(region)
    cfg = ready(region, audit_trail=ORGANIZATION_TRAIL)
    line = one(resources.management_events(context(aws, cfg)))
    assert line.status == "FAIL" and line.seen == f"no trail logs management write events in {region}", line
    assert "audit_trail.mode = 'create'" in line.todo
    stopped = organization_trail(aws, region, logging=False)
    reads = organization_trail(aws, region, EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])
    line = one(resources.management_events(context(aws, cfg)))
    assert line.status == "FAIL", line
    assert f"{stopped} (not logging)" in line.seen and f"{reads} (no management write events)" in line.seen, line


def test_this_apps_trail_without_management_events_needs_another_trail_that_logs_them(aws_at):
    """Its data events feed the break-glass and denied-call rules, which exist anyway; the
    tamper rules need management events from some trail of the account."""
    region = "ca-central-1"
    aws = aws_at(region)
    cfg = ready(region, audit_trail=dataclasses.replace(PROD.audit_trail, management_events=False))
    line = one(resources.management_events(context(aws, cfg)))
    assert line.status == "FAIL" and line.seen == f"no trail logs management write events in {region}", line
    name = organization_trail(aws, region, EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}])
    line = one(resources.management_events(context(aws, cfg)))
    assert line.status == "PASS" and f"trail {name} logs management write events in {region}" in line.seen, line


@pytest.mark.parametrize(
    "selectors, logs",
    [
        ({"EventSelectors": [{"ReadWriteType": "All"}]}, True),  # the defaults: management events on
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, False),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}]}, True),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}, {"Field": "readOnly", "Equals": ["true"]}]}
                ]
            },
            False,
        ),
        ({"AdvancedEventSelectors": [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}]}, False),
        ({}, False),
    ],
)
def test_management_writes_are_read_from_basic_and_advanced_selectors(selectors, logs):
    assert resources.logs_management_writes(selectors) is logs


def test_a_ready_account_passes_every_check_in_order(aws_at, tmp_path):
    region = "us-west-1"
    aws = aws_at(region)
    create_toolkit(aws, region, "21")
    topic = aws.client("sns", region).create_topic(Name="pager")["TopicArn"]
    role = aws.client("iam", region).create_role(RoleName=f"Reader-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    key = aws.client("kms", region).create_key()["KeyMetadata"]["Arn"]
    cfg = ready(
        region,
        alerts=AlertConfig(
            emails=("oncall@acme.io",), external_topic_arn=topic, slack=SlackConfig(workspace_id="T0123ABCD", channel_id="C0123ABCD")
        ),
        access=AccessConfig(readonly_principal_arns=(role,)),
        keys=key_roles(aws, region),
    )
    cfg = dataclasses.replace(cfg, replicas=(ReplicaConfig(region=region, kms_key_arn=key),))
    assembly = assembly_with(tmp_path, "prod", refused=[1, 2, 3, 4, 5], engine="16.42")
    stubs = [
        Stubber(aws.client("chatbot", checks.CHATBOT_REGION)),
        Stubber(aws.client("rds", region)),
        Stubber(aws.client("backup", region)),
        Stubber(aws.client("ce", resources.COST_EXPLORER_REGION)),
    ]
    stubs[0].add_response("describe_slack_workspaces", {"SlackWorkspaces": [{"SlackTeamId": "T0123ABCD", "SlackTeamName": "acme"}]}, {})
    stubs[1].add_response("describe_db_engine_versions", {"DBEngineVersions": [{"EngineVersion": "16.42", "Status": "available"}]})
    stubs[2].add_response("describe_region_settings", {"ResourceTypeManagementPreference": {"DynamoDB": True}}, {})
    stubs[3].add_response("list_cost_allocation_tags", ACTIVE_TAGS, {"TagKeys": ["CostCenter", "System"], "Type": "UserDefined"})
    for stub in stubs:
        stub.activate()
    lines = list(run(cfg, aws=aws, assembly=assembly))
    assert [line.check.split(" ")[0] for line in lines] == [
        "placeholders", "identity", "identity", "bootstrap", "principal", "principal", "principal", "alert", "slack", "engine",
        "backup", "key", "management", "copy", "cost",
    ]  # fmt: skip
    assert [str(line) for line in lines if line.status != "PASS"] == []


def clean_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """No AWS settings at all but `variables`: AWS_* unset, empty config files, no instance role."""
    empty = tmp_path / "empty"
    empty.write_text("")
    return cli_env(
        PATH="/usr/bin:/bin",
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(empty),
        AWS_SHARED_CREDENTIALS_FILE=str(empty),
        AWS_EC2_METADATA_DISABLED="true",
        **variables,
    )


def preflight(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([*tool("preflight", sys.executable), *args], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    return result, time.monotonic() - started


def test_without_credentials_prod_lists_every_placeholder_and_exits_1_at_once(tmp_path):
    result, took = preflight(clean_env(tmp_path), "--env", "prod")
    assert result.returncode == 1, result.stderr
    assert took < 15
    lines = result.stdout.splitlines()
    for key, value in PROD_PLACEHOLDERS.items():
        assert any(line.startswith(f"FAIL placeholder: {key} = {value!r} -> ") for line in lines), (key, result.stdout)
    assert sum(line.startswith("FAIL placeholder: ") for line in lines) == len(PROD_PLACEHOLDERS)
    assert (
        lines[len(PROD_PLACEHOLDERS)].startswith("FAIL credentials: no AWS credentials were found")
        and "AWS_PROFILE=" in lines[len(PROD_PLACEHOLDERS)]
    )
    assert lines[len(PROD_PLACEHOLDERS) + 1].startswith("SKIP aws checks: identity, bootstrap, principals")
    assert lines[-1].startswith("SKIP aws checks: identity, bootstrap, principals")


def test_offline_runs_only_the_placeholder_check(tmp_path):
    result, _ = preflight(clean_env(tmp_path), "--env", "prod", "--offline")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [f"FAIL placeholder: {key} = {value!r} -> {todo}" for key, value, todo in placeholders(PROD)]


def test_against_moto_prod_also_fails_on_the_account(moto_endpoint, tmp_path):
    env = clean_env(
        tmp_path, AWS_ENDPOINT_URL=moto_endpoint, AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing"
    )
    result, _ = preflight(
        env, "--env", "prod", "--assembly", str(assembly_with(tmp_path / "cdk.out", "prod", refused=[1, 2, 3, 4, 5], engine="16.11"))
    )
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert sum(line.startswith("FAIL placeholder: ") for line in lines) == len(PROD_PLACEHOLDERS)
    assert f"FAIL identity: signed in to account {MOTO_ACCOUNT} (" in result.stdout
    assert "but prod.account = '333333333333' -> sign in to account 333333333333" in result.stdout
    assert "PASS identity: session region us-east-1" in result.stdout
    # moto has no Cost Explorer tags API: the check says so as its line, it does not vanish.
    assert lines[-1].startswith("FAIL cost allocation tags: ce:ListCostAllocationTags failed")


def test_usage_errors_exit_2(capsys):
    from tools.preflight import main

    for args in (["--env", "qa"], []):
        with pytest.raises(SystemExit) as stopped:
            main(args)
        assert stopped.value.code == 2, args
        assert "usage: python -m tools preflight" in capsys.readouterr().err


def test_a_broken_profile_is_a_credentials_failure_not_a_traceback(tmp_path, monkeypatch):
    from tools.preflight import aws as aws_module

    for name, value in clean_env(tmp_path, AWS_PROFILE="no-such-profile").items():
        monkeypatch.setenv(name, value)
    found, problem = aws_module.connect()
    assert found is None and "could not be read" in problem and "no-such-profile" in problem


def test_an_invalid_config_is_one_fail_line_per_problem(monkeypatch, capsys):
    import config
    from tools.preflight import main

    def invalid(selector=None, environments=None):
        raise config.ConfigError(
            "invalid configuration:\n  prod.region = 'mars-1' is not allowed: an AWS region\n  prod.account = 'x' is not allowed: 12 digits"
        )

    monkeypatch.setattr(config, "load", invalid)
    assert main(["--env", "prod", "--offline"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL config: prod.region = 'mars-1' is not allowed: an AWS region -> fix it in config/ (cdk synth stops on it too)",
        "FAIL config: prod.account = 'x' is not allowed: 12 digits -> fix it in config/ (cdk synth stops on it too)",
    ]


def test_role_arn_runs_the_checks_as_the_assumed_role(moto_endpoint, monkeypatch):
    # CI's deploy role may only assume the CDK bootstrap roles: the checks run as the lookup role.
    from tools.preflight import aws as aws_module

    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    role = f"arn:aws:iam::{MOTO_ACCOUNT}:role/cdk-hnb659fds-lookup-role-{MOTO_ACCOUNT}-us-east-1"
    aws, problem = aws_module.connect(role)
    assert problem == "" and aws is not None
    identity = aws.client("sts", "us-east-1").get_caller_identity()
    assert ":assumed-role/cdk-hnb659fds-lookup-role-" in identity["Arn"] and identity["Arn"].endswith("/preflight")


def test_a_role_that_cannot_be_assumed_is_one_clear_problem(monkeypatch):
    from botocore.stub import Stubber

    from tools.preflight import aws as aws_module

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    real_session = boto3.Session

    def session_with_stubbed_sts(**kwargs):
        session = real_session(**kwargs)
        original = session.client

        def client(service, **options):
            made = original(service, **options)
            if service == "sts":
                stub = Stubber(made)
                stub.add_client_error("assume_role", "AccessDenied", "not allowed", 403)
                stub.activate()
            return made

        session.client = client
        return session

    monkeypatch.setattr(aws_module.boto3, "Session", session_with_stubbed_sts)
    aws, problem = aws_module.connect("arn:aws:iam::111111111111:role/nope")
    assert aws is None
    assert problem == "could not assume arn:aws:iam::111111111111:role/nope: AccessDenied: not allowed"


# --- copy targets (issue 27: the air-gapped vault, another account's vault)


def test_the_air_gapped_vault_passes_before_its_first_deploy_and_when_air_gapped_and_locked():
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    cfg = ready("us-east-1", offsite=dataclasses.replace(PROD.offsite, account_vault_arn=None))
    name = "data-tables-prod-airgapped"
    with Stubber(aws.client("backup", cfg.offsite.region)) as backup:
        backup.add_client_error(
            "describe_backup_vault", "ResourceNotFoundException", "no such vault", 404, expected_params={"BackupVaultName": name}
        )
        backup.add_response(
            "describe_backup_vault",
            {
                "BackupVaultName": name,
                "VaultType": "LOGICALLY_AIR_GAPPED_BACKUP_VAULT",
                "Locked": True,
                "MinRetentionDays": 7,
                "MaxRetentionDays": 2555,
            },
            {"BackupVaultName": name},
        )
        backup.add_response(
            "describe_backup_vault", {"BackupVaultName": name, "VaultType": "BACKUP_VAULT", "Locked": False}, {"BackupVaultName": name}
        )
        before, after, taken = (one(resources.copy_targets(context(aws, cfg))) for _ in range(3))
    assert before.status == "PASS" and "does not exist in us-west-2 yet" in before.seen, before
    assert after.status == "PASS" and "air-gapped, locked 7-2555 days" in after.seen, after
    assert taken.status == "FAIL" and "is a BACKUP_VAULT, locked: False" in taken.seen, taken


def test_another_accounts_vault_must_be_locked():
    aws = Aws(session(region_name="us-east-1", **CREDENTIALS))
    arn = "arn:aws:backup:us-east-1:999999999999:backup-vault:central"
    cfg = ready("us-east-1", offsite=dataclasses.replace(PROD.offsite, air_gapped=False, account_vault_arn=arn))
    expected = {"BackupVaultName": "central", "BackupVaultAccountId": "999999999999"}
    with Stubber(aws.client("backup", "us-east-1")) as backup:
        backup.add_response("describe_backup_vault", {"BackupVaultName": "central", "Locked": False}, expected)
        backup.add_response(
            "describe_backup_vault",
            {"BackupVaultName": "central", "Locked": True, "MinRetentionDays": 35, "MaxRetentionDays": 365},
            expected,
        )
        unlocked, locked = (one(resources.copy_targets(context(aws, cfg))) for _ in range(2))
    assert unlocked.status == "FAIL" and "is not locked" in unlocked.seen, unlocked
    assert locked.status == "PASS" and "locked 35-365 days" in locked.seen, locked


def test_aws_clients_take_the_standard_retries_or_aws_max_attempts(monkeypatch):
    """The tools set no attempt count, so AWS_MAX_ATTEMPTS (this session: 1, see tests/conftest.py)
    decides, and without it standard mode's own 3 attempts; every client is given its own Config."""
    import boto3

    from tools.db_bootstrap.aws import aws_client
    from tools.preflight.aws import Aws

    def preflight_retries():
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
        return Aws(session).client("sts", "us-east-1").meta.config.retries

    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    assert preflight_retries() == {"mode": "standard", "total_max_attempts": 2}
    assert aws_client("rds", "us-east-1").meta.config.retries == {"mode": "standard", "total_max_attempts": 2}
    monkeypatch.delenv("AWS_MAX_ATTEMPTS")
    assert preflight_retries() == {"mode": "standard"}
    assert aws_client("rds", "us-east-1").meta.config.retries == {"mode": "standard"}

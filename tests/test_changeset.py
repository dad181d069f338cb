"""The change-set gate (tools/changeset.py) against recorded-shape CloudFormation responses.

Every AWS call goes through botocore's Stubber: each test queues the calls it expects, in
order, with their parameters, and the Stubber fails on any other call (an ExecuteChangeSet
that should not happen) or a missing one (assert_no_pending_responses).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import botocore.session
import pytest
from botocore.stub import Stubber

from tests.support import assembly_dir
from tools import changeset
from tools.assembly import load_stacks
from tools.guard.cli import read_acceptances
from tools.guard.model import STATEFUL_TYPES

ROOT = Path(__file__).resolve().parent.parent
REGION, ACCOUNT = "us-east-1", "333333333333"
CREATED = datetime(2025, 3, 4, 9, 30, 12, 481000, tzinfo=UTC)

# Two prod stacks; daylight-prod depends on platform-prod, though it sorts first by name.
PLATFORM = {
    "Resources": {
        "KeyArchive": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
        "KeyArchiveAlias": {"Type": "AWS::KMS::Alias", "Properties": {"AliasName": "alias/platform-prod-archive"}},
        "ArchiveBucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "platform-prod-archive"}},
    }
}
DAYLIGHT = {
    "Resources": {
        "TableMain": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"TableName": "daylight-prod-main"}},
        "TableMainThrottles": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"AlarmName": "daylight-prod-main-throttles"}},
        "AppLogs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/daylight/prod/app"}},
    }
}
ORDER = ["platform-prod", "daylight-prod"]


def write_assembly(root: Path, env: str = "prod") -> Path:
    """A cloud assembly like `cdk synth`'s, with the stack dependencies and deploy roles (which
    tests/local/helpers.py:write_assembly does not write)."""
    nested = root / f"assembly-{env}"
    nested.mkdir(parents=True)
    role = f"arn:${{AWS::Partition}}:iam::{ACCOUNT}:role/cdk-hnb659fds-deploy-role-{ACCOUNT}-{REGION}"
    artifacts: dict = {}
    for artifact_id, name, template, deps in (
        (f"{env}platform3D993688", f"platform-{env}", PLATFORM, []),
        (f"{env}daylight1BF3BB6F", f"daylight-{env}", DAYLIGHT, [f"{env}platform3D993688"]),
    ):
        (nested / f"{artifact_id}.template.json").write_text(json.dumps(template))
        artifacts[f"{artifact_id}.assets"] = {"type": "cdk:asset-manifest", "properties": {"file": f"{artifact_id}.assets.json"}}
        artifacts[artifact_id] = {
            "type": "aws:cloudformation:stack",
            "environment": f"aws://{ACCOUNT}/{REGION}",
            "properties": {"templateFile": f"{artifact_id}.template.json", "stackName": name, "assumeRoleArn": role},
            "dependencies": [*deps, f"{artifact_id}.assets"],
        }
    (nested / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    root_artifacts = {
        f"assembly-{env}": {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{env}", "displayName": env}}
    }
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": root_artifacts}))
    return root


def stack_id(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/6c7a5e10-f8d1-11ef-9a3b-0affd1b2c3d4"


def change_set_id(name: str) -> str:
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/cdk-gate/{name}-0b1f2e3d-4c5b-6a79-8877-665544332211"


def described(name: str, changes: list, status="CREATE_COMPLETE", execution="AVAILABLE", reason=None, next_token=None) -> dict:
    """A DescribeChangeSet response as CloudFormation returns it for a CDK-prepared change set."""
    response = {
        "ChangeSetName": "cdk-gate",
        "ChangeSetId": change_set_id(name),
        "StackId": stack_id(name),
        "StackName": name,
        "Description": "CDK Changeset for execution 7f3c2a1e-5b6d-4e8f-9a0b-1c2d3e4f5a6b",
        "Parameters": [{"ParameterKey": "BootstrapVersion", "ParameterValue": "/cdk-bootstrap/hnb659fds/version", "ResolvedValue": "29"}],
        "CreationTime": CREATED,
        "ExecutionStatus": execution,
        "Status": status,
        "NotificationARNs": [],
        "RollbackConfiguration": {},
        "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        "Tags": [{"Key": "Environment", "Value": "prod"}, {"Key": "ManagedBy", "Value": "cdk"}],
        "Changes": changes,
        "IncludeNestedStacks": True,
    }
    if reason:
        response["StatusReason"] = reason
    if next_token:
        response["NextToken"] = next_token
    return response


def detail(name: str, recreation: str, evaluation="Static", source="DirectModification", causing=None) -> dict:
    found = {
        "Target": {"Attribute": "Properties", "Name": name, "RequiresRecreation": recreation},
        "Evaluation": evaluation,
        "ChangeSource": source,
    }
    if causing:
        found["CausingEntity"] = causing
    return found


def resource_change(action, lid, rtype, replacement=None, details=(), policy_action=None, physical=None) -> dict:
    rc: dict = {
        "Action": action,
        "LogicalResourceId": lid,
        "ResourceType": rtype,
        "Scope": ["Properties"] if details else [],
        "Details": list(details),
    }
    if replacement:
        rc["Replacement"] = replacement
    if policy_action:
        rc["PolicyAction"] = policy_action
    if physical:
        rc["PhysicalResourceId"] = physical
    return {"Type": "Resource", "ResourceChange": rc}


# The three changes the gate refuses, as DescribeChangeSet reports them.
REMOVE_LOGS = resource_change("Remove", "AppLogs", "AWS::Logs::LogGroup", policy_action="Delete", physical="/daylight/prod/app")
REPLACE_TABLE = resource_change(
    "Modify",
    "TableMain",
    "AWS::DynamoDB::GlobalTable",
    "True",
    [
        detail("KeySchema", "Always"),
        detail("AttributeDefinitions", "Never"),
        detail("BillingMode", "Never"),
    ],
    policy_action="ReplaceAndDelete",
    physical="daylight-prod-main",
)
MAYBE_REPLACE_BUCKET = resource_change(
    "Modify",
    "ArchiveBucket",
    "AWS::S3::Bucket",
    "Conditional",
    [
        detail("BucketName", "Always", evaluation="Dynamic", source="ResourceAttribute", causing="NameSuffix.Value"),
        detail("BucketEncryption", "Never", source="ResourceReference", causing="KeyArchive"),
    ],
    policy_action="ReplaceAndRetain",
    physical="platform-prod-archive",
)
ADD_ALARM = resource_change("Add", "TableMainErrors", "AWS::CloudWatch::Alarm")
TAGS_ONLY = resource_change("Modify", "KeyArchive", "AWS::KMS::Key", "False", [detail("Tags", "Never")], physical="mrk-0f1e2d3c")


@pytest.fixture
def assembly(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no ./deploy-guard.accept unless a test writes one
    return write_assembly(tmp_path / "cdk.out")


@pytest.fixture
def cfn():
    client = botocore.session.get_session().create_client(
        "cloudformation", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def run(client, *args: str) -> int:
    return changeset.main(
        ["--assembly", "cdk.out", "--env", "prod", "--change-set-name", "cdk-gate", *args],
        clients=lambda _: (client, client),
        sleep=lambda _: None,
    )


def expect_describe(stubber, name: str, response: dict, next_token=None) -> None:
    params = {"StackName": name, "ChangeSetName": "cdk-gate"} | ({"NextToken": next_token} if next_token else {})
    stubber.add_response("describe_change_set", response, params)


def expect_prepared(stubber, platform: list, daylight: list) -> None:
    """Both stacks' change sets described, in dependency order; [] means "no changes"."""
    for name, changes in (("platform-prod", platform), ("daylight-prod", daylight)):
        if changes:
            expect_describe(stubber, name, described(name, changes))
        else:
            reason = "The submitted information didn't contain changes. Submit different information to create a change set."
            expect_describe(stubber, name, described(name, [], status="FAILED", execution="UNAVAILABLE", reason=reason))


def stack(name: str, status: str, reason=None) -> dict:
    found = {"StackId": stack_id(name), "StackName": name, "CreationTime": CREATED, "StackStatus": status}
    return {"Stacks": [found | ({"StackStatusReason": reason} if reason else {})]}


def expect_execute(stubber, name: str, *statuses: str) -> None:
    stubber.add_response("execute_change_set", {}, {"StackName": name, "ChangeSetName": change_set_id(name)})
    for status in statuses:
        stubber.add_response("describe_stacks", stack(name, status), {"StackName": name})


def policy_body(denied: list[str]) -> str:
    """The stack policy SetStackPolicy should get, spelled out here rather than built by the tool."""
    allow = {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}
    deny = {
        "Effect": "Deny",
        "Action": ["Update:Replace", "Update:Delete"],
        "Principal": "*",
        "Resource": [f"LogicalResourceId/{d}" for d in denied],
    }
    return json.dumps({"Statement": [allow, deny]}, separators=(",", ":"))


def accept_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "reviewed.accept"
    path.write_text("# deliberate, reviewed\n" + "\n".join(lines) + "\n")
    return str(path)


# --- judge


@pytest.mark.parametrize(
    ("change", "rule", "resource", "needle"),
    [
        (REMOVE_LOGS, "STATEFUL-DELETE", "AppLogs", "deleted with its data"),
        (REPLACE_TABLE, "STATEFUL-REPLACE", "TableMain", "Replacement True (KeySchema RequiresRecreation Always)"),
        (
            MAYBE_REPLACE_BUCKET,
            "STATEFUL-REPLACE",
            "ArchiveBucket",
            "Replacement Conditional (BucketName RequiresRecreation Always via NameSuffix.Value)",
        ),
    ],
    ids=["remove", "replacement-true", "replacement-conditional"],
)
def test_judge_refuses_each_stateful_loss(change, rule, resource, needle):
    (refusal,) = changeset.judge("daylight-prod", [ADD_ALARM, change, TAGS_ONLY], STATEFUL_TYPES, [])
    assert (refusal.rule, refusal.stack, refusal.resource, refusal.accepted) == (rule, "daylight-prod", resource, None)
    assert needle in refusal.change + refusal.effect


def test_judge_names_only_the_properties_that_force_the_replacement():
    (table,) = changeset.judge("daylight-prod", [REPLACE_TABLE], STATEFUL_TYPES, [])
    (bucket,) = changeset.judge("platform-prod", [MAYBE_REPLACE_BUCKET], STATEFUL_TYPES, [])
    assert (table.property, bucket.property) == ("KeySchema", "BucketName")
    assert "(Conditional)" in bucket.effect and "orphaned" in bucket.effect  # ReplaceAndRetain
    assert "(Conditional)" not in table.effect and "deleted with its data" in table.effect  # ReplaceAndDelete


def test_judge_allows_stateless_replacement_and_removal():
    changes = [
        resource_change("Modify", "TableMainThrottles", "AWS::CloudWatch::Alarm", "True", [detail("AlarmName", "Always")]),
        resource_change("Remove", "ExportRole", "AWS::IAM::Role", policy_action="Delete"),
        resource_change("Modify", "TableMain", "AWS::DynamoDB::GlobalTable", "False", [detail("BillingMode", "Never")]),
    ]
    assert changeset.judge("daylight-prod", changes, STATEFUL_TYPES, []) == []
    # the same changes with the alarm counted as stateful: proves the type decides
    assert [r.resource for r in changeset.judge("daylight-prod", changes, {"AWS::CloudWatch::Alarm"}, [])] == ["TableMainThrottles"]


def test_an_acceptance_covers_only_its_own_rule_stack_and_resource(tmp_path):
    acceptances = read_acceptances(
        Path(
            accept_file(
                tmp_path,
                "STATEFUL-DELETE:daylight-prod/TableMain  # wrong rule",
                "STATEFUL-REPLACE:daylight-staging/TableMain  # wrong stack",
                "STATEFUL-REPLACE:daylight-prod/TableOther  # wrong resource",
            )
        )
    )
    (refusal,) = changeset.judge("daylight-prod", [REPLACE_TABLE], STATEFUL_TYPES, acceptances)
    assert refusal.accepted is None


# --- the command


@pytest.mark.parametrize(
    ("change", "target"),
    [
        (REMOVE_LOGS, "STATEFUL-DELETE:daylight-prod/AppLogs"),
        (REPLACE_TABLE, "STATEFUL-REPLACE:daylight-prod/TableMain"),
    ],
    ids=["remove", "replacement-true"],
)
def test_an_unaccepted_refusal_exits_1_and_executes_nothing(assembly, cfn, capsys, change, target):
    client, stubber = cfn
    expect_prepared(stubber, [TAGS_ONLY], [ADD_ALARM, change])  # platform-prod is harmless, yet not executed
    assert run(client, "--execute") == 1
    out = capsys.readouterr().out
    assert f"[{target.split(':')[0]}] {target.split(':')[1]}" in out
    assert f"'{target}  # <why>'" in out and "Safe route:" in out and "nothing executed" in out


def test_a_conditional_replacement_is_refused_naming_the_property(assembly, cfn, capsys):
    client, stubber = cfn
    expect_prepared(stubber, [MAYBE_REPLACE_BUCKET], [])
    assert run(client, "--execute") == 1
    out = capsys.readouterr().out
    assert "[STATEFUL-REPLACE] platform-prod/ArchiveBucket BucketName: Modify AWS::S3::Bucket, Replacement Conditional" in out
    assert "BucketEncryption" not in out.split("[STATEFUL-REPLACE]")[1]


@pytest.mark.parametrize(
    ("platform", "daylight", "target", "exempt"),
    [
        ([], [REMOVE_LOGS], "STATEFUL-DELETE:daylight-prod/AppLogs", "AppLogs"),
        ([], [REPLACE_TABLE], "STATEFUL-REPLACE:daylight-prod/TableMain", "TableMain"),
        ([MAYBE_REPLACE_BUCKET], [], "STATEFUL-REPLACE:platform-prod/ArchiveBucket", "ArchiveBucket"),
    ],
    ids=["remove", "replacement-true", "replacement-conditional"],
)
def test_an_accepted_refusal_executes_with_the_policy_relaxed_for_it_alone(
    assembly, cfn, capsys, tmp_path, platform, daylight, target, exempt
):
    client, stubber = cfn
    expect_prepared(stubber, platform, daylight)
    name = target.split(":")[1].split("/")[0]
    stateful = {"platform-prod": ["ArchiveBucket", "KeyArchive"], "daylight-prod": ["AppLogs", "TableMain"]}[name]

    relaxed = [lid for lid in stateful if lid != exempt]
    stubber.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": policy_body(relaxed)})
    expect_execute(stubber, name, "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE")
    stubber.add_response("set_stack_policy", {}, {"StackName": name, "StackPolicyBody": policy_body(stateful)})
    assert run(client, "--execute", "--accept-file", accept_file(tmp_path, f"{target}  # retiring it, data exported (CHG-1234)")) == 0
    out = capsys.readouterr().out
    assert "ACCEPTED (" in out and "retiring it, data exported (CHG-1234)" in out
    assert f"{name}: deployed" in out and f"{name}: stack policy restored" in out


def test_the_default_acceptance_file_is_read_and_a_reasonless_line_is_a_usage_error(assembly, cfn, capsys):
    client, stubber = cfn
    Path("deploy-guard.accept").write_text("STATEFUL-REPLACE:daylight-prod/TableMain\n")
    assert run(client) == 2  # nothing described: the Stubber has no responses queued
    assert "has no '# reason'" in capsys.readouterr().err


def test_stateless_replacements_pass_and_execute_in_dependency_order(assembly, cfn):
    client, stubber = cfn
    alarm = resource_change("Modify", "TableMainThrottles", "AWS::CloudWatch::Alarm", "True", [detail("AlarmName", "Always")])
    expect_prepared(stubber, [TAGS_ONLY], [ADD_ALARM, alarm])
    expect_execute(stubber, "platform-prod", "UPDATE_COMPLETE")
    expect_execute(stubber, "daylight-prod", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")
    assert run(client, "--execute") == 0


def test_without_execute_nothing_is_executed(assembly, cfn, capsys):
    client, stubber = cfn
    expect_prepared(stubber, [TAGS_ONLY], [ADD_ALARM])
    assert run(client) == 0
    out = capsys.readouterr().out
    assert "  Add    TableMainErrors  AWS::CloudWatch::Alarm" in out
    assert "  Modify KeyArchive  AWS::KMS::Key  replacement: False" in out
    assert "executing" not in out


def test_a_change_set_without_changes_is_nothing_to_do(assembly, cfn, capsys):
    client, stubber = cfn
    expect_prepared(stubber, [], [])
    assert run(client, "--execute") == 0
    assert "platform-prod: no changes" in capsys.readouterr().out


def test_every_page_of_the_change_set_is_judged(assembly, cfn, capsys):
    client, stubber = cfn
    expect_describe(stubber, "platform-prod", described("platform-prod", [TAGS_ONLY]))
    expect_describe(stubber, "daylight-prod", described("daylight-prod", [ADD_ALARM], next_token="page-2-token"))
    expect_describe(stubber, "daylight-prod", described("daylight-prod", [REPLACE_TABLE]), next_token="page-2-token")
    assert run(client, "--execute") == 1
    assert "daylight-prod: 2 change(s)" in capsys.readouterr().out


def test_a_change_set_still_being_created_is_waited_for(assembly, cfn):
    client, stubber = cfn
    expect_describe(stubber, "platform-prod", described("platform-prod", [], status="CREATE_IN_PROGRESS", execution="UNAVAILABLE"))
    expect_prepared(stubber, [TAGS_ONLY], [REMOVE_LOGS])
    assert run(client) == 1


@pytest.mark.parametrize(
    ("status", "execution", "reason", "message"),
    [
        ("FAILED", "UNAVAILABLE", "Template format error: Unresolved resource dependencies [KeyData]", "Unresolved resource dependencies"),
        ("CREATE_COMPLETE", "OBSOLETE", None, "OBSOLETE, not AVAILABLE"),
        ("CREATE_COMPLETE", "EXECUTE_COMPLETE", None, "EXECUTE_COMPLETE, not AVAILABLE"),
    ],
)
def test_a_change_set_that_cannot_be_judged_is_a_usage_error(assembly, cfn, capsys, status, execution, reason, message):
    client, stubber = cfn
    expect_describe(stubber, "platform-prod", described("platform-prod", [TAGS_ONLY], status=status, execution=execution, reason=reason))
    assert run(client, "--execute") == 2
    assert message in capsys.readouterr().err


def test_a_missing_change_set_is_a_usage_error(assembly, cfn, capsys):
    client, stubber = cfn
    stubber.add_client_error(
        "describe_change_set",
        "ChangeSetNotFound",
        "ChangeSet [cdk-gate] does not exist",
        404,
        expected_params={"StackName": "platform-prod", "ChangeSetName": "cdk-gate"},
    )
    assert run(client, "--execute") == 2
    assert "ChangeSet [cdk-gate] does not exist" in capsys.readouterr().err


def test_a_rollback_fails_the_run_and_stops_the_later_stacks(assembly, cfn, capsys):
    client, stubber = cfn
    expect_prepared(stubber, [TAGS_ONLY], [ADD_ALARM])
    expect_execute(stubber, "platform-prod", "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS")
    stubber.add_response("describe_stacks", stack("platform-prod", "UPDATE_ROLLBACK_COMPLETE"), {"StackName": "platform-prod"})

    def event(n, lid, rtype, status, reason, minutes):
        return {
            "StackId": stack_id("platform-prod"),
            "EventId": f"event-{n}",
            "StackName": "platform-prod",
            "LogicalResourceId": lid,
            "ResourceType": rtype,
            "Timestamp": CREATED + timedelta(minutes=minutes),
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
        }

    events = [  # newest first, as DescribeStackEvents returns them
        event(5, "platform-prod", "AWS::CloudFormation::Stack", "UPDATE_ROLLBACK_COMPLETE", "", 9),
        event(4, "KeyArchive", "AWS::KMS::Key", "UPDATE_FAILED", 'Resource handler returned message: "AccessDeniedException"', 8),
        event(3, "platform-prod", "AWS::CloudFormation::Stack", "UPDATE_IN_PROGRESS", "User Initiated", 7),
        event(2, "OldBucket", "AWS::S3::Bucket", "DELETE_FAILED", "an earlier deployment's failure", 1),
    ]
    stubber.add_response("describe_stack_events", {"StackEvents": events}, {"StackName": "platform-prod"})
    assert run(client, "--execute") == 1  # daylight-prod is not executed: the Stubber has no call queued for it
    err = capsys.readouterr().err
    assert "platform-prod: deployment ROLLED BACK: UPDATE_ROLLBACK_COMPLETE" in err
    assert 'KeyArchive: Resource handler returned message: "AccessDeniedException"' in err
    assert "earlier deployment" not in err


def test_a_failed_update_with_a_relaxed_policy_still_restores_it(assembly, cfn, capsys, tmp_path):
    client, stubber = cfn
    expect_prepared(stubber, [], [REPLACE_TABLE])
    stubber.add_response("set_stack_policy", {}, {"StackName": "daylight-prod", "StackPolicyBody": policy_body(["AppLogs"])})
    expect_execute(stubber, "daylight-prod", "UPDATE_ROLLBACK_COMPLETE")
    stubber.add_response("describe_stack_events", {"StackEvents": []}, {"StackName": "daylight-prod"})
    stubber.add_response("set_stack_policy", {}, {"StackName": "daylight-prod", "StackPolicyBody": policy_body(["AppLogs", "TableMain"])})
    accepted = accept_file(tmp_path, "STATEFUL-REPLACE:daylight-prod/TableMain  # new key schema, backfilled (CHG-99)")
    assert run(client, "--execute", "--accept-file", accepted) == 1
    captured = capsys.readouterr()
    assert "ROLLED BACK" in captured.err and "daylight-prod: stack policy restored" in captured.out


def test_deploy_order_follows_the_manifest_dependencies(assembly):
    stacks = load_stacks(assembly, ["prod"])
    assert [s.name for s, _ in changeset.deploy_order(assembly, stacks)] == ORDER
    (_, artifact), _ = changeset.deploy_order(assembly, stacks)
    assert artifact.role_arn.endswith(f":role/cdk-hnb659fds-deploy-role-{ACCOUNT}-{REGION}")


def test_deploy_order_of_the_real_assembly(synthesized):
    root = assembly_dir(synthesized)
    assert (root / "manifest.json").is_file()
    order = [s.name for s, _ in changeset.deploy_order(root, load_stacks(root, ["prod"]))]
    assert sorted(order) == sorted(n for n in synthesized if n.endswith("-prod"))
    first = ("ci-deploy-prod", "data-offsite-prod", "data-platform-prod")
    assert order[0] in first
    # The off-site copies first (the platform's audit archive replicates into them), then the platform.
    assert order.index("data-offsite-prod") < order.index("data-platform-prod")
    assert order.index("data-platform-prod") < min(order.index(n) for n in order if n not in first)
    assert order.index("personalpod-prod") < order.index("personalpod-database-prod")


def test_partition_of_the_deploy_role():
    assert [changeset.partition(r) for r in ("us-east-1", "cn-north-1", "us-gov-west-1")] == ["aws", "aws-cn", "aws-us-gov"]


def test_the_gate_imports_without_boto3():
    code = "import sys; sys.modules['boto3'] = sys.modules['botocore'] = None; import tools.changeset, tools.stack_policy"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


@pytest.fixture
def fake_boto3(monkeypatch):
    """boto3.Session replaced: its STS client is stubbed, its CloudFormation client is a marker
    saying whose credentials built it."""
    import boto3

    sts = botocore.session.get_session().create_client(
        "sts", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )

    class Session:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def client(self, service):
            return (
                sts
                if service == "sts"
                else ("cloudformation", self.kwargs.get("aws_access_key_id") or "current", self.kwargs["region_name"])
            )

    monkeypatch.setattr(boto3, "Session", Session)
    with Stubber(sts) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


DEPLOY_ROLE = {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/cdk-hnb659fds-deploy-role-{ACCOUNT}-{REGION}", "RoleSessionName": "changeset-gate"}


def test_cloudformation_is_called_as_the_deploy_role(assembly, fake_boto3):
    credentials = {"AccessKeyId": "ASIAQDEPLOYROLE0001", "SecretAccessKey": "secret", "SessionToken": "token", "Expiration": CREATED}
    fake_boto3.add_response("assume_role", {"Credentials": credentials}, DEPLOY_ROLE)
    stacks = load_stacks(assembly, ["prod"])
    clients = changeset.boto_clients(stacks, deploy_role=True)
    (_, first), (_, second) = changeset.deploy_order(assembly, stacks)
    expected = (("cloudformation", "ASIAQDEPLOYROLE0001", REGION), ("cloudformation", "current", REGION))
    assert clients(first) == expected
    assert clients(second) == expected  # the role is assumed once per role and region (one AssumeRole queued)


def test_the_current_credentials_when_the_deploy_role_cannot_be_assumed(assembly, fake_boto3, capsys):
    fake_boto3.add_client_error(
        "assume_role", "AccessDenied", "not authorized to perform: sts:AssumeRole", 403, expected_params=DEPLOY_ROLE
    )
    stacks = load_stacks(assembly, ["prod"])
    (_, first), _ = changeset.deploy_order(assembly, stacks)
    current = ("cloudformation", "current", REGION)
    assert changeset.boto_clients(stacks, deploy_role=True)(first) == (current, current)
    assert "cannot assume" in capsys.readouterr().err
    assert changeset.boto_clients(stacks, deploy_role=False)(first) == (current, current)  # --no-deploy-role: no STS call

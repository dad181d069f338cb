"""The deploy path is not an administrator (tools/bootstrap.py, deploy/; issue 26): the
CloudFormation execution role gets the committed, generated policies; every role of the app
carries the permissions boundary the policies insist on."""

from __future__ import annotations

import fnmatch
import json

import botocore.session
import pytest
from botocore.stub import Stubber

import config
from stacks import naming
from tests.expected import ENVS
from tests.support import assembly_dir, resources
from tools import bootstrap


def test_the_committed_policies_are_what_the_templates_need(synthesized):
    """A new resource type (or a schema whose handlers changed) fails here until
    `make execution-policy` regenerates deploy/ and the diff is reviewed."""
    generated = bootstrap.generate(assembly_dir(synthesized))
    committed = bootstrap.committed()
    types = {res["Type"] for stack in synthesized.values() for res in stack.template["Resources"].values()}
    missing = types - set(json.loads(committed["resource-types.json"]))
    assert not missing, f"resource types without execution permissions: {sorted(missing)}: run make execution-policy"
    assert generated == committed, "deploy/ is stale: run make execution-policy and review the diff"


def execution_documents() -> list[dict]:
    documents = [json.loads(text) for name, text in bootstrap.committed().items() if name.startswith("execution-policy-")]
    assert documents
    return documents


def test_each_policy_fits_iam_and_grants_no_wildcard_kms_or_secret_values():
    statements = []
    for document in execution_documents():
        assert len(json.dumps(document, separators=(",", ":"))) <= 6144
        statements += document["Statement"]
    allowed = [a for s in statements if s["Effect"] == "Allow" for a in s["Action"]]
    assert len(allowed) > 100 and not [a for a in allowed if a.endswith(":*") or a == "*"]
    assert "secretsmanager:GetSecretValue" not in allowed
    # KMS's data actions only through the services that use a key on CloudFormation's behalf.
    data = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"}
    (through,) = [s for s in statements if s["Effect"] == "Allow" and data & set(s["Action"])]
    assert set(through["Condition"]) == {"StringLike"} and list(through["Condition"]["StringLike"]) == ["kms:ViaService"]
    assert all(v.endswith(".amazonaws.com") for v in through["Condition"]["StringLike"]["kms:ViaService"])
    # No role without the boundary, and the boundary never removed; no secret value, ever.
    denies = {s["Sid"]: s for s in statements if s["Effect"] == "Deny"}
    bounded = denies["RolesOnlyWithTheBoundary"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"} <= set(bounded["Action"])
    assert bounded["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": bootstrap.PLACEHOLDER_BOUNDARY}}
    assert {"iam:DeleteRolePermissionsBoundary", "secretsmanager:GetSecretValue"} <= set(denies["NeverRemoveTheBoundary"]["Action"])


def test_the_boundary_denies_what_would_undo_a_protection():
    (allow, deny) = json.loads(bootstrap.committed()["permissions-boundary.json"])["Statement"]
    assert allow["Effect"] == "Allow" and deny["Effect"] == "Deny"
    undo = (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "cloudtrail:StopLogging",
        "backup:DeleteBackupVault",
    )
    for action in undo:
        assert any(fnmatch.fnmatchcase(action, pattern) for pattern in deny["Action"]), action
    # What the app's roles do stays possible (the boundary caps; each role's policy grants).
    for action in ("dynamodb:GetItem", "kms:Decrypt", "s3:PutObject", "sqs:SendMessage", "sts:AssumeRole"):
        assert not any(fnmatch.fnmatchcase(action, pattern) for pattern in deny["Action"]), action


@pytest.mark.parametrize("env", ENVS)
def test_every_role_carries_the_boundary(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    roles = 0
    for stack in (s for s in synthesized.values() if s.environment == env):
        for lid, role in resources(stack.template, "AWS::IAM::Role").items():
            roles += 1
            boundary = json.dumps(role["Properties"].get("PermissionsBoundary"))
            assert f":iam::{cfg.account}:policy/{naming.boundary_name(cfg)}" in boundary, (stack.name, lid)
    assert roles > 20


def test_make_bootstrap_creates_the_policies_then_bootstraps_each_region_with_them(capsys):
    cfg = config.ENVIRONMENTS["prod"]
    assert bootstrap.main(["--env", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    arns = bootstrap.execution_policy_arns(cfg)
    assert len(arns) == len(bootstrap.execution_policies()) >= 2
    assert f"policy arn:aws:iam::{cfg.account}:policy/{naming.boundary_name(cfg)} <- deploy/permissions-boundary.json" in out
    regions = [cfg.region, cfg.offsite.region]
    commands = [line for line in out if line.startswith("cdk bootstrap")]
    assert commands == [
        f"cdk bootstrap aws://{cfg.account}/{region} --cloudformation-execution-policies {','.join(arns)} --qualifier {cfg.ci.bootstrap_qualifier}"
        for region in regions
    ]


def test_an_existing_policy_gets_a_new_default_version_and_the_oldest_goes():
    client = botocore.session.Session().create_client("iam", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    arn = "arn:aws:iam::111111111111:policy/data-cfn-exec-dev-1"
    with Stubber(client) as stub:
        stub.add_client_error("create_policy", "EntityAlreadyExists", "exists", 409)
        versions = [{"VersionId": f"v{i}", "IsDefaultVersion": i == 5, "CreateDate": f"2026-0{i}-01T00:00:00Z"} for i in range(1, 6)]
        stub.add_response("list_policy_versions", {"Versions": versions}, {"PolicyArn": arn})
        stub.add_response("delete_policy_version", {}, {"PolicyArn": arn, "VersionId": "v1"})
        stub.add_response(
            "create_policy_version",
            {"PolicyVersion": {"VersionId": "v6"}},
            {"PolicyArn": arn, "PolicyDocument": "{}", "SetAsDefault": True},
        )
        bootstrap._put_policy(client, arn, "data-cfn-exec-dev-1", "{}")
        stub.assert_no_pending_responses()

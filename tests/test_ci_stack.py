"""The CI deploy stack: GitHub's OIDC provider and a role per environment that only this
repository's jobs in that GitHub environment may assume, and that can only assume the CDK
bootstrap roles."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

import config
from config.environments import DEV
from stacks.stage import DataStage, stack_regions
from tests.support import new_app, resources

ENVS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
PROVIDER_ARN = "arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com"


def ci_template(synthesized, env: str) -> dict:
    return synthesized[f"ci-deploy-{env}"].template


def only(template: dict, type_: str) -> dict:
    (resource,) = resources(template, type_).values()
    return resource


def bootstrap_role_arns(account: str, qualifier: str = "hnb659fds", regions: tuple[str, ...] = ("us-east-1",)) -> list[str]:
    return [
        f"arn:aws:iam::{account}:role/cdk-{qualifier}-{kind}-role-{account}-{region}"
        for region in regions
        for kind in ("deploy", "file-publishing", "image-publishing", "lookup")
    ]


@pytest.mark.parametrize("env", ENVS)
def test_stack_holds_the_provider_the_role_and_its_managed_policy_only(synthesized, env):
    template = ci_template(synthesized, env)
    # No custom resource and no Lambda: the provider is the native CloudFormation resource.
    assert sorted(r["Type"] for r in template["Resources"].values()) == [
        "AWS::IAM::ManagedPolicy",
        "AWS::IAM::OIDCProvider",
        "AWS::IAM::Role",
    ]
    provider = template["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize("env", ENVS)
def test_only_this_repository_in_exactly_this_environment_may_assume_the_role(synthesized, env):
    role = ci_template(synthesized, env)["Resources"]["DeployRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": "GitHubOidcProvider"}},
            "Condition": {
                "StringEquals": {
                    "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                    "token.actions.githubusercontent.com:sub": f"repo:example-org/dynamodb-data-infrastructure:environment:{env}",
                }
            },
        }
    ]


@pytest.mark.parametrize("env", ENVS)
def test_role_is_named_for_the_workflow_and_sessions_last_one_hour(synthesized, env):
    role = ci_template(synthesized, env)["Resources"]["DeployRole"]["Properties"]
    # .github/workflows/deploy.yml assumes arn:aws:iam::<account>:role/cdk-deploy-<env>.
    assert role["RoleName"] == f"cdk-deploy-{env}"
    assert role["MaxSessionDuration"] == 3600


@pytest.mark.parametrize("env, account", ENVS.items())
def test_the_only_permissions_are_the_bootstrap_roles_and_its_own_stack_policies(synthesized, env, account):
    template = ci_template(synthesized, env)
    role = template["Resources"]["DeployRole"]["Properties"]
    # No inline policy and no AWS-managed policy: everything the role may do is below.
    assert "Policies" not in role and "ManagedPolicyArns" not in role
    policy = only(template, "AWS::IAM::ManagedPolicy")["Properties"]
    assert policy["ManagedPolicyName"] == f"cdk-deploy-{env}"
    assert policy["Roles"] == [{"Ref": "DeployRole"}]
    stacks = stack_regions(config.ENVIRONMENTS[env])
    assert len(stacks) == (9 if env == "prod" else 8)
    # Prod deploys to two regions (its off-site copies in us-west-2): both regions' bootstrap roles.
    regions = ("us-east-1", "us-west-2") if env == "prod" else ("us-east-1",)
    # (CDK writes a statement's resources sorted.)
    assert policy["PolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": sorted(bootstrap_role_arns(account, regions=regions))},
        {
            "Action": ["cloudformation:GetStackPolicy", "cloudformation:SetStackPolicy"],
            "Effect": "Allow",
            "Resource": sorted(f"arn:aws:cloudformation:{region}:{account}:stack/{name}/*" for name, region in stacks.items()),
        },
    ]


@pytest.mark.parametrize("env", ENVS)
def test_it_may_assume_every_role_cdk_deploy_of_the_environment_uses(stages, synthesized, env):
    # The roles the CLI really assumes, read from the cloud assembly: a qualifier in config
    # that differs from the one the stacks are synthesized with fails here.
    (stage,) = [s for s in stages if s.stage_name == env]
    assembly = stage.synth()
    used = {a.assume_role_arn for a in assembly.stacks} | {a.lookup_role.arn for a in assembly.stacks}
    for manifest in Path(assembly.directory).glob("*.assets.json"):
        for kind in ("files", "dockerImages"):
            for asset in json.loads(manifest.read_text()).get(kind, {}).values():
                used |= {d["assumeRoleArn"] for d in asset["destinations"].values()}
    used = {arn.replace("${AWS::Partition}", "aws") for arn in used}
    allowed = set(
        only(ci_template(synthesized, env), "AWS::IAM::ManagedPolicy")["Properties"]["PolicyDocument"]["Statement"][0]["Resource"]
    )
    assert len(used) == (6 if env == "prod" else 3) and used <= allowed, sorted(used - allowed)


@pytest.fixture(scope="module")
def existing_provider_template(tmp_path_factory) -> dict:
    """dev's CI stack when the account already has GitHub's provider, with another qualifier."""
    dev = replace(DEV, ci=replace(DEV.ci, oidc_provider_arn=PROVIDER_ARN, bootstrap_qualifier="ci2"))
    # The config the test builds is one validation accepts.
    (checked,) = config.load("dev", {**config.ENVIRONMENTS, "dev": dev})
    app = new_app(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    stage = DataStage(app, config=checked)
    app.synth()
    return stage.synth().get_stack_by_name("ci-deploy-dev").template


def test_an_existing_provider_is_imported_not_created(existing_provider_template):
    template = existing_provider_template
    assert not resources(template, "AWS::IAM::OIDCProvider")
    (statement,) = template["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert (
        statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
        == "repo:example-org/dynamodb-data-infrastructure:environment:dev"
    )


def test_the_bootstrap_qualifier_comes_from_config(existing_provider_template):
    policy = only(existing_provider_template, "AWS::IAM::ManagedPolicy")["Properties"]
    assert policy["PolicyDocument"]["Statement"][0]["Resource"] == bootstrap_role_arns("111111111111", qualifier="ci2")

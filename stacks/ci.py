"""Per-environment CI access: GitHub Actions deploys this environment through OIDC, with no stored keys.

The deploy role can do two things: assume the CDK bootstrap roles of its account and region,
and read and set the stack policy of its own environment's stacks. The bootstrap roles
(deploy, file/image publishing, lookup) are what `cdk deploy`, `cdk diff` and the preflight
use, and CloudFormation's execution role does the actual changes; so the CI session itself
can read or change no data, and what a deploy may change is governed by the bootstrap, not by
CI. The stack policy (tools/stack_policy.py, after each deploy) is not in the bootstrap deploy
role's permissions, so this role holds it, for exactly the stacks of its environment.
See docs/ci-deploy-roles.md.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.model import EnvironmentConfig
from constructs_lib.identity import pin
from constructs_lib.nag import acknowledge

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
# The roles `cdk bootstrap` creates, by the names its template gives them.
BOOTSTRAP_ROLE_KINDS = ("deploy", "file-publishing", "image-publishing", "lookup")


def deploy_role_name(config: EnvironmentConfig) -> str:
    # .github/workflows/deploy-environment.yml assumes arn:aws:iam::<account>:role/cdk-deploy-<env>.
    return f"cdk-deploy-{config.name}"


def github_subject(config: EnvironmentConfig) -> str:
    """The OIDC `sub` of a workflow job of the configured repository in this GitHub environment."""
    return f"repo:{config.ci.github_owner}/{config.ci.github_repo}:environment:{config.name}"


def deploy_regions(config: EnvironmentConfig) -> list[str]:
    """The regions the environment's stacks deploy to: its own, and the off-site one."""
    return list(dict.fromkeys([config.region, *([config.offsite.region] if config.offsite.region else [])]))


def bootstrap_role_names(config: EnvironmentConfig) -> list[str]:
    q = config.ci.bootstrap_qualifier
    return [f"cdk-{q}-{kind}-role-{config.account}-{region}" for region in deploy_regions(config) for kind in BOOTSTRAP_ROLE_KINDS]


class CiDeployStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, stack_regions: dict[str, str], **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        ci = config.ci
        self.provider: iam.IOidcProvider
        if ci.oidc_provider_arn is None:
            # The native (L1-backed) provider: no custom-resource Lambda. IAM trusts GitHub's
            # certificate through its own CA library, so no thumbprint is pinned here.
            self.provider = iam.OidcProviderNative(self, "GitHubOidc", url=f"https://{GITHUB_OIDC_HOST}", client_ids=[STS_AUDIENCE])
            # Named resources keep their logical ids: a replacement would create the new one
            # first, which fails because the URL (or role name) is already taken.
            pin(self.provider, "GitHubOidcProvider")
        else:
            # An account has one provider per URL; another stack or a person already made it.
            self.provider = iam.OidcProviderNative.from_oidc_provider_arn(self, "GitHubOidc", ci.oidc_provider_arn)

        # StringEquals on both claims: a job of this repository in exactly this GitHub
        # environment, whose token was minted for STS. No wildcard: a branch, pull request or
        # another environment's job gets a different `sub` and is refused.
        trust = iam.OpenIdConnectPrincipal(
            self.provider,
            conditions={"StringEquals": {f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE, f"{GITHUB_OIDC_HOST}:sub": github_subject(config)}},
        )
        name = deploy_role_name(config)
        description = (
            f"GitHub Actions deploys of {ci.github_owner}/{ci.github_repo} to {config.name}: "
            "may only assume the CDK bootstrap roles and set its stacks' stack policies"
        )
        self.role = iam.Role(
            self, "DeployRole", role_name=name, assumed_by=trust, description=description, max_session_duration=Duration.hours(1)
        )
        # A customer-managed policy, not an inline one (the HIPAA and NIST packs flag inline).
        # Only sts:AssumeRole: the CLI passes session tags (needing sts:TagSession) only when a
        # stack's synthesizer asks for them, and this app's do not.
        self.policy = iam.ManagedPolicy(
            self,
            "DeployPolicy",
            managed_policy_name=name,
            description=(
                f"Assume the CDK bootstrap roles of {config.account} in {', '.join(deploy_regions(config))} (qualifier {ci.bootstrap_qualifier}) "
                f"and set the stack policies of the {config.name} stacks; nothing else"
            ),
            statements=[
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"],
                    resources=[
                        self.format_arn(
                            service="iam", region="", resource="role", resource_name=role, arn_format=ArnFormat.SLASH_RESOURCE_NAME
                        )
                        for role in bootstrap_role_names(config)
                    ],
                ),
                # The stack policy that denies replacing or deleting stateful resources: set after
                # each deploy, relaxed for one accepted change (tools/changeset.py).
                iam.PolicyStatement(
                    actions=["cloudformation:GetStackPolicy", "cloudformation:SetStackPolicy"],
                    resources=self._stack_arns(config, stack_regions),
                ),
            ],
            roles=[self.role],
        )
        pin(self.role, "DeployRole")
        pin(self.policy, "DeployPolicy")
        reason = (
            "A stack's ARN ends in an id CloudFormation generates when the stack is created, unknown at "
            "synth: the wildcard is only that id, of this environment's own stacks named one by one, for "
            "GetStackPolicy and SetStackPolicy only."
        )
        acknowledge(self.policy, {f"AwsSolutions-IAM5[Resource::{arn}]": reason for arn in self._stack_arns(config, stack_regions)})

    @staticmethod
    def _stack_arns(config: EnvironmentConfig, stack_regions: dict[str, str]) -> list[str]:
        # Literal ARNs (the environment's account and regions are known): cdk-nag names each in
        # its finding, so the acknowledgement covers exactly these.
        return [f"arn:aws:cloudformation:{region}:{config.account}:stack/{name}/*" for name, region in stack_regions.items()]

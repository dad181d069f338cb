"""Least-privilege IAM roles for one system's tables."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.kms import allow_use, role_arn
from constructs_lib.nag import acknowledge
from constructs_lib.specs import LeadingKeys
from constructs_lib.table import KMS_READ_ACTIONS, KMS_WRITE_ACTIONS, DataTable, Grant, statements


class DataAccessRoles(Construct):
    """The roles a system's data is reached through, each scoped to its tables, indexes and key.

    - app: the application's read-write role, assumed by its compute service;
    - readonly: analytics and support, assumed by the configured roles; no writes, and nothing
      of a table whose keys are bearer secrets (sessions, tokens): reading one is access;
    - migration (optional): bulk loads and data fixes, assumed by the configured roles;
    - tenant (optional): a user's own partitions only (`dynamodb:LeadingKeys`), assumed by the
      app role with the user's id as a session tag, so a bug in one request cannot read
      another user's items.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        tables: Sequence[DataTable],
        app_principal: iam.IPrincipal,
        readonly_principal_arns: Sequence[str],
        migration_principal_arns: Sequence[str] | None,
        tenant_isolation: LeadingKeys | None,
        key: kms.IKey,
        app_parameter_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.policies: dict[str, iam.ManagedPolicy] = {}
        # Role id ("App") -> role name: keys name the roles that may use them.
        self.names: dict[str, str] = {}
        # Each role's grants, over every table, become its policy's document.
        self.app = self._role(
            "App", f"{name_prefix}-app", app_principal, "Application read-write access", [g for t in tables for g in t.read_write_grants()]
        )
        self.readonly = self._role(
            "ReadOnly",
            f"{name_prefix}-readonly",
            _people(readonly_principal_arns),
            "Read-only access for analytics and support",
            [g for t in tables if "secret-keys" not in t.spec.all_holdings for g in t.read_grants()],
        )

        self.migration = None
        if migration_principal_arns is not None:
            self.migration = self._role(
                "Migration",
                f"{name_prefix}-migration",
                _people(migration_principal_arns),
                "Bulk data migration and imports",
                [g for t in tables for g in t.read_write_grants()],
            )

        self.tenant = None
        if tenant_isolation is not None:
            tags = tenant_isolation.session_tags
            trust = iam.SessionTagsPrincipal(iam.ArnPrincipal(self.app.role_arn)).with_conditions(
                # The caller must tag the session with the user's id; the policy reads it back.
                {"StringLike": {f"aws:RequestTag/{tag}": "?*" for tag in tags}}
            )
            scoped = [t for t in tables if t.spec.id in tenant_isolation.tables]
            self.tenant = self._role(
                "Tenant",
                f"{name_prefix}-tenant",
                trust,
                "One user's own partitions only (dynamodb:LeadingKeys)",
                [
                    g
                    for t in scoped
                    for g in t.read_write_grants(indexes=list(tenant_isolation.indexes), leading_keys=tenant_isolation.patterns)
                ],
            )
            self.policies["App"].add_statements(
                iam.PolicyStatement(actions=["sts:AssumeRole", "sts:TagSession"], resources=[self.tenant.role_arn])
            )
        if app_parameter_arns:
            # What the app needs to use its tables, published by the stack (make app-env reads the same).
            self.policies["App"].add_statements(
                iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:GetParameters"], resources=list(app_parameter_arns))
            )
            acknowledge(
                self.policies["App"],
                {
                    f"AwsSolutions-IAM5[Resource::{arn}]": "The path holds exactly this system's table parameters, which "
                    "this stack publishes; by path the policy does not grow with each table (IAM's 6,144 characters)."
                    for arn in app_parameter_arns
                    if arn.endswith("*")
                },
            )
        # The key's side of the grants: each role only through DynamoDB. By literal ARN: a key
        # policy naming a role by reference would make the key wait for the role.
        arns = {role: role_arn(self, name) for role, name in self.names.items()}
        writers = [arns[r] for r in ("App", "Migration", "Tenant") if r in arns]
        allow_use(key, self, sid="TablesReadWrite", principal_arns=writers, actions=KMS_WRITE_ACTIONS, via_services=("dynamodb",))
        allow_use(key, self, sid="TablesReadOnly", principal_arns=[arns["ReadOnly"]], actions=KMS_READ_ACTIONS, via_services=("dynamodb",))

    def _role(self, id: str, name: str, principal: iam.IPrincipal, description: str, grants: list[Grant]) -> iam.Role:
        self.names[id] = name
        role = iam.Role(self, id, role_name=name, assumed_by=principal, description=description, max_session_duration=Duration.hours(1))
        if isinstance(principal, SourceIdentityPrincipal) and role.assume_role_policy is not None:
            # A source identity passed on (set at sign-in, or by an earlier role in the chain)
            # needs sts:SetSourceIdentity in the trust policy, under the same condition.
            role.assume_role_policy.add_statements(principal.set_source_identity_statement())
        # Each role's permissions live in one customer-managed policy named after it.
        document = iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements(grants)})
        self.policies[id] = iam.ManagedPolicy(
            self, f"{id}Policy", managed_policy_name=name, description=description, roles=[role], document=document
        )
        return role


def _arns(arns: Sequence[str]) -> iam.IPrincipal:
    return iam.CompositePrincipal(*[iam.ArnPrincipal(arn) for arn in arns])


# People's sessions must carry a source identity, so that each data event names the person,
# not only the role session (docs/security.md, "Attribution").
SOURCE_IDENTITY = {"StringLike": {"sts:SourceIdentity": "?*"}}


class SourceIdentityPrincipal(iam.PrincipalWithConditions):
    """The roles people assume: only with a source identity set."""

    def __init__(self, arns: Sequence[str]) -> None:
        super().__init__(_arns(arns), SOURCE_IDENTITY)
        self.arns = list(arns)

    def set_source_identity_statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            actions=["sts:SetSourceIdentity"], principals=[iam.ArnPrincipal(a) for a in self.arns], conditions=SOURCE_IDENTITY
        )


def _people(arns: Sequence[str]) -> iam.IPrincipal:
    return SourceIdentityPrincipal(arns)

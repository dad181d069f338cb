"""AWS Backup for the tables: one locked, encrypted vault per environment, a plan per system."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from constructs_lib.identity import cfn_resource, pin
from constructs_lib.kms import USE_ACTIONS, allow_use, role_arn
from constructs_lib.nag import acknowledge
from constructs_lib.props import BackupRule, Governance, VaultLock, backup_role_name
from constructs_lib.table import DataTable

# What AWS Backup's role does with a key it backs up from or into (AWS's restore policy's list).
BACKUP_KEY_ACTIONS = (*USE_ACTIONS, "kms:CreateGrant")
# What on-call hears from a vault: failures, every completed restore (somebody has a copy of the
# data now) and every recovery point whose lifecycle changed.
NOTIFIED_EVENT_NAMES = (
    "BACKUP_JOB_FAILED",
    "BACKUP_JOB_EXPIRED",
    "RESTORE_JOB_FAILED",
    "COPY_JOB_FAILED",
    "RESTORE_JOB_COMPLETED",
    "RECOVERY_POINT_MODIFIED",
)
# What would lose or loosen the recovery points; vault access policies take no wildcard actions.
RECOVERY_POINT_ACTIONS = ("backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle")
VAULT_POLICY_ACTIONS = ("backup:DeleteBackupVaultAccessPolicy", "backup:PutBackupVaultAccessPolicy")
RESTORE_ACTIONS = ("backup:StartCopyJob", "backup:StartRestoreJob")


def vault_access_policy(g: Governance, *, restorers: Sequence[str], copy_targets: Sequence[str]) -> iam.PolicyDocument:
    """Denies only (the roles' IAM grants stay the source of access): recovery points deleted
    or their lifecycle changed by anyone but break-glass; the policy itself changed by anyone
    but break-glass and CloudFormation; restores and copies started by anyone but break-glass
    and `restorers` (a restore role of config, AWS Backup's plan roles); copies to any vault but
    `copy_targets` (backup:CopyTargets, on CopyFromBackupVault)."""

    def deny(sid: str, actions: Sequence[str], exempt: Sequence[str]) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=sorted(actions),
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": sorted(set(exempt))}},
        )

    copies = iam.PolicyStatement(
        sid="DenyCopiesOutsideTheEnvironment",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["backup:CopyFromBackupVault"],
        resources=["*"],
        conditions={"ForAnyValue:ArnNotLike": {"backup:CopyTargets": sorted(copy_targets)}}
        if copy_targets
        else {"ArnNotEquals": {"aws:PrincipalArn": [g.break_glass_arn]}},
    )
    return iam.PolicyDocument(
        statements=[
            deny("DenyRecoveryPointChangesExceptBreakGlass", RECOVERY_POINT_ACTIONS, [g.break_glass_arn]),
            deny("DenyVaultPolicyChangesExceptBreakGlassAndDeployer", VAULT_POLICY_ACTIONS, [g.break_glass_arn, g.deployer_arn]),
            deny("DenyRestoresAndCopiesExceptNamedRoles", RESTORE_ACTIONS, [g.break_glass_arn, *restorers]),
            copies,
        ]
    )


# What CDK's selection role attaches (backup, and restores because allow_restores is on).
SERVICE_ROLE_POLICIES = ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores")


class TableBackupVault(Construct):
    """The environment's backup vault: customer-managed key, an access policy that keeps its
    recovery points (vault_access_policy), notifications to the alert topic and, with `lock`, a
    vault lock between a minimum and a maximum retention."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vault_name: str,
        key: kms.IKey,
        topic: sns.ITopic | None,
        lock: VaultLock | None,
        removal_policy: RemovalPolicy,
        governance: Governance,
        restorers: Sequence[str],
        copy_targets: Sequence[str] = (),
        restores_by_rules: bool = False,
    ) -> None:
        """`restores_by_rules`: EventBridge rules report restore jobs (constructs_lib/tamper.py,
        which can leave out the restore tests'); the vault notifies only of the rest."""
        super().__init__(scope, id)
        configuration = None
        if lock is not None:
            configuration = backup.LockConfiguration(
                min_retention=Duration.days(lock.min_retention_days),
                max_retention=Duration.days(lock.max_retention_days),
                # Compliance mode: after the 3-day grace period nobody, not even the account root,
                # can shorten retention, delete a recovery point early or remove the lock.
                # Without it (governance mode) a principal allowed to delete the lock still can.
                changeable_for=Duration.days(3) if lock.mode == "compliance" else None,
            )
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=vault_name,
            encryption_key=key,
            lock_configuration=configuration,
            removal_policy=removal_policy,
            access_policy=vault_access_policy(governance, restorers=restorers, copy_targets=copy_targets),
        )
        # Notifications on the L1: the L2's notification_topic also grants backup.amazonaws.com
        # the topic and its key without a source condition. The alert topic's own policy already
        # lets this account's AWS Backup publish (constructs_lib/alerts.py).
        # (A vault notifies a topic of its own region only: an off-site vault has none here.)
        if topic is not None:
            cfn_resource(self.vault, backup.CfnBackupVault).notifications = backup.CfnBackupVault.NotificationObjectTypeProperty(
                backup_vault_events=[e for e in NOTIFIED_EVENT_NAMES if not (restores_by_rules and e.startswith("RESTORE_JOB_"))],
                sns_topic_arn=topic.topic_arn,
            )
        pin(self.vault, "BackupVault")


class ResourceBackupPlan(Construct):
    """A backup plan whose selection names each resource (tables, a cluster) of the stack by ARN
    (HIPAA's DynamoDBInBackupPlan and RDSInBackupPlan count only a selection in the same stack
    that names the resource), into the environment's vault, as a named role."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        plan_name: str,
        vault_name: str,
        rules: Sequence[BackupRule],
        resource_arns: Sequence[str],
        selection_name: str,
        what: str,
        copy_to: Sequence[str] = (),
        copy_days: Mapping[str, int] | None = None,
    ) -> None:
        """`copy_days`: days the copies of a rule (by name) are kept, where shorter than the
        originals (cold storage only if they outlive its start)."""
        super().__init__(scope, id)
        vault = backup.BackupVault.from_backup_vault_name(self, "Vault", vault_name)
        copy_days = copy_days or {}
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=plan_name,
            backup_vault=vault,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name=rule.name,
                    schedule_expression=events.Schedule.expression(rule.schedule),
                    delete_after=Duration.days(rule.delete_after_days),
                    move_to_cold_storage_after=Duration.days(rule.move_to_cold_storage_after_days)
                    if rule.move_to_cold_storage_after_days
                    else None,
                    backup_vault=vault,
                    # Off-site copies (and another account's vault), kept as long as the original.
                    copy_actions=[
                        backup.BackupPlanCopyActionProps(
                            destination_backup_vault=backup.BackupVault.from_backup_vault_arn(self, f"CopyTo{i}{rule.name}", arn),
                            delete_after=Duration.days(kept := copy_days.get(rule.name, rule.delete_after_days)),
                            move_to_cold_storage_after=Duration.days(rule.move_to_cold_storage_after_days)
                            if rule.move_to_cold_storage_after_days and rule.move_to_cold_storage_after_days < kept
                            else None,
                        )
                        for i, arn in enumerate(copy_to)
                    ]
                    or None,
                )
                for rule in rules
            ],
        )
        # A named role, so the keys can name it; only this account's AWS Backup may assume it.
        role = iam.Role(
            self,
            "Role",
            role_name=backup_role_name(plan_name),
            description=f"AWS Backup backs up and restores {what}",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
        )
        self.plan.add_selection(
            selection_name.capitalize(),
            backup_selection_name=f"{plan_name}-{selection_name}",
            resources=[backup.BackupResource.from_arn(arn) for arn in resource_arns],
            allow_restores=True,
            role=role,
        )
        reason = (
            "AWS Backup's own service-role policy is AWS-maintained and follows new backup features; a "
            "hand-copied policy would silently break backups. The role is assumable only by backup.amazonaws.com."
        )
        acknowledge(
            role,
            {
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{name}]": reason
                for name in SERVICE_ROLE_POLICIES
            },
        )


def table_backup_plan(
    scope: Construct,
    id: str,
    *,
    plan_name: str,
    vault_name: str,
    rules: Sequence[BackupRule],
    tables: Sequence[DataTable],
    key: kms.IKey,
    copy_to: Sequence[str] = (),
    copy_days: Mapping[str, int] | None = None,
) -> ResourceBackupPlan:
    """Every table of a system stack in one plan (selection `<plan>-tables`); the plan's role
    may read them through their key (the vault's own key is the platform's)."""
    plan = ResourceBackupPlan(
        scope,
        id,
        plan_name=plan_name,
        vault_name=vault_name,
        rules=rules,
        resource_arns=[t.table_arn for t in tables],
        selection_name="tables",
        what=f"the {plan_name} tables",
        copy_to=copy_to,
        copy_days=copy_days,
    )
    allow_use(
        key,
        plan,
        sid="BackupReadsTables",
        principal_arns=[role_arn(plan, backup_role_name(plan_name))],
        actions=BACKUP_KEY_ACTIONS,
        via_services=("backup", "dynamodb"),
    )
    return plan


class AirGappedVault(Construct):
    """A logically air-gapped vault (AWS::Backup::LogicallyAirGappedBackupVault): its recovery
    points live in an AWS Backup service-owned account, always under a compliance-mode lock
    (the retention days are the lock's), under `key`, with the same access policy as the other
    vaults, and a multi-party approval team where config names one (AWS Backup developer guide,
    "Logically air-gapped vault")."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        vault_name: str,
        key: kms.IKey,
        lock: VaultLock,
        governance: Governance,
        restorers: Sequence[str],
        removal_policy: RemovalPolicy,
        mpa_approval_team_arn: str | None = None,
    ) -> None:
        """`lock`: its minimum is the shortest life of a copy it takes (7 days at least)."""
        super().__init__(scope, id)
        self.vault = backup.CfnLogicallyAirGappedBackupVault(
            self,
            "Vault",
            backup_vault_name=vault_name,
            encryption_key_arn=key.key_arn,
            min_retention_days=lock.min_retention_days,
            max_retention_days=lock.max_retention_days,
            access_policy=vault_access_policy(governance, restorers=restorers, copy_targets=()).to_json(),
            mpa_approval_team_arn=mpa_approval_team_arn,
        )
        self.vault.apply_removal_policy(removal_policy)
        pin(self.vault, "BackupVaultAirGapped")

"""Physical names shared between stacks. Stacks address each other's resources by these
names instead of CloudFormation exports, which would lock the exporting resource in place.

It imports no CDK (tests/test_config.py checks it), so tools that need a name (preflight's
air-gapped vault check) do not start the jsii runtime and Node for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from config.catalogue import SYSTEMS
from config.model import EnvironmentConfig
from constructs_lib.arns import partition
from constructs_lib.props import Governance, ReplicationTarget, VaultLock, backup_role_name

if TYPE_CHECKING:
    from aws_cdk import Stack

# PersonalPod's PostgreSQL stack (stacks/database.py), named here for the stacks that name its roles.
DATABASE = "personalpod-database"
# PersonalPod's names for its database and users; the constructs take them as given, and
# db-bootstrap signs in and grants by them.
DATABASE_NAME = "personalpod"
ADMIN_USER = "personalpod_admin"
APP_USER = "personalpod_app"


def alert_topic_name(cfg: EnvironmentConfig) -> str:
    return f"data-alerts-{cfg.name}"


def alert_topic_arns(stack: Stack, cfg: EnvironmentConfig) -> list[str]:
    """What every alarm of a workload stack notifies: the platform's alert topic, addressed by
    its name in `stack`'s account and region, and the external on-call topic where config has one."""
    external = [cfg.alerts.external_topic_arn] if cfg.alerts.external_topic_arn else []
    return [stack.format_arn(service="sns", resource=alert_topic_name(cfg)), *external]


def tamper_alerts_role_name(cfg: EnvironmentConfig, region: str | None = None) -> str:
    """The role EventBridge publishes (or, off-site, forwards) tamper alerts as (constructs_lib/tamper.py)."""
    return f"data-tamper-alerts-{cfg.name}-{region or cfg.region}"


def restore_tests_plan_name(cfg: EnvironmentConfig) -> str:
    """The environment's restore testing plan (AWS Backup names: letters, digits, _)."""
    return f"data_restore_tests_{cfg.name}"


def restore_tests_role_name(cfg: EnvironmentConfig) -> str:
    """The role AWS Backup restores (and deletes) the test copies as (constructs_lib/restore_tests.py)."""
    return f"data-restore-tests-{cfg.name}"


def restore_validation_name(cfg: EnvironmentConfig) -> str:
    """The restore tests' validator: its function, role and log group (constructs_lib/restore_tests.py)."""
    return f"data-restore-validation-{cfg.name}"


def restore_tests_role_arns(cfg: EnvironmentConfig) -> list[str]:
    return [role_arn(cfg, restore_tests_role_name(cfg))] if cfg.backup.restore_testing else []


def boundary_name(cfg: EnvironmentConfig) -> str:
    """The permissions boundary every role of the environment carries; `make bootstrap` creates
    it from deploy/permissions-boundary.json (tools/bootstrap.py)."""
    return f"data-platform-boundary-{cfg.name}"


def denied_calls_queue_name(cfg: EnvironmentConfig) -> str:
    """The queue denied data calls wait in for on-call (constructs_lib/tamper.py)."""
    return f"data-denied-calls-{cfg.name}"


def tamper_buckets(cfg: EnvironmentConfig) -> list[str]:
    """The buckets whose policy, replication, lifecycle or lock changes page: the archives and
    the trail's, and their off-site replicas."""
    return [
        *(archive_bucket_name(cfg, audit=audit) for audit in (False, True)),
        *([audit_trail_bucket_name(cfg)] if cfg.audit_trail.mode == "create" else []),
        *([offsite_bucket_name(cfg)] if cfg.offsite.region else []),
        *([offsite_trail_bucket_name(cfg)] if cfg.offsite.region and cfg.audit_trail.mode == "create" else []),
    ]


def tamper_alerts_on(cfg: EnvironmentConfig) -> bool:
    """Whether a trail feeds EventBridge: this app's, or the organization's. Its data events
    feed the break-glass and denied-call rules; the other rules need management events, from
    this trail (audit_trail.management_events) or another one `make preflight` finds."""
    return cfg.audit_trail.mode in ("create", "organization")


def access_log_bucket_name(cfg: EnvironmentConfig) -> str:
    # Bucket names are global: account and region make it unique.
    return f"data-access-logs-{cfg.name}-{cfg.account}-{cfg.region}"


def stack_name(cfg: EnvironmentConfig, system_key: str) -> str:
    return f"{system_key}-{cfg.name}"


def archive_bucket_name(cfg: EnvironmentConfig, *, audit: bool) -> str:
    return f"data-{'audit-' if audit else ''}archive-{cfg.name}-{cfg.account}-{cfg.region}"


def audit_trail_bucket_name(cfg: EnvironmentConfig) -> str:
    return f"data-audit-trail-{cfg.name}-{cfg.account}-{cfg.region}"


def table_arns(cfg: EnvironmentConfig, only: Iterable[tuple[str, ...]] | Iterable[tuple[str, str, object]] | None = None) -> list[str]:
    """Every table of the environment (or `only` those, as (system, table id, ...) entries) in
    every region it is in, by ARN from its name (the audit trail names them all)."""
    regions = [cfg.region, *(replica.region for replica in cfg.replicas)]
    chosen = None if only is None else {(system, table_id) for system, table_id, *_ in only}
    return [
        f"arn:{partition(region)}:dynamodb:{region}:{cfg.account}:table/{cfg.table_name(system.key, spec.id, spec.name)}"
        for system in SYSTEMS
        for spec in system.tables
        if chosen is None or (system.key, spec.id) in chosen
        for region in regions
    ]


# What makes a table's reads worth logging (issue 28): its items are PHI or audit evidence.
READ_LOGGED = frozenset({"phi", "audit"})


def read_logged_tables() -> list[tuple[str, str]]:
    """(system, table id) of the tables whose reads the trail logs: PHI or audit evidence."""
    return [(s.key, spec.id) for s in SYSTEMS for spec in s.tables if READ_LOGGED & set(spec.holds)]


def backup_vault_name(cfg: EnvironmentConfig) -> str:
    return f"data-tables-{cfg.name}"


def role_arn(cfg: EnvironmentConfig, role_name: str) -> str:
    """A role of this environment's account by name: usable in policies before the role exists."""
    return f"arn:{partition(cfg.region)}:iam::{cfg.account}:role/{role_name}"


def deployer_arn(cfg: EnvironmentConfig, region: str | None = None) -> str:
    """The CDK bootstrap's CloudFormation execution role (of `region`, by default the
    environment's): the principal that creates every resource."""
    qualifier = cfg.ci.bootstrap_qualifier
    return role_arn(cfg, f"cdk-{qualifier}-cfn-exec-role-{cfg.account}-{region or cfg.region}")


def governance(cfg: EnvironmentConfig, region: str | None = None) -> Governance:
    return Governance(
        account=cfg.account,
        administrator_arns=cfg.keys.administrator_arns,
        break_glass_arn=cfg.keys.break_glass_arn,
        deployer_arn=deployer_arn(cfg, region),
        protected=cfg.protection != "rebuildable",
    )


# --- off-site copies (stack data-offsite-{env} in config.offsite.region)


def offsite_vault_name(cfg: EnvironmentConfig) -> str:
    return f"{backup_vault_name(cfg)}-offsite"


def offsite_vault_arn(cfg: EnvironmentConfig) -> str:
    region = cfg.offsite.region or cfg.region
    return f"arn:{partition(region)}:backup:{region}:{cfg.account}:backup-vault:{offsite_vault_name(cfg)}"


def offsite_bucket_name(cfg: EnvironmentConfig) -> str:
    """The audit archive's replica."""
    return f"data-audit-archive-{cfg.name}-offsite-{cfg.account}-{cfg.offsite.region}"


def offsite_trail_bucket_name(cfg: EnvironmentConfig) -> str:
    """The audit trail's off-site replica (stacks/offsite.py)."""
    return f"data-audit-trail-{cfg.name}-offsite-{cfg.account}-{cfg.offsite.region}"


def trail_replication_role_name(cfg: EnvironmentConfig) -> str:
    """The role S3 replicates the audit trail's log files as (in the platform stack)."""
    return f"data-audit-trail-{cfg.name}-replication"


def offsite_target(cfg: EnvironmentConfig, *, bucket_name: str, role_name: str) -> ReplicationTarget:
    """Where a bucket of the primary region replicates to, under the off-site key by alias."""
    region = cfg.offsite.region
    if region is None:  # callers check offsite.region first; this is a programming error
        raise ValueError(f"{cfg.name} has no offsite.region to replicate to")
    return ReplicationTarget(
        bucket_name=bucket_name,
        region=region,
        key_alias_arn=f"arn:{partition(region)}:kms:{region}:{cfg.account}:{offsite_key_alias(cfg)}",
        role_name=role_name,
    )


def offsite_access_log_bucket_name(cfg: EnvironmentConfig) -> str:
    return f"data-access-logs-{cfg.name}-offsite-{cfg.account}-{cfg.offsite.region}"


def offsite_key_alias(cfg: EnvironmentConfig) -> str:
    return f"alias/data-offsite-{cfg.name}"


def air_gapped_vault_name(cfg: EnvironmentConfig) -> str:
    return f"{backup_vault_name(cfg)}-airgapped"


def air_gapped_vault_arn(cfg: EnvironmentConfig) -> str:
    region = cfg.offsite.region or cfg.region
    return f"arn:{partition(region)}:backup:{region}:{cfg.account}:backup-vault:{air_gapped_vault_name(cfg)}"


def backup_copy_vaults(cfg: EnvironmentConfig, *, tables: bool = True) -> list[str]:
    """ARNs of the vaults every backup rule copies to: off-site, the air-gapped vault for the
    tables where config has one (the database's copies stay in the standard off-site vault),
    else the standard off-site vault; and another account's vault where config names one."""
    offsite = air_gapped_vault_arn(cfg) if tables and cfg.offsite.air_gapped else offsite_vault_arn(cfg)
    return [
        *([offsite] if cfg.offsite.region else []),
        *([cfg.offsite.account_vault_arn] if cfg.offsite.account_vault_arn else []),
    ]


def all_copy_vaults(cfg: EnvironmentConfig) -> list[str]:
    """Every vault a rule may copy to (the primary vault's access policy allows just these)."""
    return sorted({*backup_copy_vaults(cfg), *backup_copy_vaults(cfg, tables=False)})


def backup_role_arns(cfg: EnvironmentConfig) -> list[str]:
    """Every backup role of the environment: one per system plan and the database's."""
    return [
        *(role_arn(cfg, backup_role_name(f"{s.key}-{cfg.name}")) for s in SYSTEMS),
        role_arn(cfg, backup_role_name(stack_name(cfg, DATABASE))),
    ]


def app_principal_conditions(cfg: EnvironmentConfig) -> dict[str, dict[str, str]]:
    """The conditions on the service that runs the applications (access.app_service_principal):
    only when acting for this account (and, where config or ECS's documentation gives one, for a
    source matching aws:SourceArn)."""
    access = cfg.access
    conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": cfg.account}}
    source = access.app_source_arn
    if source is None and access.app_service_principal == "ecs-tasks.amazonaws.com":
        source = f"arn:{partition(cfg.region)}:ecs:{cfg.region}:{cfg.account}:*"
    if source is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source}
    return conditions


def parameter_arn(cfg: EnvironmentConfig, name: str) -> str:
    """An SSM parameter of this environment by its name (which starts with "/")."""
    return f"arn:{partition(cfg.region)}:ssm:{cfg.region}:{cfg.account}:parameter{name}"


def vault_lock(cfg: EnvironmentConfig) -> VaultLock | None:
    """The lock of the environment's vaults (both regions), where config sets one."""
    backup = cfg.backup
    if backup.vault_lock_min_retention_days is None or backup.vault_lock_max_retention_days is None:
        return None
    return VaultLock(
        min_retention_days=backup.vault_lock_min_retention_days,
        max_retention_days=backup.vault_lock_max_retention_days,
        mode=backup.vault_lock_mode,
    )


def vault_restorers(cfg: EnvironmentConfig, *, offsite: bool = False) -> list[str]:
    """Who may start a restore or a copy out of the environment's vaults besides break-glass:
    config's restore roles, AWS Backup's own plan roles (their copy actions) and, in the primary
    region's vault (whose recovery points they restore), the restore tests' role."""
    tests = [] if offsite else restore_tests_role_arns(cfg)
    return sorted({*cfg.backup.restore_principal_arns, *backup_role_arns(cfg), *tests})


def tamper_exempt(cfg: EnvironmentConfig) -> dict[str, list[str]]:
    """Who each tamper-watch exemption (constructs_lib.props.TAMPER_EXEMPT) names: the deployer
    of every region deployed to (the off-site stack's calls reach the primary rules too)."""
    regions = [cfg.region, *([cfg.offsite.region] if cfg.offsite.region else [])]
    return {
        "deployer": [deployer_arn(cfg, region) for region in regions],
        "backup": backup_role_arns(cfg),
        "restore-tests": restore_tests_role_arns(cfg),
    }

"""Typed, frozen per-environment configuration.

Everything an environment may vary is a field here; stacks never branch on the environment's
name. What is allowed is decided by config/rules/, before any construct exists, so a bad
value never reaches a template.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from types import MappingProxyType
from typing import Literal

# Values the constructs take as they are: config uses the constructs' own props types, under
# config's names.
from constructs_lib.props import AlarmSettings as AlarmConfig
from constructs_lib.props import BackupRule as BackupRuleConfig
from constructs_lib.props import Replica as ReplicaConfig
from constructs_lib.props import TableBilling as BillingConfig

RemovalPolicyName = Literal["retain", "destroy"]
# How much an environment's data is worth protecting; what validation requires and the deploy
# guard enforces follow from it (docs/changes.md, "Add an environment"):
# - "rebuildable": test data, rebuilt rather than restored: nothing is required, and the guard
#   reports a weakened protection without blocking;
# - "protected": data worth keeping: PITR, deletion protection, Retain, termination protection
#   and backups are required, and the guard blocks a weakened protection;
# - "production": users' data: besides that, a locked backup vault, off-site copies and the
#   database's deletion protection, final snapshot and 7 days of backups are required.
DataProtection = Literal["rebuildable", "protected", "production"]
# The template Metadata key where every stack records its environment's protection
# (stacks/stage.py); the deploy guard reads it from the baseline as well as the candidate.
PROTECTION_METADATA = "DataProtection"
# The cost-allocation tags: every resource carries both (stacks/stage.py), and the budgets filter on them.
COST_TAG = "CostCenter"
SYSTEM_TAG = "System"
# S3's minimum storage durations (days) for the archive's storage classes.
GLACIER_MINIMUM_DAYS = 90
DEEP_ARCHIVE_MINIMUM_DAYS = 180
# RDS can also leave a final snapshot behind when its cluster is deleted.
DatabaseRemovalPolicyName = Literal["retain", "snapshot", "destroy"]


def _frozen_mapping(value: Mapping) -> Mapping:
    return MappingProxyType(dict(value))


# The SSM parameter each table is published under; `make app-env` (tools/app_env.py) reads
# the parameters back by the same pattern.
TABLE_PARAMETER = "/data/{env}/{system}/tables/{table}"


@dataclass(frozen=True, kw_only=True)
class PitrConfig:
    enabled: bool
    recovery_period_days: int = 35


@dataclass(frozen=True, kw_only=True)
class SlackConfig:
    """An AWS Chatbot Slack channel; the workspace must be authorised in the Chatbot console once."""

    workspace_id: str
    channel_id: str


@dataclass(frozen=True, kw_only=True)
class AlertConfig:
    emails: tuple[str, ...] = ()
    slack: SlackConfig | None = None
    # An existing topic (e.g. an on-call tool's) that every alarm also notifies.
    external_topic_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class AccessConfig:
    # Service that runs the applications and assumes each system's app role. Only this
    # environment's account may have it assume the role (aws:SourceAccount).
    app_service_principal: str = "ecs-tasks.amazonaws.com"
    # aws:SourceArn the service must act for (ArnLike). None: for ECS, any task of this
    # account and region (arn:aws:ecs:REGION:ACCOUNT:*, what ECS documents for task roles);
    # for another service, no SourceArn condition.
    app_source_arn: str | None = None
    # Roles (ARNs) allowed to assume each system's read-only and data-migration roles.
    readonly_principal_arns: tuple[str, ...] = ()
    migration_principal_arns: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class KeyConfig:
    """Who governs the customer-managed keys (docs/security.md). Both must exist before the first
    deploy: KMS refuses a key policy that names a principal it cannot find."""

    # Roles (ARNs) that administer every key of the environment: rotation, tags, policy,
    # scheduling deletion. They cannot encrypt or decrypt anything.
    administrator_arns: tuple[str, ...]
    # One role (ARN) for emergencies: full control of every key. Its use is an incident.
    break_glass_arn: str


@dataclass(frozen=True, kw_only=True)
class CiConfig:
    """Who may deploy through GitHub Actions OIDC (stack ci-deploy-{env}, docs/ci-deploy-roles.md)."""

    # Placeholder repository: ops set the real one (see docs/ci-deploy-roles.md). Only workflow
    # jobs of this repository running in the GitHub environment named like this one may deploy.
    github_owner: str = "example-org"
    github_repo: str = "dynamodb-data-infrastructure"
    # An account has one OIDC provider per URL: set this when the account already has GitHub's
    # (arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com) so it is imported.
    oidc_provider_arn: str | None = None
    # The qualifier the account was bootstrapped with (`cdk bootstrap --qualifier`).
    bootstrap_qualifier: str = "hnb659fds"


@dataclass(frozen=True, kw_only=True)
class ArchiveConfig:
    """How archived (expired) items age in S3. Days count from the item's arrival in the archive."""

    # S3 Glacier Flexible Retrieval bills at least 90 days, Deep Archive at least 180: the
    # validation keeps every transition and expiry past those minimums.
    glacier_after_days: int = 30
    deep_archive_after_days: int = 120
    # Object Lock on the audit archive: COMPLIANCE (nobody can delete before retention ends),
    # GOVERNANCE (privileged users can), or None. Only settable when the bucket is created.
    audit_object_lock: Literal["COMPLIANCE", "GOVERNANCE"] | None = None
    # What an archived table's stream carries: OLD_IMAGE (the expiring item, all the archive
    # needs) or NEW_AND_OLD_IMAGES, which DynamoDB requires of a table with replicas. Changing
    # it replaces the stream and cuts the archive pipe off (the guard's STREAM-CHANGE): a
    # deployment of its own, before any replica (docs/first-deploy.md).
    stream_view: Literal["OLD_IMAGE", "NEW_AND_OLD_IMAGES"] = "OLD_IMAGE"


@dataclass(frozen=True, kw_only=True)
class RestoreTestingConfig:
    """AWS Backup restore tests of every table and the database cluster (docs/restore.md,
    "Restore tests"): each run restores the latest recovery point of each, under the
    environment's keys, keeps it `keep_hours` for checks, then deletes it. Each run is billed
    (a DynamoDB restore per GB: make cost prices it)."""

    # When the plan runs (AWS Backup's cron or rate, UTC). The missing-run alarm watches 7 days,
    # CloudWatch's longest evaluation range: run at least weekly.
    schedule: str = "cron(0 7 ? * SUN *)"
    # Hours AWS Backup may wait to start a run (StartWindowHours).
    start_window_hours: int = 8
    # Restore the latest recovery point from this many days back (SelectionWindowDays).
    window_days: int = 7
    # Hours a restored table or cluster is kept before AWS Backup deletes it (ValidationWindowHours).
    keep_hours: int = 2


@dataclass(frozen=True, kw_only=True)
class BackupConfig:
    enabled: bool = False
    rules: tuple[BackupRuleConfig, ...] = ()
    # Vault lock: no backup in the vault can be deleted before this many days...
    vault_lock_min_retention_days: int | None = None
    # ...nor kept longer than this many (a rule that asks for more fails): set with the minimum.
    # A compliance lock cannot be changed after its 3-day grace period, so leave room to grow.
    vault_lock_max_retention_days: int | None = None
    # "compliance": after 3 days nobody, root included, can remove or loosen the lock;
    # "governance": principals allowed backup:DeleteBackupVaultLockConfiguration still can
    # (validation requires compliance where protection is "production").
    vault_lock_mode: Literal["compliance", "governance"] = "compliance"
    # Roles (ARNs) that may restore or copy recovery points by hand (docs/restore.md), besides
    # break-glass and AWS Backup's own plan roles; the vaults' access policies deny everyone else.
    restore_principal_arns: tuple[str, ...] = ()
    # Restore tests on a schedule; None: none (needs enabled, and a trail for their alerts).
    restore_testing: RestoreTestingConfig | None = None


@dataclass(frozen=True, kw_only=True)
class OffsiteConfig:
    """Copies outside the primary region (docs/restore.md), in a stack of that region:
    every backup rule copies its recovery points to a locked vault there, under that region's
    own key, and the audit archive replicates to a bucket there with the same Object Lock."""

    # The second region; None: no off-site copies.
    region: str | None = None
    # An existing backup vault in another account (a backup account) that every rule copies
    # to as well; its account must be in trusted_accounts and its access policy must allow
    # this account's copies.
    account_vault_arn: str | None = None
    # The tables' off-site copies go to a logically air-gapped vault there (AWS Backup keeps its
    # recovery points in a service-owned account, always compliance-locked) instead of the
    # standard off-site vault, which keeps the database's copies: AWS Backup cannot copy Aurora
    # across regions into an air-gapped vault (docs/restore.md cites the limitation).
    air_gapped: bool = False
    # Days the tables' off-site copies of a backup rule are kept (rule name -> days); a rule not
    # listed keeps its copies as long as its originals. The latest copy is what a lost region
    # needs (docs/restore.md): a shorter history off-site costs far less (docs/cost.md).
    table_copy_days: Mapping[str, int] = field(default_factory=dict)
    # Multi-party approval team (AWS MPA) that can open the air-gapped vault when this account
    # cannot: a real team's ARN only (validation refuses a placeholder account).
    mpa_approval_team_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class AuditTrailConfig:
    """Who read or wrote which table (CloudTrail data events), kept as evidence (docs/security.md)."""

    # "create": this project's own trail, bucket and key; "organization": an existing
    # organization trail covers the tables (nothing is created; docs/security.md says what it
    # must record); "off": no trail (dev).
    mode: Literal["create", "organization", "off"] = "off"
    # Record reads (GetItem, Query, Scan) as well as writes. Every event is billed.
    read_events: bool = False
    # Management events too (key policy changes, DeleteTable): the tamper alerts' source. Off
    # only where another trail of the account records them (`make preflight` looks for it): a
    # second copy of management events is billed.
    management_events: bool = False
    # Days the log files are kept (lifecycle) and locked (Object Lock, if set).
    retention_days: int = 2555
    object_lock: Literal["COMPLIANCE", "GOVERNANCE"] | None = None
    # Roles (ARNs) that may read the log files (auditors); the break-glass role always can.
    reader_arns: tuple[str, ...] = ()
    # mode "organization": the trail that records this account's tables.
    organization_trail_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class WorkloadConfig:
    """What the environment is assumed to do in a month: the variable half of `make cost`
    (docs/cost.md). Replace the defaults with measured figures once the environment runs
    (docs/cost.md says which CloudWatch metric gives each)."""

    # Request units a month over every on-demand table and index, in millions. Provisioned
    # tables pay for their capacity floor instead (priced from the templates).
    read_million: float = 0
    write_million: float = 0
    # Data held over all tables, in GB (priced by each table's class; spread evenly).
    table_gb: float = 0
    # Items TTL expires a month over the archived tables, in millions, and their size in KB.
    expired_million: float = 0
    item_kb: float = 1
    # PersonalPod's PostgreSQL store: GB stored, and the average ACUs an instance runs at
    # (None: the minimum capacity all month).
    database_gb: float = 0
    database_average_acu: float | None = None


@dataclass(frozen=True, kw_only=True)
class DatabasePerson:
    """A person who may sign in to the database: as their own PostgreSQL user `name`, with an
    IAM token only their role `principal_arn` can get (docs/database.md, "People")."""

    name: str
    principal_arn: str


@dataclass(frozen=True, kw_only=True)
class DatabaseConfig:
    """PersonalPod's Aurora PostgreSQL Serverless v2 cluster (stack personalpod-database-{env})."""

    # The database VPC: isolated subnets only, one /24 per availability zone.
    vpc_cidr: str = "10.40.0.0/16"
    # Availability zones used (the region's first ones, resolved at deploy time): RDS and RDS
    # Proxy need two; each costs an interface-endpoint ENI.
    zone_count: int = 3
    # Serverless v2 capacity per instance, in Aurora capacity units (0.5 steps). 0: the
    # instances pause after auto_pause_minutes without a connection (needs proxy False).
    min_capacity_acu: float = 0.5
    max_capacity_acu: float = 4
    # Minutes without a user connection before an instance at 0 ACUs pauses (5-1440); set
    # exactly when min_capacity_acu is 0. The first connection after a pause waits for resume.
    auto_pause_minutes: int | None = None
    # RDS Proxy in front of the cluster: connection pooling and failover without dropped
    # connections, at 8 ACU-hours an hour at least. False: the application signs in to the
    # writer directly, with IAM tokens and TLS like through the proxy (docs/cost.md).
    proxy: bool = True
    # Readers besides the writer; each is a failover target and gets a replica-lag alarm.
    readers: int = 0
    backup_retention_days: int = 1
    deletion_protection: bool = True
    removal_policy: DatabaseRemovalPolicyName = "snapshot"
    performance_insights_retention_days: int = 7
    log_retention_days: int = 30
    # Enhanced Monitoring's OS-metrics granularity.
    monitoring_interval_seconds: int = 60
    # AWS Backup plan of the cluster, into the environment's vault, where backup.enabled.
    # Aurora backups have no cold storage (validation refuses it).
    backup_rules: tuple[BackupRuleConfig, ...] = ()
    # People who sign in to the database, each as their own IAM database user, created and
    # disabled by `make db-bootstrap`: never the shared master user.
    people: tuple[DatabasePerson, ...] = ()
    # The one identity that may read the master secret: what runs `make db-bootstrap` (a CI or
    # task role, not a person's). None: nobody but break-glass.
    bootstrap_principal_arn: str | None = None


@dataclass(frozen=True, kw_only=True)
class StrongConsistencyConfig:
    """Tables replicated with multi-Region strong consistency (MRSC): a write is acknowledged
    once another region has it, so a lost region loses nothing (docs/restore.md). DynamoDB
    sets the mode only when a table is created: a table comes here new (a new id and name),
    never by moving an existing one (the deploy guard refuses that). Nothing is here by
    default."""

    # "system.TableId" of the tables: without TTL or local indexes, which MRSC does not support.
    tables: tuple[str, ...] = ()
    # The third region of the three MRSC needs: a witness (it holds no readable copy) where
    # replicas names one region; None where replicas names two.
    witness_region: str | None = None

    def of(self, system_key: str) -> frozenset[str]:
        """The catalogue ids of `system_key`'s strong tables."""
        return frozenset(table_id for system, _, table_id in (name.partition(".") for name in self.tables) if system == system_key)


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    name: str
    account: str
    region: str
    protection: DataProtection
    # Where it deploys: lower first, one at a time (the deploy workflow and the guard's listing).
    deploy_order: int
    billing: BillingConfig = BillingConfig()
    # Per-system billing, keyed by system key ("fusion-health"), as the seeds' switches allow.
    billing_overrides: Mapping[str, BillingConfig] = field(default_factory=dict)
    pitr: PitrConfig
    deletion_protection: bool
    removal_policy: RemovalPolicyName
    termination_protection: bool
    # Thresholds of the alarm catalogue's kinds (config/alarms.py), tables' and database's alike.
    alarms: AlarmConfig
    alerts: AlertConfig
    access: AccessConfig = AccessConfig()
    keys: KeyConfig
    monthly_budget_usd: int
    # Monthly budgets per system (system key -> USD), each filtered on the System tag; they
    # add up to at most monthly_budget_usd. Empty: the environment's budget only.
    system_budgets_usd: Mapping[str, int] = field(default_factory=dict)
    # Replica regions of every table: multi-Region eventual consistency (MREC) unless the table
    # is in strong_consistency.tables.
    replicas: tuple[ReplicaConfig, ...] = ()
    strong_consistency: StrongConsistencyConfig = StrongConsistencyConfig()
    # "system.TableId" -> physical name, to adopt an existing table under its old name.
    table_name_overrides: Mapping[str, str] = field(default_factory=dict)
    access_log_retention_days: int = 365
    archive: ArchiveConfig = ArchiveConfig()
    backup: BackupConfig = BackupConfig()
    audit_trail: AuditTrailConfig = AuditTrailConfig()
    offsite: OffsiteConfig = OffsiteConfig()
    # Contributor Insights on the catalogue's hot tables, at most this (TableSpec.insights is each
    # table's own most): "off", or the mode:
    # THROTTLED_KEYS (only throttled requests, cheap) or ACCESSED_AND_THROTTLED_KEYS (every key).
    contributor_insights: Literal["off", "THROTTLED_KEYS", "ACCESSED_AND_THROTTLED_KEYS"] = "off"
    # CloudWatch dashboards: "all" (each system's, the database's and the overview) or
    # "overview" (the environment's one page of alarms: CloudWatch's first three a month are free).
    dashboards: Literal["all", "overview"] = "all"
    tags: Mapping[str, str] = field(default_factory=dict)
    # Other accounts this environment may trust: principals, an external alert topic or replica
    # keys in any other account are refused (a typo must not open the data to a stranger).
    trusted_accounts: tuple[str, ...] = ()
    ci: CiConfig = CiConfig()
    database: DatabaseConfig = DatabaseConfig()
    workload: WorkloadConfig = WorkloadConfig()

    def __post_init__(self) -> None:
        for name in ("billing_overrides", "table_name_overrides", "tags", "system_budgets_usd"):
            object.__setattr__(self, name, _frozen_mapping(getattr(self, name)))

    def billing_for(self, system_key: str) -> BillingConfig:
        return self.billing_overrides.get(system_key, self.billing)

    def table_name(self, system_key: str, table_id: str, template: str) -> str:
        return self.table_name_overrides.get(f"{system_key}.{table_id}", template.format(env=self.name))

    def table_parameter_name(self, system_key: str, table_id: str) -> str:
        """Where the app reads a table's name, indexes and retention (docs/retention.md)."""
        return TABLE_PARAMETER.format(env=self.name, system=system_key, table=table_id)


def as_dict(obj: object) -> object:
    """A JSON-ready view of a config object (docs and tests)."""
    if is_dataclass(obj):
        return {f.name: as_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {k: as_dict(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [as_dict(v) for v in obj]
    return obj

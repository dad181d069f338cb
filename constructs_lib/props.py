"""Props of the constructs that are plain values: billing, replicas, alarm kinds and thresholds,
backup rules.

They import nothing from CDK, so config can reuse them as its own types (and stay importable by
docs and local tools without starting the jsii runtime). Props that carry CDK types, such as a
`RemovalPolicy`, live beside their construct.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Literal

BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]


# The PostgreSQL database's port and its pgaudit role (constructs_lib/database.py), which
# db-bootstrap uses too. Not PostgreSQL's 5432: scanners that sweep the default port find nothing
# (AwsSolutions-RDS11); without a proxy the app connects to it, behind one it sees only 5432.
DB_PORT = 5433
AUDIT_ROLE = "rds_pgaudit"


@dataclass(frozen=True, kw_only=True)
class TableBilling:
    mode: BillingMode = "PAY_PER_REQUEST"
    # Provisioned only: autoscaling floor and ceiling per table and per GSI.
    read_capacity: int | None = None
    write_capacity: int | None = None
    max_read_capacity: int | None = None
    max_write_capacity: int | None = None
    target_utilization_percent: int = 70
    # On-demand only: a hard ceiling on request units per second, per table and per GSI (a
    # runaway loop is throttled instead of billed).
    max_read_request_units: int | None = None
    max_write_request_units: int | None = None


@dataclass(frozen=True, kw_only=True)
class Replica:
    region: str
    # Customer-managed key in the replica region; TableV2 needs one per replica.
    kms_key_arn: str


# What an alarm kind can apply to. A resource may be of several scopes: a reader instance is
# a database instance too.
AlarmScope = Literal["table", "index", "replica", "account", "database_instance", "database_reader"]
# The values each scope's resources give their alarms' names and descriptions (besides {threshold}).
SCOPE_VALUES: dict[str, frozenset[str]] = {
    "table": frozenset({"table", "resource", "subject"}),
    "index": frozenset({"table", "index", "resource", "subject"}),
    "replica": frozenset({"table", "resource", "subject", "region"}),
    "account": frozenset({"env"}),
    "database_instance": frozenset({"instance", "max_capacity_acu"}),
    "database_reader": frozenset({"instance", "max_capacity_acu"}),
}


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """One CloudWatch metric of an alarm kind: its name, its statistic, and any dimensions it
    adds to those of the resource it watches (DynamoDB publishes some metrics per Operation)."""

    name: str
    statistic: str
    dimensions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, kw_only=True)
class MathSpec:
    """Metric math over several metrics, each named by its id in the expression."""

    expression: str
    label: str
    metrics: tuple[tuple[str, MetricSpec], ...]


@dataclass(frozen=True, kw_only=True)
class ThresholdSpec:
    """A threshold the alarm kinds read by name: what it measures, its default (None: every
    environment sets its own) and its range."""

    description: str
    default: int | None
    minimum: int = 1
    maximum: int | None = None


@dataclass(frozen=True, kw_only=True)
class AlarmKind:
    """One kind of alarm, applied to every resource of its scopes (config/alarms.py is the
    catalogue). `id` is each alarm's construct id (the resource's own part appended, or its
    instance's prepended); with `name` it is the alarm's identity to CloudFormation, so neither
    may change once deployed. `name` and `description` are format strings over the resource's
    values ({table}, {index}, {subject}, {region}, {instance}, {env}, ...) and {threshold}."""

    id: str
    name: str
    description: str
    applies_to: tuple[AlarmScope, ...]
    metric: MetricSpec | MathSpec
    threshold: str
    namespace: str = "AWS/DynamoDB"
    period_seconds: int = 60
    # The alarm's threshold is the configured value times this (MiB in config, bytes in CloudWatch).
    threshold_scale: int = 1
    # At or above the threshold; "<=" for a value that is a problem when low (free memory).
    comparison: Literal[">=", "<="] = ">="
    # None: the environment's (AlarmSettings).
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None
    # Only where capacity is provisioned: the table or index itself, or (account scope) any table.
    provisioned_only: bool = False


@dataclass(frozen=True, kw_only=True)
class AlarmSettings:
    """An environment's alarm values: one threshold per name the catalogue declares, and how
    many of the last `evaluation_periods` periods must breach (`datapoints_to_alarm`)."""

    thresholds: Mapping[str, int]
    evaluation_periods: int = 5
    datapoints_to_alarm: int = 3
    # The catalogue's scopes this environment alarms on (None: all). A rebuildable environment
    # may keep only the account's (config validation refuses fewer where data is protected);
    # the archive pipeline's and the trail's own alarms are not the catalogue's and stay.
    scopes: tuple[AlarmScope, ...] | None = None

    def alarms_on(self, *scopes: AlarmScope) -> tuple[AlarmScope, ...]:
        """Those of `scopes` this environment alarms on."""
        return tuple(s for s in scopes if self.scopes is None or s in self.scopes)

    def __post_init__(self) -> None:
        object.__setattr__(self, "thresholds", MappingProxyType(dict(self.thresholds)))

    def overridden(self, overrides: Mapping[str, int]) -> AlarmSettings:
        """These settings with some thresholds replaced (a table's own, from the catalogue)."""
        return replace(self, thresholds={**self.thresholds, **overrides}) if overrides else self


@dataclass(frozen=True, kw_only=True)
class BackupRule:
    name: str
    schedule: str  # an EventBridge cron expression, e.g. "cron(0 5 * * ? *)"
    delete_after_days: int
    # DynamoDB backups in cold storage need AWS Backup's advanced DynamoDB features (README).
    move_to_cold_storage_after_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class VaultLock:
    min_retention_days: int
    max_retention_days: int
    # "compliance": immutable after 3 days; "governance": removable by whoever may
    # backup:DeleteBackupVaultLockConfiguration.
    mode: str = "compliance"


def backup_role_name(plan_name: str) -> str:
    """The role AWS Backup assumes for a plan's selection; the backup key's policy names it."""
    return f"{plan_name}-backup"


@dataclass(frozen=True, kw_only=True)
class ReplicationTarget:
    """Where an archive replicates to: a bucket of another region under that region's key
    (by alias ARN: the key's id is unknown until that stack is deployed)."""

    bucket_name: str
    region: str
    key_alias_arn: str
    role_name: str


@dataclass(frozen=True, kw_only=True)
class Governance:
    """Who may administer the keys and tables, apart from those who may use them (docs/security.md).

    Administrators manage the keys (rotation, tags, policy, deletion) and cannot use them; the
    break-glass principal may do anything, and its use is an incident. The deployer is the CDK
    CloudFormation execution role: it may rewrite a key policy (KMS refuses a policy that would
    lock its author out) and use a key through the services whose resources it creates (DynamoDB
    checks the creator's access to the key), but the tables' own policies deny it their items.
    Where a resource is deleted with its stack (dev), the deployer may also delete it. Where the
    data is protected (`protected`: staging, prod), destroying or disabling a key is break-glass
    alone: one administrator cannot make every backup, archive and the audit trail unreadable.
    """

    account: str
    administrator_arns: tuple[str, ...]
    break_glass_arn: str
    deployer_arn: str
    protected: bool = False

    def may_destroy(self, *, deletable: bool, administrators: bool) -> list[str]:
        """Who may destroy a governed resource (sorted ARNs): break-glass; the key
        administrators where `administrators`; the deployer only where the resource is deleted
        with its stack (`deletable`: dev), since CloudFormation must then be able to."""
        return sorted(
            {self.break_glass_arn, *(self.administrator_arns if administrators else ()), *((self.deployer_arn,) if deletable else ())}
        )


# Who a tamper-alert group may exempt (WatchedCalls.exempt), resolved by the platform stack.
TAMPER_EXEMPT = ("deployer", "backup", "restore-tests")


@dataclass(frozen=True, kw_only=True)
class WatchedCalls:
    """Calls to one service that page on-call. `exempt` names who may make them unannounced
    (by role, from the call's session issuer): "deployer" (CloudFormation, on a reviewed
    deploy), "backup" (AWS Backup's plan roles); a caller that is not a role session always
    pages. `buckets`: S3 calls only on these buckets."""

    id: str
    what: str
    service: str  # "kms": source aws.kms, eventSource kms.amazonaws.com
    names: tuple[str, ...]
    exempt: tuple[str, ...] = ()
    buckets: bool = False
    # Where the API's endpoint is not named after the service (CloudWatch: monitoring).
    endpoint: str | None = None

    @property
    def event_source(self) -> str:
        return f"{self.endpoint or self.service}.amazonaws.com"

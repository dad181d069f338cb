"""Props of the constructs that are plain values: billing, replicas, alarm thresholds, backup rules.

They import nothing from CDK, so config can reuse them as its own types (and stay importable by
docs and local tools without starting the jsii runtime). Props that carry CDK types, such as a
`RemovalPolicy`, live beside their construct.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

BillingMode = Literal["PAY_PER_REQUEST", "PROVISIONED"]


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


@dataclass(frozen=True, kw_only=True)
class TableAlarmThresholds:
    # Sum of throttle events in one 60 s period (table and each GSI).
    throttle_events: int
    # Sum of SystemErrors over all operations in one 60 s period.
    system_errors: int
    # Average SuccessfulRequestLatency of the busiest operation, in milliseconds.
    latency_ms: int
    # Average ReplicationLatency per receiving region, in milliseconds.
    replication_latency_ms: int
    evaluation_periods: int
    datapoints_to_alarm: int
    # Provisioned tables: consumed capacity as a percentage of provisioned, per table and GSI
    # (autoscaling aims at its target; sustained use above this means it is at its ceiling).
    capacity_utilization_percent: int = 90


@dataclass(frozen=True, kw_only=True)
class DatabaseAlarmThresholds:
    """Thresholds of the Aurora alarms (per instance unless named otherwise)."""

    cpu_percent: int = 80
    # FreeableMemory at or below this many MiB: the instance is short of memory for its load.
    freeable_memory_mib: int = 512
    connections: int = 400
    # ACUUtilization: capacity in use as a percentage of the configured maximum ACU.
    acu_percent: int = 90
    # AuroraReplicaLag of each reader, in milliseconds.
    replica_lag_ms: int = 2000
    evaluation_periods: int = 5
    datapoints_to_alarm: int = 3


@dataclass(frozen=True, kw_only=True)
class BackupRule:
    name: str
    schedule: str  # an EventBridge cron expression, e.g. "cron(0 5 * * ? *)"
    delete_after_days: int
    # DynamoDB backups in cold storage need AWS Backup's advanced DynamoDB features (README).
    move_to_cold_storage_after_days: int | None = None


@dataclass(frozen=True, kw_only=True)
class Governance:
    """Who may administer the keys and tables, apart from those who may use them (docs/security.md).

    Administrators manage the keys (rotation, tags, policy, deletion) and cannot use them; the
    break-glass principal may do anything, and its use is an incident. The deployer is the CDK
    CloudFormation execution role: it may rewrite a key policy (KMS refuses a policy that would
    lock its author out) and use a key through the services whose resources it creates (DynamoDB
    checks the creator's access to the key), but the tables' own policies deny it their items.
    Where a resource is deleted with its stack (dev), the deployer may also delete it.
    """

    account: str
    administrator_arns: tuple[str, ...]
    break_glass_arn: str
    deployer_arn: str

    def may_destroy(self, *, deletable: bool, administrators: bool) -> list[str]:
        """Who may destroy a governed resource (sorted ARNs): break-glass; the key
        administrators where `administrators`; the deployer only where the resource is deleted
        with its stack (`deletable`: dev), since CloudFormation must then be able to."""
        return sorted(
            {self.break_glass_arn, *(self.administrator_arns if administrators else ()), *((self.deployer_arn,) if deletable else ())}
        )

"""Stack data-offsite-{env}, in config.offsite.region: the copies that survive the primary region.

A locked backup vault that every backup rule copies to, the audit archive's replica bucket
with the same Object Lock mode and retention, the audit trail's log files likewise (where
this app keeps a trail), both under this region's own governed key, and
an access-log bucket of this region for the replica (S3 logs only within a region).
docs/restore.md says how to restore from them.
"""

from __future__ import annotations

import dataclasses

from aws_cdk import Stack
from constructs import Construct

from config.alarms import TAMPER_WATCH
from config.model import EnvironmentConfig
from config.retention import archived
from constructs_lib.archive_bucket import ArchiveBucket, PrefixRule
from constructs_lib.arns import partition
from constructs_lib.backup import BACKUP_KEY_ACTIONS, AirGappedVault, TableBackupVault
from constructs_lib.buckets import AccessLogBucket, SecureBucket, expiring_rule, object_lock
from constructs_lib.identity import pin
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.nag import acknowledge, in_packs
from constructs_lib.tamper import TamperAlerts
from stacks import naming
from stacks.policies import removal_policy

OFFSITE = "data-offsite"


def replication_role_name(config: EnvironmentConfig) -> str:
    """The role S3 replicates the audit archive as (in the platform stack)."""
    return f"data-audit-archive-{config.name}-replication"


def archive_rules(config: EnvironmentConfig, *, audit: bool) -> list[PrefixRule]:
    """The lifecycle of the audit archive (audit=True) or the general one: one rule per archived
    table, the same in the primary region and in the off-site replica."""
    return [
        PrefixRule(
            prefix=rule.archive_prefix(system, table_id),
            glacier_after_days=config.archive.glacier_after_days,
            deep_archive_after_days=config.archive.deep_archive_after_days,
            # Retention counts from the item's creation: the table held it table_days already.
            expire_after_days=rule.archive_days,
        )
        for system, table_id, rule in archived()
        if rule.audit is audit
    ]


class OffsiteStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        policy = removal_policy(config.removal_policy)
        region = self.region
        self.key = DataKey(
            self,
            "Key",
            alias=naming.offsite_key_alias(config),
            description=f"Encrypts {config.name}'s off-site backup copies and audit archive replica",
            removal_policy=policy,
            logical_id="KeyOffsite",
            governance=naming.governance(config, region),
            # AWS Backup takes a grant and a data key as the deployer creates the vault.
            deployer_services=("backup",),
        ).key
        # Copy jobs run as the source plans' roles; S3 replicates as the platform's replication role.
        allow_use(
            self.key,
            self,
            sid="BackupCopiesIn",
            principal_arns=naming.backup_role_arns(config),
            actions=BACKUP_KEY_ACTIONS,
            via_services=("backup",),
        )
        allow_use(
            self.key,
            self,
            sid="ReplicationWritesReplicas",
            principal_arns=[naming.role_arn(config, replication_role_name(config))],
            actions=("kms:Encrypt", "kms:GenerateDataKey"),
            via_services=("s3",),
        )
        TableBackupVault(
            self,
            "Backup",
            vault_name=naming.offsite_vault_name(config),
            key=self.key,
            topic=None,
            lock=naming.vault_lock(config),
            governance=naming.governance(config, region),
            restorers=naming.vault_restorers(config, offsite=True),
            # Nothing copies out of the off-site vault but break-glass.
            removal_policy=policy,
        )
        lock = naming.vault_lock(config)
        if config.offsite.air_gapped and lock is not None:
            # The tables' copies, out of this account's reach (the database's stay above); its
            # lock's minimum is the shortest life of a copy it takes.
            shortest = min([lock.min_retention_days, *config.offsite.table_copy_days.values()])
            AirGappedVault(
                self,
                "AirGapped",
                vault_name=naming.air_gapped_vault_name(config),
                key=self.key,
                lock=dataclasses.replace(lock, min_retention_days=shortest),
                governance=naming.governance(config, region),
                restorers=naming.vault_restorers(config, offsite=True),
                removal_policy=policy,
                mpa_approval_team_arn=config.offsite.mpa_approval_team_arn,
            )
        logs = AccessLogBucket(
            self,
            "AccessLogs",
            retention_days=config.access_log_retention_days,
            removal_policy=policy,
            bucket_name=naming.offsite_access_log_bucket_name(config),
        ).bucket
        pin(logs, "AccessLogsBucket")
        replica = ArchiveBucket(
            self,
            "AuditArchive",
            bucket_name=naming.offsite_bucket_name(config),
            logical_id="AuditArchiveReplicaBucket",
            key=self.key,
            access_logs=logs,
            rules=archive_rules(config, audit=True),
            removal_policy=policy,
            object_lock_mode=config.archive.audit_object_lock,
            unlocked_because="archive.audit_object_lock is None in this environment: its audit archive holds test data.",
            replica=True,
        ).bucket
        self.replica = replica
        trail = config.audit_trail
        if trail.mode == "create":
            # The audit trail's log files: evidence, replicated with their Object Lock retention.
            allow_use(
                self.key,
                self,
                sid="ReplicationWritesTrailLogs",
                principal_arns=[naming.role_arn(config, naming.trail_replication_role_name(config))],
                actions=("kms:Encrypt", "kms:GenerateDataKey"),
                via_services=("s3",),
            )
            self.trail_replica = SecureBucket(
                self,
                "AuditTrail",
                key=self.key,
                access_logs=logs,
                access_log_prefix=f"{naming.offsite_trail_bucket_name(config)}/",
                removal_policy=policy,
                lifecycle_rules=[expiring_rule("expire-audit-trail", trail.retention_days)],
                object_lock_default_retention=object_lock(trail.object_lock, trail.retention_days),
                bucket_name=naming.offsite_trail_bucket_name(config),
            ).bucket
            pin(self.trail_replica, "AuditTrailReplicaBucket")
            reason = "This bucket is the replica: the audit trail's log files of the primary region replicate into it."
            acknowledge(self.trail_replica, in_packs({"S3BucketReplicationEnabled": reason}))
        if naming.tamper_alerts_on(config):
            # This region's calls (its key, vault and replicas) reach only this region's bus:
            # forwarded to the primary region's, whose rules page (constructs_lib/tamper.py).
            TamperAlerts(
                self,
                "TamperAlerts",
                watched=TAMPER_WATCH,
                exempt=naming.tamper_exempt(config),
                buckets=naming.tamper_buckets(config),
                break_glass_arn=config.keys.break_glass_arn,
                role_name=naming.tamper_alerts_role_name(config, region),
                env=config.name,
                forward_to_bus_arn=f"arn:{partition(config.region)}:events:{config.region}:{config.account}:event-bus/default",
                restore_tests_arns=naming.restore_tests_role_arns(config),
            )

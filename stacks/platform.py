"""Per-environment shared platform: alert topic and its key, access-log bucket, account alarms."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_budgets as budgets
from constructs import Construct

from config.alarms import TAMPER_WATCH, kinds_for
from config.model import COST_TAG, SYSTEM_TAG, EnvironmentConfig
from config.retention import archived
from constructs_lib.alerts import AlarmActions, AlertTopic
from constructs_lib.archive import delivery_role_name
from constructs_lib.archive_bucket import ArchiveBucket
from constructs_lib.archive_path import ArchiveTarget
from constructs_lib.arns import partition
from constructs_lib.backup import BACKUP_KEY_ACTIONS, TableBackupVault
from constructs_lib.buckets import AccessLogBucket
from constructs_lib.identity import pin
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.monitoring import AlarmTarget, alarm
from constructs_lib.restore_tests import RestoreTestPlan
from constructs_lib.tamper import TamperAlerts
from constructs_lib.trail import AuditTrail
from stacks import naming
from stacks.offsite import archive_rules, replication_role_name
from stacks.policies import removal_policy


class PlatformStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, any_provisioned: bool, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        policy = removal_policy(config.removal_policy)
        self.governance = naming.governance(config)
        self.alerts_key = DataKey(
            self,
            "AlertsKey",
            alias=f"alias/data-alerts-{config.name}",
            description=f"Encrypts the {config.name} data alert topic",
            removal_policy=policy,
            logical_id="KeyAlerts",
            governance=self.governance,
        ).key
        alerts = config.alerts
        self.alert_topic = AlertTopic(
            self,
            "Alerts",
            topic_name=naming.alert_topic_name(config),
            key=self.alerts_key,
            emails=alerts.emails,
            slack_workspace_id=alerts.slack.workspace_id if alerts.slack else None,
            slack_channel_id=alerts.slack.channel_id if alerts.slack else None,
        ).topic

        self.access_log_bucket = AccessLogBucket(
            self,
            "AccessLogs",
            retention_days=config.access_log_retention_days,
            removal_policy=policy,
            bucket_name=naming.access_log_bucket_name(config),
        ).bucket
        pin(self.access_log_bucket, "AccessLogsBucket")

        self.archive_targets = self._archive(config, policy)
        if config.backup.enabled:
            backup_key = DataKey(
                self,
                "BackupKey",
                alias=f"alias/data-backup-{config.name}",
                description=f"Encrypts the {config.name} table backups",
                removal_policy=policy,
                logical_id="KeyBackup",
                governance=self.governance,
                # Creating a vault with a key takes a grant and a data key through AWS Backup.
                deployer_services=("backup",),
            ).key
            # Each system's backup role and the database's (in stacks deployed after this one)
            # write recovery points into the vault.
            allow_use(
                backup_key,
                self,
                sid="BackupRolesWriteRecoveryPoints",
                principal_arns=naming.backup_role_arns(config),
                actions=BACKUP_KEY_ACTIONS,
                via_services=("backup", "dynamodb"),
            )
            TableBackupVault(
                self,
                "Backup",
                vault_name=naming.backup_vault_name(config),
                key=backup_key,
                topic=self.alert_topic,
                lock=naming.vault_lock(config),
                governance=self.governance,
                restorers=naming.vault_restorers(config),
                copy_targets=naming.all_copy_vaults(config),
                removal_policy=policy,
                restores_by_rules=naming.tamper_alerts_on(config),
            )
            if config.backup.restore_testing:
                # The restore tests read recovery points through AWS Backup.
                allow_use(
                    backup_key,
                    self,
                    sid="RestoreTestsReadRecoveryPoints",
                    principal_arns=naming.restore_tests_role_arns(config),
                    actions=BACKUP_KEY_ACTIONS,
                    via_services=("backup", "dynamodb"),
                )
        self._budget(config)

        topic_arns = [self.alert_topic.topic_arn, *([alerts.external_topic_arn] if alerts.external_topic_arn else [])]
        actions = AlarmActions(self, topic_arns=topic_arns)
        self.alarm_actions = actions
        if config.audit_trail.mode == "create":
            self._audit_trail(config, policy)
        # Directly under the stack, where their logical ids have always been.
        account = AlarmTarget(("account",), {}, "{kind}", {"env": config.name}, provisioned=any_provisioned)
        for kind in kinds_for(*config.alarms.alarms_on("account")):
            if account.takes(kind):
                alarm(self, kind, account, config.alarms, actions)
        if naming.tamper_alerts_on(config):
            # Every call that would undo a protection pages on-call (constructs_lib/tamper.py).
            TamperAlerts(
                self,
                "TamperAlerts",
                watched=TAMPER_WATCH,
                exempt=naming.tamper_exempt(config),
                buckets=naming.tamper_buckets(config),
                break_glass_arn=config.keys.break_glass_arn,
                topic=self.alert_topic,
                key=self.alerts_key,
                actions=actions,
                denied_calls_queue=naming.denied_calls_queue_name(config),
                # Who was denied what is evidence: the auditors read it, as they read the trail.
                denied_calls_readers=config.audit_trail.reader_arns,
                role_name=naming.tamper_alerts_role_name(config),
                env=config.name,
                restore_tests_arns=naming.restore_tests_role_arns(config),
            )
        tests = config.backup.restore_testing
        if tests is not None:
            # Every table and the cluster restored on a schedule (constructs_lib/restore_tests.py).
            RestoreTestPlan(
                self,
                "RestoreTests",
                plan_name=naming.restore_tests_plan_name(config),
                vault_arn=f"arn:{self.partition}:backup:{self.region}:{self.account}:backup-vault:{naming.backup_vault_name(config)}",
                role_name=naming.restore_tests_role_name(config),
                validator_name=naming.restore_validation_name(config),
                key=self.alerts_key,
                source_tables=[arn for arn in naming.table_arns(config) if f":{config.region}:" in arn],
                removal_policy=policy,
                schedule=tests.schedule,
                start_window_hours=tests.start_window_hours,
                window_days=tests.window_days,
                actions=actions,
            )

    def _archive(self, config: EnvironmentConfig, policy) -> dict[bool, ArchiveTarget]:
        """The archive buckets (general and audit) with one lifecycle rule per archived table.

        Returns the target per kind (audit or not) for the system stacks' archivers.
        """
        key = DataKey(
            self,
            "ArchiveKey",
            alias=f"alias/data-archive-{config.name}",
            description=f"Encrypts the {config.name} archives of expired items",
            removal_policy=policy,
            logical_id="KeyArchive",
            governance=self.governance,
            # Firehose encrypts its own buffer with this key: it takes a grant as the deployer creates it.
            deployer_services=("firehose",),
        ).key
        # The archivers' Firehose roles (system stacks, deployed after this one) write objects
        # through S3; nothing reads the archive but the break-glass role (docs/restore.md).
        writers = sorted({system for system, _, _ in archived()})
        allow_use(
            key,
            self,
            sid="ArchiveDeliveryWritesObjects",
            principal_arns=[naming.role_arn(config, delivery_role_name(f"{s}-{config.name}")) for s in writers],
            actions=("kms:Decrypt", "kms:GenerateDataKey"),
            via_services=("s3",),
        )
        targets = {}
        for audit in (False, True):
            rules = archive_rules(config, audit=audit)
            if not rules:
                continue
            ArchiveBucket(
                self,
                "AuditArchive" if audit else "Archive",
                bucket_name=naming.archive_bucket_name(config, audit=audit),
                logical_id="AuditArchiveBucket" if audit else "ArchiveBucket",
                key=key,
                access_logs=self.access_log_bucket,
                rules=rules,
                removal_policy=policy,
                object_lock_mode=config.archive.audit_object_lock if audit else None,
                # Off-site: the audit archive replicates to the second region (stacks/offsite.py).
                replicate_to=naming.offsite_target(
                    config, bucket_name=naming.offsite_bucket_name(config), role_name=replication_role_name(config)
                )
                if audit and config.offsite.region
                else None,
                unlocked_because=(
                    "archive.audit_object_lock is None in this environment: its audit archive holds test data and is "
                    "deleted with the environment."
                )
                if audit
                else (
                    "The general archive holds several tables' expired items, each expired by lifecycle at its own "
                    "retention; one default lock retention would keep the shorter-lived ones past the end promised for them."
                ),
            )
            targets[audit] = ArchiveTarget(bucket_name=naming.archive_bucket_name(config, audit=audit), key=key)
        if config.offsite.region:
            allow_use(
                key,
                self,
                sid="ReplicationReadsAuditArchive",
                principal_arns=[naming.role_arn(config, replication_role_name(config))],
                actions=("kms:Decrypt",),
                via_services=("s3",),
            )
        return targets

    def _audit_trail(self, config: EnvironmentConfig, policy) -> None:
        """CloudTrail data events of every table of the environment, under a key of their own:
        the evidence of who read or changed PHI is readable only by the auditors config names."""
        trail = config.audit_trail
        key = DataKey(
            self,
            "AuditTrailKey",
            alias=f"alias/data-audit-trail-{config.name}",
            description=f"Encrypts the {config.name} audit trail of table reads and writes",
            removal_policy=policy,
            logical_id="KeyAuditTrail",
            governance=self.governance,
        ).key
        if trail.reader_arns:
            allow_use(
                key,
                self,
                sid="AuditorsReadLogFiles",
                principal_arns=list(trail.reader_arns),
                actions=("kms:Decrypt",),
                via_services=("s3",),
            )
        AuditTrail(
            self,
            "AuditTrail",
            trail_name=f"data-audit-{config.name}",
            bucket_name=naming.audit_trail_bucket_name(config),
            key=key,
            access_logs=self.access_log_bucket,
            table_arns=naming.table_arns(config),
            read_table_arns=naming.table_arns(config, only=naming.read_logged_tables()),
            stream_table_arns=naming.table_arns(config, only=archived()),
            archive_bucket_arns=[
                f"arn:{partition(config.region)}:s3:::{naming.archive_bucket_name(config, audit=audit)}" for audit in (False, True)
            ],
            read_events=trail.read_events,
            management_events=trail.management_events,
            retention_days=trail.retention_days,
            object_lock_mode=trail.object_lock,
            removal_policy=policy,
            # Off-site: the log files replicate, locked, to the second region (stacks/offsite.py).
            replicate_to=naming.offsite_target(
                config, bucket_name=naming.offsite_trail_bucket_name(config), role_name=naming.trail_replication_role_name(config)
            )
            if config.offsite.region
            else None,
        )

    def _budget(self, config: EnvironmentConfig) -> None:
        """The fusion-health seed's cost budget (80% of actual spend, 100% of forecast), on the
        environment's CostCenter tag, and one per system on its System tag where config sets one."""
        self._one_budget(config, "Budget", f"data-platform-{config.name}", config.monthly_budget_usd, COST_TAG, config.tags[COST_TAG])
        for system, amount in sorted(config.system_budgets_usd.items()):
            self._one_budget(config, f"Budget{system.title().replace('-', '')}", f"data-{system}-{config.name}", amount, SYSTEM_TAG, system)

    def _one_budget(self, config: EnvironmentConfig, id: str, name: str, amount: int, tag: str, value: str) -> None:
        subscribers = [budgets.CfnBudget.SubscriberProperty(subscription_type="SNS", address=self.alert_topic.topic_arn)]
        subscribers += [budgets.CfnBudget.SubscriberProperty(subscription_type="EMAIL", address=e) for e in config.alerts.emails[:10]]
        budget = budgets.CfnBudget(
            self,
            id,
            budget=budgets.CfnBudget.BudgetDataProperty(
                budget_name=name,
                budget_type="COST",
                time_unit="MONTHLY",
                budget_limit=budgets.CfnBudget.SpendProperty(amount=amount, unit="USD"),
                # Only what carries the tag, not the whole account's spend (the tag must be an
                # active cost-allocation tag: make preflight checks it).
                cost_filters={"TagKeyValue": [f"user:{tag}${value}"]},
            ),
            notifications_with_subscribers=[
                budgets.CfnBudget.NotificationWithSubscribersProperty(
                    notification=budgets.CfnBudget.NotificationProperty(
                        notification_type=kind, comparison_operator="GREATER_THAN", threshold=threshold, threshold_type="PERCENTAGE"
                    ),
                    subscribers=subscribers,
                )
                for kind, threshold in (("ACTUAL", 80), ("FORECASTED", 100))
            ],
        )
        # Budgets can publish only once the topic policy allows it.
        budget.node.add_dependency(self.alert_topic.node.find_child("Policy"))

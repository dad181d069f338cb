"""One stack per seed system per environment: its key, its tables (with alarms) and its roles."""

from __future__ import annotations

import json

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from config.alarms import kinds_for
from config.model import EnvironmentConfig
from config.retention import RETENTION
from config.retention import archived as archived_tables
from constructs_lib.alerts import AlarmActions
from constructs_lib.archive import ArchiveTarget, TableArchiver, archive_name
from constructs_lib.arns import partition
from constructs_lib.backup import BACKUP_KEY_ACTIONS, backup_role_name, table_backup_plan
from constructs_lib.dashboards import Dashboard, archive_widgets, table_widgets
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.roles import DataAccessRoles
from constructs_lib.specs import SystemSpec
from constructs_lib.table import KMS_READ_ACTIONS, KMS_WRITE_ACTIONS, DataTable, TableSettings
from stacks import naming
from stacks.policies import removal_policy

FIELD_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class SystemStack(Stack):
    def _publish_tables(self, config: EnvironmentConfig, system: SystemSpec, rules: dict) -> None:
        """One SSM parameter per table: what the app needs to use it (its name, its indexes, the
        TTL attribute and the days to write into it), so nobody keeps a second list. The app
        role may read exactly these."""
        arns = []
        for spec in system.tables:
            rule = rules.get(spec.id)
            name = config.table_parameter_name(system.key, spec.id)
            value = {
                "table": self.tables[spec.id].table_name,
                "indexes": [index.name for index in spec.indexes] + [local.name for local in spec.local_indexes],
                "ttlAttribute": spec.ttl_attribute,
                # Days the app writes into the TTL attribute (creation + days); None: its own choice.
                "expireAfterDays": (rule.table_days if rule.archive else rule.days) if rule else None,
                "tier": rule.tier if rule else None,
                "archivedForDays": rule.archive_days if rule and rule.archive else None,
            }
            ssm.CfnParameter(
                self,
                f"Parameter{spec.id}",
                name=name,
                type="String",
                value=json.dumps(value, sort_keys=True),
                description=f"{system.title} {spec.id} in {config.name}: table name, indexes, TTL and retention for the app",
            )
            arns.append(f"arn:{partition(config.region)}:ssm:{config.region}:{config.account}:parameter{name}")
        self._parameter_arns = arns

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        system: SystemSpec,
        config: EnvironmentConfig,
        archive_targets: dict[bool, ArchiveTarget],
        **kwargs,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.system = system
        prefix = f"{system.key}-{config.name}"
        removal = removal_policy(config.removal_policy)
        governance = naming.governance(config)
        # One key per system and environment: revoking or auditing one system's data never
        # touches another's.
        self.key = DataKey(
            self,
            "DataKey",
            alias=f"alias/{prefix}-data",
            description=f"Encrypts the {system.title} tables in {config.name}",
            removal_policy=removal,
            logical_id="KeyData",
            governance=governance,
            # DynamoDB checks that whoever creates a table may use its key, and creates a grant.
            deployer_services=("dynamodb",),
        ).key

        topic_arns = naming.alert_topic_arns(self, config)
        actions = AlarmActions(self, topic_arns=topic_arns)
        self.alarm_actions = actions

        settings = TableSettings(
            billing=config.billing_for(system.key),
            pitr_enabled=config.pitr.enabled,
            pitr_days=config.pitr.recovery_period_days,
            deletion_protection=config.deletion_protection,
            removal_policy=removal,
            alarm_kinds=kinds_for("table", "index", "replica"),
            alarms=config.alarms,
            governance=governance,
            replicas=config.replicas,
            contributor_insights=None if config.contributor_insights == "off" else config.contributor_insights,
        )
        # Tables get a scope of their own so a table id can never collide with another construct.
        tables_scope = Construct(self, "Tables")
        rules = {table_id: rule for key, table_id, rule in archived_tables() if key == system.key}
        archived = {spec.id: rules[spec.id] for spec in system.tables if spec.id in rules}  # catalogue order
        self.tables = {
            spec.id: DataTable(
                tables_scope,
                spec.id,
                spec=spec,
                table_name=config.table_name(system.key, spec.id, spec.name),
                key=self.key,
                settings=settings,
                alarm_actions=actions,
                stream=spec.id in archived,
            )
            for spec in system.tables
        }
        if archived:
            archiver = TableArchiver(
                self,
                "Archive",
                name_prefix=prefix,
                key=self.key,
                removal_policy=removal,
                log_retention=logs.RetentionDays.ONE_YEAR,
                actions=actions,
                alarm_periods=config.alarms.evaluation_periods,
            )
            for table_id, rule in archived.items():
                archiver.add(self.tables[table_id], target=archive_targets[rule.audit], prefix=rule.archive_prefix(system.key, table_id))
            if config.access.migration_principal_arns:
                # `python -m tools archive-redrive` runs as a migration principal: it reads the
                # held queues and writes the buffers, both under this key (docs/retention.md).
                allow_use(
                    self.key,
                    self,
                    sid="ArchiveRedrive",
                    principal_arns=list(config.access.migration_principal_arns),
                    actions=("kms:Decrypt", "kms:GenerateDataKey"),
                    via_services=("sqs",),
                )
        if config.backup.enabled:
            table_backup_plan(
                self,
                "Backup",
                plan_name=prefix,
                vault_name=naming.backup_vault_name(config),
                rules=config.backup.rules,
                tables=list(self.tables.values()),
                copy_to=naming.backup_copy_vaults(config),
            )
            # AWS Backup reads the tables as the plan's role (the vault's key is the platform's).
            allow_use(
                self.key,
                self,
                sid="BackupReadsTables",
                principal_arns=[naming.role_arn(config, backup_role_name(prefix))],
                actions=BACKUP_KEY_ACTIONS,
                via_services=("backup", "dynamodb"),
            )
        self.roles = DataAccessRoles(
            self,
            "Access",
            name_prefix=prefix,
            tables=list(self.tables.values()),
            app_principal=naming.app_principal(config),
            readonly_principal_arns=config.access.readonly_principal_arns,
            migration_principal_arns=config.access.migration_principal_arns if system.migration_role else None,
            tenant_isolation=system.tenant_isolation,
        )
        self._publish_tables(config, system, {table_id: rule for (key, table_id), rule in RETENTION.items() if key == system.key})
        # On-call's first page for the system: every table, and its archive where it has one.
        billing = config.billing_for(system.key)
        widgets = []
        for spec in system.tables:
            table = self.tables[spec.id]
            widgets += table_widgets(
                table.table_name,
                [i.name for i in spec.indexes],
                self.region,
                ceilings=(billing.max_read_request_units, billing.max_write_request_units),
                replica_regions=[r.region for r in config.replicas],
            )
            if spec.id in archived:
                widgets += archive_widgets(archive_name(table.table_name), self.region)
        Dashboard(self, "Dashboard", name=f"data-{prefix}", widgets=widgets)
        self.roles.policies["App"].add_statements(
            iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:GetParameters"], resources=self._parameter_arns)
        )
        arns = {role: naming.role_arn(config, name) for role, name in self.roles.names.items()}
        # The key's side of the roles' grants: each only through DynamoDB.
        writers = [arns[r] for r in ("App", "Migration", "Tenant") if r in arns]
        allow_use(self.key, self, sid="TablesReadWrite", principal_arns=writers, actions=KMS_WRITE_ACTIONS, via_services=("dynamodb",))
        allow_use(
            self.key, self, sid="TablesReadOnly", principal_arns=[arns["ReadOnly"]], actions=KMS_READ_ACTIONS, via_services=("dynamodb",)
        )

        self.field_key = None
        if system.field_encryption:
            # The seed encrypts sensitive fields with AES-256-GCM in the app. The data key now
            # comes from KMS (envelope encryption) instead of a .env secret; the app may only
            # create and unwrap data keys, never manage the key.
            self.field_key = DataKey(
                self,
                "FieldKey",
                alias=f"alias/{prefix}-field-encryption",
                description=f"Envelope key for {system.title} field-level encryption in {config.name}",
                removal_policy=removal,
                logical_id="KeyFieldEncryption",
                governance=governance,
            ).key
            self.roles.policies["App"].add_statements(
                iam.PolicyStatement(actions=list(FIELD_KEY_ACTIONS), resources=[self.field_key.key_arn])
            )
            # The app calls KMS itself here (envelope encryption), so no service is in between.
            allow_use(self.field_key, self, sid="AppEnvelopeEncryption", principal_arns=[arns["App"]], actions=FIELD_KEY_ACTIONS)

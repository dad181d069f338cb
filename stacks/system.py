"""One stack per seed system per environment: its key, its tables (with alarms), their archive,
their backups, the roles that reach them, the parameters the app reads, and a dashboard."""

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
from constructs_lib.archive import TableArchiver, pipe_role_name
from constructs_lib.archive_path import ArchivedTable, ArchiveTarget, archive_name
from constructs_lib.backup import table_backup_plan
from constructs_lib.dashboards import Dashboard, archive_widgets, table_widgets
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.restore_tests import restore_tests
from constructs_lib.roles import DataAccessRoles
from constructs_lib.specs import SystemSpec
from constructs_lib.system_tables import SystemTables
from constructs_lib.table import TableSettings
from stacks import naming
from stacks.policies import removal_policy

FIELD_KEY_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")


class SystemStack(Stack):
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
        rules = {table_id: rule for (key, table_id), rule in RETENTION.items() if key == system.key}
        archived = {table_id: rule for key, table_id, rule in archived_tables() if key == system.key}

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
        self.alarm_actions = AlarmActions(self, topic_arns=naming.alert_topic_arns(self, config))
        strong = config.strong_consistency.of(system.key)
        self.tables = SystemTables(
            self,
            "Tables",
            system=system,
            names={spec.id: config.table_name(system.key, spec.id, spec.name) for spec in system.tables},
            key=self.key,
            settings=TableSettings(
                billing=config.billing_for(system.key),
                pitr_enabled=config.pitr.enabled,
                pitr_days=config.pitr.recovery_period_days,
                deletion_protection=config.deletion_protection,
                removal_policy=removal,
                alarm_kinds=kinds_for(*config.alarms.alarms_on("table", "index", "replica")),
                alarms=config.alarms,
                governance=governance,
                replicas=config.replicas,
                strong_consistency=strong,
                witness_region=config.strong_consistency.witness_region,
                contributor_insights=None if config.contributor_insights == "off" else config.contributor_insights,
                stream_view=config.archive.stream_view,
            ),
            alarm_actions=self.alarm_actions,
            # The archive pipe's role reads the archived tables' streams, and nobody else.
            stream_readers={table_id: [naming.role_arn(config, pipe_role_name(prefix))] for table_id in archived},
        ).tables
        if archived:
            TableArchiver(
                self,
                "Archive",
                name_prefix=prefix,
                key=self.key,
                removal_policy=removal,
                log_retention=logs.RetentionDays.ONE_YEAR,
                actions=self.alarm_actions,
                tables=[
                    ArchivedTable(
                        table=self.tables[table_id],
                        target=archive_targets[archived[table_id].audit],
                        prefix=archived[table_id].archive_prefix(system.key, table_id),
                    )
                    for table_id in self.tables
                    if table_id in archived
                ],
                redrive_principal_arns=config.access.migration_principal_arns,
            )
        if config.backup.enabled:
            table_backup_plan(
                self,
                "Backup",
                plan_name=prefix,
                vault_name=naming.backup_vault_name(config),
                rules=config.backup.rules,
                tables=list(self.tables.values()),
                key=self.key,
                copy_to=naming.backup_copy_vaults(config),
                copy_days=config.offsite.table_copy_days,
            )
            if config.backup.restore_testing:
                self._restore_tests(config, system)
        parameters = {spec.id: config.table_parameter_name(system.key, spec.id) for spec in system.tables}
        self.roles = DataAccessRoles(
            self,
            "Access",
            name_prefix=prefix,
            tables=list(self.tables.values()),
            app_principal=iam.ServicePrincipal(config.access.app_service_principal).with_conditions(
                naming.app_principal_conditions(config)
            ),
            readonly_principal_arns=config.access.readonly_principal_arns,
            migration_principal_arns=config.access.migration_principal_arns if system.migration_role else None,
            tenant_isolation=system.tenant_isolation,
            key=self.key,
            # By their common path: the policy does not grow with each table.
            app_parameter_arns=[naming.parameter_arn(config, config.table_parameter_name(system.key, "*"))],
        )
        self._publish_tables(config, system, parameters, rules)
        # On-call's first page for the system: every table, and its archive where it has one.
        billing = config.billing_for(system.key)
        widgets = []
        for spec in system.tables:
            table_name = self.tables[spec.id].table_name
            widgets += table_widgets(
                table_name,
                [i.name for i in spec.indexes],
                self.region,
                ceilings=(billing.max_read_request_units, billing.max_write_request_units),
                # Replication latency of eventual replicas only (strong ones publish none).
                replica_regions=[] if spec.id in strong else [r.region for r in config.replicas],
            )
            if spec.id in archived:
                widgets += archive_widgets(archive_name(table_name), self.region)
        if config.dashboards == "all":
            Dashboard(self, "Dashboard", name=f"data-{prefix}", widgets=widgets)
        self.field_key = self._field_key(config, system, prefix) if system.field_encryption else None

    def _publish_tables(self, config: EnvironmentConfig, system: SystemSpec, parameters: dict[str, str], rules: dict) -> None:
        """One SSM parameter per table: what the app needs to use it (its name, its indexes, the
        TTL attribute and the days to write into it), so nobody keeps a second list. The app
        role may read these, by their path (/data/ENV/SYSTEM/tables/*), which holds only them."""
        for spec in system.tables:
            rule = rules.get(spec.id)
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
                name=parameters[spec.id],
                type="String",
                value=json.dumps(value, sort_keys=True),
                description=f"{system.title} {spec.id} in {config.name}: table name, indexes, TTL and retention for the app",
            )

    def _field_key(self, config: EnvironmentConfig, system: SystemSpec, prefix: str):
        """The seed encrypts sensitive fields with AES-256-GCM in the app. The data key comes
        from KMS (envelope encryption) instead of a .env secret; the app may only create and
        unwrap data keys, never manage the key."""
        key = DataKey(
            self,
            "FieldKey",
            alias=f"alias/{prefix}-field-encryption",
            description=f"Envelope key for {system.title} field-level encryption in {config.name}",
            removal_policy=removal_policy(config.removal_policy),
            logical_id="KeyFieldEncryption",
            governance=naming.governance(config),
        ).key
        # A ciphertext is bound to its record: every call names the table and the item's key in
        # its encryption context (docs/data-model/decisions/therapeutic-wave.md), so a field copied to
        # another record does not decrypt there. Each named key must be present: a condition on
        # kms:EncryptionContextKeys alone (ForAllValues) passes an empty context.
        context: dict[str, dict[str, object]] = {
            "StringEquals": {"kms:EncryptionContext:table": sorted(config.table_name(system.key, t.id, t.name) for t in system.tables)},
            "Null": {"kms:EncryptionContext:record": "false"},
        }
        self.roles.policies["App"].add_statements(
            iam.PolicyStatement(actions=list(FIELD_KEY_ACTIONS), resources=[key.key_arn], conditions=context)
        )
        # The app calls KMS itself here (envelope encryption), so no service is in between.
        app = naming.role_arn(config, self.roles.names["App"])
        allow_use(key, self, sid="AppEnvelopeEncryption", principal_arns=[app], actions=FIELD_KEY_ACTIONS, context=context)
        return key

    def _restore_tests(self, config: EnvironmentConfig, system: SystemSpec) -> None:
        """The system's tables in the environment's restore tests, restored under its own key by
        the restore tests' role, which the key lets create encrypted tables through DynamoDB."""
        tests = config.backup.restore_testing
        assert tests is not None
        restore_tests(
            self,
            key=self.key,
            sid="RestoreTestsCreateTables",
            service="dynamodb",
            role_arn=naming.role_arn(config, naming.restore_tests_role_name(config)),
            plan_name=naming.restore_tests_plan_name(config),
            name=f"{system.key.replace('-', '_')}_tables",
            resource_type="DynamoDB",
            resource_arns=[table.table_arn for table in self.tables.values()],
            overrides={"encryptionType": "KMS", "kmsMasterKeyArn": self.key.key_arn},
            keep_hours=tests.keep_hours,
        )
        # The validator counts one item of each copy (Select=COUNT): DynamoDB decrypts for it.
        allow_use(
            self.key,
            self,
            sid="RestoreValidationCounts",
            principal_arns=[naming.role_arn(config, naming.restore_validation_name(config))],
            actions=("kms:Decrypt",),
            via_services=("dynamodb",),
        )

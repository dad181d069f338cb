"""Stack personalpod-database-{env}: PersonalPod's PostgreSQL primary store (Aurora PostgreSQL
Serverless v2, behind RDS Proxy where config has one) in its own isolated VPC. docs/database.md
explains the design."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.alarms import kinds_for
from config.model import EnvironmentConfig
from constructs_lib.alerts import AlarmActions
from constructs_lib.backup import BACKUP_KEY_ACTIONS, ResourceBackupPlan
from constructs_lib.dashboards import Dashboard, database_widgets
from constructs_lib.database import ClusterSettings, PostgresDatabase
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.network import IsolatedNetwork
from constructs_lib.props import backup_role_name
from constructs_lib.restore_tests import restore_tests
from constructs_lib.specs import SystemSpec
from constructs_lib.table import READ_ACTIONS, WRITE_ACTIONS
from stacks import naming
from stacks.policies import database_removal_policies

DATABASE = naming.DATABASE
# config/rules/database.py allows up to six zones; the VPC takes the first zone_count of them.
MAX_ZONES = 6


def content_bucket_name(config: EnvironmentConfig, system_key: str) -> str:
    """The one bucket PersonalPod's VPC may reach: its content bucket, once it exists. Account and
    region make the global name this environment's own."""
    return f"{system_key}-{config.name}-content-{config.account}-{config.region}"


def table_resources(config: EnvironmentConfig, system: SystemSpec, *, partition: str = "aws") -> list[str]:
    """ARNs of the system's tables and their indexes, named, with no wildcard."""
    arns = []
    for spec in system.tables:
        table_arn = f"arn:{partition}:dynamodb:{config.region}:{config.account}:table/{config.table_name(system.key, spec.id, spec.name)}"
        arns += [table_arn, *(f"{table_arn}/index/{index.name}" for index in spec.indexes)]
    return arns


class DatabaseStack(Stack):
    def __init__(self, scope: Construct, id: str, *, system: SystemSpec, config: EnvironmentConfig, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        settings = config.database
        name = f"{system.key}-{config.name}"
        cluster_removal, kept_removal = database_removal_policies(settings.removal_policy)
        # The database's own key: its snapshots, logs and secret can be audited and revoked
        # without touching the tables' key.
        self.key = DataKey(
            self,
            "DataKey",
            alias=f"alias/{name}-database",
            description=f"Encrypts the {system.title} PostgreSQL database in {config.name}",
            removal_policy=kept_removal,
            logical_id="KeyDatabase",
            governance=naming.governance(config),
            # RDS creates grants for the cluster's storage and Performance Insights, and stores
            # the master password it generates in Secrets Manager, encrypted with this key.
            deployer_services=("rds", "secretsmanager"),
        ).key
        # Only what runs make db-bootstrap reads the master secret: a non-human identity named
        # in config, never a person's role (people sign in as their own users: docs/database.md).
        if settings.bootstrap_principal_arn:
            allow_use(
                self.key,
                self,
                sid="BootstrapReadsMasterSecret",
                principal_arns=[settings.bootstrap_principal_arn],
                actions=("kms:Decrypt",),
                via_services=("secretsmanager",),
            )

        self.network = IsolatedNetwork(
            self,
            "Network",
            name=f"{name}-database",
            cidr=settings.vpc_cidr,
            zone_count=settings.zone_count,
            key=self.key,
            flow_log_retention_days=settings.log_retention_days,
            log_removal_policy=kept_removal,
            dynamodb_resources=table_resources(config, system, partition=self.partition),
            dynamodb_actions=sorted(set(READ_ACTIONS) | set(WRITE_ACTIONS)),
            s3_buckets=[content_bucket_name(config, system.key)],
        )

        topic_arns = naming.alert_topic_arns(self, config)
        # The app role belongs to the system stack; it is addressed by name, not by export.
        app_role = iam.Role.from_role_name(self, "AppRole", f"{name}-app")
        self.database = PostgresDatabase(
            self,
            "Database",
            name=name,
            database_name=naming.DATABASE_NAME,
            admin_user=naming.ADMIN_USER,
            app_user=naming.APP_USER,
            network=self.network,
            key=self.key,
            settings=ClusterSettings(
                min_capacity_acu=settings.min_capacity_acu,
                max_capacity_acu=settings.max_capacity_acu,
                auto_pause=None if settings.auto_pause_minutes is None else Duration.minutes(settings.auto_pause_minutes),
                proxy=settings.proxy,
                readers=settings.readers,
                backup_retention_days=settings.backup_retention_days,
                deletion_protection=settings.deletion_protection,
                removal_policy=cluster_removal,
                log_removal_policy=kept_removal,
                performance_insights_retention_days=settings.performance_insights_retention_days,
                log_retention_days=settings.log_retention_days,
                monitoring_interval_seconds=settings.monitoring_interval_seconds,
                alarm_kinds=kinds_for(*config.alarms.alarms_on("database_instance", "database_reader")),
                alarms=config.alarms,
            ),
            app_role=app_role,
            alarm_actions=(alarm_actions := AlarmActions(self, topic_arns=topic_arns)),
        )

        self.alarm_actions = alarm_actions
        self._people(config, name)
        if config.dashboards == "all":
            Dashboard(
                self,
                "Dashboard",
                name=f"data-{name}-database",
                widgets=database_widgets(
                    name, list(self.database.instance_identifiers.values()), name if self.database.proxy else None, self.region
                ),
            )

        if config.backup.enabled:
            # The cluster's own plan into the environment's locked vault (Aurora's automated
            # backups stay too: they serve point-in-time restore within backup_retention_days).
            plan_name = naming.stack_name(config, DATABASE)
            ResourceBackupPlan(
                self,
                "Backup",
                plan_name=plan_name,
                vault_name=naming.backup_vault_name(config),
                rules=settings.backup_rules,
                resource_arns=[self.database.cluster.cluster_arn],
                selection_name="cluster",
                what=f"the {name} PostgreSQL cluster",
                copy_to=naming.backup_copy_vaults(config, tables=False),
            )
            allow_use(
                self.key,
                self,
                sid="BackupReadsTheCluster",
                principal_arns=[naming.role_arn(config, backup_role_name(plan_name))],
                actions=BACKUP_KEY_ACTIONS,
                via_services=("backup", "rds"),
            )
            tests = config.backup.restore_testing
            if tests is not None:
                # The cluster in the restore tests: into its isolated subnets and security group,
                # under its own key, by the restore tests' role (docs/restore.md).
                restore_tests(
                    self,
                    key=self.key,
                    sid="RestoreTestsCreateClusters",
                    service="rds",
                    role_arn=naming.role_arn(config, naming.restore_tests_role_name(config)),
                    plan_name=naming.restore_tests_plan_name(config),
                    name="personalpod_database",
                    resource_type="Aurora",
                    resource_arns=[self.database.cluster.cluster_arn],
                    overrides={
                        "kmsKeyId": self.key.key_arn,
                        "dbSubnetGroupName": self.database.subnet_group_name,
                        "vpcSecurityGroupIds": Fn.join("", ['["', self.database.cluster_security_group.security_group_id, '"]']),
                    },
                    keep_hours=tests.keep_hours,
                )

        # What an application needs to connect; plain outputs, not exports, so nothing is pinned.
        where = "ProxyEndpoint" if self.database.proxy else "WriterEndpoint"
        outputs = {
            where: (self.database.endpoint, f"Connect here on port {self.database.port} with TLS and an IAM auth token"),
            "DatabaseName": (naming.DATABASE_NAME, "PostgreSQL database"),
            "DatabaseUser": (naming.APP_USER, "Database user the application signs in as (IAM auth token, no password)"),
            "ClientSecurityGroupId": (self.database.client_security_group.security_group_id, "Attach to application tasks"),
            "VpcId": (self.network.vpc.vpc_id, "Isolated VPC of the database"),
            "SubnetIds": (",".join(s.subnet_id for s in self.network.vpc.isolated_subnets), "Isolated subnets for application tasks"),
            "MasterSecretArn": (
                self.database.master_secret.secret_arn,
                "Master credentials (migrations and break-glass only), rotated by RDS",
            ),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)

    @property
    def availability_zones(self) -> list[str]:
        """The region's zones as CloudFormation resolves them at deploy time (Fn::GetAZs).

        CDK's own getter would look the account's zones up during synth (a context lookup that
        needs AWS credentials), and literal zone names trip cfn-lint's W3010.
        """
        return [Fn.select(i, Fn.get_azs()) for i in range(MAX_ZONES)]

    def _people(self, config: EnvironmentConfig, name: str) -> None:
        """Each person's role may get IAM sign-in tokens for their own database user only, by a
        managed policy of its own attached to that role; db-bootstrap creates the user."""
        cluster_id = self.database.cluster.cluster_resource_identifier
        for i, person in enumerate(config.database.people):
            user_arn = f"arn:{self.partition}:rds-db:{self.region}:{self.account}:dbuser:{cluster_id}/{person.name}"
            iam.ManagedPolicy(
                self,
                f"Person{i}",
                managed_policy_name=f"{name}-db-person-{person.name}",
                description=f"Sign in to {name} as database user {person.name}, and as nobody else",
                statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=[user_arn])],
                roles=[iam.Role.from_role_arn(self, f"PersonRole{i}", person.principal_arn)],
            )

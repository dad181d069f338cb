"""An Aurora PostgreSQL Serverless v2 cluster, behind RDS Proxy where the settings ask for one,
in an `IsolatedNetwork` (constructs_lib/network.py), with the project's encryption,
authentication and alarm rules. The caller names the cluster, its database and its users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.arns import partition
from constructs_lib.identity import cfn_resource, pin
from constructs_lib.kms import log_group_arn, log_service_may_use
from constructs_lib.logs import acknowledge_short_retention, retention
from constructs_lib.monitoring import Alarms, AlarmTarget
from constructs_lib.nag import acknowledge, in_packs
from constructs_lib.network import IsolatedNetwork
from constructs_lib.props import AUDIT_ROLE, DB_PORT, AlarmKind, AlarmSettings

# A reviewed change bumps the major version; minor versions apply in the maintenance window.
# Read when a cluster is built (not bound at import), so tests can try another version.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_11
# A rule no packet matches: a group's only inline egress rule when it may send nothing else
# inline (what CDK writes for allow_all_outbound=False groups without egress rules).
NO_TRAFFIC = ec2.CfnSecurityGroup.EgressProperty(
    ip_protocol="icmp", cidr_ip="255.255.255.255/32", from_port=252, to_port=86, description="Disallow all traffic"
)
PROXY_PORT = 5432
# The server refuses any connection without TLS.
# The cluster parameter group: TLS on every connection, and database audit (docs/database.md,
# "Database audit"). pgaudit logs writes, DDL and role changes as statements, and reads only
# per object: SELECTs on the tables its audit role (rds_pgaudit, which db-bootstrap grants
# SELECT on them) may read. Bound parameters are not logged (log_parameter off): their values
# are the PHI. shared_preload_libraries is static: it takes effect when the writer reboots,
# which CloudFormation does not do (db-bootstrap says so until it has).
CLUSTER_PARAMETERS = {
    "rds.force_ssl": "1",
    "shared_preload_libraries": "pg_stat_statements,pgaudit",
    "pgaudit.log": "write,ddl,role",
    "pgaudit.role": AUDIT_ROLE,
    "pgaudit.log_parameter": "0",
    "log_connections": "1",
    "log_disconnections": "1",
}
LOG_EXPORTS = ("postgresql",)


@dataclass(frozen=True, kw_only=True)
class ClusterSettings:
    """The per-environment half of the cluster: size, backups, protection, retention, alarms."""

    # Serverless v2 capacity per instance, in Aurora capacity units (0.5 steps).
    min_capacity_acu: float
    max_capacity_acu: float
    # How long an instance at 0 ACUs waits without a connection before it pauses; None: never.
    auto_pause: Duration | None
    # RDS Proxy in front; without it the application signs in to the cluster's instances.
    proxy: bool
    # Readers besides the writer; each is a failover target and gets a replica-lag alarm.
    readers: int
    backup_retention_days: int
    deletion_protection: bool
    removal_policy: RemovalPolicy
    # The cluster's log group: kept wherever a final snapshot is, like the key the caller owns.
    log_removal_policy: RemovalPolicy
    performance_insights_retention_days: int
    log_retention_days: int
    # Enhanced Monitoring's OS-metrics granularity.
    monitoring_interval_seconds: int
    # The catalogue's kinds for database instances and readers, and the environment's thresholds.
    alarm_kinds: Sequence[AlarmKind]
    alarms: AlarmSettings


def _pi_retention(days: int) -> rds.PerformanceInsightRetention:
    # 7 days is the free tier, 731 the longest; in between, whole months of 31 days.
    if days == 7:
        return rds.PerformanceInsightRetention.DEFAULT
    if days == 731:
        return rds.PerformanceInsightRetention.LONG_TERM
    return rds.PerformanceInsightRetention[f"MONTHS_{days // 31}"]


class PostgresDatabase(Construct):
    """Aurora PostgreSQL Serverless v2 in isolated subnets, encrypted with `key`, TLS forced,
    IAM database authentication on, master password generated and rotated by RDS in Secrets
    Manager, fronted (where `settings.proxy`) by an RDS Proxy that accepts only TLS and IAM tokens.

    Security groups: the cluster admits the proxy and the application's client group; the proxy
    admits the client group only. Applications attach `client_security_group`. `endpoint` and
    `port` are where the application connects: the proxy's, else the cluster's writer.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        database_name: str,
        # The master user is for migrations and break-glass only; its password lives in Secrets Manager.
        admin_user: str,
        # The application's database user: no password at all, it signs in with IAM tokens.
        app_user: str,
        network: IsolatedNetwork,
        key: kms.IKey,
        settings: ClusterSettings,
        app_role: iam.IRole,
        alarm_actions: AlarmActions,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        vpc, subnets = network.vpc, network.subnets
        cluster_removal = settings.removal_policy

        # --- security groups: who may open a connection to whom -----------------------------
        # The groups' descriptions stay as they were first deployed, proxy or not: a named group's
        # description cannot change without replacing it (CloudFormation refuses that).
        self.client_security_group = ec2.SecurityGroup(
            self,
            "Clients",
            vpc=vpc,
            security_group_name=f"{name}-db-clients",
            description=f"{name} application tasks: the only clients of the RDS Proxy and the database",
            # The subnets route nowhere but the VPC and its endpoints, so egress is bounded by routing.
            allow_all_outbound=True,
        )
        self.cluster_security_group = ec2.SecurityGroup(
            self,
            "ClusterSecurityGroup",
            vpc=vpc,
            security_group_name=f"{name}-db",
            description=f"{name} Aurora cluster: reached by its proxy and the application clients only",
            allow_all_outbound=False,
        )

        # --- the cluster -------------------------------------------------------------------
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION)
        parameters = rds.ParameterGroup(
            # The description is CloudFormation's to keep: changing it replaces the group.
            self,
            "Parameters",
            engine=engine,
            description=f"{name}: TLS required on every connection",
            parameters=CLUSTER_PARAMETERS,
        )
        # RDS creates this log group on first export, unencrypted and kept forever; creating it
        # first gives it the key and a retention (and no log-retention Lambda).
        postgres_log_group_name = f"/aws/rds/cluster/{name}/postgresql"
        log_service_may_use(key, self, sid="CloudWatchLogsPostgresql", log_group_names=[postgres_log_group_name])
        self.log_group = logs.LogGroup(
            self,
            "PostgresqlLogs",
            log_group_name=postgres_log_group_name,
            retention=retention(settings.log_retention_days),
            encryption_key=key,
            removal_policy=settings.log_removal_policy,
        )
        acknowledge_short_retention(
            self.log_group,
            settings.log_retention_days,
            "database.log_retention_days is below a year outside prod; these PostgreSQL logs are diagnostics, and the audit trail "
            "and the database's own backups are the records.",
        )
        pin(self.log_group, "LogGroupPostgresql")

        # Performance Insights per instance too, else CDK warns that the cluster's setting wins.
        # Any: the values differ in type; each is checked by the serverless_v2 keyword it fills.
        instance_options: dict[str, Any] = dict(
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=_pi_retention(settings.performance_insights_retention_days),
        )
        writer = rds.ClusterInstance.serverless_v2("Writer", instance_identifier=f"{name}-writer", **instance_options)
        # Readers follow the writer's capacity so a failover lands on an instance already warm.
        readers = [
            rds.ClusterInstance.serverless_v2(
                f"Reader{i}", instance_identifier=f"{name}-reader-{i}", scale_with_writer=True, **instance_options
            )
            for i in range(1, settings.readers + 1)
        ]
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            cluster_identifier=name,
            default_database_name=database_name,
            # RDS generates the master password into Secrets Manager, encrypted with our key, and
            # rotates it itself (every 7 days by default): no rotation Lambda to run or reach.
            credentials=rds.Credentials.from_username(admin_user, encryption_key=key),
            manage_master_user_password=True,
            iam_authentication=True,
            writer=writer,
            readers=readers,
            serverless_v2_min_capacity=settings.min_capacity_acu,
            serverless_v2_max_capacity=settings.max_capacity_acu,
            serverless_v2_auto_pause_duration=settings.auto_pause,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.cluster_security_group],
            port=DB_PORT,
            parameter_group=parameters,
            storage_encrypted=True,
            storage_encryption_key=key,
            deletion_protection=settings.deletion_protection,
            removal_policy=cluster_removal,
            # Kept automated backups survive a deleted cluster (within their retention).
            delete_automated_backups=cluster_removal == RemovalPolicy.DESTROY,
            backup=rds.BackupProps(retention=Duration.days(settings.backup_retention_days), preferred_window="07:00-08:00"),
            preferred_maintenance_window="sun:08:30-sun:09:30",
            copy_tags_to_snapshot=True,
            cloudwatch_logs_exports=list(LOG_EXPORTS),
            monitoring_interval=Duration.seconds(settings.monitoring_interval_seconds),
            monitoring_role=self._monitoring_role(),
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=_pi_retention(settings.performance_insights_retention_days),
            auto_minor_version_upgrade=True,
        )
        cluster_resource = cfn_resource(self.cluster, rds.CfnDBCluster)
        cluster_resource.add_resource_dependency(cfn_resource(self.log_group, logs.CfnLogGroup))
        pin(self.cluster, "DatabaseCluster")
        self.instance_identifiers = {
            "Writer": f"{name}-writer",
            **{f"Reader{i}": f"{name}-reader-{i}" for i in range(1, settings.readers + 1)},
        }
        for construct_id in self.instance_identifiers:
            pin(self.cluster.node.find_child(construct_id), f"Database{construct_id}")
        reason = (
            "Aurora is backed up per cluster, not per instance: an instance holds no data of its own. The cluster keeps "
            "continuous backups (point-in-time restore) for its configured retention and a final snapshot on deletion."
        )
        for construct_id in self.instance_identifiers:
            acknowledge(
                self.cluster.node.find_child(construct_id),
                in_packs({"RDSInBackupPlan": reason}),
            )
        # The cluster's subnet group, which a restored copy must use too (restore tests).
        subnet_group = self.cluster.node.find_child("Subnets")
        assert isinstance(subnet_group, rds.SubnetGroup)
        self.subnet_group_name = subnet_group.subnet_group_name
        master_secret = self.cluster.secret
        if master_secret is None:
            raise ValueError(f"{name}: the cluster has no master secret, though RDS manages its password in Secrets Manager")
        self.master_secret = master_secret

        cluster_user_arn = stack.format_arn(
            service="rds-db",
            resource="dbuser",
            resource_name=f"{self.cluster.cluster_resource_identifier}/{app_user}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        # The application's direct path carries schema migrations signed in as the master user,
        # and, without a proxy, the application itself.
        self.cluster.connections.allow_from(
            self.client_security_group, ec2.Port.tcp(DB_PORT), "Application clients (migrations) to the cluster"
        )
        self.proxy: rds.DatabaseProxy | None = None
        if settings.proxy:
            self.proxy = self._proxy(name, app_user, subnets, cluster_user_arn, cluster_resource)
            proxy_id = stack.split_arn(self.proxy.db_proxy_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
            self.endpoint, self.port = self.proxy.endpoint, PROXY_PORT
            # The application role may connect through this proxy as the application user, nothing more.
            connect_arn = stack.format_arn(
                service="rds-db", resource="dbuser", resource_name=f"{proxy_id}/{app_user}", arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
            policy_name, how = f"{name}-db-connect", "through the RDS Proxy"
        else:
            # Straight to the cluster's instances as the application user (the writer endpoint).
            # Another name, so an environment can drop its proxy: a policy's name and description
            # cannot change in place, and a replacement may not reuse the name.
            self.endpoint, self.port = self.cluster.cluster_endpoint.hostname, DB_PORT
            connect_arn = cluster_user_arn
            policy_name, how = f"{name}-db-connect-cluster", "to the cluster's instances"
        self.app_connect_policy = iam.ManagedPolicy(
            self,
            "AppConnectPolicy",
            managed_policy_name=policy_name,
            description=f"{name} application: IAM sign-in {how} as {app_user}",
            roles=[app_role],
            statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=[connect_arn])],
        )

        # db-bootstrap reads the master secret from inside the VPC: Secrets Manager through an
        # interface endpoint that serves this one secret to this account's principals. The VPC's
        # only interface endpoint (DynamoDB and S3 are gateway endpoints, which cost nothing).
        self.secrets_endpoint = vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets,
            private_dns_enabled=True,
            # Not open to the whole VPC: only the application clients below.
            open=False,
            security_groups=[
                ec2.SecurityGroup(
                    self,
                    "SecretsEndpointSecurityGroup",
                    vpc=vpc,
                    description=f"{name} Secrets Manager endpoint: reached by the application clients only",
                    allow_all_outbound=False,
                )
            ],
        )
        self.secrets_endpoint.connections.allow_default_port_from(self.client_security_group, "Application clients to Secrets Manager")
        self.secrets_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="TheDatabaseSecretOnly",
                principals=[iam.AnyPrincipal()],
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[self.master_secret.secret_arn],
                conditions={"StringEquals": {"aws:PrincipalAccount": stack.account}},
            )
        )

        self.alarms = Alarms(
            self,
            "Alarms",
            kinds=settings.alarm_kinds,
            targets=[
                AlarmTarget(
                    ("database_instance",) if construct_id == "Writer" else ("database_instance", "database_reader"),
                    {"DBInstanceIdentifier": instance},
                    f"{construct_id}{{kind}}",
                    {"instance": instance, "max_capacity_acu": settings.max_capacity_acu},
                )
                for construct_id, instance in self.instance_identifiers.items()
            ],
            settings=settings.alarms,
            actions=alarm_actions,
            by_kind=False,
        ).alarms

    def _proxy(
        self, name: str, app_user: str, subnets: ec2.SubnetSelection, cluster_user_arn: str, cluster_resource: rds.CfnDBCluster
    ) -> rds.DatabaseProxy:
        """RDS Proxy: TLS and IAM tokens end to end, no password anywhere; its group admits the
        application clients only and sends only to the cluster."""
        stack = Stack.of(self)
        vpc = self.cluster.vpc
        self.proxy_security_group = ec2.SecurityGroup(
            self,
            "ProxySecurityGroup",
            vpc=vpc,
            security_group_name=f"{name}-db-proxy",
            description=f"{name} RDS Proxy: reached by the application clients only",
            allow_all_outbound=False,
        )
        proxy_role = iam.Role(
            self,
            "ProxyRole",
            description=f"{name} RDS Proxy signs in to the cluster as {app_user} with IAM",
            # Only this account's RDS may have the proxy assume it.
            assumed_by=iam.ServicePrincipal("rds.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": stack.account}}),
        )
        iam.ManagedPolicy(
            self,
            "ProxyPolicy",
            description=f"{name} RDS Proxy: connect to the cluster as {app_user} only",
            roles=[proxy_role],
            statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=[cluster_user_arn])],
        )
        proxy = rds.DatabaseProxy(
            self,
            "Proxy",
            db_proxy_name=name,
            proxy_target=rds.ProxyTarget.from_cluster(self.cluster),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.proxy_security_group],
            role=proxy_role,
            require_tls=True,
            # Clients present IAM tokens, and the proxy uses IAM to reach the cluster as well.
            default_auth_scheme=rds.DefaultAuthScheme.IAM_AUTH,
            debug_logging=False,
            idle_client_timeout=Duration.minutes(30),
        )
        target_group = cfn_resource(proxy.node.find_child("ProxyTargetGroup"), rds.CfnDBProxyTargetGroup)
        # Stage tags reach the target group's L1, but AWS::RDS::DBProxyTargetGroup takes no Tags.
        target_group.add_property_deletion_override("Tags")
        # Its Ref to the cluster already orders them; the extra DependsOn is cfn-lint's W3005.
        target_group.remove_resource_dependency(cluster_resource)
        # CDK opens proxy -> cluster with the port as a GetAtt; a literal keeps the rule readable
        # and lets the compliance packs' port rules evaluate it.
        for group in (self.cluster_security_group, self.proxy_security_group):
            for rule in group.node.children:
                if isinstance(rule, (ec2.CfnSecurityGroupIngress, ec2.CfnSecurityGroupEgress)) and "IndirectPort" in rule.node.id:
                    rule.from_port = rule.to_port = DB_PORT
        # The proxy sends only to the cluster (CDK's separate egress rule above). A group created
        # without an inline egress rule gets EC2's allow-all egress (AWS::EC2::SecurityGroup,
        # "SecurityGroupEgress"), and CDK drops its inline no-traffic rule from a group once any
        # egress rule is added, separate ones included: put it back, as on the cluster's group.
        # Inline, the proxy-to-cluster rule itself would collide on update with the separate one
        # already deployed (EC2 refuses a duplicate rule).
        cfn_resource(self.proxy_security_group, ec2.CfnSecurityGroup).security_group_egress = [NO_TRAFFIC]
        self.proxy_security_group.add_ingress_rule(
            self.client_security_group, ec2.Port.tcp(PROXY_PORT), "Application clients to the RDS Proxy"
        )
        return proxy

    def _monitoring_role(self) -> iam.Role:
        """Enhanced Monitoring's role, with the AWS managed policy's permissions narrowed to this
        account, region and RDS's one OS-metrics log group."""
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "MonitoringRole",
            description="RDS Enhanced Monitoring publishes OS metrics",
            # Confused-deputy guard as RDS documents it: this account's instances only.
            assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com").with_conditions(
                {
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition(stack.region)}:rds:{stack.region}:{stack.account}:db:*"},
                }
            ),
        )
        group_arn = log_group_arn(self, "RDSOSMetrics")
        policy = iam.ManagedPolicy(
            self,
            "MonitoringPolicy",
            description="RDS Enhanced Monitoring: the RDSOSMetrics log group only",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy"], resources=[group_arn]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"],
                    resources=[f"{group_arn}:log-stream:*"],
                ),
            ],
        )
        acknowledge(
            policy,
            {
                f"AwsSolutions-IAM5[Resource::{group_arn}:log-stream:*]": (
                    "RDS names each OS-metrics log stream after an instance's resource id, assigned only when the instance "
                    "is created; the wildcard covers the streams of RDS's one RDSOSMetrics log group."
                )
            },
        )
        return role

"""PersonalPod's PostgreSQL primary store: an isolated network and an Aurora PostgreSQL
Serverless v2 cluster behind RDS Proxy, with the project's encryption, alarm and naming rules.

`IsolatedNetwork` is the VPC (no internet path at all; DynamoDB and S3 through gateway
endpoints whose policies name this system's resources only). `PostgresDatabase` is the
cluster, its proxy, the security groups between them, and its alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from constructs import Construct

from config.model import DatabaseConfig
from constructs_lib.alerts import AlarmActions
from constructs_lib.identity import pin
from constructs_lib.kms import log_group_arn, log_service_may_use
from constructs_lib.nag import acknowledge

# A reviewed change bumps the major version; minor versions apply in the maintenance window.
ENGINE_VERSION = rds.AuroraPostgresEngineVersion.VER_16_11
# Not PostgreSQL's 5432: scanners that sweep the default port find nothing (AwsSolutions-RDS11).
# Clients never see this port; they reach the proxy, which always listens on 5432.
DB_PORT = 5433
PROXY_PORT = 5432
DATABASE_NAME = "personalpod"
# The master user is for migrations and break-glass only; its password lives in Secrets Manager.
ADMIN_USER = "personalpod_admin"
# The application's database user: no password at all, it signs in with IAM tokens.
APP_USER = "personalpod_app"
# The server refuses any connection without TLS.
TLS_PARAMETERS = {"rds.force_ssl": "1"}
LOG_EXPORTS = ("postgresql",)

_REMOVAL = {"retain": RemovalPolicy.RETAIN, "snapshot": RemovalPolicy.SNAPSHOT, "destroy": RemovalPolicy.DESTROY}
_R = logs.RetentionDays
# config.model.LOG_RETENTION_DAYS, as CDK names them.
_RETENTION = {
    1: _R.ONE_DAY, 3: _R.THREE_DAYS, 5: _R.FIVE_DAYS, 7: _R.ONE_WEEK, 14: _R.TWO_WEEKS, 30: _R.ONE_MONTH, 60: _R.TWO_MONTHS,
    90: _R.THREE_MONTHS, 120: _R.FOUR_MONTHS, 150: _R.FIVE_MONTHS, 180: _R.SIX_MONTHS, 365: _R.ONE_YEAR, 400: _R.THIRTEEN_MONTHS,
    545: _R.EIGHTEEN_MONTHS, 731: _R.TWO_YEARS, 1096: _R.THREE_YEARS, 1827: _R.FIVE_YEARS, 2192: _R.SIX_YEARS, 2557: _R.SEVEN_YEARS,
    2922: _R.EIGHT_YEARS, 3288: _R.NINE_YEARS, 3653: _R.TEN_YEARS,
}


def removal_policies(name: str) -> tuple[RemovalPolicy, RemovalPolicy]:
    """(cluster policy, policy of everything a snapshot still needs: the key and the logs).

    A final snapshot is encrypted with the cluster's key, so a snapshotted cluster's key is
    retained: deleting it would make the snapshot unreadable.
    """
    cluster = _REMOVAL[name]
    return cluster, (RemovalPolicy.DESTROY if cluster == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN)


def _pi_retention(days: int) -> rds.PerformanceInsightRetention:
    # 7 days is the free tier, 731 the longest; in between, whole months of 31 days.
    if days == 7:
        return rds.PerformanceInsightRetention.DEFAULT
    if days == 731:
        return rds.PerformanceInsightRetention.LONG_TERM
    return rds.PerformanceInsightRetention[f"MONTHS_{days // 31}"]


class IsolatedNetwork(Construct):
    """A VPC with isolated subnets only: no internet gateway, no NAT, so nothing in it can
    reach or be reached from the internet. AWS services are reached through endpoints whose
    policies admit this account's principals and this system's resources only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        cidr: str,
        zone_count: int,
        key: kms.IKey,
        flow_log_retention_days: int,
        log_removal_policy: RemovalPolicy,
        dynamodb_resources: Sequence[str],
        dynamodb_actions: Sequence[str],
        s3_buckets: Sequence[str],
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            vpc_name=name,
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            # The first zone_count of the stack's zones; the stack must give them as Fn::GetAZs
            # (DatabaseStack.availability_zones), or CDK would look them up in the account.
            max_azs=zone_count,
            subnet_configuration=[ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)],
            nat_gateways=0,
            create_internet_gateway=False,
            # Strip the default security group's rules: nothing may fall back on it.
            restrict_default_security_group=True,
        )
        # That custom resource's handler names its role in DependsOn and in a GetAtt; the
        # duplicate is cfn-lint's W3005, and the GetAtt alone orders them.
        provider = stack.node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
        provider.node.find_child("Handler").add_deletion_override("DependsOn")

        # Flow logs record every accepted and rejected connection, for audits and forensics.
        log_group_name = f"/vpc/{name}/flow-logs"
        log_service_may_use(key, self, sid="CloudWatchLogsVpcFlowLogs", log_group_names=[log_group_name])
        self.flow_log_group = logs.LogGroup(
            self, "FlowLogs", log_group_name=log_group_name, retention=_RETENTION[flow_log_retention_days], encryption_key=key, removal_policy=log_removal_policy
        )
        pin(self.flow_log_group, "LogGroupVpcFlowLogs")
        self.flow_log_role = iam.Role(
            self,
            "FlowLogsRole",
            description=f"VPC flow logs of {name} deliver to their log group",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                # Only this account's flow logs may use the role (confused-deputy guard).
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )
        group_arn = log_group_arn(self, log_group_name)
        self.flow_log_policy = iam.ManagedPolicy(
            self,
            "FlowLogsPolicy",
            description=f"Write VPC flow logs of {name} to {log_group_name} only",
            roles=[self.flow_log_role],
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"], resources=[group_arn, f"{group_arn}:log-stream:*"]
                )
            ],
        )
        acknowledge(
            self.flow_log_policy,
            {
                f"AwsSolutions-IAM5[Resource::{group_arn}:log-stream:*]": (
                    "Flow logs name each log stream after a network interface id that exists only at run time; "
                    "the wildcard covers the streams of this one log group and nothing else."
                )
            },
        )
        # The L1, not vpc.add_flow_log: the L2 would add an inline policy to the role (HIPAA and
        # NIST forbid inline policies) that duplicates the managed policy above.
        ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.vpc.vpc_id,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=self.flow_log_group.log_group_name,
            deliver_logs_permission_arn=self.flow_log_role.role_arn,
        )

        in_account = {"StringEquals": {"aws:PrincipalAccount": stack.account}}
        self.dynamodb_endpoint = self.vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.subnets])
        self.dynamodb_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ThisSystemsTablesOnly",
                principals=[iam.AnyPrincipal()],
                actions=list(dynamodb_actions),
                resources=list(dynamodb_resources),
                conditions=in_account,
            )
        )
        self.s3_endpoint = self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[self.subnets])
        bucket_arns = [f"arn:{stack.partition}:s3:::{b}" for b in s3_buckets]
        # s3:ResourceAccount too: bucket names are global, and a bucket of that name in another
        # account must not become a way out.
        in_account_buckets = {"StringEquals": {"aws:PrincipalAccount": stack.account, "s3:ResourceAccount": stack.account}}
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ThisSystemsBucketsOnly", principals=[iam.AnyPrincipal()], actions=["s3:ListBucket", "s3:GetBucketLocation"], resources=bucket_arns, conditions=in_account_buckets
            )
        )
        self.s3_endpoint.add_to_policy(
            iam.PolicyStatement(
                sid="ObjectsOfThisSystemsBucketsOnly",
                principals=[iam.AnyPrincipal()],
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                # Object keys are the application's; the bucket is fixed.
                resources=[f"{arn}/*" for arn in bucket_arns],
                conditions=in_account_buckets,
            )
        )


class PostgresDatabase(Construct):
    """Aurora PostgreSQL Serverless v2 in isolated subnets, encrypted with `key`, TLS forced,
    IAM database authentication on, master password generated and rotated by RDS in Secrets
    Manager, fronted by an RDS Proxy that accepts only TLS and IAM tokens.

    Security groups: the cluster admits the proxy and the application's client group; the proxy
    admits the client group only. Applications attach `client_security_group`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        network: IsolatedNetwork,
        key: kms.IKey,
        settings: DatabaseConfig,
        app_role: iam.IRole,
        alarm_actions: AlarmActions,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        vpc, subnets = network.vpc, network.subnets
        cluster_removal, kept_removal = removal_policies(settings.removal_policy)

        # --- security groups: who may open a connection to whom -----------------------------
        self.client_security_group = ec2.SecurityGroup(
            self,
            "Clients",
            vpc=vpc,
            security_group_name=f"{name}-db-clients",
            description=f"{name} application tasks: the only clients of the RDS Proxy and the database",
            # The subnets route nowhere but the VPC and its endpoints, so egress is bounded by routing.
            allow_all_outbound=True,
        )
        self.proxy_security_group = ec2.SecurityGroup(
            self, "ProxySecurityGroup", vpc=vpc, security_group_name=f"{name}-db-proxy", description=f"{name} RDS Proxy: reached by the application clients only", allow_all_outbound=False
        )
        self.cluster_security_group = ec2.SecurityGroup(
            self, "ClusterSecurityGroup", vpc=vpc, security_group_name=f"{name}-db", description=f"{name} Aurora cluster: reached by its proxy and the application clients only", allow_all_outbound=False
        )

        # --- the cluster -------------------------------------------------------------------
        engine = rds.DatabaseClusterEngine.aurora_postgres(version=ENGINE_VERSION)
        parameters = rds.ParameterGroup(self, "Parameters", engine=engine, description=f"{name}: TLS required on every connection", parameters=TLS_PARAMETERS)
        # RDS creates this log group on first export, unencrypted and kept forever; creating it
        # first gives it the key and a retention (and no log-retention Lambda).
        postgres_log_group_name = f"/aws/rds/cluster/{name}/postgresql"
        log_service_may_use(key, self, sid="CloudWatchLogsPostgresql", log_group_names=[postgres_log_group_name])
        self.log_group = logs.LogGroup(
            self, "PostgresqlLogs", log_group_name=postgres_log_group_name, retention=_RETENTION[settings.log_retention_days], encryption_key=key, removal_policy=kept_removal
        )
        pin(self.log_group, "LogGroupPostgresql")

        # Performance Insights per instance too, else CDK warns that the cluster's setting wins.
        instance_options = dict(
            auto_minor_version_upgrade=True,
            publicly_accessible=False,
            enable_performance_insights=True,
            performance_insight_encryption_key=key,
            performance_insight_retention=_pi_retention(settings.performance_insights_retention_days),
        )
        writer = rds.ClusterInstance.serverless_v2("Writer", instance_identifier=f"{name}-writer", **instance_options)
        # Readers follow the writer's capacity so a failover lands on an instance already warm.
        readers = [rds.ClusterInstance.serverless_v2(f"Reader{i}", instance_identifier=f"{name}-reader-{i}", scale_with_writer=True, **instance_options) for i in range(1, settings.readers + 1)]
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=engine,
            cluster_identifier=name,
            default_database_name=DATABASE_NAME,
            # RDS generates the master password into Secrets Manager, encrypted with our key, and
            # rotates it itself (every 7 days by default): no rotation Lambda to run or reach.
            credentials=rds.Credentials.from_username(ADMIN_USER, encryption_key=key),
            manage_master_user_password=True,
            iam_authentication=True,
            writer=writer,
            readers=readers,
            serverless_v2_min_capacity=settings.min_capacity_acu,
            serverless_v2_max_capacity=settings.max_capacity_acu,
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
        self.cluster.node.default_child.add_resource_dependency(self.log_group.node.default_child)
        pin(self.cluster, "DatabaseCluster")
        self.instance_identifiers = {"Writer": f"{name}-writer", **{f"Reader{i}": f"{name}-reader-{i}" for i in range(1, settings.readers + 1)}}
        for construct_id in self.instance_identifiers:
            pin(self.cluster.node.find_child(construct_id), f"Database{construct_id}")
        reason = (
            "Aurora is backed up per cluster, not per instance: an instance holds no data of its own. The cluster keeps "
            "continuous backups (point-in-time restore) for its configured retention and a final snapshot on deletion."
        )
        for construct_id in self.instance_identifiers:
            acknowledge(self.cluster.node.find_child(construct_id), {f"{pack}-RDSInBackupPlan": reason for pack in ("HIPAA.Security", "NIST.800.53.R5")})
        self.master_secret = self.cluster.secret

        # --- the proxy: TLS and IAM tokens end to end, no password anywhere ------------------
        proxy_role = iam.Role(self, "ProxyRole", description=f"{name} RDS Proxy signs in to the cluster as {APP_USER} with IAM", assumed_by=iam.ServicePrincipal("rds.amazonaws.com"))
        cluster_user_arn = stack.format_arn(
            service="rds-db", resource="dbuser", resource_name=f"{self.cluster.cluster_resource_identifier}/{APP_USER}", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        iam.ManagedPolicy(
            self,
            "ProxyPolicy",
            description=f"{name} RDS Proxy: connect to the cluster as {APP_USER} only",
            roles=[proxy_role],
            statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=[cluster_user_arn])],
        )
        self.proxy = rds.DatabaseProxy(
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
        target_group = self.proxy.node.find_child("ProxyTargetGroup")
        # Stage tags reach the target group's L1, but AWS::RDS::DBProxyTargetGroup takes no Tags.
        target_group.add_property_deletion_override("Tags")
        # Its Ref to the cluster already orders them; the extra DependsOn is cfn-lint's W3005.
        target_group.remove_resource_dependency(self.cluster.node.default_child)
        # CDK opens proxy -> cluster with the port as a GetAtt; a literal keeps the rule readable
        # and lets the compliance packs' port rules evaluate it.
        for group in (self.cluster_security_group, self.proxy_security_group):
            for rule in group.node.children:
                if isinstance(rule, (ec2.CfnSecurityGroupIngress, ec2.CfnSecurityGroupEgress)) and "IndirectPort" in rule.node.id:
                    rule.from_port = rule.to_port = DB_PORT
        # The application's direct path carries schema migrations signed in as the master user.
        self.cluster.connections.allow_from(self.client_security_group, ec2.Port.tcp(DB_PORT), "Application clients (migrations) to the cluster")
        self.proxy_security_group.add_ingress_rule(self.client_security_group, ec2.Port.tcp(PROXY_PORT), "Application clients to the RDS Proxy")

        # The application role may connect through this proxy as the application user, nothing more.
        proxy_id = stack.split_arn(self.proxy.db_proxy_arn, ArnFormat.COLON_RESOURCE_NAME).resource_name
        self.proxy_user_arn = stack.format_arn(service="rds-db", resource="dbuser", resource_name=f"{proxy_id}/{APP_USER}", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        self.app_connect_policy = iam.ManagedPolicy(
            self,
            "AppConnectPolicy",
            managed_policy_name=f"{name}-db-connect",
            description=f"{name} application: IAM sign-in through the RDS Proxy as {APP_USER}",
            roles=[app_role],
            statements=[iam.PolicyStatement(actions=["rds-db:connect"], resources=[self.proxy_user_arn])],
        )

        # Migration tasks read the master secret from inside the VPC: Secrets Manager through an
        # interface endpoint that serves this one secret to this account's principals.
        self.secrets_endpoint = vpc.add_interface_endpoint(
            "SecretsManager",
            service=ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
            subnets=subnets,
            private_dns_enabled=True,
            # Not open to the whole VPC: only the application clients below.
            open=False,
            security_groups=[
                ec2.SecurityGroup(self, "SecretsEndpointSecurityGroup", vpc=vpc, description=f"{name} Secrets Manager endpoint: reached by the application clients only", allow_all_outbound=False)
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

        self.alarms = _DatabaseAlarms(self, "Alarms", instances=self.instance_identifiers, settings=settings, actions=alarm_actions).alarms

    def _monitoring_role(self) -> iam.Role:
        """Enhanced Monitoring's role, with the AWS managed policy's permissions narrowed to this
        account, region and RDS's one OS-metrics log group."""
        role = iam.Role(self, "MonitoringRole", description="RDS Enhanced Monitoring publishes OS metrics", assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com"))
        group_arn = log_group_arn(self, "RDSOSMetrics")
        policy = iam.ManagedPolicy(
            self,
            "MonitoringPolicy",
            description="RDS Enhanced Monitoring: the RDSOSMetrics log group only",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy"], resources=[group_arn]),
                iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:GetLogEvents"], resources=[f"{group_arn}:log-stream:*"]),
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


class _DatabaseAlarms(Construct):
    """CloudWatch's recommended Aurora alarms, per instance, wired to the alert actions."""

    def __init__(self, scope: Construct, id: str, *, instances: Mapping[str, str], settings: DatabaseConfig, actions: AlarmActions) -> None:
        super().__init__(scope, id)
        a = settings.alarms
        periods = dict(evaluation_periods=a.evaluation_periods, datapoints_to_alarm=a.datapoints_to_alarm)
        self.alarms: list[cloudwatch.Alarm] = []
        for construct_id, instance in instances.items():
            dims = {"DBInstanceIdentifier": instance}
            self.alarms += [
                actions.alarm(
                    self, f"{construct_id}Cpu", name=f"{instance}-cpu", metric=_metric("CPUUtilization", dims, "Average"), threshold=a.cpu_percent,
                    description=f"CPU of {instance} is at or above {a.cpu_percent}%: queries are CPU-bound or capacity is capped.", **periods,
                ),
                actions.alarm(
                    self, f"{construct_id}Capacity", name=f"{instance}-acu-utilization", metric=_metric("ACUUtilization", dims, "Average"), threshold=a.acu_percent,
                    description=f"{instance} uses {a.acu_percent}% or more of its maximum ACU ({settings.max_capacity_acu}): raise max_capacity_acu before it throttles.", **periods,
                ),
                actions.alarm(
                    self, f"{construct_id}Connections", name=f"{instance}-connections", metric=_metric("DatabaseConnections", dims, "Maximum"), threshold=a.connections,
                    description=f"{instance} holds {a.connections} or more connections: clients may be bypassing the proxy or leaking connections.", **periods,
                ),
            ]
            memory = actions.alarm(
                self, f"{construct_id}Memory", name=f"{instance}-freeable-memory", metric=_metric("FreeableMemory", dims, "Minimum"), threshold=a.freeable_memory_mib * 1024 * 1024,
                description=f"Freeable memory of {instance} is at or below {a.freeable_memory_mib} MiB: the instance is short of memory for its load.", **periods,
            )
            # Memory alarms on a low value; AlarmActions sets up >= alarms, so flip the operator.
            memory.node.default_child.comparison_operator = "LessThanOrEqualToThreshold"
            self.alarms.append(memory)
            if construct_id != "Writer":
                self.alarms.append(
                    actions.alarm(
                        self, f"{construct_id}ReplicaLag", name=f"{instance}-replica-lag", metric=_metric("AuroraReplicaLag", dims, "Maximum"), threshold=a.replica_lag_ms,
                        description=f"Reader {instance} lags the writer by {a.replica_lag_ms} ms or more: reads are stale and a failover would wait.", **periods,
                    )
                )


def _metric(name: str, dims: dict[str, str], statistic: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(namespace="AWS/RDS", metric_name=name, dimensions_map=dims, statistic=statistic, period=Duration.minutes(1))

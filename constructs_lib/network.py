"""An isolated network: a VPC with no path to or from the internet, whose gateway endpoints
reach DynamoDB and S3 for the named resources only, and whose every connection is flow-logged."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.identity import cfn_resource, pin
from constructs_lib.kms import log_group_arn, log_service_may_use
from constructs_lib.logs import acknowledge_short_retention, retention
from constructs_lib.nag import acknowledge, control_tower


class IsolatedNetwork(Construct):
    """A VPC with isolated subnets only: no internet gateway, no NAT, so nothing in it can
    reach or be reached from the internet. AWS services are reached through endpoints whose
    policies admit this account's principals and the named tables and buckets only.
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
        handler = cfn_resource(provider.node.find_child("Handler"), CfnResource)
        handler.add_deletion_override("DependsOn")
        deploy_time = (
            "CDK's own handler for restrict_default_security_group: CloudFormation invokes it synchronously during deploys "
            "only, so a VPC, a dead-letter queue or a concurrency limit adds nothing; it reaches only the EC2 API."
        )
        acknowledge(
            handler,
            {
                "CKV_AWS_115": deploy_time,
                "CKV_AWS_116": deploy_time,
                "CKV_AWS_117": deploy_time,
                control_tower("lambda_inside_vpc_check"): deploy_time,
            },
        )

        # Flow logs record every accepted and rejected connection, for audits and forensics.
        log_group_name = f"/vpc/{name}/flow-logs"
        log_service_may_use(key, self, sid="CloudWatchLogsVpcFlowLogs", log_group_names=[log_group_name])
        self.flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            log_group_name=log_group_name,
            retention=retention(flow_log_retention_days),
            encryption_key=key,
            removal_policy=log_removal_policy,
        )
        pin(self.flow_log_group, "LogGroupVpcFlowLogs")
        acknowledge_short_retention(
            self.flow_log_group,
            flow_log_retention_days,
            "flow logs of an isolated VPC with no internet route, kept for forensics of recent traffic; prod keeps a year.",
        )
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
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[group_arn, f"{group_arn}:log-stream:*"],
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
        self.dynamodb_endpoint = self.vpc.add_gateway_endpoint(
            "DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[self.subnets]
        )
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
                sid="ThisSystemsBucketsOnly",
                principals=[iam.AnyPrincipal()],
                actions=["s3:ListBucket", "s3:GetBucketLocation"],
                resources=bucket_arns,
                conditions=in_account_buckets,
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

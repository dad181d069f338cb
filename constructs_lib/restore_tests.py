"""Restore tests on a schedule (AWS Backup restore testing; docs/restore.md, "Restore tests").

The plan (platform stack) picks, at each run, the latest recovery point of each selected
resource in the environment's vault; each system stack selects its tables, the database stack
its cluster, in selections of at most 30 resources (AWS Backup's limit), restored under the
environment's own keys (restore metadata overrides) and deleted after `keep_hours`.

Who hears: a failed or aborted restore job pages through an EventBridge rule (tamper alerts'
role and topic); a run that never happened produces no event at all, so an alarm on completed
restore jobs treats missing data as breaching over 7 days, the longest evaluation range
CloudWatch allows (a period of a day, seven of them). A restored table that is empty though
its source is not fails its validation (constructs_lib/lambdas/restore_validation.py), which
pages through the validator's error alarm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.backup import BACKUP_KEY_ACTIONS
from constructs_lib.identity import cfn_resource
from constructs_lib.kms import allow_use, log_service_may_use
from constructs_lib.nag import acknowledge, control_tower, in_packs

MAX_PER_SELECTION = 30  # RestoreTestingSelection.ProtectedResourceArns
RESTORE_POLICY = "AWSBackupServiceRolePolicyForRestores"
# The validator's code, inline in the template so the review summary's diff shows it.
VALIDATION_CODE = Path(__file__).parent / "lambdas" / "restore_validation.py"
# What AWS Backup names the tables its restore tests create.
RESTORED_TABLES = "awsbackup-restore-test-*"


class RestoreTestPlan(Construct):
    """The environment's plan, the role AWS Backup restores and deletes the copies as, and the
    alarm that a week passed without a completed restore."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        plan_name: str,
        vault_arn: str,
        role_name: str,
        validator_name: str,
        key: kms.IKey,
        source_tables: Sequence[str],
        removal_policy: RemovalPolicy,
        schedule: str,
        start_window_hours: int,
        window_days: int,
        actions: AlarmActions,
    ) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="AWS Backup's restore tests: restore each selected resource, then delete the copy",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name(f"service-role/{RESTORE_POLICY}")],
        )
        acknowledge(
            self.role,
            {
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{RESTORE_POLICY}]": "AWS Backup's own "
                "restore policy is AWS-maintained and follows new resource types; the role is assumable only by this account's AWS Backup."
            },
        )
        self.plan = backup.CfnRestoreTestingPlan(
            self,
            "Plan",
            restore_testing_plan_name=plan_name,
            schedule_expression=schedule,
            start_window_hours=start_window_hours,
            recovery_point_selection=backup.CfnRestoreTestingPlan.RestoreTestingRecoveryPointSelectionProperty(
                algorithm="LATEST_WITHIN_WINDOW",
                include_vaults=[vault_arn],
                recovery_point_types=["SNAPSHOT"],
                selection_window_days=window_days,
            ),
        )
        actions.alarm(
            self,
            "MissedAlarm",
            name=f"{plan_name.replace('_', '-')}-missed",
            description=f"No restore test completed in 7 days ({plan_name}): the plan did not run, or every restore failed. "
            "See docs/restore.md, Restore tests.",
            metric=cloudwatch.Metric(
                namespace="AWS/Backup",
                metric_name="NumberOfRestoreJobsCompleted",
                dimensions_map={"ResourceType": "DynamoDB"},
                statistic="Sum",
                period=Duration.days(1),
            ),
            threshold=1,
            evaluation_periods=7,
            datapoints_to_alarm=7,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # No restore completed in a day is no data point: missing counts as breaching here.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.validator = self._validator(validator_name, vault_arn, key, source_tables, removal_policy, actions)

    def _validator(
        self, name: str, vault_arn: str, key: kms.IKey, source_tables: Sequence[str], removal: RemovalPolicy, actions: AlarmActions
    ) -> lambda_.Function:
        """The function that checks each restored table holds data, with its role (read the jobs,
        count one item of a copy, describe the sources, send the verdict), its log group and its
        error alarm."""
        stack = Stack.of(self)
        log_group_name = f"/aws/lambda/{name}"  # Lambda's own, so it writes nowhere else
        log_service_may_use(key, self, sid="CloudWatchLogsRestoreValidation", log_group_names=[log_group_name])
        log_group = logs.LogGroup(
            self,
            "ValidatorLogs",
            log_group_name=log_group_name,
            retention=logs.RetentionDays.ONE_YEAR,
            encryption_key=key,
            removal_policy=removal,
        )
        copies = stack.format_arn(service="dynamodb", resource="table", resource_name=RESTORED_TABLES)
        points = stack.format_arn(service="backup", resource="recovery-point", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME)
        role = iam.Role(
            self,
            "ValidatorRole",
            role_name=name,
            description="Restore tests' validator: count one item of each restored table, send AWS Backup the verdict",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": stack.account}}),
        )
        policy = iam.ManagedPolicy(
            self,
            "ValidatorPolicy",
            description="Restore tests' validator: read restore jobs and their sources, count a copy's items, send the verdict",
            roles=[role],
            statements=[
                # Restore jobs have no ARN a policy could name.
                iam.PolicyStatement(actions=["backup:DescribeRestoreJob", "backup:PutRestoreValidationResult"], resources=["*"]),
                iam.PolicyStatement(actions=["backup:DescribeRecoveryPoint"], resources=[vault_arn, points]),
                # Select=COUNT: a count comes back, never an item.
                iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[copies]),
                iam.PolicyStatement(actions=["dynamodb:DescribeTable"], resources=list(source_tables)),
                iam.PolicyStatement(actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]),
            ],
        )
        acknowledge(
            policy,
            {
                "AwsSolutions-IAM5[Resource::*]": "DescribeRestoreJob and PutRestoreValidationResult name a job by its id: "
                "AWS Backup's restore jobs have no ARN for a policy's Resource.",
                f"AwsSolutions-IAM5[Resource::{points}]": "The recovery points of the vault the restore tests restore from: "
                "their ids are made when each backup runs.",
                f"AwsSolutions-IAM5[Resource::{copies}]": "The tables the restore tests create are named by AWS Backup at each run "
                "(awsbackup-restore-test-...); the only action on them is a one-item Scan with Select=COUNT.",
            },
        )
        function = lambda_.Function(
            self,
            "Validator",
            function_name=name,
            description="Restore tests: a restored table must hold items when its source does (docs/restore.md)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            handler="index.handler",
            code=lambda_.Code.from_inline(VALIDATION_CODE.read_text()),
            # By ARN: the function's GetAtt already orders it after the role, and CDK's own
            # DependsOn on a role it is handed would repeat that (cfn-lint W3005).
            role=iam.Role.from_role_arn(self, "ValidatorRoleArn", role.role_arn, mutable=False),
            timeout=Duration.minutes(1),
            memory_size=128,
            # One restore job at a time is plenty: a run restores at most a few dozen tables.
            reserved_concurrent_executions=2,
            environment={
                "RESTORE_TESTING_PLAN_ARN": self.plan.attr_restore_testing_plan_arn,
                "BACKUP_VAULT_NAME": vault_arn.rsplit(":", 1)[1],
            },
            environment_encryption=key,
            log_group=log_group,
        )
        # Its permissions exist before it can run (the role alone does not carry them).
        cfn_resource(function, lambda_.CfnFunction).add_resource_dependency(cfn_resource(policy, iam.CfnManagedPolicy))
        events.Rule(
            self,
            "ValidateRestores",
            description="Each completed restore job goes to the restore tests' validator (it skips jobs not of the plan)",
            event_pattern=events.EventPattern(
                source=["aws.backup"], detail_type=["Restore Job State Change"], detail={"status": ["COMPLETED"]}
            ),
            targets=[targets.LambdaFunction(function, retry_attempts=2, max_event_age=Duration.hours(1))],
        )
        actions.alarm(
            self,
            "ValidatorErrors",
            name=f"{name}-errors",
            description=f"The restore tests' validator failed or found an empty copy of a table that holds data ({name}): "
            "read its log group. See docs/restore.md, Restore tests.",
            # By its literal name, so the alarm reads plainly in the docs and review summary.
            metric=cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions_map={"FunctionName": name},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        reason = (
            "The validator calls only AWS APIs (Backup, DynamoDB) and reads no item: a VPC would need interface endpoints for both "
            "and protect nothing more."
        )
        dlq = (
            "EventBridge retries a failed run twice; a failure pages through the function's error alarm, and the job's validation "
            "shows TIMED_OUT in AWS Backup: there is nothing to redrive from a queue."
        )
        acknowledge(
            function,
            {
                "CKV_AWS_117": reason,
                "CKV_AWS_116": dlq,
                control_tower("lambda_inside_vpc_check"): reason,
                **in_packs({"LambdaInsideVPC": reason, "LambdaDLQ": dlq}),
            },
        )
        return function


def restore_test_selections(
    scope: Construct,
    *,
    plan_name: str,
    name: str,
    resource_type: str,
    resource_arns: Sequence[str],
    role_arn: str,
    overrides: Mapping[str, str],
    keep_hours: int,
) -> list[backup.CfnRestoreTestingSelection]:
    """`resource_arns` in selections of at most 30, named `<name>_<n>`, restored as `role_arn`
    with `overrides` (the environment's keys, subnets, security groups), kept `keep_hours`."""
    chunks = [resource_arns[i : i + MAX_PER_SELECTION] for i in range(0, len(resource_arns), MAX_PER_SELECTION)]
    return [
        backup.CfnRestoreTestingSelection(
            scope,
            f"RestoreTest{n}",
            restore_testing_plan_name=plan_name,
            restore_testing_selection_name=f"{name}_{n}",
            protected_resource_type=resource_type,
            protected_resource_arns=list(chunk),
            iam_role_arn=role_arn,
            restore_metadata_overrides=dict(overrides),
            validation_window_hours=keep_hours,
        )
        for n, chunk in enumerate(chunks, start=1)
    ]


def restore_tests(
    scope: Construct,
    *,
    key: kms.IKey,
    sid: str,
    service: str,
    role_arn: str,
    plan_name: str,
    name: str,
    resource_type: str,
    resource_arns: Sequence[str],
    overrides: Mapping[str, str],
    keep_hours: int,
) -> list[backup.CfnRestoreTestingSelection]:
    """A stack's resources in the restore tests, restored under `key`, which lets the restore
    tests' role use it through AWS Backup and `service` only."""
    allow_use(key, scope, sid=sid, principal_arns=[role_arn], actions=BACKUP_KEY_ACTIONS, via_services=("backup", service))
    return restore_test_selections(
        scope,
        plan_name=plan_name,
        name=name,
        resource_type=resource_type,
        resource_arns=resource_arns,
        role_arn=role_arn,
        overrides=overrides,
        keep_hours=keep_hours,
    )

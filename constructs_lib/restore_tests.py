"""Restore tests on a schedule (AWS Backup restore testing; docs/restore.md, "Restore tests").

The plan (platform stack) picks, at each run, the latest recovery point of each selected
resource in the environment's vault; each system stack selects its tables, the database stack
its cluster, in selections of at most 30 resources (AWS Backup's limit), restored under the
environment's own keys (restore metadata overrides) and deleted after `keep_hours`.

Who hears: a failed or aborted restore job pages through an EventBridge rule (tamper alerts'
role and topic); a run that never happened produces no event at all, so an alarm on completed
restore jobs treats missing data as breaching over 7 days, the longest evaluation range
CloudWatch allows (a period of a day, seven of them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.backup import BACKUP_KEY_ACTIONS
from constructs_lib.kms import allow_use
from constructs_lib.nag import acknowledge

MAX_PER_SELECTION = 30  # RestoreTestingSelection.ProtectedResourceArns
RESTORE_POLICY = "AWSBackupServiceRolePolicyForRestores"


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

"""Archival of expired items, one system at a time: the dead-letter queue, the pipe and Firehose
roles its archived tables share, and an `ArchivePath` per table (constructs_lib/archive_path.py).

Managed plumbing only: no function code to own, patch or test.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.archive_path import ArchivedTable, ArchivePath
from constructs_lib.kms import allow_use, role_arn, via
from constructs_lib.nag import acknowledge, control_tower


def pipe_role_name(name_prefix: str) -> str:
    return f"{name_prefix}-archive-pipe"


def delivery_role_name(name_prefix: str) -> str:
    """The Firehose role that writes to the archive bucket; the archive's key names it."""
    return f"{name_prefix}-archive-delivery"


class TableArchiver(Construct):
    """One system's archival plumbing: a dead-letter queue, the pipe and Firehose roles shared
    by its tables, and an `ArchivePath` per archived table. `redrive_principal_arns` (the
    migration principals) may move held records back (`python -m tools archive-redrive`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name_prefix: str,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
        log_retention: logs.RetentionDays,
        actions: AlarmActions,
        tables: Sequence[ArchivedTable],
        redrive_principal_arns: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.key = key
        self.actions = actions
        # Records that Pipes cannot deliver after its retries wait here for two weeks.
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            queue_name=f"{name_prefix}-archive-dlq",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        acknowledge(
            self.dead_letters,
            {
                "AwsSolutions-SQS3": "This queue is the archive pipe's dead-letter destination (Pipes DeadLetterConfig), which cdk-nag cannot see; a DLQ of a DLQ would only move the problem.",
                control_tower(
                    "sqs_dlq_check"
                ): "This queue is the archive pipe's dead-letter destination (Pipes DeadLetterConfig); a dead-letter queue of a dead-letter queue would only move the problem.",
            },
        )
        actions.alarm(
            self,
            "DeadLettersVisible",
            name=f"{name_prefix}-archive-dead-letters",
            description=f"Expired items of {name_prefix} could not be archived and wait in {name_prefix}-archive-dlq: redrive them before 14 days pass.",
            metric=self.dead_letters.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        self.log_retention, self.removal_policy = log_retention, removal_policy
        self.pipe_role = iam.Role(
            self,
            "PipeRole",
            role_name=pipe_role_name(name_prefix),
            assumed_by=_service(self, "pipes.amazonaws.com"),
            description="Moves TTL deletions from table streams to their buffer queues, and from the buffers into Firehose",
        )
        self.pipe_policy = iam.ManagedPolicy(self, "PipePolicy", managed_policy_name=f"{name_prefix}-archive-pipe", roles=[self.pipe_role])
        self.pipe_policy.add_statements(
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.dead_letters.queue_arn]),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via(self, "sqs")}},
            ),
        )
        # The key's side of the pipe's grants: dead letters through SQS, stream records through DynamoDB.
        pipe_arn = role_arn(self, pipe_role_name(name_prefix))
        allow_use(
            key,
            self,
            sid="ArchivePipeDeadLetters",
            principal_arns=[pipe_arn],
            actions=("kms:Decrypt", "kms:GenerateDataKey"),
            via_services=("sqs",),
        )
        allow_use(key, self, sid="ArchivePipeReadsStreams", principal_arns=[pipe_arn], actions=("kms:Decrypt",), via_services=("dynamodb",))
        self.delivery_role = iam.Role(
            self,
            "DeliveryRole",
            role_name=delivery_role_name(name_prefix),
            assumed_by=_service(self, "firehose.amazonaws.com"),
            description="Writes archived items to the archive bucket",
        )
        self.delivery_policy = iam.ManagedPolicy(
            self, "DeliveryPolicy", managed_policy_name=f"{name_prefix}-archive-delivery", roles=[self.delivery_role]
        )
        self.paths = {t.table.spec.id: ArchivePath(self, t.table.spec.id, archived=t, plumbing=self) for t in tables}
        if redrive_principal_arns:
            # The redrive reads the held queues and writes the buffers, both under this key (docs/retention.md).
            allow_use(
                key,
                self,
                sid="ArchiveRedrive",
                principal_arns=list(redrive_principal_arns),
                actions=("kms:Decrypt", "kms:GenerateDataKey"),
                via_services=("sqs",),
            )


def _service(scope: Construct, name: str) -> iam.IPrincipal:
    # Confused-deputy guard: only this account's pipes and delivery streams may assume the role.
    return iam.ServicePrincipal(name).with_conditions({"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}})

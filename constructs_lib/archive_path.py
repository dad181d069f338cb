"""One table's way into the archive (`ArchivePath`): its TTL deletions leave the table through
its stream, a pipe keeps only those (not user deletes) and puts them in a durable buffer queue,
a second pipe drains the buffer into Firehose, which writes compressed, KMS-encrypted batches
under the table's prefix of the archive bucket; alarms watch every hop. The roles and the
dead-letter queue its system's tables share are `constructs_lib.archive.TableArchiver`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_cdk import Duration, Size, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.arns import partition
from constructs_lib.kms import log_group_arn, log_service_may_use, via
from constructs_lib.nag import acknowledge, control_tower
from constructs_lib.table import DataTable

if TYPE_CHECKING:
    from constructs_lib.archive import TableArchiver

LOG_PREFIX = "/aws/kinesisfirehose/"
# SQS keeps a message at most 14 days, counted from its first arrival (a held message too).
BUFFER_DAYS = 14
# Deliveries the buffer's pipe tries (5 minutes apart) before a record moves to the held queue.
BUFFER_RECEIVES = 12
# Archiving is behind when a buffered record, or Firehose's oldest, is this old: with 5-minute
# periods the alarms fire within 15 minutes of the fault.
BEHIND_SECONDS = 600
# Only deletions made by the TTL process: DynamoDB marks them with its service principal.
TTL_DELETES = {"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}}


@dataclass(frozen=True, kw_only=True)
class ArchiveTarget:
    # By name: the bucket's ARN follows from it, so no cross-stack export pins the bucket.
    bucket_name: str
    key: kms.IKey


def archive_name(table_name: str) -> str:
    """A table's archive path: its pipe, Firehose stream and queues are named after it."""
    return f"{table_name}-archive"[:64]


def drain_name(archive: str) -> str:
    """The pipe that moves an archive's buffered records into Firehose."""
    return f"{archive}-drain"[:64]


@dataclass(frozen=True, kw_only=True)
class ArchivedTable:
    """A table whose TTL deletions are archived, where to, and under which prefix."""

    table: DataTable
    target: ArchiveTarget
    prefix: str


class ArchivePath(Construct):
    """One table's way into the archive, in three parts: delivery (a Firehose stream writing
    to its prefix of the archive bucket), capture (a pipe from the table's stream into a durable
    buffer queue, and a pipe draining the buffer into Firehose) and the alarms on both."""

    def __init__(self, scope: Construct, id: str, *, archived: ArchivedTable, plumbing: TableArchiver) -> None:
        super().__init__(scope, id)
        table = archived.table
        stream_arn = table.table.table_stream_arn
        if stream_arn is None:
            raise ValueError(
                f"{table.table_name} has no stream to archive from: build its DataTable with stream_readers (the archive pipe's role)"
            )
        self._plumbing = plumbing
        self.name = archive_name(table.table_name)
        self.delivery = self._delivery(table, archived.target, archived.prefix)
        self.held, self.buffer = self._capture(table, stream_arn)
        self._alarms(table)

    def _delivery(self, table: DataTable, target: ArchiveTarget, prefix: str) -> firehose.DeliveryStream:
        """Firehose: compressed, KMS-encrypted batches under `prefix`, as the shared delivery role."""
        plumbing, name = self._plumbing, self.name
        bucket, key = s3.Bucket.from_bucket_name(self, "Target", target.bucket_name), target.key
        # A literal ARN (no partition token) so the policy and its cdk-nag finding id read the same everywhere.
        objects = f"arn:{partition(Stack.of(self).region)}:s3:::{target.bucket_name}/{prefix}*"
        plumbing.delivery_policy.add_statements(
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], resources=[bucket.bucket_arn]
            ),
            iam.PolicyStatement(actions=["s3:PutObject", "s3:AbortMultipartUpload"], resources=[objects]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via(self, "s3")}},
            ),
        )
        # One log group per stream (Firehose's L2 adds its own log stream to the group), encrypted
        # with the system's key, which must let CloudWatch Logs use it for exactly that group.
        log_service_may_use(plumbing.key, self, sid=f"CloudWatchLogsArchive{table.spec.id}", log_group_names=[f"{LOG_PREFIX}{name}"])
        log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            log_group_name=f"{LOG_PREFIX}{name}",
            encryption_key=plumbing.key,
            retention=plumbing.log_retention,
            removal_policy=plumbing.removal_policy,
        )
        # Firehose's L2 names the group's one log stream "S3Destination": grant exactly that.
        plumbing.delivery_policy.add_statements(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[log_group_arn(self, f"{LOG_PREFIX}{name}:log-stream:S3Destination")],
            )
        )
        delivery = firehose.DeliveryStream(
            self,
            "Delivery",
            delivery_stream_name=name,
            # Firehose's own buffer is encrypted with the archive's key too, not an AWS-owned one.
            encryption=firehose.StreamEncryption.customer_managed_key(key),
            # The role's permissions come from the managed policy above, nothing inline.
            role=plumbing.delivery_role.without_policy_updates(),
            destination=firehose.S3Bucket(
                bucket,
                role=plumbing.delivery_role.without_policy_updates(),
                compression=firehose.Compression.GZIP,
                encryption_key=key,
                data_output_prefix=f"{prefix}data/!{{timestamp:yyyy/MM/dd}}/",
                error_output_prefix=f"{prefix}errors/!{{firehose:error-output-type}}/!{{timestamp:yyyy/MM/dd}}/",
                buffering_interval=Duration.minutes(5),
                buffering_size=Size.mebibytes(64),
                logging_config=firehose.EnableLogging(log_group),
                # One JSON record per line: Athena and every JSON-lines reader can query the archive.
                processors=[firehose.AppendDelimiterToRecordProcessor()],
            ),
        )
        delivery.node.add_dependency(plumbing.delivery_policy)
        acknowledge(
            plumbing.delivery_policy,
            {
                f"AwsSolutions-IAM5[Resource::{objects}]": "Firehose names the objects it writes; the wildcard covers only this table's prefix of the archive bucket, for PutObject and AbortMultipartUpload.",
            },
        )
        return delivery

    def _capture(self, table: DataTable, stream_arn: str) -> tuple[sqs.Queue, sqs.Queue]:
        """The durable buffer: a TTL deletion leaves the stream's 24 hours for 14 days in SQS at
        once, so a fault further on (Firehose, the bucket, its key or policy) loses nothing for
        two weeks. Records the buffer's pipe cannot deliver after its retries move to the held
        queue, records themselves (a stream source's dead letters are only batch descriptions),
        where `python -m tools archive-redrive` moves them back once the fault is fixed."""
        plumbing, name = self._plumbing, self.name
        held = self._queue("HeldQueue", f"{name}-held", redrive=None)
        buffer = self._queue("BufferQueue", f"{name}-buffer", redrive=sqs.DeadLetterQueue(queue=held, max_receive_count=BUFFER_RECEIVES))
        plumbing.pipe_policy.add_statements(
            iam.PolicyStatement(
                actions=["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=[stream_arn],
            ),
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[table.key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": via(self, "dynamodb")}},
            ),
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[buffer.queue_arn]),
            iam.PolicyStatement(
                actions=["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
                resources=[buffer.queue_arn],
            ),
            iam.PolicyStatement(actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.delivery.delivery_stream_arn]),
        )
        pipe = pipes.CfnPipe(
            self,
            "Pipe",
            name=name,
            description=f"TTL deletions of {table.table_name} to its archive buffer",
            role_arn=plumbing.pipe_role.role_arn,
            source=stream_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                    # From the oldest record the stream keeps (24 h): nothing expires unarchived
                    # while the pipe is being created or is stopped.
                    starting_position="TRIM_HORIZON",
                    batch_size=100,
                    maximum_batching_window_in_seconds=60,
                    maximum_retry_attempts=10,
                    dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=plumbing.dead_letters.queue_arn),
                ),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(TTL_DELETES, sort_keys=True))]
                ),
            ),
            target=buffer.queue_arn,
        )
        pipe.node.add_dependency(plumbing.pipe_policy)
        drain = pipes.CfnPipe(
            self,
            "Drain",
            name=drain_name(name),
            description=f"Buffered TTL deletions of {table.table_name} into Firehose",
            role_arn=plumbing.pipe_role.role_arn,
            source=buffer.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=10, maximum_batching_window_in_seconds=60
                )
            ),
            target=self.delivery.delivery_stream_arn,
            # The stream record itself, as the archive has always held it (Pipes parses the JSON body).
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(input_template="<$.body>"),
        )
        drain.node.add_dependency(plumbing.pipe_policy)
        return held, buffer

    def _queue(self, id: str, name: str, *, redrive: sqs.DeadLetterQueue | None) -> sqs.Queue:
        """A queue of the archive path: 14 days, the system's key, TLS only."""
        queue = sqs.Queue(
            self,
            id,
            queue_name=name[:80],
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._plumbing.key,
            enforce_ssl=True,
            retention_period=Duration.days(BUFFER_DAYS),
            # Longer than the pipe's batching window and Firehose's call, so a batch in flight is not redelivered.
            visibility_timeout=Duration.minutes(5),
            dead_letter_queue=redrive,
            removal_policy=self._plumbing.removal_policy,
        )
        if redrive is None:
            acknowledge(queue, {"AwsSolutions-SQS3": _queue_reason(), control_tower("sqs_dlq_check"): _queue_reason()})
        return queue

    def _alarms(self, table: DataTable) -> None:
        """Each hop's failure, and the archive falling behind, within 15 minutes."""
        name, actions = self.name, self._plumbing.actions
        self._pipe_failures(
            "PipeFailures",
            name,
            f"{name}-pipe-failures",
            f"The archive pipe of {table.table_name} failed to move TTL deletions to {name}-buffer; the stream keeps them only 24 hours.",
        )
        self._pipe_failures(
            "DrainFailures",
            drain_name(name),
            f"{name}-drain-failures",
            f"Buffered TTL deletions of {table.table_name} failed to reach Firehose; they stay in {name}-buffer (14 days).",
        )
        actions.alarm(
            self,
            "BufferAge",
            name=f"{name}-behind",
            description=f"Archiving of {table.table_name} is falling behind: the oldest buffered TTL deletion is over {BEHIND_SECONDS // 60} minutes old.",
            metric=self.buffer.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum"),
            threshold=BEHIND_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        actions.alarm(
            self,
            "HeldRecords",
            name=f"{name}-held",
            description=f"TTL deletions of {table.table_name} are held in {name}-held after repeated delivery failures: fix the fault, then run "
            f"python -m tools archive-redrive (docs/retention.md) within 14 days of their expiry.",
            metric=self.held.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        actions.alarm(
            self,
            "DeliveryFreshness",
            name=f"{name}-delivery-freshness",
            description=f"Firehose has held archived items of {table.table_name} for over {BEHIND_SECONDS // 60} minutes without writing them to S3.",
            metric=self.delivery.metric("DeliveryToS3.DataFreshness", statistic="Maximum", period=Duration.minutes(5)),
            threshold=BEHIND_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )

    def _pipe_failures(self, id: str, pipe: str, alarm_name: str, description: str) -> None:
        """An alarm on the first failed execution of `pipe` in 5 minutes."""
        self._plumbing.actions.alarm(
            self,
            id,
            name=alarm_name,
            description=description,
            metric=cloudwatch.Metric(
                namespace="AWS/EventBridge/Pipes",
                metric_name="ExecutionFailed",
                dimensions_map={"PipeName": pipe},
                statistic="Sum",
                period=Duration.minutes(5),
            ),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )


def _queue_reason() -> str:
    return (
        "The archive's held queue is itself the buffer's dead-letter queue; a dead-letter queue of it would only move "
        "the records again, and its alarm fires on the first one."
    )

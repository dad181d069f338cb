"""Archival of expired items: TTL deletions leave a table through its stream, an EventBridge
Pipe keeps only those (not user deletes) and hands them to Firehose, which writes compressed,
KMS-encrypted batches under the table's prefix of the archive bucket.

Managed plumbing only: no function code to own, patch or test.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Size, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_pipes as pipes
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.arns import partition
from constructs_lib.buckets import SecureBucket, expiring_rule, object_lock
from constructs_lib.identity import pin
from constructs_lib.kms import allow_use, log_group_arn, log_service_may_use, via
from constructs_lib.nag import acknowledge, control_tower
from constructs_lib.table import DataTable

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
class PrefixRule:
    """Lifecycle of one archive prefix (one table)."""

    prefix: str
    glacier_after_days: int
    deep_archive_after_days: int
    expire_after_days: int

    def lifecycle_rule(self) -> s3.LifecycleRule:
        return expiring_rule(
            self.prefix.strip("/").replace("/", "-"),
            self.expire_after_days,
            prefix=self.prefix,
            transitions=[
                s3.Transition(storage_class=s3.StorageClass.GLACIER, transition_after=Duration.days(self.glacier_after_days)),
                s3.Transition(storage_class=s3.StorageClass.DEEP_ARCHIVE, transition_after=Duration.days(self.deep_archive_after_days)),
            ],
        )


@dataclass(frozen=True, kw_only=True)
class ReplicationTarget:
    """Where an archive replicates to: a bucket of another region under that region's key
    (by alias ARN: the key's id is unknown until that stack is deployed)."""

    bucket_name: str
    region: str
    key_alias_arn: str
    role_name: str


class ArchiveBucket(Construct):
    """A SecureBucket whose lifecycle follows each archived table's retention, optionally
    Object-Locked so that nothing in it can be deleted before its retention ends, and optionally
    replicated to another region (`replicate_to`), or itself a replica (`replica`)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket_name: str,
        logical_id: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        rules: Sequence[PrefixRule],
        removal_policy: RemovalPolicy,
        object_lock_mode: str | None = None,
        unlocked_because: str | None = None,
        replicate_to: ReplicationTarget | None = None,
        replica: bool = False,
    ) -> None:
        super().__init__(scope, id)
        if not object_lock_mode and not unlocked_because:
            raise ValueError(f"{bucket_name}: an archive without Object Lock needs the reason (unlocked_because)")
        # The lock lasts as long as the shortest retention stored here; lifecycle expires each
        # prefix at its own end.
        lock = object_lock(object_lock_mode, min(r.expire_after_days for r in rules))
        self.bucket = SecureBucket(
            self,
            "Secure",
            key=key,
            access_logs=access_logs,
            access_log_prefix=f"{bucket_name}/",
            removal_policy=removal_policy,
            lifecycle_rules=[r.lifecycle_rule() for r in rules],
            object_lock_default_retention=lock,
            bucket_name=bucket_name,
        ).bucket
        pin(self.bucket, logical_id)
        self._logical_id, self._bucket_name = logical_id, bucket_name
        if replicate_to is not None:
            self._replicate(key, replicate_to, [r.prefix for r in rules])
        else:
            reason = (
                "This bucket is the replica: the audit archive of the primary region replicates into it."
                if replica
                else "Archives are written once by Firehose and only read for audits; versioning, Object Lock "
                "(prod) and 11 nines of durability protect them; where config has off-site copies (offsite.region) "
                "the audit archive replicates, and a second-region copy of the rest is a cost decision."
            )
            acknowledge(
                self.bucket, {"HIPAA.Security-S3BucketReplicationEnabled": reason, "NIST.800.53.R5-S3BucketReplicationEnabled": reason}
            )
        if not object_lock_mode and unlocked_because:
            acknowledge(self.bucket, {control_tower("s3_bucket_object_lock_enabled_check"): unlocked_because})

    def _replicate(self, key: kms.IKey, target: ReplicationTarget, prefixes: Sequence[str]) -> None:
        """Every new object under `prefixes`, with its Object Lock retention, to the target
        bucket, as a role of its own (S3's documented replication permissions, those prefixes of
        this bucket and that one only)."""
        stack = Stack.of(self)
        destination = f"arn:{partition(target.region)}:s3:::{target.bucket_name}"
        role = iam.Role(
            self,
            "ReplicationRole",
            role_name=target.role_name,
            # Literal names: a Ref to the bucket here would make a cycle (the bucket names this role).
            description=f"S3 replicates {self._bucket_name} to {target.bucket_name}",
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": stack.account}}),
        )
        source_objects = [f"{self.bucket.bucket_arn}/{prefix}*" for prefix in prefixes]
        replica_keys = f"arn:{partition(target.region)}:kms:{target.region}:{stack.account}:key/*"
        policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            description=f"Replicate {self._bucket_name} to {target.bucket_name} only",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["s3:GetReplicationConfiguration", "s3:ListBucket"], resources=[self.bucket.bucket_arn]),
                iam.PolicyStatement(
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                        "s3:GetObjectRetention",
                        "s3:GetObjectLegalHold",
                    ],
                    resources=source_objects,
                ),
                iam.PolicyStatement(
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[f"{destination}/{prefix}*" for prefix in prefixes],
                ),
                iam.PolicyStatement(
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": via(self, "s3")}},
                ),
                # The replica key by its alias: its id exists only once that region's stack is deployed.
                iam.PolicyStatement(
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[replica_keys],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{target.region}.amazonaws.com"},
                        "ForAnyValue:StringEquals": {"kms:ResourceAliases": target.key_alias_arn.split(":", 5)[5]},
                    },
                ),
            ],
        )
        objects = "Replication reads and writes every object version under the archived tables' prefixes, nothing else."
        acknowledge(
            policy,
            {
                **{f"AwsSolutions-IAM5[Resource::<{self._logical_id}.Arn>/{prefix}*]": objects for prefix in prefixes},
                **{f"AwsSolutions-IAM5[Resource::{destination}/{prefix}*]": objects for prefix in prefixes},
                f"AwsSolutions-IAM5[Resource::{replica_keys}]": (
                    "The replica key's id is unknown until its region's stack exists; kms:ResourceAliases limits this to "
                    "that key's alias, and kms:ViaService to S3 of that region."
                ),
            },
        )
        cfn = self.bucket.node.default_child
        assert isinstance(cfn, s3.CfnBucket)
        cfn.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=role.role_arn,
            rules=[
                s3.CfnBucket.ReplicationRuleProperty(
                    id=f"offsite-{prefix.strip('/').replace('/', '-')}",
                    status="Enabled",
                    priority=priority,
                    filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=prefix),
                    # An archive's deletions are lifecycle expiries: the replica expires on its own.
                    delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(status="Disabled"),
                    source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                        sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(status="Enabled")
                    ),
                    destination=s3.CfnBucket.ReplicationDestinationProperty(
                        bucket=destination,
                        encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(replica_kms_key_id=target.key_alias_arn),
                    ),
                )
                for priority, prefix in enumerate(prefixes, start=1)
            ],
        )
        # No DependsOn on the policy: it names this bucket, so that would be a cycle. S3 checks only
        # that the role exists when replication is configured; the policy follows in the same deploy.


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


def pipe_role_name(name_prefix: str) -> str:
    return f"{name_prefix}-archive-pipe"


def delivery_role_name(name_prefix: str) -> str:
    """The Firehose role that writes to the archive bucket; the archive's key names it."""
    return f"{name_prefix}-archive-delivery"


class TableArchiver(Construct):
    """One system's archival plumbing: a dead-letter queue, the pipe and Firehose roles and log
    group shared by its tables, and per table a Firehose stream, a Pipe and their alarms."""

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
        alarm_periods: int,
    ) -> None:
        super().__init__(scope, id)
        self._prefix = name_prefix
        self._key = key
        self._actions = actions
        self._alarm_periods = alarm_periods
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
        self._log_retention, self._removal = log_retention, removal_policy
        # table id -> (buffer queue, held queue)
        self.buffers: dict[str, tuple[sqs.Queue, sqs.Queue]] = {}
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
        pipe_arn = Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=pipe_role_name(name_prefix))
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

    def _queue(self, scope: Construct, id: str, name: str, *, redrive: sqs.DeadLetterQueue | None) -> sqs.Queue:
        """A queue of the archive path: 14 days, the system's key, TLS only."""
        queue = sqs.Queue(
            scope,
            id,
            queue_name=name[:80],
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self._key,
            enforce_ssl=True,
            retention_period=Duration.days(BUFFER_DAYS),
            # Longer than the pipe's batching window and Firehose's call, so a batch in flight is not redelivered.
            visibility_timeout=Duration.minutes(5),
            dead_letter_queue=redrive,
            removal_policy=self._removal,
        )
        if redrive is None:
            acknowledge(queue, {"AwsSolutions-SQS3": _queue_reason(), control_tower("sqs_dlq_check"): _queue_reason()})
        return queue

    def _pipe_failures(self, scope: Construct, id: str, pipe: str, alarm_name: str, description: str) -> None:
        """An alarm on the first failed execution of `pipe` in 5 minutes."""
        self._actions.alarm(
            scope,
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

    def add(self, table: DataTable, *, target: ArchiveTarget, prefix: str) -> None:
        """Archive `table`'s TTL deletions under `prefix` of the target bucket."""
        name = archive_name(table.table_name)
        stream_arn = table.table.table_stream_arn
        if stream_arn is None:
            raise ValueError(f"{table.table_name} has no stream to archive from: build its DataTable with stream=True")
        scope = Construct(self, table.spec.id)
        bucket, key = s3.Bucket.from_bucket_name(scope, "Target", target.bucket_name), target.key
        # A literal ARN (no partition token) so the policy and its cdk-nag finding id read the same everywhere.
        objects = f"arn:{partition(Stack.of(self).region)}:s3:::{target.bucket_name}/{prefix}*"
        self.delivery_policy.add_statements(
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
        log_service_may_use(self._key, scope, sid=f"CloudWatchLogsArchive{table.spec.id}", log_group_names=[f"{LOG_PREFIX}{name}"])
        log_group = logs.LogGroup(
            scope,
            "DeliveryLogs",
            log_group_name=f"{LOG_PREFIX}{name}",
            encryption_key=self._key,
            retention=self._log_retention,
            removal_policy=self._removal,
        )
        # Firehose's L2 names the group's one log stream "S3Destination": grant exactly that.
        self.delivery_policy.add_statements(
            iam.PolicyStatement(
                actions=["logs:PutLogEvents"],
                resources=[log_group_arn(self, f"{LOG_PREFIX}{name}:log-stream:S3Destination")],
            )
        )
        delivery = firehose.DeliveryStream(
            scope,
            "Delivery",
            delivery_stream_name=name,
            # Firehose's own buffer is encrypted with the archive's key too, not an AWS-owned one.
            encryption=firehose.StreamEncryption.customer_managed_key(key),
            # The role's permissions come from the managed policy above, nothing inline.
            role=self.delivery_role.without_policy_updates(),
            destination=firehose.S3Bucket(
                bucket,
                role=self.delivery_role.without_policy_updates(),
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
        delivery.node.add_dependency(self.delivery_policy)
        acknowledge(
            self.delivery_policy,
            {
                f"AwsSolutions-IAM5[Resource::{objects}]": "Firehose names the objects it writes; the wildcard covers only this table's prefix of the archive bucket, for PutObject and AbortMultipartUpload.",
            },
        )

        # The durable buffer: a TTL deletion leaves the stream's 24 hours for 14 days in SQS at
        # once, so a fault further on (Firehose, the bucket, its key or policy) loses nothing for
        # two weeks. Records the buffer's pipe cannot deliver after its retries move to the held
        # queue, records themselves (a stream source's dead letters are only batch descriptions),
        # where `python -m tools archive-redrive` moves them back once the fault is fixed.
        held = self._queue(scope, "HeldQueue", f"{name}-held", redrive=None)
        buffer = self._queue(
            scope, "BufferQueue", f"{name}-buffer", redrive=sqs.DeadLetterQueue(queue=held, max_receive_count=BUFFER_RECEIVES)
        )
        self.buffers[table.spec.id] = (buffer, held)
        self.pipe_policy.add_statements(
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
            iam.PolicyStatement(actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[delivery.delivery_stream_arn]),
        )
        pipe = pipes.CfnPipe(
            scope,
            "Pipe",
            name=name,
            description=f"TTL deletions of {table.table_name} to its archive buffer",
            role_arn=self.pipe_role.role_arn,
            source=stream_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                dynamo_db_stream_parameters=pipes.CfnPipe.PipeSourceDynamoDBStreamParametersProperty(
                    # From the oldest record the stream keeps (24 h): nothing expires unarchived
                    # while the pipe is being created or is stopped.
                    starting_position="TRIM_HORIZON",
                    batch_size=100,
                    maximum_batching_window_in_seconds=60,
                    maximum_retry_attempts=10,
                    dead_letter_config=pipes.CfnPipe.DeadLetterConfigProperty(arn=self.dead_letters.queue_arn),
                ),
                filter_criteria=pipes.CfnPipe.FilterCriteriaProperty(
                    filters=[pipes.CfnPipe.FilterProperty(pattern=json.dumps(TTL_DELETES, sort_keys=True))]
                ),
            ),
            target=buffer.queue_arn,
        )
        pipe.node.add_dependency(self.pipe_policy)
        drain = pipes.CfnPipe(
            scope,
            "Drain",
            name=drain_name(name),
            description=f"Buffered TTL deletions of {table.table_name} into Firehose",
            role_arn=self.pipe_role.role_arn,
            source=buffer.queue_arn,
            source_parameters=pipes.CfnPipe.PipeSourceParametersProperty(
                sqs_queue_parameters=pipes.CfnPipe.PipeSourceSqsQueueParametersProperty(
                    batch_size=10, maximum_batching_window_in_seconds=60
                )
            ),
            target=delivery.delivery_stream_arn,
            # The stream record itself, as the archive has always held it (Pipes parses the JSON body).
            target_parameters=pipes.CfnPipe.PipeTargetParametersProperty(input_template="<$.body>"),
        )
        drain.node.add_dependency(self.pipe_policy)
        self._pipe_failures(
            scope,
            "PipeFailures",
            name,
            f"{name}-pipe-failures",
            f"The archive pipe of {table.table_name} failed to move TTL deletions to {name}-buffer; the stream keeps them only 24 hours.",
        )
        self._pipe_failures(
            scope,
            "DrainFailures",
            drain_name(name),
            f"{name}-drain-failures",
            f"Buffered TTL deletions of {table.table_name} failed to reach Firehose; they stay in {name}-buffer (14 days).",
        )
        self._actions.alarm(
            scope,
            "BufferAge",
            name=f"{name}-behind",
            description=f"Archiving of {table.table_name} is falling behind: the oldest buffered TTL deletion is over {BEHIND_SECONDS // 60} minutes old.",
            metric=buffer.metric_approximate_age_of_oldest_message(period=Duration.minutes(5), statistic="Maximum"),
            threshold=BEHIND_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        self._actions.alarm(
            scope,
            "HeldRecords",
            name=f"{name}-held",
            description=f"TTL deletions of {table.table_name} are held in {name}-held after repeated delivery failures: fix the fault, then run "
            f"python -m tools archive-redrive (docs/retention.md) within 14 days of their expiry.",
            metric=held.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            threshold=1,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )
        self._actions.alarm(
            scope,
            "DeliveryFreshness",
            name=f"{name}-delivery-freshness",
            description=f"Firehose has held archived items of {table.table_name} for over {BEHIND_SECONDS // 60} minutes without writing them to S3.",
            metric=delivery.metric("DeliveryToS3.DataFreshness", statistic="Maximum", period=Duration.minutes(5)),
            threshold=BEHIND_SECONDS,
            evaluation_periods=1,
            datapoints_to_alarm=1,
        )


def _queue_reason() -> str:
    return (
        "The archive's held queue is itself the buffer's dead-letter queue; a dead-letter queue of it would only move "
        "the records again, and its alarm fires on the first one."
    )


def _service(scope: Construct, name: str) -> iam.IPrincipal:
    # Confused-deputy guard: only this account's pipes and delivery streams may assume the role.
    return iam.ServicePrincipal(name).with_conditions({"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}})

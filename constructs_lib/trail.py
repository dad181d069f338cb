"""The audit trail: who read or wrote which table, kept as evidence (docs/security.md).

A CloudTrail trail of the tables' data events (writes always, reads where config asks: each
event is billed) into its own Object-Locked, access-logged bucket under its own key, with log
file validation, so a deleted or edited log file is detectable and a locked one undeletable.

What the events raise (the break-glass role's use, a denied data call, every call that would
undo a protection) is EventBridge's: CloudTrail delivers the events the trail logs to the
region's default bus (constructs_lib/tamper.py), so no CloudWatch Logs copy is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.archive_bucket import replicate
from constructs_lib.arns import partition
from constructs_lib.buckets import SecureBucket, expiring_rule, object_lock
from constructs_lib.identity import pin
from constructs_lib.kms import allow_use, role_arn
from constructs_lib.nag import acknowledge, control_tower, in_packs
from constructs_lib.props import ReplicationTarget

TRAIL_PREFIX = "cloudtrail"


class AuditTrail(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        trail_name: str,
        bucket_name: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        table_arns: Sequence[str],
        read_table_arns: Sequence[str],
        stream_table_arns: Sequence[str],
        archive_bucket_arns: Sequence[str],
        read_events: bool,
        management_events: bool,
        retention_days: int,
        object_lock_mode: str | None,
        removal_policy: RemovalPolicy,
        replicate_to: ReplicationTarget | None = None,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        trail_arn = f"arn:{partition(stack.region)}:cloudtrail:{stack.region}:{stack.account}:trail/{trail_name}"
        self.bucket = SecureBucket(
            self,
            "Logs",
            key=key,
            access_logs=access_logs,
            access_log_prefix=f"{bucket_name}/",
            removal_policy=removal_policy,
            lifecycle_rules=[expiring_rule("expire-audit-trail", retention_days)],
            object_lock_default_retention=object_lock(object_lock_mode, retention_days),
            bucket_name=bucket_name,
        ).bucket
        pin(self.bucket, "AuditTrailBucket")
        if replicate_to is not None:
            # The log files, with their Object Lock retention, to the off-site region; the key's
            # side of the grant: the replication role decrypts them through S3 only.
            replicate(self, self.bucket, bucket_name, "AuditTrailBucket", key, replicate_to, [f"{TRAIL_PREFIX}/"])
            allow_use(
                key,
                self,
                sid="ReplicationReadsTrailLogs",
                principal_arns=[role_arn(self, replicate_to.role_name)],
                actions=("kms:Decrypt",),
                via_services=("s3",),
            )
        else:
            reason = (
                "The trail's log files are evidence, written once by CloudTrail: Object Lock, versioning and "
                "log-file validation protect them in place; where config has off-site copies (offsite.region) "
                "they replicate, and this environment has none."
            )
            acknowledge(self.bucket, in_packs({"S3BucketReplicationEnabled": reason}))
        # CloudTrail's documented bucket policy, narrowed to this one trail (aws:SourceArn).
        source = {"StringEquals": {"aws:SourceArn": trail_arn}}
        cloudtrail_service = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailReadsTheBucketAcl",
                principals=[cloudtrail_service],
                actions=["s3:GetBucketAcl"],
                resources=[self.bucket.bucket_arn],
                conditions=source,
            )
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWritesLogFiles",
                principals=[cloudtrail_service],
                actions=["s3:PutObject"],
                resources=[f"{self.bucket.bucket_arn}/{TRAIL_PREFIX}/AWSLogs/{stack.account}/*"],
                conditions={"StringEquals": {"aws:SourceArn": trail_arn, "s3:x-amz-acl": "bucket-owner-full-control"}},
            )
        )
        # CloudTrail's documented key-policy statements, for this trail only.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailEncryptsLogFiles",
                principals=[cloudtrail_service],
                actions=["kms:GenerateDataKey*"],
                resources=["*"],
                conditions={
                    "StringEquals": {"aws:SourceArn": trail_arn},
                    "StringLike": {
                        "kms:EncryptionContext:aws:cloudtrail:arn": f"arn:{partition(stack.region)}:cloudtrail:*:{stack.account}:trail/*"
                    },
                },
            )
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailDescribesTheKey",
                principals=[cloudtrail_service],
                actions=["kms:DescribeKey"],
                resources=["*"],
                conditions=source,
            )
        )

        def data(
            name: str, resource_type: str, starts_with: Sequence[str], *, reads: bool
        ) -> cloudtrail.CfnTrail.AdvancedEventSelectorProperty:
            return cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                name=name,
                field_selectors=[
                    cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="eventCategory", equal_to=["Data"]),
                    cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="resources.type", equal_to=[resource_type]),
                    cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="resources.ARN", starts_with=sorted(starts_with)),
                    *([] if reads else [cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="readOnly", equal_to=["false"])]),
                ],
            )

        # By prefix: a table restored under a name that begins with its original's (docs/restore.md)
        # is logged too, in every region the environment uses. Writes on every table; reads,
        # where config pays for them, on those whose items are PHI or audit evidence (each read
        # is an event: the catalogue's `holds` decides, docs/cost.md).
        selectors = [data("DynamoDB table writes", "AWS::DynamoDB::Table", table_arns, reads=False)]
        if read_events and read_table_arns:
            selectors.append(data("DynamoDB table reads", "AWS::DynamoDB::Table", read_table_arns, reads=True))
        if stream_table_arns:
            # The archived tables' streams carry full old images: who read them (the archive pipe).
            selectors.append(
                data("DynamoDB stream reads", "AWS::DynamoDB::Stream", [f"{arn}/stream/" for arn in stream_table_arns], reads=True)
            )
        if archive_bucket_arns:
            # Who read an archived item (break-glass only may): object reads of the archives.
            selectors.append(data("Archive object reads", "AWS::S3::Object", [f"{arn}/" for arn in archive_bucket_arns], reads=True))
        if management_events:
            selectors.append(
                cloudtrail.CfnTrail.AdvancedEventSelectorProperty(
                    name="Management events",
                    field_selectors=[cloudtrail.CfnTrail.AdvancedFieldSelectorProperty(field="eventCategory", equal_to=["Management"])],
                )
            )
        self.trail = cloudtrail.CfnTrail(
            self,
            "Trail",
            trail_name=trail_name,
            is_logging=True,
            s3_bucket_name=self.bucket.bucket_name,
            s3_key_prefix=TRAIL_PREFIX,
            kms_key_id=key.key_arn,
            enable_log_file_validation=True,
            # Every region: a table's replicas are named in the selector too, and a region with
            # no matching events costs nothing. CloudTrail requires global service events with it.
            include_global_service_events=True,
            is_multi_region_trail=True,
            advanced_event_selectors=selectors,
        )
        # The evidence trail goes only where the environment says: Retain where data is protected.
        self.trail.apply_removal_policy(removal_policy)
        # CloudTrail checks the bucket policy when the trail is created.
        policy = self.bucket.policy
        if policy is not None:
            self.trail.node.add_dependency(policy)
        pin(self.trail, "AuditTrail")
        reason = (
            "The trail's events are watched on EventBridge, not in a CloudWatch Logs copy: rules on them page for the "
            "break-glass role's use, every call that would undo a protection, and denied data calls (constructs_lib/"
            "tamper.py). A copy of every data event would cost several hundred USD a month for the same alerts; the "
            "record is the Object-Locked, validated log files."
        )
        acknowledge(
            self.trail,
            {**in_packs({"CloudTrailCloudWatchLogsEnabled": reason}), control_tower("cloud_trail_cloud_watch_logs_enabled_check"): reason},
        )

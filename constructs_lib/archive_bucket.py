"""Where archived items land: a KMS-encrypted bucket whose lifecycle follows each archived
table's retention (Glacier, then Deep Archive, then expiry), Object-Locked where config says,
and replicated to another region's bucket or itself that replica (docs/retention.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.arns import partition
from constructs_lib.buckets import SecureBucket, expiring_rule, object_lock
from constructs_lib.identity import pin
from constructs_lib.kms import via
from constructs_lib.nag import acknowledge, control_tower, in_packs
from constructs_lib.props import ReplicationTarget


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
        # An upload must be encrypted under this bucket's own key: SSE-S3, or another key, would
        # escape this key's policy (who may decrypt the archive). A request without the headers
        # gets the bucket's default, this key; Firehose names it by ARN (constructs_lib/archive_path.py).
        # Replication writes with s3:ReplicateObject, under the replica's key, and is not affected.
        for sid, header, value in (
            ("DenyUploadsNotUnderKms", "s3:x-amz-server-side-encryption", "aws:kms"),
            ("DenyUploadsUnderAnotherKey", "s3:x-amz-server-side-encryption-aws-kms-key-id", key.key_arn),
        ):
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    effect=iam.Effect.DENY,
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:PutObject"],
                    resources=[self.bucket.arn_for_objects("*")],
                    conditions={"StringNotEqualsIfExists": {header: value}},
                )
            )
        if replicate_to is not None:
            replicate(self, self.bucket, bucket_name, logical_id, key, replicate_to, [r.prefix for r in rules])
        else:
            reason = (
                "This bucket is the replica: the audit archive of the primary region replicates into it."
                if replica
                else "Archives are written once by Firehose and only read for audits; versioning, Object Lock "
                "(prod) and 11 nines of durability protect them; where config has off-site copies (offsite.region) "
                "the audit archive replicates, and a second-region copy of the rest is a cost decision."
            )
            acknowledge(self.bucket, in_packs({"S3BucketReplicationEnabled": reason}))
        if not object_lock_mode and unlocked_because:
            acknowledge(self.bucket, {control_tower("s3_bucket_object_lock_enabled_check"): unlocked_because})


def replicate(
    scope: Construct,
    bucket: s3.Bucket,
    bucket_name: str,
    logical_id: str,
    key: kms.IKey,
    target: ReplicationTarget,
    prefixes: Sequence[str],
) -> None:
    """Every new object of `bucket` under `prefixes`, with its Object Lock retention, to the
    target bucket, as a role of its own made in `scope` (S3's documented replication
    permissions, those prefixes of this bucket and that one only). `logical_id`: the bucket's
    pinned id, as cdk-nag names it."""
    stack = Stack.of(scope)
    destination = f"arn:{partition(target.region)}:s3:::{target.bucket_name}"
    role = iam.Role(
        scope,
        "ReplicationRole",
        role_name=target.role_name,
        # Literal names: a Ref to the bucket here would make a cycle (the bucket names this role).
        description=f"S3 replicates {bucket_name} to {target.bucket_name}",
        assumed_by=iam.ServicePrincipal("s3.amazonaws.com").with_conditions({"StringEquals": {"aws:SourceAccount": stack.account}}),
    )
    source_objects = [f"{bucket.bucket_arn}/{prefix}*" for prefix in prefixes]
    replica_keys = f"arn:{partition(target.region)}:kms:{target.region}:{stack.account}:key/*"
    policy = iam.ManagedPolicy(
        scope,
        "ReplicationPolicy",
        description=f"Replicate {bucket_name} to {target.bucket_name} only",
        roles=[role],
        statements=[
            iam.PolicyStatement(actions=["s3:GetReplicationConfiguration", "s3:ListBucket"], resources=[bucket.bucket_arn]),
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
                conditions={"StringEquals": {"kms:ViaService": via(scope, "s3")}},
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
            **{f"AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{prefix}*]": objects for prefix in prefixes},
            **{f"AwsSolutions-IAM5[Resource::{destination}/{prefix}*]": objects for prefix in prefixes},
            f"AwsSolutions-IAM5[Resource::{replica_keys}]": (
                "The replica key's id is unknown until its region's stack exists; kms:ResourceAliases limits this to "
                "that key's alias, and kms:ViaService to S3 of that region."
            ),
        },
    )
    cfn = bucket.node.default_child
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

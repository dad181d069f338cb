"""S3 buckets with this project's defaults: private, TLS-only, versioned, logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from constructs_lib.nag import acknowledge, control_tower, in_packs

# Any: the values differ in type; each is checked by the s3.Bucket keyword it fills.
_PRIVATE: dict[str, Any] = dict(
    block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
    object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    enforce_ssl=True,
    minimum_tls_version=1.2,
    versioned=True,
)


def expiring_rule(id: str, days: int, *, prefix: str | None = None, transitions: Sequence[s3.Transition] | None = None) -> s3.LifecycleRule:
    """Objects expire after `days` (moving through `transitions` first). Expiry leaves a
    delete marker in a versioned bucket; the old version goes a day later, and so do
    incomplete multipart uploads."""
    return s3.LifecycleRule(
        id=id,
        prefix=prefix,
        transitions=list(transitions) if transitions else None,
        expiration=Duration.days(days),
        noncurrent_version_expiration=Duration.days(1),
        abort_incomplete_multipart_upload_after=Duration.days(1),
    )


def object_lock(mode: str | None, days: int) -> s3.ObjectLockRetention | None:
    """The default Object Lock retention of `mode` (COMPLIANCE or GOVERNANCE) for `days`; None: no lock."""
    if not mode:
        return None
    retention = Duration.days(days)
    return s3.ObjectLockRetention.compliance(retention) if mode == "COMPLIANCE" else s3.ObjectLockRetention.governance(retention)


def send_events_to_eventbridge(bucket: s3.Bucket) -> None:
    """Object events (creations, deletions, restores) to EventBridge, where rules and the audit
    can see them. On the L1: the L2's event_bridge_enabled deploys a custom-resource Lambda."""
    cfn = bucket.node.default_child
    assert isinstance(cfn, s3.CfnBucket)
    cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )


class AccessLogBucket(Construct):
    """The target of S3 server access logs.

    S3 delivers access logs only to a bucket with SSE-S3 default encryption (not SSE-KMS),
    so this bucket, unlike every other, is S3-managed encrypted. It does not log itself.
    """

    def __init__(
        self, scope: Construct, id: str, *, retention_days: int, removal_policy: RemovalPolicy, bucket_name: str | None = None
    ) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.S3_MANAGED,
            removal_policy=removal_policy,
            lifecycle_rules=[expiring_rule("expire-access-logs", retention_days)],
            **_PRIVATE,
        )
        # Acknowledged on this bucket only, each for a reason S3 itself imposes.
        reasons = {
            "S3DefaultEncryptionKMS": "S3 server access log delivery documents SSE-S3 as the destination bucket's supported default encryption; this bucket holds only access logs, never table data.",
            "S3BucketLoggingEnabled": "This is the access-log destination; logging it would log its own log deliveries (S3 advises against it).",
            "S3BucketReplicationEnabled": "Access logs are diagnostics kept for a fixed period, versioned and lifecycle-expired; a cross-region copy adds no recovery value for them.",
        }
        send_events_to_eventbridge(self.bucket)
        lock = (
            "Access logs are diagnostics kept a fixed period and expired by lifecycle; Object Lock would keep "
            "every log object past that period and make the bucket impossible to tidy."
        )
        acknowledge(
            self.bucket,
            {
                "AwsSolutions-S1": reasons["S3BucketLoggingEnabled"],
                "CKV_AWS_18": reasons["S3BucketLoggingEnabled"],
                control_tower("s3_bucket_logging_enabled_check"): reasons["S3BucketLoggingEnabled"],
                control_tower("s3_bucket_default_encryption_kms_check"): reasons["S3DefaultEncryptionKMS"],
                control_tower("s3_bucket_object_lock_enabled_check"): lock,
            },
        )
        acknowledge(self.bucket, in_packs(reasons))


class SecureBucket(Construct):
    """A KMS-encrypted (customer-managed key), versioned, TLS-only, access-logged private bucket."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        access_log_prefix: str,
        removal_policy: RemovalPolicy,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        object_lock_default_retention: s3.ObjectLockRetention | None = None,
        bucket_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # One KMS call per bucket-key period instead of per object: cheaper, same protection.
            bucket_key_enabled=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=access_log_prefix,
            removal_policy=removal_policy,
            lifecycle_rules=list(lifecycle_rules) or None,
            object_lock_enabled=object_lock_default_retention is not None or None,
            object_lock_default_retention=object_lock_default_retention,
            **_PRIVATE,
        )
        send_events_to_eventbridge(self.bucket)

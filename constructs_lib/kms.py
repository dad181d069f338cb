"""Customer-managed KMS keys with this project's defaults."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.identity import pin


class DataKey(Construct):
    """A symmetric customer-managed key: rotation on, an alias, a 30-day deletion window.

    The key is stateful: deleting it makes everything it encrypted unreadable, so its
    removal policy comes from its props (the stacks pass retain outside dev) and its logical id is pinned.
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, description: str, removal_policy: RemovalPolicy, logical_id: str) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=description,
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=removal_policy,
        )
        pin(self.key, logical_id)


def log_group_arn(scope: Construct, name: str) -> str:
    # The log group's GetAtt Arn ends in ":*"; policies name the group itself.
    return Stack.of(scope).format_arn(service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME)


def log_service_may_use(key: kms.IKey, scope: Construct, *, sid: str, log_group_names: Sequence[str]) -> None:
    """Let CloudWatch Logs encrypt exactly these log groups with `key` (and nothing else)."""
    stack = Stack.of(scope)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=[
                "kms:Encrypt",
                "kms:Decrypt",
                "kms:ReEncryptFrom",
                "kms:ReEncryptTo",
                "kms:GenerateDataKey",
                "kms:GenerateDataKeyWithoutPlaintext",
                "kms:DescribeKey",
            ],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group_arn(scope, n) for n in log_group_names]}},
        )
    )

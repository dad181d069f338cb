"""Customer-managed KMS keys with this project's defaults."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from constructs import Construct


class DataKey(Construct):
    """A symmetric customer-managed key: rotation on, an alias, a 30-day deletion window.

    The key is stateful: deleting it makes everything it encrypted unreadable, so its
    removal policy comes from config (retain outside dev) and its logical id is pinned.
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
        self.key.node.default_child.override_logical_id(logical_id)

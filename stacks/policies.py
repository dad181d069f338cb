"""Removal policies: config names them ("retain", "snapshot", "destroy"), constructs take CDK's."""

from __future__ import annotations

from aws_cdk import RemovalPolicy

_REMOVAL_POLICIES = {"retain": RemovalPolicy.RETAIN, "snapshot": RemovalPolicy.SNAPSHOT, "destroy": RemovalPolicy.DESTROY}


def removal_policy(name: str) -> RemovalPolicy:
    """The policy config names; validation has already refused any other name (and "snapshot"
    where the resource cannot take one, as DynamoDB tables cannot)."""
    return _REMOVAL_POLICIES[name]


def database_removal_policies(name: str) -> tuple[RemovalPolicy, RemovalPolicy]:
    """(cluster policy, policy of everything a snapshot still needs: the key and the logs).

    A final snapshot is encrypted with the cluster's key, so a snapshotted cluster's key is
    retained: deleting it would make the snapshot unreadable.
    """
    cluster = removal_policy(name)
    return cluster, (RemovalPolicy.DESTROY if cluster == RemovalPolicy.DESTROY else RemovalPolicy.RETAIN)

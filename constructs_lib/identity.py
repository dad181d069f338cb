"""Pinned logical ids: a stateful resource's identity to CloudFormation.

A changed logical id makes CloudFormation create a new, empty resource and delete (or orphan)
the old one. Every stateful resource is pinned through `pin`, so refactoring the construct tree
never moves one; tests/test_guardrails.py lists the pins and `make guard` checks changes.
"""

from __future__ import annotations

from typing import TypeVar

from aws_cdk import CfnResource
from constructs import IConstruct

_Resource = TypeVar("_Resource", bound=CfnResource)


def pin(construct: IConstruct, logical_id: str) -> None:
    """Give `construct`'s CloudFormation resource the fixed logical id `logical_id`."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to pin as {logical_id}")
    resource.override_logical_id(logical_id)


def cfn_resource(construct: IConstruct, kind: type[_Resource]) -> _Resource:
    """`construct` itself if it is a `kind` CloudFormation resource, else its default child,
    which must be one. The construct tree types children as IConstruct; this names the L1."""
    resource = construct if isinstance(construct, kind) else construct.node.default_child
    if not isinstance(resource, kind):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource of type {kind.__name__}")
    return resource

"""What constructs read of their stack, read once per stack: region, account, partition and
construct path.

Each read of one of them from Python is a round trip to the jsii runtime, and the constructs
read them hundreds of times per synth (docs/benchmarks.md). `facts(scope)` reads them once per
stack and remembers them, and the stack for each scope that asks; `node_path(scope)` does the
same for a scope's construct path.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aws_cdk import ArnFormat, Stack
from constructs import Construct

from constructs_lib.arns import partition


@dataclass(frozen=True)
class StackFacts:
    # The stack, held weakly: the facts are the value of a weak-keyed cache entry, and a strong
    # reference back to the key would keep the entry, and the stack, alive for ever.
    stack_ref: weakref.ref[Stack]
    region: str  # a token in an environment-agnostic stack
    account: str  # likewise
    partition: str  # CDK's: a literal with @aws-cdk/core:enablePartitionLiterals and a known region, else a token
    path: str  # the stack's construct path
    path_metadata: bool  # whether its resources record their aws:cdk:path

    @property
    def literal(self) -> bool:
        """Region and account are known at synth: ARNs can be written out. (A token reads
        "${Token[...]}" in Python; Token.is_unresolved would be a round trip of its own.)"""
        return "${Token[" not in self.region + self.account

    def via(self, service: str) -> str:
        """The kms:ViaService value of `service` ("dynamodb") in this stack's region."""
        return f"{service}.{self.region}.amazonaws.com"

    def arn(self, service: str, resource: str, resource_name: str | None = None, *, colon: bool = False) -> str:
        """The ARN `Stack.format_arn` gives: written out in Python when the region and account
        are literal (no round trip; a partition token is kept as CDK renders it), else CDK's own."""
        if not self.literal:
            stack = self.stack_ref()
            assert stack is not None, "facts of a stack that no longer exists"
            return stack.format_arn(
                service=service,
                resource=resource,
                resource_name=resource_name,
                arn_format=ArnFormat.COLON_RESOURCE_NAME if colon else ArnFormat.SLASH_RESOURCE_NAME,
            )
        name = "" if resource_name is None else f"{':' if colon else '/'}{resource_name}"
        return f"arn:{self.partition}:{service}:{self.region}:{self.account}:{resource}{name}"

    def role_arn(self, role_name: str) -> str:
        """A role of this account by name: a literal (the partition from the region), so a
        policy may name a role another stack creates later (constructs_lib/arns.py)."""
        return f"arn:{partition(self.region)}:iam::{self.account}:role/{role_name}"


# Weak keys: the facts go with their stack, and a scope's entry with the scope (tests build
# hundreds of apps). Scopes are the app's own Python objects, so the same scope is the same key.
_BY_STACK: weakref.WeakKeyDictionary[Stack, StackFacts] = weakref.WeakKeyDictionary()
_BY_SCOPE: weakref.WeakKeyDictionary[Construct, StackFacts] = weakref.WeakKeyDictionary()
_PATHS: weakref.WeakKeyDictionary[Construct, str] = weakref.WeakKeyDictionary()

_Key = TypeVar("_Key")
_Value = TypeVar("_Value")


def remembered(cache: weakref.WeakKeyDictionary[_Key, _Value], key: _Key, read: Callable[[], _Value]) -> _Value:
    """`cache[key]`, or `read()` remembered there; `read()` each time for a key that cannot be
    weakly referenced."""
    try:
        return cache[key]
    except KeyError:
        found = cache[key] = read()
        return found
    except TypeError:
        return read()


def _stack_facts(stack: Stack) -> StackFacts:
    return remembered(_BY_STACK, stack, lambda: _read(stack))


def _read(stack: Stack) -> StackFacts:
    node = stack.node
    return StackFacts(
        weakref.ref(stack),
        stack.region,
        stack.account,
        stack.partition,
        node.path,
        bool(node.try_get_context("aws:cdk:enable-path-metadata")),
    )


def facts(scope: Construct) -> StackFacts:
    """The facts of `scope`'s stack (module docstring)."""
    return remembered(_BY_SCOPE, scope, lambda: _stack_facts(Stack.of(scope)))


def node_path(scope: Construct) -> str:
    """`scope.node.path`, read once per scope (two round trips each time otherwise)."""
    return remembered(_PATHS, scope, lambda: scope.node.path)


def remember_path(child: Construct, parent: Construct, id: str) -> None:
    """Record `child`'s construct path, `parent`'s plus its id, as it is created: what
    `node_path(child)` would otherwise read through the jsii runtime."""
    if "/" in id:
        return  # CDK rewrites such an id: let node_path read the real one
    above = node_path(parent)
    _PATHS[child] = f"{above}/{id}" if above else id

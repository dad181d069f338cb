"""Literal ARNs of this stack's account, for policies that name a resource before it exists.

A literal reads the same in every template and review summary, and (unlike a GetAtt) adds no
CloudFormation dependency, so a policy may name a role another stack creates later.
"""

from __future__ import annotations

from aws_cdk import Stack
from constructs import Construct


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def role_arn(scope: Construct, role_name: str) -> str:
    stack = Stack.of(scope)
    return f"arn:{partition(stack.region)}:iam::{stack.account}:role/{role_name}"

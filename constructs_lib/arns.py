"""Literal ARNs of an account, for policies that name a resource before it exists.

A literal reads the same in every template and review summary, and (unlike a GetAtt) adds no
CloudFormation dependency, so a policy may name a role another stack creates later. Inside a
stack, `Stack.format_arn` writes them (`constructs_lib.kms.role_arn` for roles); this module
imports no CDK, so tools use it too.
"""

from __future__ import annotations


def partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"

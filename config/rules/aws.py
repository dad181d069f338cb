"""AWS's (and GitHub's, Slack's) own formats and ranges, which several sections' rules check."""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.errors import Problems

ACCOUNT = re.compile(r"^\d{12}$")


@functools.cache
def aws_regions() -> frozenset[str]:
    """The regions of the aws partition, from the endpoint data botocore bundles (offline): a
    region that merely looks right (us-east-9) is refused."""
    data = json.loads((importlib.resources.files("botocore") / "data" / "partitions.json").read_text())
    (aws,) = [p for p in data["partitions"] if p["id"] == "aws"]
    return frozenset(name for name in aws["regions"] if not name.endswith("-global"))


def region_ok(name: object) -> bool:
    return isinstance(name, str) and name in aws_regions()


EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
SNS_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[A-Za-z0-9_-]{1,256}$")
KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]{36}$")
IAM_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
ROLE_ARN_ALLOWED = "an IAM role ARN arn:aws:iam::ACCOUNT:role/NAME"
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$")
SLACK_WORKSPACE = re.compile(r"^T[A-Z0-9]{8,}$")
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{8,}$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
# GitHub's rules: an owner is 1-39 letters, digits and single inner hyphens; a repository
# 1-100 letters, digits, '.', '_' and '-', and neither '.' nor '..'.
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
GITHUB_REPO = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$")
GITHUB_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):oidc-provider/token\.actions\.githubusercontent\.com$")
BOOTSTRAP_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")


# What each setting accepts, as the services define it.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


def number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_role_arns(p: Problems, key: str, arns: Sequence[object]) -> None:
    """Each of `arns` (config's `key`) an IAM role ARN, one problem per bad entry."""
    for i, arn in enumerate(arns):
        p.check(isinstance(arn, str) and bool(IAM_ROLE_ARN.match(arn)), f"{key}[{i}]", arn, ROLE_ARN_ALLOWED)

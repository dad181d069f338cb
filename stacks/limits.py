"""Size limits every synthesized stack must keep, checked by app.py right after synth.

CloudFormation refuses a stack over 500 resources or a 1 MB template, and IAM a managed policy
over 6,144 characters, but only at deploy time, stack by stack, after the stacks before it have
changed. This project keeps each stack at or under 250 resources, so that a system that grows
has room for its next tables and is split by table group (a stack of its own per group, moved
with `cdk refactor`) long before CloudFormation's limit. CDK itself only refuses 500.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

MAX_RESOURCES = 250  # this project's ceiling: half of CloudFormation's
CFN_MAX_RESOURCES = 500
CFN_MAX_TEMPLATE_BYTES = 1_000_000  # template body via S3; cfn-lint uses the same figure
IAM_MAX_MANAGED_POLICY_CHARS = 6_144  # IAM counts without whitespace


class StackArtifact(Protocol):
    # Read-only, as on cx_api.CloudFormationStackArtifact.
    @property
    def stack_name(self) -> str: ...
    @property
    def template_full_path(self) -> str: ...


def managed_policy_chars(resources: dict) -> dict[str, int]:
    """Logical id -> characters of each managed policy document, as written (compact JSON).
    IAM counts it with the ARNs resolved, which are longer: this is a lower bound."""
    return {
        lid: len(json.dumps(res["Properties"]["PolicyDocument"], separators=(",", ":")))
        for lid, res in resources.items()
        if res.get("Type") == "AWS::IAM::ManagedPolicy" and res.get("Properties", {}).get("PolicyDocument")
    }


def limit_failures(artifacts: Iterable[StackArtifact], max_resources: int = MAX_RESOURCES) -> list[str]:
    """One line per stack over a limit, naming the stack, the figure and the limit."""
    failures = []
    for artifact in artifacts:
        path = Path(artifact.template_full_path)
        size = path.stat().st_size
        resources = json.loads(path.read_text()).get("Resources", {})
        name = artifact.stack_name
        if len(resources) > max_resources:
            failures.append(
                f"stack {name} has {len(resources)} resources: over this project's ceiling of {max_resources} "
                f"(CloudFormation refuses {CFN_MAX_RESOURCES}); split the system's tables into groups, each in a "
                "stack of its own, and move them with `cdk refactor` (docs/deploy-guard.md), never by renaming tables"
            )
        if size > CFN_MAX_TEMPLATE_BYTES:
            failures.append(f"stack {name} has a {size:,}-byte template: over CloudFormation's {CFN_MAX_TEMPLATE_BYTES:,}; split the stack")
        for lid, chars in sorted(managed_policy_chars(resources).items()):
            if chars > IAM_MAX_MANAGED_POLICY_CHARS:
                failures.append(
                    f"stack {name}: managed policy {lid} is {chars:,} characters, over IAM's {IAM_MAX_MANAGED_POLICY_CHARS:,}; "
                    "split its statements across policies (or the tables across stacks)"
                )
    return failures

"""Shared test helpers: synthesizing the app like `cdk synth` does, and reading templates.

The app and the normaliser are the tools' own (tools.synth, tools.assembly), so the tests
snapshot exactly what the deploy guard and the change summary compare.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from tools import validate as validate_templates  # noqa: F401  (the template gate, shared with make validate)
from tools.assembly import normalise  # noqa: F401
from tools.synth import CDK_CONTEXT, new_app  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def region_stack(app: cdk.App | None = None, id: str = "Test") -> cdk.Stack:
    """A region-specific stack (TableV2 with a customer-managed key requires one)."""
    return cdk.Stack(app or new_app(), id, env=cdk.Environment(account="123456789012", region="us-east-1"))


def assembly_dir(synthesized) -> Path:
    """The session's cloud assembly directory (the `synthesized` fixture's), which the tools
    read as they read cdk.out."""
    return Path(next(iter(synthesized.values())).source).parent.parent


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}

"""Shared test helpers: synthesizing the app like `cdk synth` does, and normalising templates."""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from app import APP_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import validate_templates  # noqa: E402,F401  (the template gate, shared with make validate)
CDK_JSON = json.loads((ROOT / "cdk.json").read_text())
# What the CLI passes from cdk.json: the feature flags, and no version-reporting resource.
CDK_CONTEXT = {**CDK_JSON["context"], "aws:cdk:version-reporting": CDK_JSON.get("versionReporting", True)}

_ASSET_HASH = re.compile(r"^[0-9a-f]{64}(\.json|\.zip)?$")


def new_app(outdir: str | None = None, **context: Any) -> cdk.App:
    """A cdk.App with cdk.json's context and app.py's settings, so tests synthesize what
    `cdk synth` does (built-in CloudFormation validation off: cfn-lint replaces it)."""
    return cdk.App(context={**CDK_CONTEXT, **context}, outdir=outdir, **APP_SETTINGS)


def region_stack(app: cdk.App | None = None, id: str = "Test") -> cdk.Stack:
    """A region-specific stack (TableV2 with a customer-managed key requires one)."""
    return cdk.Stack(app or new_app(), id, env=cdk.Environment(account="123456789012", region="us-east-1"))


def normalise(template: dict) -> dict:
    """A template without what churns on every build or CDK upgrade but is not a change:
    asset hashes and construct-path metadata. Nothing the deploy guard reads is touched."""
    clean = copy.deepcopy(template)
    for resource in clean.get("Resources", {}).values():
        metadata = resource.get("Metadata", {})
        metadata.pop("aws:cdk:path", None)
        metadata.pop("aws:asset:path", None)
        if not metadata:
            resource.pop("Metadata", None)

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        if isinstance(node, str) and _ASSET_HASH.match(node):
            return "<asset-hash>" + (Path(node).suffix or "")
        return node

    return scrub(clean)


def resources(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template.get("Resources", {}).items() if v["Type"] == type_}

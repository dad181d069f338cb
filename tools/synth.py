"""An in-process cdk.App that synthesizes what `cdk synth` does, for the tools that need
templates of the current code (docs, bench) and for the tests.

The CDK CLI passes cdk.json's context to the app; a bare cdk.App() in Python does not read
cdk.json, so feature flags would differ. app.APP_SETTINGS carries the app's own settings
(CDK's built-in validation off: cfn-lint replaces it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = json.loads((ROOT / "cdk.json").read_text())
# What the CLI passes from cdk.json: the feature flags, and no version-reporting resource.
CDK_CONTEXT = {**CDK_JSON["context"], "aws:cdk:version-reporting": CDK_JSON.get("versionReporting", True)}


def new_app(outdir: str | None = None, **context: Any):
    """A cdk.App with cdk.json's context and app.py's settings."""
    import aws_cdk as cdk

    from app import APP_SETTINGS

    return cdk.App(context={**CDK_CONTEXT, **context}, outdir=outdir, **APP_SETTINGS)

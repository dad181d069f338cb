#!/usr/bin/env python3
"""CDK entry point: one stage per environment (dev, staging, prod); `-c env=NAME` selects one.

Config is read and validated here, and only here, before any construct is built, and before
the CDK is imported: a mistyped key or value stops `cdk synth` without starting jsii and Node.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import config
from config.context import unknown_context

if TYPE_CHECKING:
    import aws_cdk as cdk

    from stacks.stage import DataStage

# The compliance packs every stack must pass, by their names in cdk_nag; a finding fails `cdk synth`.
NAG_PACKS = ("AwsSolutionsChecks", "HIPAASecurityChecks", "NIST80053R5Checks")
# CDK's built-in CloudFormation validation plugin cost about half of every synth (1.5 s to
# start plus ~70 ms a stack, docs/benchmarks.md). cfn-lint checks the same templates more
# thoroughly and stands in its place wherever a template can still be stopped: the tests,
# CI, `make validate` and `make deploy` (tools/validate.py).
APP_SETTINGS: dict[str, Any] = {"builtin_cloud_formation_validation": False}


def nag_packs() -> tuple[type, ...]:
    import cdk_nag

    return tuple(getattr(cdk_nag, name) for name in NAG_PACKS)


def build(app: cdk.App, environments: Sequence[config.EnvironmentConfig] | None = None) -> list[DataStage]:
    """Add a stage per environment to `app`: `environments`, already loaded, or those the app's
    `env` context selects (raises config.ConfigError on bad config)."""
    from stacks.stage import DataStage

    selected = config.load(app.node.try_get_context("env")) if environments is None else environments
    return [DataStage(app, config=cfg) for cfg in selected]


def main() -> None:
    # The CLI passes every context key (cdk.json's and -c ones) in CDK_CONTEXT_JSON.
    given = json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}")
    flags = json.loads((Path(__file__).parent / "cdk.json").read_text()).get("context", {})
    unknown = unknown_context(given, flags)
    if unknown:
        sys.exit("cdk synth stopped: " + "\n  ".join(unknown))
    try:
        environments = config.load(given.get("env"))
    except config.ConfigError as error:
        # One clear message and a non-zero exit, before anything is written to cdk.out.
        sys.exit(f"cdk synth stopped: {error}")
    import aws_cdk as cdk

    from stacks.limits import limit_failures

    app = cdk.App(**APP_SETTINGS)
    build(app, environments)
    cdk.Validations.of(app).add_plugins(*(pack(app) for pack in nag_packs()))
    assembly = app.synth()
    # The validation plugins only write a report from Python; turn its failures into an exit code.
    failures = nag_failures(Path(assembly.directory) / "validation-report.json")
    if failures:
        sys.exit("cdk synth stopped: compliance findings (fix them; acknowledge only with a reason):\n  " + "\n  ".join(failures))
    # Before CloudFormation finds out, stack by stack, mid-deployment.
    too_big = limit_failures(assembly.stacks_recursively)
    if too_big:
        sys.exit("cdk synth stopped: stacks over their size limits:\n  " + "\n  ".join(too_big))


def nag_failures(report_path: Path) -> list[str]:
    """One line per violating construct in a CDK validation report."""
    if not report_path.exists():
        return []
    report = json.loads(report_path.read_text())
    return [
        f"{violation['ruleName']} at {construct['constructPath']}: {violation['description']}"
        for plugin in report.get("pluginReports", [])
        if plugin.get("conclusion") == "failure"
        for violation in plugin.get("violations", [])
        for construct in violation.get("violatingConstructs", [])
    ]


if __name__ == "__main__":
    main()

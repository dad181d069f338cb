"""One synthesis of the whole app per test session, shared by every test that needs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import app as cdk_app
from tests.support import new_app, validate_templates
from tools import scanners
from tools.assembly import Stack

# Background scanners over the session's templates, started right after its synth (see
# `stages`): cfn-lint, checkov, and the Control Tower plugin's own synth of the same code.
_CFN_LINT: list = []  # the one tools.validate.Lint of the session
_SCANNERS: dict = {}
CANARY = Path(__file__).parent / "scanner_canary"


@pytest.fixture(scope="session")
def stages(tmp_path_factory) -> list:
    """The whole app's stages (one per environment), built and synthesized once per session.

    cfn-lint (the template gate that replaces CDK's built-in validation), checkov and the
    Control Tower plugin start on the written templates at once, in background processes: they
    run on the second core while the rest of the suite runs on the first, and their fixtures
    (`cfn_lint_findings`, `checkov_report`, `control_tower_report`) collect them."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    scans = tmp_path_factory.mktemp("scans")
    app = new_app(outdir=str(outdir))
    built = cdk_app.build(app)
    app.synth()
    _CFN_LINT.append(validate_templates.start(validate_templates.templates(outdir)))
    report = scans / "control-tower.json"
    _SCANNERS["control-tower"] = (scanners.control_tower_start(outdir, scans / "cdk.out", report), report)
    # With a canary template checkov must fail on (a run that finds nothing proves nothing),
    # beside the assembly: readers of the assembly go by its manifest and never see it.
    shutil.copytree(CANARY, outdir / CANARY.name)
    _SCANNERS["checkov"] = (scanners.checkov_start(outdir, scans / "checkov.json"), scans / "checkov.json")
    _SCANNERS["outdir"] = outdir
    yield built
    # A run that never asked for the findings (-k, -x) leaves no scanner behind, nor a
    # process a scanner started (checkov's workers, the plugin's node and cfn-guard).
    for process in (p for lint in _CFN_LINT for p in lint.processes):
        if process.poll() is None:
            process.kill()
            process.wait()
    for key, entry in _SCANNERS.items():
        if key != "outdir":
            scanners.stop(entry[0])


@pytest.fixture(scope="session")
def checkov_report(stages) -> tuple[list, dict[str, int], Path]:
    """(failed checks, template path -> checks run, the assembly checkov read)."""
    process, output = _SCANNERS["checkov"]
    failed, checked = scanners.checkov_results(process, output)
    return failed, checked, _SCANNERS["outdir"]


@pytest.fixture(scope="session")
def control_tower_report(stages) -> tuple[list, dict]:
    """(unacknowledged Control Tower findings, the plugin's report as written)."""
    process, report = _SCANNERS["control-tower"]
    findings = scanners.control_tower_results(process, report)
    return findings, json.loads(report.read_text())


@pytest.fixture(scope="session")
def cfn_lint_findings(stages) -> dict[str, list[str]]:
    """template path -> cfn-lint errors and warnings, for every template of the session's synth."""
    assert _CFN_LINT, "cfn-lint was not started"
    return validate_templates.results(_CFN_LINT[0])


@pytest.fixture(scope="session")
def synthesized(stages) -> dict[str, Stack]:
    """Every stack of every environment, by stack name, synthesized once as `cdk synth` would."""
    result = {}
    for stage in stages:
        for artifact in stage.synth().stacks:
            result[artifact.stack_name] = Stack(
                name=artifact.stack_name,
                environment=stage.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                region=artifact.environment.region,
                account=artifact.environment.account,
                source=artifact.template_full_path,
            )
    return result

"""One synthesis of the whole app per test session, shared by every test that needs it."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

import app as cdk_app
from tests.support import new_app, validate_templates
from tools import scan_cache, scanners
from tools.assembly import Stack

# Background scanners over the session's templates, started right after its synth (see
# `stages`): cfn-lint, checkov, and the Control Tower plugin's own synth of the same code.
CANARY = Path(__file__).parent / "scanner_canary"
SCANNER_FIXTURES = {"cfn_lint_findings", "checkov_report", "control_tower_report"}
# How long a test worker waits for the first worker's scanner results before giving up.
SCANNER_WAIT_SECONDS = 900


class Scanners:
    """The session's scanner runs, and who runs them.

    Under pytest-xdist every worker synthesizes the app, but only the first (gw0) runs the
    scanners; a thread of its publishes each result into tools/scan_cache.py as soon as the
    scanner ends, whichever worker's tests read it. The other workers wait for those cached
    results, keyed by their own templates' content; a worker whose templates differ from the
    first's, or that finds the first done without a result, runs its own scanners. Without
    xdist each process runs its own. SCAN_CACHE=off gives the run a cache of its own (in its
    temporary directory): nothing from an earlier run is used, and gw0 still serves all."""

    def __init__(self, outdir: Path, scans: Path, shared: Path) -> None:
        self.outdir, self.scans, self.shared = outdir, scans, shared
        self.report = scans / "control-tower.json"
        self.checkov_output = scans / "checkov.json"
        self.runs: dict = {}
        self.results: dict = {}
        self.thread: threading.Thread | None = None

    @property
    def done_marker(self) -> Path:
        return self.shared / "scanners-done"

    def start(self) -> None:
        self.runs["cfn-lint"] = validate_templates.start(validate_templates.templates(self.outdir))
        self.runs["control-tower"] = scanners.control_tower_start(self.outdir, self.scans / "cdk.out", self.report)
        self.runs["checkov"] = scanners.checkov_start(self.outdir, self.checkov_output)
        self.thread = threading.Thread(target=self._collect, name="scanner-results", daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        """Wait for each scanner and keep its result (publishing it to the cache)."""
        readers = {
            "cfn-lint": lambda: validate_templates.results(self.runs["cfn-lint"]),
            "checkov": lambda: scanners.checkov_results(self.runs["checkov"], self.checkov_output),
            "control-tower": lambda: scanners.control_tower_results(self.runs["control-tower"], self.report),
        }
        try:
            for name, read in readers.items():
                try:
                    self.results[name] = read()
                except Exception as error:  # the fixture that asks for it raises it
                    self.results[name] = error
        finally:
            self.done_marker.touch()

    def keys(self) -> list[tuple[str, str]]:
        lint = [
            ("cfn-lint", validate_templates.lint_key(path, region))
            for region, paths in validate_templates.templates(self.outdir).items()
            for path in paths
        ]
        return [*lint, ("checkov", scanners.checkov_key(self.outdir)), ("control-tower", scanners.control_tower_key(self.outdir))]

    def wait_for_first_worker(self) -> None:
        """Wait until every result this worker needs is cached, or the first worker is done."""
        deadline = time.monotonic() + SCANNER_WAIT_SECONDS
        wanted = self.keys()
        while time.monotonic() < deadline:
            if all(scan_cache.get(kind, key) is not None for kind, key in wanted):
                return
            if self.done_marker.exists():
                return  # its templates differ from ours, or a scanner failed: start() runs ours
            time.sleep(0.25)
        raise RuntimeError(f"the first test worker's scanners gave no result within {SCANNER_WAIT_SECONDS} s")

    def result(self, name: str):
        if self.thread is None:
            if os.environ.get("PYTEST_XDIST_WORKER", "gw0") != "gw0":
                self.wait_for_first_worker()
            self.start()
        assert self.thread is not None
        self.thread.join(SCANNER_WAIT_SECONDS)
        value = self.results[name]
        if isinstance(value, Exception):
            raise value
        return value

    def stop(self) -> None:
        """A run that never asked for the findings (-k, -x) leaves no scanner behind, nor a
        process a scanner started (checkov's workers, the plugin's node and cfn-guard)."""
        lint = self.runs.get("cfn-lint")
        for process in lint.processes if lint else ():
            if process.poll() is None:
                process.kill()
                process.wait()
        for name in ("checkov", "control-tower"):
            if name in self.runs:
                scanners.stop(self.runs[name])


_SCANNERS: list[Scanners] = []


def _scanners_wanted(session: pytest.Session) -> bool:
    return any(SCANNER_FIXTURES & set(getattr(item, "fixturenames", ())) for item in session.items)


@pytest.fixture(scope="session")
def stages(request, tmp_path_factory) -> list:
    """The whole app's stages (one per environment), built and synthesized once per session.

    cfn-lint (the template gate that replaces CDK's built-in validation), checkov and the
    Control Tower plugin start on the written templates at once, in background processes, when
    a selected test reads them: they run on the second core while the suite runs on the first,
    and their fixtures (`cfn_lint_findings`, `checkov_report`, `control_tower_report`) collect
    them. Under pytest-xdist the first worker runs them for all (see Scanners)."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    scans = tmp_path_factory.mktemp("scans")
    app = new_app(outdir=str(outdir))
    built = cdk_app.build(app)
    app.synth()
    # With a canary template checkov must fail on (a run that finds nothing proves nothing),
    # beside the assembly: readers of the assembly go by its manifest and never see it.
    shutil.copytree(CANARY, outdir / CANARY.name)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else scans
    if not scan_cache.enabled():
        # SCAN_CACHE=off: no result of an earlier run is used, but the workers of this run
        # still share theirs, through a cache of this run's own.
        os.environ["SCAN_CACHE"] = "on"
        scan_cache.DIRECTORY = shared / "scan-cache"
    session = Scanners(outdir, scans, shared)
    _SCANNERS.append(session)
    if _scanners_wanted(request.session) and worker in (None, "gw0"):
        session.start()
    yield built
    if session.thread is not None and worker == "gw0":
        session.thread.join(SCANNER_WAIT_SECONDS)  # the other workers may be waiting for its results
    session.stop()


@pytest.fixture(scope="session")
def checkov_report(stages) -> tuple[list, dict[str, int], Path]:
    """(failed checks, template path -> checks run, the assembly checkov read)."""
    failed, checked = _SCANNERS[0].result("checkov")
    return failed, checked, _SCANNERS[0].outdir


@pytest.fixture(scope="session")
def control_tower_report(stages) -> tuple[list, dict]:
    """(unacknowledged Control Tower findings, the plugin's report as written)."""
    findings = _SCANNERS[0].result("control-tower")
    return findings, json.loads(_SCANNERS[0].report.read_text())


@pytest.fixture(scope="session")
def cfn_lint_findings(stages) -> dict[str, list[str]]:
    """template path -> cfn-lint errors and warnings, for every template of the session's synth."""
    return _SCANNERS[0].result("cfn-lint")


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

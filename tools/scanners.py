"""scan: the field's scanners over the synthesized templates (docs/security.md).

    python -m tools scan [cdk.out]          (make scan)
    python -m tools scan --control-tower-only --outdir DIR --report FILE

- checkov (PyPI), run from its own virtualenv (.venv/scanners: its pins cannot share the app's
  boto3), over every template, offline;
- AWS Control Tower's proactive controls, through cdklabs-cdk-validator-cfnguard as a CDK
  policy-validation plugin: the app is synthesized once more with the plugin attached.

A finding is accepted only as an acknowledgement on its own resource, with a reason
(constructs_lib/nag.py); tests/test_guardrails.py pins them all. Exit 1 on any unacknowledged
finding, 2 when a scanner could not run. The test suite starts both in the background
(tests/conftest.py) and reads them in tests/test_scanners.py.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tools import scan_cache
from tools.assembly import read_assembly
from tools.synth import ROOT

CHECKOV = ROOT / ".venv" / "scanners" / "bin" / "checkov"
# checkov offline: no guideline download, no version check against PyPI.
CHECKOV_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
PLUGIN = "cdk-validator-cfnguard"


class ScanError(Exception):
    """A scanner could not run (not installed, crashed): the message says which and how to fix it."""


@dataclass(frozen=True)
class Finding:
    scanner: str
    rule: str
    template: str
    resource: str
    text: str

    def __str__(self) -> str:
        return f"{self.scanner} {self.rule} on {self.resource} ({Path(self.template).name}): {self.text}"


# --- checkov ------------------------------------------------------------------------------


class Cached:
    """A scanner run answered from tools/scan_cache.py: finished, successful, nothing to stop."""

    pid = None
    returncode = 0

    def __init__(self, key: str) -> None:
        self.cache_key = key
        self.from_cache = True

    def communicate(self) -> tuple[str, str]:
        return "", ""

    def poll(self) -> int:
        return 0

    def wait(self) -> int:
        return 0


# The assembly's other files are not templates: checkov would parse each (tree.json alone is
# megabytes) only to find that out, about a fifth of its time. Templates are *.template.json.
NOT_TEMPLATES = (r"tree\.json$", r"manifest\.json$", r"\.metadata\.json$", r"validation-report\.json$", r"cdk\.out$", r"asset\.")
CHECKOV_ARGS = (
    "--framework",
    "cloudformation",
    "--output",
    "json",
    "--compact",
    "--skip-download",
    *(arg for pattern in NOT_TEMPLATES for arg in ("--skip-path", pattern)),
)


def checkov_key(directory: Path) -> str:
    """The cache key of checkov's report on `directory`: its files, checkov's pin, the options."""
    return scan_cache.key(
        "checkov",
        (ROOT / "requirements-scanners.txt").read_bytes(),
        *CHECKOV_ARGS,
        scan_cache.source("tools/scanners.py"),
        files=scan_cache.tree(directory),
        root=directory,
    )


def checkov_start(directory: Path, output: Path) -> subprocess.Popen | Cached:
    """checkov over every template under `directory`, in the background, JSON into `output`
    (a file: the report, passed checks included, is larger than a pipe holds). A run of the
    same checkov on the same files is answered from the cache."""
    if not CHECKOV.exists():
        raise ScanError(f"checkov is not installed at {CHECKOV}: run make setup")
    digest = checkov_key(directory)
    cached = scan_cache.get("checkov", digest)
    if isinstance(cached, str):
        output.write_text(cached)
        return Cached(digest)
    with output.open("w") as out:
        process = subprocess.Popen(
            [str(CHECKOV), "-d", str(directory), *CHECKOV_ARGS],
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **CHECKOV_ENV},
            # A group of its own: checkov forks workers, and `stop` ends them all with it.
            start_new_session=True,
        )
    process.cache_key = digest  # type: ignore[attr-defined]
    return process


def checkov_results(process: subprocess.Popen | Cached, output: Path) -> tuple[list[Finding], dict[str, int]]:
    """(failed checks, template path -> checks run on it), paths relative to the scanned
    directory ("/assembly-dev/x.template.json"). checkov exits 1 on failed checks, 2 when it crashed."""
    _, err = process.communicate()
    if process.returncode not in (0, 1):
        raise ScanError(f"checkov exited {process.returncode}: {err.strip()[-2000:]}")
    text = output.read_text()
    reports = json.loads(text) if text.strip() else []
    if not isinstance(process, Cached):
        scan_cache.put("checkov", process.cache_key, text)  # type: ignore[attr-defined]
    reports = reports if isinstance(reports, list) else [reports]
    failed: list[Finding] = []
    checked: dict[str, int] = {}
    for report in reports:
        results = report.get("results", {})
        for kind in ("passed_checks", "failed_checks", "skipped_checks"):
            for check in results.get(kind, []):
                checked[check["file_path"]] = checked.get(check["file_path"], 0) + 1
        failed += [
            Finding("checkov", c["check_id"], c["file_path"], c["resource"], c.get("check_name", ""))
            for c in results.get("failed_checks", [])
        ]
    return failed, checked


# --- AWS Control Tower proactive controls ---------------------------------------------------


def control_tower_rules() -> dict[str, str]:
    """rule name ("ct-s3-pr-2") -> its guard text, from the plugin's own package."""
    import cdklabs.cdk_validator_cfnguard._jsii as bundle

    (archive,) = Path(bundle.__file__).parent.glob("*.jsii.tgz")
    rules = {}
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if member.isfile() and parts[1:4] == ["rules", "control-tower", "cfn-guard"] and member.name.endswith(".guard"):
                handle = tar.extractfile(member)
                rules[f"{parts[4]}/{parts[-1].removesuffix('.guard')}"] = handle.read().decode() if handle else ""
    return rules


def control_tower_validator(resource_types: set[str]):
    """The plugin with every Control Tower control that reports on one of `resource_types`.

    cfn-guard reads every template once per rule file, so the other 180-odd rules would more
    than triple the time and could not fire: they report on types these templates lack."""
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

    enabled = applicable_controls(resource_types)
    disabled = sorted(rule.split("/")[1] for rule in control_tower_rules() if rule not in enabled)
    return CfnGuardValidator(control_tower_rules_enabled=True, disabled_rules=disabled)


def resource_types(assembly: Path) -> set[str]:
    """Every resource type of an assembly's templates."""
    return {res.get("Type", "") for stack in read_assembly(assembly) for res in stack.template.get("Resources", {}).values()}


REPORTS_ON = re.compile(r"^# Reports on:\s*\n((?:#\s+AWS::[^\n]*\n)+)", re.MULTILINE)


def reported_types(rule_text: str) -> set[str]:
    """The resource types a Control Tower rule reports on (its header's "Reports on:")."""
    match = REPORTS_ON.search(rule_text)
    return set(re.findall(r"AWS::\w+::\w+", match.group(1))) if match else set()


def applicable_controls(resource_types: set[str]) -> set[str]:
    """Control Tower rules ("service/ct-...") that report on one of `resource_types`."""
    return {rule for rule, text in control_tower_rules().items() if reported_types(text) & resource_types}


def control_tower_synth(outdir: Path, types: set[str]) -> dict:
    """Synthesize the app into `outdir` with the plugin attached (the controls for `types`):
    {"violations": [...], "suppressed": n, "rules": n} from CDK's validation report."""
    import aws_cdk as cdk

    import app as cdk_app
    from tools.synth import new_app

    app = new_app(outdir=str(outdir))
    cdk_app.build(app)
    validator = control_tower_validator(types)
    cdk.Validations.of(app).add_plugins(validator)
    try:
        app.synth()
    except RuntimeError as error:  # the plugin fails the synth on a violation; the report says which
        if "ValidationFailed" not in str(error) and "Validation failed" not in str(error):
            raise
    report_path = outdir / "validation-report.json"
    if not report_path.exists():
        raise ScanError(f"the Control Tower plugin wrote no report in {outdir}")
    report = json.loads(report_path.read_text())
    violations, suppressed = [], 0
    for plugin in report.get("pluginReports", []):
        if plugin.get("summary", {}).get("pluginName", PLUGIN) != PLUGIN:
            continue
        suppressed += len(plugin.get("suppressedViolations", []))
        for violation in plugin.get("violations", []):
            for construct in violation.get("violatingConstructs", []):
                if not construct.get("constructPath") and not construct.get("resourceLogicalId"):
                    continue  # the plugin's own echo of a finding it already reported with a path
                violations.append(
                    {
                        "rule": violation.get("ruleName", "?"),
                        "resource": construct.get("resourceLogicalId") or construct.get("constructPath", "?"),
                        "template": construct.get("templatePath", ""),
                        "text": (violation.get("description") or "").strip().splitlines()[0] if violation.get("description") else "",
                    }
                )
    return {"violations": violations, "suppressed": suppressed, "rules": len(applicable_controls(types))}


def control_tower_key(assembly: Path) -> str:
    """The cache key of the plugin's report: the assembly, the app's code (the plugin
    synthesizes it again, and cdk.out may be stale), the plugin's version."""
    from importlib.metadata import version

    code = [ROOT / "app.py", ROOT / "cdk.json", *(p for d in ("config", "constructs_lib", "stacks") for p in (ROOT / d).rglob("*.py"))]
    return scan_cache.key(
        "control-tower",
        version(PLUGIN.replace("cdk-", "cdklabs.cdk-", 1)),
        scan_cache.source("tools/scanners.py"),
        scan_cache.key(files=code, root=ROOT),
        files=scan_cache.tree(assembly),
        root=assembly,
    )


def control_tower_start(assembly: Path, outdir: Path, report: Path) -> subprocess.Popen | Cached:
    """The plugin's synth in a background process, with the controls for the resource types of
    `assembly` (a synth of the same code). The same assembly, plugin version and rules are
    answered from the cache: the synth would write the same templates and metadata."""
    digest = control_tower_key(assembly)
    cached = scan_cache.get("control-tower", digest)
    if isinstance(cached, dict):
        report.write_text(json.dumps(cached, indent=1))
        return Cached(digest)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools", "scan", str(assembly), "--control-tower-only", "--outdir", str(outdir), "--report", str(report)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,  # the synth runs node and cfn-guard: `stop` ends them all
    )
    process.cache_key = digest  # type: ignore[attr-defined]
    return process


def control_tower_results(process: subprocess.Popen | Cached, report: Path) -> list[Finding]:
    _, err = process.communicate()
    if process.returncode not in (0, 1) or not report.exists():
        raise ScanError(f"the Control Tower plugin's synth exited {process.returncode}: {err.strip()[-2000:]}")
    data = json.loads(report.read_text())
    if not isinstance(process, Cached):
        scan_cache.put("control-tower", process.cache_key, data)  # type: ignore[attr-defined]
    return [Finding("control-tower", v["rule"], v["template"], v["resource"], v["text"]) for v in data["violations"]]


def stop(process: subprocess.Popen | Cached) -> None:
    """End a scanner started here and every process it started (its own process group), even
    when the scanner itself has finished and a worker of its has not."""
    if isinstance(process, Cached):
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group is gone already
    process.wait()


# --- the command ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools scan", description=__doc__.split("\n\n")[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--control-tower-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.control_tower_only:
            result = control_tower_synth(args.outdir, resource_types(args.assembly))
            args.report.write_text(json.dumps(result, indent=1))
            return 1 if result["violations"] else 0
        if not args.assembly.is_dir():
            print(f"scan: no cloud assembly at {args.assembly}: run make synth first", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            tower = control_tower_start(args.assembly, out / "cdk.out", out / "control-tower.json")
            try:
                checkov = checkov_start(args.assembly, out / "checkov.json")
                try:
                    failed, checked = checkov_results(checkov, out / "checkov.json")
                finally:
                    stop(checkov)
                findings = [*failed, *control_tower_results(tower, out / "control-tower.json")]
            finally:
                stop(tower)
    except ScanError as error:
        print(f"scan: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(
        f"scan: checkov ran {sum(checked.values())} checks on {len(checked)} templates, and the Control Tower controls "
        f"that apply ({len(applicable_controls(resource_types(args.assembly)))}) ran on a synth of the same code: "
        f"{len(findings)} unacknowledged finding{'s' if len(findings) != 1 else ''}"
    )
    return 1 if findings else 0

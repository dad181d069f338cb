"""scan: the field's scanners over the synthesized templates (docs/security.md).

    python -m tools scan [cdk.out] [--scanners cfn-lint,checkov,control-tower]      (make scan)
    python -m tools scan --control-tower-only --outdir DIR --report FILE

- cfn-lint, errors and warnings, over every template (tools/validate.py);
- checkov (PyPI), run from its own virtualenv (.venv/scanners: its pins cannot share the app's
  boto3), over every template, offline, with a canary template it must fail
  (tools/scanner_canary/): a run that finds nothing proves nothing;
- AWS Control Tower's proactive controls, through cdklabs-cdk-validator-cfnguard as a CDK
  policy-validation plugin: the app is synthesized once more with the plugin attached.

They run together, in the background, each on its own process. A finding is accepted only as
an acknowledgement on its own resource, with a reason (constructs_lib/nag.py);
tests/test_guardrails.py pins them all. Exit 1 on any unacknowledged finding, 2 when a
scanner could not run or did not check what it should (a template unread, the canary passed).
`make scan` runs this, then the scanners' own tests (pytest -m scan).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
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


SCANNERS = ("cfn-lint", "checkov", "control-tower")
CANARY = Path(__file__).parent / "scanner_canary"
# What checkov must report on the canary: no access logs, no versioning.
CANARY_FINDINGS = {"CKV_AWS_18", "CKV_AWS_21"}


def scanner_names(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = sorted(set(names) - set(SCANNERS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of {', '.join(SCANNERS)}")
    return names


def scan(assembly: Path, chosen: tuple[str, ...], work: Path) -> tuple[list[Finding], str]:
    """(unacknowledged findings, a line saying what ran) of the chosen scanners over `assembly`.
    Raises ScanError when a scanner could not run or did not check what it should."""
    from tools import validate

    started: dict[str, object] = {}
    try:
        if "cfn-lint" in chosen:
            started["cfn-lint"] = validate.start(validate.templates(assembly))
        if "control-tower" in chosen:
            started["control-tower"] = control_tower_start(assembly, work / "cdk.out", work / "control-tower.json")
        if "checkov" in chosen:
            # checkov reads a copy with the canary beside the assembly (readers of the
            # assembly go by its manifest and never see the canary).
            scanned = work / "scanned"
            shutil.copytree(assembly, scanned)
            shutil.copytree(CANARY, scanned / CANARY.name)
            started["checkov"] = checkov_start(scanned, work / "checkov.json")
        findings: list[Finding] = []
        said = []
        if "cfn-lint" in started:
            lint = validate.results(started["cfn-lint"])  # type: ignore[arg-type]
            findings += [
                Finding("cfn-lint", line.split(" ", 1)[0], path, "the template", line.split(" ", 1)[-1])
                for path, lines in lint.items()
                for line in lines
            ]
            said.append(f"cfn-lint on {sum(map(len, validate.templates(assembly).values()))} templates")
        if "checkov" in started:
            failed, checked = checkov_results(started["checkov"], work / "checkov.json")  # type: ignore[arg-type]
            templates = {"/" + str(p.relative_to(assembly)) for p in assembly.glob("assembly-*/*.template.json")} or {
                "/" + p.name for p in assembly.glob("*.template.json")
            }
            unread = sorted(t for t in templates if checked.get(t, 0) < 5)
            if unread:
                raise ScanError(f"checkov ran fewer than 5 checks on {', '.join(unread)}: it did not read them")
            canary = {f.rule for f in failed if f.template.startswith(f"/{CANARY.name}/")}
            if not CANARY_FINDINGS <= canary:
                raise ScanError(f"checkov did not report {sorted(CANARY_FINDINGS - canary)} on its canary: it is not checking")
            findings += [f for f in failed if not f.template.startswith(f"/{CANARY.name}/")]
            said.append(f"checkov {sum(checked.values())} checks on {len(templates)} templates (and its canary)")
        if "control-tower" in started:
            findings += control_tower_results(started["control-tower"], work / "control-tower.json")  # type: ignore[arg-type]
            said.append(
                f"the {len(applicable_controls(resource_types(assembly)))} Control Tower controls that apply, on a synth of the same code"
            )
        return findings, ", ".join(said)
    finally:
        for name in ("checkov", "control-tower"):
            if name in started:
                stop(started[name])  # type: ignore[arg-type]
        lint_run = started.get("cfn-lint")
        for process in getattr(lint_run, "processes", ()):
            if process.poll() is None:
                process.kill()
                process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools scan", description=__doc__.split("\n\n")[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", type=Path)
    parser.add_argument("--scanners", type=scanner_names, default=SCANNERS, help="which to run (default: all): " + ", ".join(SCANNERS))
    parser.add_argument("--control-tower-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.control_tower_only:
            result = control_tower_synth(args.outdir, resource_types(args.assembly))
            args.report.write_text(json.dumps(result, indent=1))
            return 1 if result["violations"] else 0
        if not (args.assembly / "manifest.json").is_file():
            print(f"scan: no cloud assembly at {args.assembly}: run make synth first", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory() as tmp:
            findings, said = scan(args.assembly, args.scanners, Path(tmp))
    except (ScanError, RuntimeError) as error:
        print(f"scan: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(finding)
    print(f"scan: {said}: {len(findings)} unacknowledged finding{'s' if len(findings) != 1 else ''}")
    return 1 if findings else 0

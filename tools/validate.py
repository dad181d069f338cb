"""validate: cfn-lint over every stack template of a cloud assembly.

    python -m tools validate [cdk.out]      (make validate)

This is the template gate on the path to a deploy. CDK's built-in "CloudFormation Validate"
plugin is switched off in app.py (it cost half of every synth, docs/benchmarks.md); cfn-lint
checks the same templates more thoroughly (schemas, values, references, per-region resource
support) and runs where a template can still be stopped: `make deploy` before `cdk deploy
--app cdk.out`, `make validate`, and the test suite (tests/conftest.py starts it in the
background right after the session's synth, on the second core).

Errors and warnings fail (exit 1); informational findings are not reported. Exit 2: no
assembly. Standard library plus cfn-lint's own command line, so it can run anywhere the venv is.
A template cfn-lint has already judged, byte for byte, with the same version, is answered
from tools/scan_cache.py (a fresh clone, as in CI, has no cache).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from tools import scan_cache
from tools.assembly import read_assembly


def templates(assembly: Path) -> dict[str, list[str]]:
    """region -> template paths, for every stack of the assembly (tools.assembly reads it)."""
    found: dict[str, list[str]] = defaultdict(list)
    for stack in read_assembly(assembly):
        region = stack.region if stack.region and not stack.region.startswith("unknown") else "us-east-1"
        found[region].append(stack.source)
    return dict(found)


@dataclass
class Lint:
    """cfn-lint runs in the background, and the templates answered from tools/scan_cache.py."""

    processes: list[subprocess.Popen] = field(default_factory=list)
    cached: dict[str, list[str]] = field(default_factory=dict)  # template path -> findings
    keys: dict[str, str] = field(default_factory=dict)  # template path -> cache key, for those that run


@functools.cache
def _lint_inputs() -> tuple[str, bytes]:
    """What every template's key shares: cfn-lint's version and this module's code, read once."""
    return version("cfn-lint"), scan_cache.source("tools/validate.py")


def lint_key(path: str, region: str) -> str:
    # cfn-lint lints each template on its own: its findings depend on the template's bytes,
    # the region, cfn-lint's version and how this module runs and reads it.
    template = Path(path)
    return scan_cache.key("cfn-lint", *_lint_inputs(), region, files=[template], root=template.parent)


def start(paths_by_region: dict[str, list[str]]) -> Lint:
    """One cfn-lint process per region for the templates not in the cache, started in the
    background; read them with `results`."""
    lint = Lint()
    for region, paths in sorted(paths_by_region.items()):
        pending = []
        for path in sorted(paths):
            digest = lint_key(path, region)
            found = scan_cache.get("cfn-lint", digest)
            if isinstance(found, list):
                lint.cached[path] = found
            else:
                lint.keys[path] = digest
                pending.append(path)
        if pending:
            lint.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        "import sys, cfnlint.runner; sys.exit(cfnlint.runner.main())",
                        "--format",
                        "json",
                        "--regions",
                        region,
                        "--",
                        *pending,
                    ],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    return lint


def results(lint: Lint) -> dict[str, list[str]]:
    """template path -> its findings ("E3003 message (path)"), for templates with findings."""
    findings: dict[str, list[str]] = defaultdict(list)
    for process in lint.processes:
        out, err = process.communicate()
        try:
            matches = json.loads(out)  # cfn-lint prints "[]" when it finds nothing
            assert isinstance(matches, list)
        except (ValueError, AssertionError):
            raise RuntimeError(f"cfn-lint failed (exit {process.returncode}): {err.strip()[-2000:]}") from None
        for match in matches:
            if match.get("Level") not in ("Error", "Warning"):
                continue
            path = "/".join(map(str, match.get("Location", {}).get("Path") or []))
            findings[match["Filename"]].append(f"{match['Rule']['Id']} {match['Message']} ({path})")
    for path, digest in lint.keys.items():
        scan_cache.put("cfn-lint", digest, findings.get(path, []))
    for path, found in lint.cached.items():
        if found:
            findings[path] = list(found)
    return dict(findings)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    assembly = Path(argv[0] if argv else "cdk.out")
    if not (assembly / "manifest.json").is_file():
        print(f"validate: {assembly} is not a cloud assembly: run `make synth` first", file=sys.stderr)
        return 2
    paths = templates(assembly)
    count = sum(map(len, paths.values()))
    problems = results(start(paths))
    for template, found in sorted(problems.items()):
        print(f"{template}:\n  " + "\n  ".join(found))
    if problems:
        print(f"validate: cfn-lint found problems in {len(problems)} of {count} templates: fix them before deploying", file=sys.stderr)
        return 1
    print(f"validate: cfn-lint found no errors or warnings in {count} templates ({', '.join(sorted(paths))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The deploy guard's command line: acceptances, output, exit codes."""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict
from pathlib import Path

from config.environments import ENVIRONMENTS
from tools.assembly import AssemblyError, load_stacks
from tools.guard.changes import changes
from tools.guard.model import ACCEPT_FILE, ACTION, RULES, Acceptance, Finding, UsageError
from tools.guard.stacks import compare


def parse_acceptance(text: str, origin: str, reason_required: bool) -> Acceptance:
    target, _, reason = text.partition("#")
    target, reason = target.strip(), reason.strip()
    rule, _, where = target.partition(":")
    stack, _, lid = where.partition("/")
    if not (rule and stack and lid) or any(c.isspace() for c in target):
        raise UsageError(f"{origin}: {text.strip()!r} is not RULE-ID:stack/LogicalId [# reason]")
    if rule not in RULES:
        raise UsageError(f"{origin}: unknown rule {rule!r} in {target}; allowed: {', '.join(RULES)}")
    if reason_required and not reason:
        raise UsageError(f"{origin}: {target} has no '# reason': say why this hazard is accepted, a reviewer must see it")
    return Acceptance(target, reason or "(no reason given)", origin)


def read_acceptances(path: Path) -> list[Acceptance]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    return [
        parse_acceptance(line, f"{path}:{number}", reason_required=True)
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def accept(findings: list[Finding], acceptances: list[Acceptance]) -> list[Acceptance]:
    """Mark accepted findings; return the stale acceptances, which match no finding."""
    by_target: dict[str, Acceptance] = {}
    for acceptance in acceptances:
        by_target.setdefault(acceptance.target, acceptance)
    for finding in findings:
        finding.accepted = by_target.get(finding.target)
    found = {finding.target for finding in findings}
    return [acceptance for acceptance in acceptances if acceptance.target not in found]


# ---------------------------------------------------------------- output and CLI

# Findings of one edit in several environments are listed in deploy order (config).
ENV_ORDER = {name: cfg.deploy_order for name, cfg in ENVIRONMENTS.items()}
NOT_CHECKED = (
    "Not checked: this compares templates, it is not `cdk diff`. It cannot see drift or "
    "changes made by hand in AWS, a failed earlier deployment, service quotas, values known "
    "only at deploy time (parameters, lookups), or changes to stateless resources other than "
    "moved fixed names. Run `make diff ENV=...` against the account before deploying."
)


def _generic(finding: Finding, text: str) -> str:
    """`text` with the finding's environment (and account ids) written as placeholders, so the
    same edit in every environment reads the same."""
    env = re.escape(finding.environment)
    return re.sub(r"(?<![0-9])[0-9]{12}(?![0-9])", "{account}", re.sub(rf"\b{env}\b", "{env}", text))


def group(findings: list[Finding]) -> list[list[Finding]]:
    """Findings that are one edit seen in several environments, in first-seen order."""
    groups: dict[tuple, list[Finding]] = {}
    for finding in findings:
        key = (
            finding.rule,
            finding.resource,
            finding.action,
            finding.accepted is not None,
            *(_generic(finding, text) for text in (finding.stack, finding.property, finding.change, finding.effect, finding.route)),
        )
        groups.setdefault(key, []).append(finding)
    return [sorted(members, key=lambda f: (ENV_ORDER.get(f.environment, len(ENV_ORDER)), f.environment)) for members in groups.values()]


def render(members: list[Finding]) -> str:
    first = members[0]
    one = len(members) == 1
    text = (lambda t: t) if one else (lambda t: _generic(first, t))
    label = "" if first.severity == "hazard" else f" ({first.severity})"
    lines = [f"[{first.rule}]{label} {text(first.stack)}/{first.resource} {text(first.property)}: {text(first.change)}"]
    if not one:
        lines.append(f"    in: {', '.join(f.environment for f in members)}")
    lines += [f"    CloudFormation would {ACTION[first.action]}: {text(first.effect)}", f"    Safe route: {text(first.route)}"]
    for finding in members:
        if finding.accepted:
            where = "" if one else f" in {finding.environment}"
            lines.append(f"    ACCEPTED{where} ({finding.accepted.origin}): {finding.accepted.reason}")
    return "\n".join(lines)


def summary(findings: list[Finding], baseline: dict, candidate: dict) -> str:
    compared = len(baseline.keys() & candidate.keys())
    counts = f"{len(baseline)} baseline / {len(candidate)} candidate stacks, {compared} matched"
    hazards = [f for f in findings if f.severity == "hazard"]
    open_ = [f for f in hazards if not f.accepted]
    warnings = len(findings) - len(hazards)
    if len(open_) < len(hazards):
        counts = f"{len(hazards) - len(open_)} accepted, {counts}"
    if warnings:
        counts = f"{warnings} warning(s), {counts}"
    missing = sorted({s.environment for s in baseline.values()} - {s.environment for s in candidate.values()})
    hint = (
        f" The candidate has no {'/'.join(missing)} stacks: if you synthesized one environment, "
        "compare only it (--env NAME, make guard ENV=NAME)."
        if missing
        else ""
    )
    if not open_:
        return f"deploy-guard: OK - no {'unaccepted ' if hazards else ''}hazards ({counts}).{hint}\n{NOT_CHECKED}"
    stacks = len({f.stack for f in open_})
    return f"deploy-guard: {len(open_)} hazard(s) in {stacks} stack(s) ({counts}); do not deploy this change in one step.{hint}"


def as_json(finding: Finding) -> dict:
    return {**asdict(finding), "severity": finding.severity, "environment": finding.environment}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy-guard",
        description="Flag CloudFormation changes that would delete or replace "
        "stateful resources, fail mid-deployment, or weaken staging and production protections.",
    )
    parser.add_argument("baseline", help="what is deployed: cloud assembly or template/snapshot dir")
    parser.add_argument("candidate", help="what would be deployed, same forms")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME", help="compare only this environment's stacks (repeatable), e.g. prod"
    )
    parser.add_argument(
        "--accept",
        action="append",
        default=[],
        metavar="RULE-ID:stack/LogicalId",
        help="acknowledge one finding (repeatable; may end in '# reason')",
    )
    parser.add_argument(
        "--accept-file",
        metavar="PATH",
        help=f"acceptances, one 'RULE-ID:stack/LogicalId  # reason' a line (default: ./{ACCEPT_FILE} if present)",
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad usage; return it for in-process callers
        return int(exit_.code or 0)
    try:
        acceptances = [parse_acceptance(text, "--accept", reason_required=False) for text in args.accept]
        accept_file = Path(args.accept_file) if args.accept_file else Path(ACCEPT_FILE)
        if args.accept_file or accept_file.is_file():
            acceptances += read_acceptances(accept_file)
        baseline = load_stacks(args.baseline, args.env)
        candidate = load_stacks(args.candidate, args.env)
    except (UsageError, AssemblyError) as error:
        print(f"deploy-guard: error: {error}", file=sys.stderr)
        return 2
    findings = compare(baseline, candidate)
    for stale in accept(findings, acceptances):
        print(f"deploy-guard: warning: stale acceptance {stale.target} ({stale.origin}) matches no finding; remove it", file=sys.stderr)
    ok = not any(finding.blocking for finding in findings)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": ok,
                    "summary": summary(findings, baseline, candidate),
                    "changes": [line.strip() for line in changes(baseline, candidate)],
                    "findings": [as_json(f) for f in findings],
                },
                indent=2,
            )
        )
    else:
        for members in group(findings):
            print(render(members) + "\n")
        changed = changes(baseline, candidate)
        print(
            "What this change adds (+), changes (~) and removes (-), per stack:" if changed else "No resource is added, changed or removed."
        )
        if changed:
            print("\n".join(changed))
        print(summary(findings, baseline, candidate))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

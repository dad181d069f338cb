"""The change summary: what a change does to each stack, as Markdown for a pull request.

Usage: python -m tools summary [--base-label LABEL] BASELINE CANDIDATE

One job: compare two inputs and say what changed and whether it is safe. BASELINE and
CANDIDATE take the same forms as the deploy guard's (a cloud assembly such as cdk.out, or a
directory of snapshot/template JSON files); both tools read them with
`tools.assembly.load_stacks`, so they always agree on what a stack is. For every stack it
prints the resources added, removed and modified (logical id, type, changed properties),
then the deploy guard's verdict on the same two inputs, then the change in each
environment's estimated monthly cost (tools/cost/). The pull-request workflow appends
this to $GITHUB_STEP_SUMMARY.

It names which resources and properties changed, never what they now hold: that is
tools/review.py's job (one input, each stack's contents as lines, whose snapshot diff shows
how a resource changed). The two stay apart, not merged, because they share no logic beyond
tools.assembly's reader: they read two inputs against one, write Markdown for a job summary
against plain lines for a snapshot diff, and serve the workflow against the tests and a
person. One module would be two programs behind one name.

It always exits 0 on readable input (2 on a usage error): blocking is the guard's job.
Standard library only, like the guard, plus config (plain Python) for the cost estimate's workload.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools import guard
from tools.assembly import AssemblyError, canon, load_stacks, normalise, props
from tools.guard.cli import accept, summary
from tools.guard.model import ACCEPT_FILE, ACTION


@dataclass
class StackChanges:
    name: str
    status: str  # "changed", "new stack", "removed stack"
    added: list[tuple[str, str]] = field(default_factory=list)  # (logical id, type)
    removed: list[tuple[str, str]] = field(default_factory=list)
    modified: list[tuple[str, str, list[str]]] = field(default_factory=list)  # + changed keys

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.modified)


def changed_keys(old: dict, new: dict) -> list[str]:
    """Top-level attributes and properties that differ, e.g. ["DeletionPolicy", "Properties.TableName"]."""
    keys = []
    for attribute in sorted((old.keys() | new.keys()) - {"Properties"}):
        if canon(old.get(attribute)) != canon(new.get(attribute)):
            keys.append(attribute)
    old_props, new_props = props(old), props(new)
    for prop in sorted(old_props.keys() | new_props.keys()):
        if canon(old_props.get(prop)) != canon(new_props.get(prop)):
            keys.append(f"Properties.{prop}")
    return keys


def diff_stacks(baseline: dict, candidate: dict) -> list[StackChanges]:
    """One StackChanges per stack name in either input, sorted by name."""
    result = []
    for name in sorted(baseline.keys() | candidate.keys()):
        old = baseline[name].resources if name in baseline else {}
        new = candidate[name].resources if name in candidate else {}
        status = "new stack" if name not in baseline else "removed stack" if name not in candidate else "changed"
        changes = StackChanges(name, status)
        for lid in sorted(new.keys() - old.keys()):
            changes.added.append((lid, new[lid].get("Type", "?")))
        for lid in sorted(old.keys() - new.keys()):
            changes.removed.append((lid, old[lid].get("Type", "?")))
        for lid in sorted(old.keys() & new.keys()):
            before, after = normalise(old[lid]), normalise(new[lid])
            if canon(before) != canon(after):
                changes.modified.append((lid, after.get("Type", "?"), changed_keys(before, after)))
        result.append(changes)
    return result


def guard_verdict(baseline: dict, candidate: dict) -> tuple[str, list]:
    """The guard's one-line summary and its findings, honouring ./deploy-guard.accept as the guard does."""
    findings = guard.compare(baseline, candidate)
    accept_file = Path(ACCEPT_FILE)
    if accept_file.is_file():
        accept(findings, guard.read_acceptances(accept_file))
    return summary(findings, baseline, candidate), findings


def cost_delta(baseline: dict, candidate: dict) -> list[str]:
    """The estimate's change (tools/cost/), both sides priced with today's workload and prices,
    so the delta is the change's own."""
    from tools import cost

    return cost.delta_markdown(cost.estimates(baseline), cost.estimates(candidate))


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(changes: list[StackChanges], verdict: str, findings: list, base_label: str, cost: Sequence[str]) -> str:
    lines = [f"## Infrastructure changes against {base_label}", ""]
    changed = [c for c in changes if not c.empty or c.status != "changed"]
    unchanged = [c.name for c in changes if c.empty and c.status == "changed"]
    if changed:
        lines += ["| stack | added | removed | modified |", "| --- | ---: | ---: | ---: |"]
        for c in changed:
            label = c.name if c.status == "changed" else f"{c.name} ({c.status})"
            lines.append(f"| {cell(label)} | {len(c.added)} | {len(c.removed)} | {len(c.modified)} |")
        lines.append("")
    else:
        lines += ["No resource changes in any stack.", ""]
    if unchanged:
        lines += [f"Unchanged ({len(unchanged)}): {', '.join(unchanged)}", ""]
    for c in changed:
        lines += [
            f"### {cell(c.name)}" + ("" if c.status == "changed" else f" ({c.status})"),
            "",
            "| change | logical id | type | what changed |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| added | {cell(lid)} | {cell(t)} | |" for lid, t in c.added]
        lines += [f"| removed | {cell(lid)} | {cell(t)} | |" for lid, t in c.removed]
        lines += [f"| modified | {cell(lid)} | {cell(t)} | {cell(', '.join(keys))} |" for lid, t, keys in c.modified]
        lines.append("")
    open_findings = [f for f in findings if f.blocking]
    lines += ["### Deploy guard", "", f"{'BLOCKED' if open_findings else 'PASS'}: {verdict}", ""]
    if findings:
        lines += ["| rule | resource | change | CloudFormation would | accepted |", "| --- | --- | --- | --- | --- |"]
        for f in findings:
            accepted = f.accepted.reason if f.accepted else ""
            rule = f.rule if f.severity == "hazard" else f"{f.rule} ({f.severity})"
            lines.append(
                f"| {rule} | {cell(f.stack)}/{cell(f.resource)} | {cell(f.property)}: {cell(f.change)} "
                f"| {ACTION[f.action]} | {cell(accepted)} |"
            )
        lines += ["", "Safe routes: run `make guard` locally, or see the job log of the deploy-guard step."]
    while lines and not lines[-1]:
        lines.pop()
    lines += ["", *cost]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("baseline", help="what is deployed: snapshot dir or cloud assembly")
    parser.add_argument("candidate", help="what would be deployed, e.g. cdk.out")
    parser.add_argument("--base-label", default="the baseline", help="how to name the baseline, e.g. origin/main")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        baseline = load_stacks(args.baseline)
        candidate = load_stacks(args.candidate)
        verdict, findings = guard_verdict(baseline, candidate)
    except (AssemblyError, guard.UsageError) as error:
        print(f"change-summary: error: {error}", file=sys.stderr)
        return 2
    print(render(diff_stacks(baseline, candidate), verdict, findings, args.base_label, cost_delta(baseline, candidate)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())

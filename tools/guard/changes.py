"""What a change adds, changes and removes, per stack: the guard prints it under its verdict, so
an OK says what it let through (a change of three tables and eighteen alarms is not "nothing")."""

from __future__ import annotations

from tools.assembly import Stack, canon, normalise
from tools.guard.model import TABLE_TYPES

# The kinds a reviewer counts, in order; everything else is "other resources".
KINDS = (("tables", TABLE_TYPES), ("alarms", frozenset({"AWS::CloudWatch::Alarm"})), ("roles", frozenset({"AWS::IAM::Role"})))


def _indexes(resource: dict) -> set[str]:
    return {gsi.get("IndexName", "") for gsi in (resource.get("Properties") or {}).get("GlobalSecondaryIndexes") or []}


def _counted(label: str, added: set[str], changed: set[str], removed: set[str], *, names: bool) -> str | None:
    parts = [
        f"{sign}{len(ids)}" + (f" ({', '.join(sorted(ids))})" if names else "")
        for sign, ids in (("+", added), ("~", changed), ("-", removed))
        if ids
    ]
    return f"{label} {' '.join(parts)}" if parts else None


def stack_changes(old: Stack | None, new: Stack | None) -> str | None:
    """One line for one stack ("tables +1 (TableX), indexes +1 (TableX/GSI1), alarms +6"), or
    None when nothing in it changed. Tables, indexes and roles are named; alarms are counted."""
    before = normalise(old.template).get("Resources", {}) if old else {}
    after = normalise(new.template).get("Resources", {}) if new else {}
    parts: list[str] = []
    kinds_seen: set[str] = set()
    for label, types in KINDS:
        o = {lid for lid, r in before.items() if r.get("Type") in types}
        n = {lid for lid, r in after.items() if r.get("Type") in types}
        kinds_seen |= o | n
        changed = {lid for lid in o & n if canon(before[lid]) != canon(after[lid])}
        parts.append(_counted(label, n - o, changed, o - n, names=label != "alarms") or "")
        if label == "tables":
            gsis_before = {f"{lid}/{name}" for lid in o for name in _indexes(before[lid])}
            gsis_after = {f"{lid}/{name}" for lid in n for name in _indexes(after[lid])}
            parts.append(_counted("indexes", gsis_after - gsis_before, set(), gsis_before - gsis_after, names=True) or "")
    o = set(before) - kinds_seen
    n = set(after) - kinds_seen
    changed = {lid for lid in o & n if canon(before[lid]) != canon(after[lid])}
    parts.append(_counted("other resources", n - o, changed, o - n, names=False) or "")
    text = ", ".join(part for part in parts if part)
    if not text:
        return None
    status = " (new stack)" if old is None else " (removed stack)" if new is None else ""
    return f"{text}{status}"


def changes(baseline: dict[str, Stack], candidate: dict[str, Stack]) -> list[str]:
    """`  <stack>: <what changed>` for every stack with a change, in stack-name order."""
    lines = []
    for name in sorted(baseline.keys() | candidate.keys()):
        line = stack_changes(baseline.get(name), candidate.get(name))
        if line:
            lines.append(f"  {name}: {line}")
    return lines

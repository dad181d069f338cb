"""Checks on whole stacks: removed and moved resources, termination protection; `compare`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tools.assembly import Stack, canon, props
from tools.guard.checks import RESOURCE_CHECKS
from tools.guard.model import (
    FATE,
    FIXED_NAME,
    ORPHAN_ROUTE,
    PHYSICAL_NAME,
    POLICY_RANK,
    RULES,
    STATEFUL_TYPES,
    TABLE_TYPES,
    TYPE_CHANGE_ROUTE,
    Finding,
    Pair,
    policy,
    protected,
    show,
)

# (stack name, logical id, resource) of a resource that may replace a removed one.
Successor = tuple[str, str, dict]


def successor_index(baseline: dict, candidate: dict) -> tuple[dict, dict]:
    """Stateful resources new in the candidate, by physical name and by identical properties."""
    by_name: dict[tuple, Successor] = {}
    by_props: dict[tuple, Successor] = {}
    for stack in candidate.values():
        known = baseline[stack.name].resources if stack.name in baseline else {}
        for lid, res in stack.resources.items():
            if lid in known or (res.get("Type") not in STATEFUL_TYPES and not name_key(res)):
                continue
            if key := name_key(res):
                by_name.setdefault(key, (stack.name, lid, res))
            if res.get("Type") in STATEFUL_TYPES:
                by_props.setdefault((stack.name, res["Type"], canon(props(res))), (stack.name, lid, res))
    return by_name, by_props


def fixed_name(res: dict) -> tuple[str, object] | None:
    """(property, value) of the resource's physical name, when the template fixes one."""
    rtype = res.get("Type")
    name_prop = (PHYSICAL_NAME.get(rtype) or FIXED_NAME.get(rtype)) if isinstance(rtype, str) else None
    value: Any = props(res)
    for part in (name_prop or "").split(".") if name_prop else ():
        value = value.get(part) if isinstance(value, dict) else None
    return (name_prop, value) if name_prop and value is not None else None


def name_key(res: dict) -> tuple | None:
    named = fixed_name(res)
    if not named:
        return None
    # Table and GlobalTable share one namespace of table names.
    family = "table" if res["Type"] in TABLE_TYPES else res["Type"]
    return family, canon(named[1])


def find_successor(stack: str, res: dict, index: tuple[dict, dict]) -> tuple | None:
    by_name, by_props = index
    if name_key(res):
        return by_name.get(name_key(res))
    # No physical name: identical properties in the same stack is the best evidence of a rename
    # (across stacks, e.g. dev and prod, identical resources are normal).
    return by_props.get((stack, res.get("Type"), canon(props(res))))


def check_removed(old: Stack, new: Stack | None, index) -> Iterator[Finding]:
    remaining = new.resources if new else {}
    for lid, res in sorted(old.resources.items()):
        rtype = res.get("Type")
        if lid in remaining:
            continue
        if rtype not in STATEFUL_TYPES:
            successor = find_successor(old.name, res, index) if name_key(res) else None
            if successor:
                yield name_taken(old.name, lid, res, successor)
            continue
        deletion = policy(res, "DeletionPolicy")
        fate = FATE.get(deletion, FATE["Delete"])
        successor = find_successor(old.name, res, index)
        if successor:
            yield successor_finding(old.name, lid, res, successor, fate)
            continue
        action, route = "delete", RULES["STATEFUL-DELETE"].route
        if POLICY_RANK.get(deletion, 0) >= 2:
            # Retain keeps the data, but the resource silently leaves management (a prod table
            # dropped from the template would pass unseen), so it is reported for review too.
            again = "fails because the name is taken" if name_key(res) else "creates a new, empty one"
            action, route = "orphan", ORPHAN_ROUTE
            fate = f"orphaned: kept with its data but no longer managed; re-adding it later {again}"
        effect = f"the resource is {fate} (DeletionPolicy {deletion})."
        if new is None:
            effect = f"once the stack is deleted (cdk destroy, pipeline clean-up), {effect}"
        where = "its stack was removed from the app" if new is None else "removed from the template"
        yield Finding("STATEFUL-DELETE", old.name, lid, "(resource)", f"{rtype} {where}", action, effect, route)


def name_taken(stack: str, lid: str, res: dict, successor: tuple) -> Finding:
    new_stack, new_lid, _ = successor
    target = new_lid if new_stack == stack else f"{new_stack}/{new_lid}"
    named = fixed_name(res)
    if named is None:
        raise ValueError(f"{stack}/{lid} has no fixed name to be taken")  # callers pass named resources only
    name_prop, name = named
    return Finding(
        "NAME-TAKEN",
        stack,
        lid,
        "(logical id)",
        f"{res['Type']} moved to {target} (same {name_prop} {show(name)})",
        "fail",
        f"CloudFormation creates {target} before it deletes {lid}, and the create fails "
        f"because {name_prop} {show(name)} is still taken, so the update rolls back.",
        RULES["NAME-TAKEN"].route,
    )


def successor_finding(stack: str, lid: str, res: dict, successor: tuple, fate: str) -> Finding:
    new_stack, new_lid, new_res = successor
    target = new_lid if new_stack == stack else f"{new_stack}/{new_lid}"
    name_prop, name = fixed_name(res) or (None, None)
    named = name_prop is not None
    clash = (
        f"creating {target} fails while {name_prop} {show(name)} is still taken, "
        "so the update rolls back; without that clash the old one would be "
        if named
        else f"{target} is created from scratch and the old one is "
    )
    if new_res["Type"] != res["Type"]:
        return Finding(
            "STATEFUL-REPLACE",
            stack,
            lid,
            "Type",
            f"{res['Type']} -> {new_res['Type']} as {target} (same {name_prop})",
            "fail" if named else "replace",
            f"a type change is a delete + create: {clash}{fate}.",
            TYPE_CHANGE_ROUTE,
        )
    return Finding(
        "STATEFUL-RENAME",
        stack,
        lid,
        "(logical id)",
        f"{res['Type']} moved to {target}" + (f" (same {name_prop})" if named else " (identical properties)"),
        "replace",
        f"it sees a delete + create, not a rename: {clash}{fate}.",
        RULES["STATEFUL-RENAME"].route,
    )


def check_termination_protection(old: Stack, new: Stack | None) -> Iterator[Finding]:
    if new and protected(old, new) and old.termination_protection is True and new.termination_protection is False:
        yield Finding(
            "PROTECTION-WEAKENED",
            new.name,
            "(stack)",
            "TerminationProtection",
            "termination protection turned off",
            "weaken",
            "nothing stops it; afterwards the whole stack, data included, can be deleted in one step.",
            RULES["PROTECTION-WEAKENED"].route,
        )


def compare(baseline: dict, candidate: dict) -> list[Finding]:
    index = successor_index(baseline, candidate)
    findings: list[Finding] = []
    for name in sorted(baseline):
        old, new = baseline[name], candidate.get(name)
        findings += check_removed(old, new, index)
        findings += check_termination_protection(old, new)
        if new is None:
            continue  # the stack is gone: check_removed reported its resources
        for lid in sorted(old.resources.keys() & new.resources.keys()):
            pair = Pair(name, lid, old.resources[lid], new.resources[lid], old.resources, new.resources, protected(old, new))
            if pair.old.get("Type") not in STATEFUL_TYPES and pair.type not in STATEFUL_TYPES:
                continue
            if pair.old.get("Type") != pair.type:
                findings.append(type_change(pair))
                continue  # the other checks would compare two different schemas
            for check in RESOURCE_CHECKS:
                findings += check(pair)
    return findings


def type_change(pair: Pair) -> Finding:
    return pair.finding(
        "STATEFUL-REPLACE",
        "Type",
        f"{pair.old.get('Type')} -> {pair.type}",
        "fail",
        'changing the type of an existing logical id is rejected ("Update of resource type is not permitted").',
        TYPE_CHANGE_ROUTE,
    )

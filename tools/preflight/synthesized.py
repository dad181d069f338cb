"""What the preflight reads from the synthesized app (cdk.out): the bootstrap version the
templates require, and the Aurora engine version of the database stack. Standard library and
tools.assembly only; without an assembly of the environment it falls back (see each function).

`make deploy` runs the preflight before its synth, so cdk.out may be missing or older than the
code: every line built from these facts names where the value came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.assembly import AssemblyError, Stack, load_stacks

# Fallback when no template is at hand: the bootstrap version CDK v2's default stack
# synthesizer requires of every deploy (its templates' CheckBootstrapVersion rule refuses 1-5).
# Its lookup role wants 8, but only for context lookups, which this app does not make.
MIN_BOOTSTRAP_VERSION = 6


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str  # where it came from, for the checklist line


def stacks_of(assembly: Path, env: str) -> list[Stack]:
    """The environment's stacks in the assembly; [] when there is none (missing, unreadable, or
    synthesized for other environments only)."""
    try:
        return list(load_stacks(assembly, [env]).values())
    except AssemblyError:
        return []


def _unsupported_versions(template: dict) -> list[int]:
    """The versions a template's CheckBootstrapVersion rule refuses:
    {"Assert": {"Fn::Not": [{"Fn::Contains": [["1", ..., "5"], {"Ref": "BootstrapVersion"}]}]}}."""
    rules = template.get("Rules")
    rule = rules.get("CheckBootstrapVersion") if isinstance(rules, dict) else None
    assertions = rule.get("Assertions") if isinstance(rule, dict) else None
    found: list[int] = []
    for assertion in assertions if isinstance(assertions, list) else []:
        negated = assertion.get("Assert", {}).get("Fn::Not") if isinstance(assertion, dict) else None
        for condition in negated if isinstance(negated, list) else []:
            contains = condition.get("Fn::Contains") if isinstance(condition, dict) else None
            if isinstance(contains, list) and len(contains) == 2 and contains[1] == {"Ref": "BootstrapVersion"}:
                found.extend(int(v) for v in contains[0] if isinstance(v, (str, int)) and str(v).isdigit())
    return found


def required_bootstrap_version(stacks: Iterable[Stack]) -> Fact:
    """The lowest BootstrapVersion every template accepts: one above the highest refused."""
    by_stack = {s.name: max(refused) + 1 for s in stacks if (refused := _unsupported_versions(s.template))}
    if not by_stack:
        return Fact(MIN_BOOTSTRAP_VERSION, "no synthesized template to read: CDK v2's minimum")
    name = max(by_stack, key=lambda n: by_stack[n])
    return Fact(by_stack[name], f"the CheckBootstrapVersion rule of {name}'s template")


def engine_versions(stacks: Iterable[Stack]) -> Fact:
    """The EngineVersion of every Aurora PostgreSQL cluster in the templates, else the one in
    constructs_lib/database.py (which starts the CDK's jsii runtime: only without templates)."""
    found: dict[str, str] = {}
    for stack in stacks:
        for resource in stack.resources.values():
            properties = resource.get("Properties")
            if resource.get("Type") == "AWS::RDS::DBCluster" and isinstance(properties, dict):
                version = properties.get("EngineVersion")
                if properties.get("Engine") == "aurora-postgresql" and isinstance(version, str):
                    found.setdefault(version, f"{stack.name}'s template")
    if found:
        return Fact(tuple(found), ", ".join(sorted(set(found.values()))))
    from constructs_lib.database import ENGINE_VERSION

    return Fact((str(ENGINE_VERSION.aurora_postgres_full_version),), "constructs_lib/database.py ENGINE_VERSION (no synthesized template)")

"""Markdown helpers for the generated data-model pages: cells, tables, per-environment values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from config.environments import ENVIRONMENTS
from tools.docs.facts import TableFacts


def cell(value: object) -> str:
    # A pipe inside a cell would end it (MADMall's key patterns are written PK|SK).
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    headers = list(headers)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def env_pattern(env: str, text: str) -> str:
    """`text` with the environment's name (as a whole word) replaced by `{env}`."""
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(env)}(?![A-Za-z0-9])", "{env}", text)


def per_env(values: Mapping[str, str], sep: str = "<br>", pattern: bool = False) -> str:
    """One value when every environment given agrees, else the environments grouped by value.

    With `pattern`, values that differ only by the environment's name read once, as `...{env}...`.
    """
    envs = [env for env in ENVIRONMENTS if env in values]
    if pattern:
        general = {env_pattern(env, values[env]) for env in envs}
        if len(general) == 1:
            return general.pop()
    groups: dict[str, list[str]] = {}
    for env in envs:
        groups.setdefault(values[env], []).append(env)
    if len(groups) == 1:
        return next(iter(groups))
    return sep.join(f"{', '.join(envs)}: {value}" for value, envs in groups.items())


def field(facts: Mapping[str, object], attribute: str, sep: str = "<br>", pattern: bool = False) -> str:
    return per_env({env: getattr(f, attribute) for env, f in facts.items()}, sep, pattern)


def name_pattern(facts: Mapping[str, TableFacts]) -> str:
    return per_env({env: f"`{f.name}`" for env, f in facts.items()}, pattern=True)


def only_in(present: Mapping[str, object]) -> str:
    """ " (only in prod)" for something that not every environment has, else ""."""
    return "" if len(present) == len(ENVIRONMENTS) else f" (only in {', '.join(e for e in ENVIRONMENTS if e in present)})"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def code_list(items: Iterable[str]) -> str:
    return ", ".join(f"`{i}`" for i in sorted(items)) or "—"

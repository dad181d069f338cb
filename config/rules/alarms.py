"""The alarm catalogue (config/alarms.py) and every environment's thresholds against it."""

from __future__ import annotations

from typing import TYPE_CHECKING, get_args

from config.errors import Problems
from constructs_lib.props import AlarmScope

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

import string

from config import alarms as catalogue
from constructs_lib.props import SCOPE_VALUES, TAMPER_EXEMPT


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    a = cfg.alarms
    for name, value, allowed in threshold_problems(a.thresholds, complete=True):
        p.add(f"alarms.thresholds[{name!r}]", value, allowed)
    for name in ("evaluation_periods", "datapoints_to_alarm"):
        p.positive(f"alarms.{name}", getattr(a, name))
    if isinstance(a.datapoints_to_alarm, int) and isinstance(a.evaluation_periods, int):
        p.check(
            a.datapoints_to_alarm <= a.evaluation_periods,
            "alarms.datapoints_to_alarm",
            a.datapoints_to_alarm,
            f"<= evaluation_periods ({a.evaluation_periods})",
        )
    scopes = a.scopes
    if scopes is not None:
        known = get_args(AlarmScope)
        p.check(
            isinstance(scopes, tuple) and all(s in known for s in scopes) and "account" in scopes,
            "alarms.scopes",
            scopes,
            f"None (every scope) or a tuple of {', '.join(known)} with 'account' in it",
        )
        p.check(
            cfg.protection == "rebuildable",
            "alarms.scopes",
            scopes,
            f"None where protection is {cfg.protection!r}: a protected environment alarms on every table, index, replica and instance",
        )


def threshold_problems(thresholds: Mapping[str, object], *, complete: bool) -> list[tuple[str, object, str]]:
    """(name, value, what is allowed) for each threshold of `thresholds` that the catalogue does
    not declare or whose value is out of its range, and (`complete`: an environment's) each
    the catalogue declares that is missing."""
    problems: list[tuple[str, object, str]] = []
    for name, value in thresholds.items():
        spec = catalogue.THRESHOLDS.get(name)
        if spec is None:
            problems.append((name, value, "a threshold of the alarm catalogue (config/alarms.py): " + ", ".join(catalogue.THRESHOLDS)))
            continue
        low, high = spec.minimum, spec.maximum
        in_range = isinstance(value, int) and not isinstance(value, bool) and low <= value and (high is None or value <= high)
        if not in_range:
            problems.append((name, value, f"a whole number {low}-{high}" if high is not None else f"a whole number >= {low}"))
    if complete:
        for name, spec in catalogue.THRESHOLDS.items():
            if name not in thresholds:
                problems.append((name, None, f"a value: {spec.description} (no default; kinds {', '.join(readers(name))} read it)"))
    return problems


def readers(threshold: str) -> list[str]:
    """The catalogue's kinds that read `threshold`."""
    return [key for key, kind in catalogue.ALARM_KINDS.items() if kind.threshold == threshold]


def catalogue_problems() -> list[str]:
    """Mistakes in the alarm catalogue itself, which would otherwise stop synth with a traceback:
    an unknown threshold or scope, a placeholder a scope's resources do not give, two kinds
    with one construct id on one scope."""
    lines: list[str] = []
    seen: dict[tuple[str, str], str] = {}
    for key, kind in catalogue.ALARM_KINDS.items():
        where = f"alarm catalogue {key}"
        if kind.threshold not in catalogue.THRESHOLDS:
            lines.append(f"{where}: threshold {kind.threshold!r} is not declared in THRESHOLDS: one of " + ", ".join(catalogue.THRESHOLDS))
        if not kind.applies_to:
            lines.append(f"{where}: applies_to is empty: one or more of " + ", ".join(SCOPE_VALUES))
        for scope in kind.applies_to:
            if scope not in SCOPE_VALUES:
                lines.append(f"{where}: applies_to {scope!r} is not a scope: one of " + ", ".join(SCOPE_VALUES))
                continue
            for field in ("name", "description"):
                used = {name for _, name, _, _ in string.Formatter().parse(getattr(kind, field)) if name}
                unknown = used - SCOPE_VALUES[scope] - {"threshold"}
                if unknown:
                    lines.append(
                        f"{where}: {field} uses {', '.join(sorted(unknown))}, which a {scope}'s alarms do not have: "
                        + ", ".join(sorted(SCOPE_VALUES[scope] | {"threshold"}))
                    )
            other = seen.setdefault((kind.id, scope), key)
            if other != key:
                lines.append(f"{where}: id {kind.id!r} is also {other}'s on a {scope}: each kind needs its own construct id")
        if kind.comparison not in (">=", "<="):
            lines.append(f"{where}: comparison {kind.comparison!r}: >= or <=")
    return lines + tamper_problems()


def tamper_problems() -> list[str]:
    """Mistakes in TAMPER_WATCH: an exemption nobody resolves, a duplicate id (one rule), a
    group without calls, a bucket filter on a service that has no buckets."""
    lines: list[str] = []
    ids: set[str] = {"BreakGlass"}  # the construct's own rule
    for group in catalogue.TAMPER_WATCH:
        where = f"tamper watch {group.id}"
        if group.id in ids:
            lines.append(f"{where}: id {group.id!r} is used twice (or is the break-glass rule's): each group is one rule")
        ids.add(group.id)
        if not group.names:
            lines.append(f"{where}: names is empty: the API calls (CloudTrail eventName) to watch")
        if not group.service.isalnum() or not group.service.islower():
            lines.append(f"{where}: service {group.service!r}: the lower-case service prefix, as in kms.amazonaws.com")
        for who in group.exempt:
            if who not in TAMPER_EXEMPT:
                lines.append(f"{where}: exempt {who!r}: one of " + ", ".join(TAMPER_EXEMPT))
        if group.buckets and group.service != "s3":
            lines.append(f"{where}: buckets applies to s3 calls only, not {group.service!r}")
    return lines

"""The guard's check of a database engine version change: a downgrade fails, a major upgrade
fails without AllowMajorVersionUpgrade and a parameter group of the new family, and otherwise
is an outage (RDS upgrades in place, with no rollback but a snapshot restore)."""

from __future__ import annotations

from collections.abc import Iterator

from tools.assembly import props
from tools.guard.model import DATABASE_TYPES, Finding, Pair, truthy


def engine_version(value) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None  # not a literal (a parameter or an intrinsic): nothing to compare
    numbers = []
    for part in value.split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers) or None


def major(engine: str, version: tuple[int, ...]) -> tuple[int, ...]:
    # PostgreSQL 10 and later number majors by the first part (16.4 -> 16); older PostgreSQL and
    # MySQL by the first two (9.6.22 -> 9.6, 8.0.mysql_aurora.3.05.2 -> 8.0).
    if "postgres" in engine and version[0] >= 10:
        return version[:1]
    return version[:2]


def parameter_group_family(stack: dict, reference) -> str | None:
    if isinstance(reference, dict) and isinstance(reference.get("Ref"), str):
        family = props(stack.get(reference["Ref"], {})).get("Family")
        return family if isinstance(family, str) else None
    return None


def check_engine_version(pair: Pair) -> Iterator[Finding]:
    if pair.type not in DATABASE_TYPES:
        return
    old_props, new_props = pair.old_props, pair.new_props
    before, after = engine_version(old_props.get("EngineVersion")), engine_version(new_props.get("EngineVersion"))
    engine = str(new_props.get("Engine") or old_props.get("Engine") or "")
    if before is None or after is None or before == after:
        return
    change = f"{old_props['EngineVersion']} -> {new_props['EngineVersion']}"
    if after < before:
        yield pair.finding(
            "ENGINE-VERSION",
            "EngineVersion",
            f"{change} (downgrade)",
            "fail",
            "RDS cannot downgrade a database engine, so the update fails; the only way "
            "to an older version is restoring a snapshot taken on it.",
            "Put EngineVersion back. To run an older version, restore a snapshot taken on it into a new cluster.",
        )
        return
    if major(engine, before) == major(engine, after):
        return  # a minor upgrade, applied in place
    problems = []
    if not truthy(new_props.get("AllowMajorVersionUpgrade")):
        problems.append("AllowMajorVersionUpgrade is not true, so RDS refuses the update")
    family = parameter_group_family(pair.new_stack, new_props.get("DBClusterParameterGroupName") or new_props.get("DBParameterGroupName"))
    new_major = ".".join(map(str, major(engine, after)))
    if family and not family.endswith(new_major):
        problems.append(f"its parameter group is of family {family}, not one for version {new_major}")
    if problems:
        yield pair.finding(
            "ENGINE-VERSION",
            "EngineVersion",
            f"{change} (major)",
            "fail",
            "a major version upgrade, but " + "; ".join(problems) + ": the update fails.",
        )
    else:
        yield pair.finding(
            "ENGINE-VERSION",
            "EngineVersion",
            f"{change} (major)",
            "outage",
            "a major version upgrade in place: the database is unavailable while it "
            "runs (typically 10 to 30 minutes or more), and it cannot be rolled back "
            "except by restoring a snapshot.",
        )

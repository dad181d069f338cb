"""Mistakes in the table catalogue that CDK or CloudFormation would only report as a traceback or a failed deployment."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from constructs_lib.specs import SystemSpec, TableSpec

from config.rules.alarms import threshold_problems
from constructs_lib.specs import HOLDINGS, INSIGHTS_MODES

# DynamoDB's default quota of global secondary indexes per table, and its fixed limit of local ones.
MAX_GSIS = 20
MAX_LSIS = 5


# A LeadingKeys pattern: a literal prefix, then the session tag's value, e.g. "USER#${aws:PrincipalTag/userId}".
TENANT_PATTERN = re.compile(r"^(?P<prefix>[^$]*)\$\{aws:PrincipalTag/(?P<tag>[\w+=,.@-]+)\}$")


def tenant_problems(system: SystemSpec) -> list[str]:
    """A tenant rule confines the tables it lists, and each pattern must be able to match each
    one's partition key (and each listed index's). A key named like the session tag ("userId")
    holds the bare id, so only a bare pattern ("${aws:PrincipalTag/userId}") matches it; any
    other key holds composed values ("USER#u1"), which only a pattern with their prefix matches."""
    rule = system.tenant_isolation
    if rule is None:
        return []
    where = f"catalogue {system.key}: tenant_isolation"
    lines = []
    if not rule.tables:
        lines.append(f"{where}.tables is empty: list the table ids it confines (a table opts in; none inherits the rule)")
    known = {t.id: t for t in system.tables}
    for table_id in rule.tables:
        if table_id not in known:
            lines.append(f"{where}.tables names {table_id!r}, which is not a table of {system.key}: one of {', '.join(known)}")
            continue
        spec = known[table_id]
        keys = [(spec.id, spec.partition_key), *((f"{spec.id}/{i.name}", i.partition_key) for i in spec.indexes if i.name in rule.indexes)]
        for pattern in rule.patterns:
            match = TENANT_PATTERN.match(pattern)
            if match is None or match["tag"] not in rule.session_tags:
                lines.append(f"{where}.patterns: {pattern!r} is not '<prefix>${{aws:PrincipalTag/<tag>}}' with a tag of session_tags")
                continue
            for name, key in keys:
                bare = key.name == match["tag"]
                if key.type != "S" or (bare and match["prefix"]) or (not bare and not match["prefix"]):
                    lines.append(
                        f"{where}: pattern {pattern!r} can never match {name}'s partition key {key.name} ({key.type}): "
                        + (
                            "a string pattern needs a string key"
                            if key.type != "S"
                            else f"a key named {key.name} holds the bare id, so the pattern must be '${{aws:PrincipalTag/{key.name}}}'"
                            if bare
                            else f"{key.name} holds composed values, so the pattern needs their prefix (e.g. 'USER#${{aws:PrincipalTag/{match['tag']}}}')"
                        )
                        + f"; or leave {spec.id} out of tenant_isolation.tables"
                    )
    return lines


def holding_problems(where: str, table: TableSpec) -> list[str]:
    """What a table holds is one of the known holdings, and decides how much Contributor
    Insights it may have: an accessed-keys report would put sensitive keys in front of anyone
    with cloudwatch:GetInsightRuleReport."""
    lines = []
    for name, holds in (("holds", table.holds), *((f"indexes[{i.name!r}].holds", i.holds) for i in table.indexes)):
        if not isinstance(holds, tuple) or any(h not in HOLDINGS for h in holds):
            lines.append(f"catalogue {where}.{name} = {holds!r} is not allowed: a tuple of {', '.join(HOLDINGS)} (or () for none)")
    if table.insights is not None and table.insights not in INSIGHTS_MODES:
        lines.append(f"catalogue {where}.insights = {table.insights!r} is not allowed: None, {' or '.join(INSIGHTS_MODES)}")
    elif table.insights == "ACCESSED_AND_THROTTLED_KEYS" and table.sensitive_keys:
        lines.append(
            f"catalogue {where}.insights = 'ACCESSED_AND_THROTTLED_KEYS' is not allowed: its keys hold "
            f"{', '.join(sorted(table.sensitive_keys))}, which an accessed-keys report would list; THROTTLED_KEYS at most"
        )
    return lines


def catalogue_problems(systems: Sequence[SystemSpec]) -> list[str]:
    """Mistakes in the table catalogue that CDK or CloudFormation would only report as a
    traceback or a failed deployment: one line each, naming system, table and index."""
    lines: list[str] = []
    for system in systems:
        lines += tenant_problems(system)
        seen_tables: set[str] = set()
        for table in system.tables:
            where = f"{system.key}.{table.id}"
            if table.id in seen_tables:
                lines.append(f"catalogue {where}: table id {table.id!r} is used twice in {system.key}; each table needs its own id")
            seen_tables.add(table.id)
            names = [index.name for index in table.indexes]
            for name in sorted({n for n in names if names.count(n) > 1}):
                lines.append(f"catalogue {where}: index name {name!r} is used {names.count(name)} times; index names are unique per table")
            locals_ = [local.name for local in table.local_indexes]
            for name in sorted({n for n in locals_ if (names + locals_).count(n) > 1}):
                lines.append(
                    f"catalogue {where}: index name {name!r} is used {(names + locals_).count(name)} times; index names are unique per table"
                )
            if table.local_indexes and table.sort_key is None:
                lines.append(
                    f"catalogue {where}: local indexes {', '.join(locals_)} need the table to have a sort key (DynamoDB requires one)"
                )
            if len(table.local_indexes) > MAX_LSIS:
                lines.append(f"catalogue {where}: {len(table.local_indexes)} local secondary indexes; DynamoDB allows {MAX_LSIS} per table")
            for local in table.local_indexes:
                if table.sort_key and local.sort_key == table.sort_key:
                    lines.append(
                        f"catalogue {where}: local index {local.name!r} sorts on the table's own sort key; query the table instead"
                    )
            lines += holding_problems(where, table)
            warm = table.warm_throughput
            if warm is not None:
                for unit in ("read_units_per_second", "write_units_per_second"):
                    value = getattr(warm, unit)
                    if value is not None and not (isinstance(value, int) and value > 0):
                        lines.append(f"catalogue {where}: warm_throughput.{unit} = {value!r}; a whole number > 0, or None")
            if table.table_class not in ("STANDARD", "STANDARD_INFREQUENT_ACCESS"):
                lines.append(f"catalogue {where}: table_class = {table.table_class!r}; STANDARD or STANDARD_INFREQUENT_ACCESS")
            for name, value, allowed in threshold_problems(table.alarm_thresholds, complete=False):
                lines.append(f"catalogue {where}: alarm_thresholds[{name!r}] = {value!r} is not allowed: {allowed}")
            if len(table.indexes) > MAX_GSIS:
                lines.append(f"catalogue {where}: {len(table.indexes)} global secondary indexes; DynamoDB allows {MAX_GSIS} per table")
            types: dict[str, set[str]] = {}
            own = (table.partition_key, table.sort_key)
            for key in own:
                if key:
                    types.setdefault(key.name, set()).add(key.type)
            for index in table.indexes:
                if (index.partition_key, index.sort_key) == own:
                    lines.append(
                        f"catalogue {where}: index {index.name!r} has the table's own keys ({table.partition_key.name}"
                        + (f" + {table.sort_key.name}" if table.sort_key else "")
                        + "); query the table instead, or give the index other keys"
                    )
                for key in (index.partition_key, index.sort_key):
                    if key:
                        types.setdefault(key.name, set()).add(key.type)
            for local in table.local_indexes:
                types.setdefault(local.sort_key.name, set()).add(local.sort_key.type)
            for name, kinds in sorted(types.items()):
                if len(kinds) > 1:
                    lines.append(
                        f"catalogue {where}: attribute {name!r} is a key with types {', '.join(sorted(kinds))}; "
                        "an attribute has one type (S, N or B) in a table and its indexes"
                    )
    return lines

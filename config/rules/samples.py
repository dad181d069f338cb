"""The sample items of samples/<system>.json against the catalogue: every table they name
exists, and every item carries its table's keys, and any index key it has, with the types
the catalogue declares. The local stand-in loads them (tools/local/stand_in.py) and the test
session checks them first (tests/conftest.py), so one bad item is one clear error."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from constructs_lib.specs import Key, SystemSpec, TableSpec

# What a key's type accepts, as JSON reads it.
TYPES = {"S": (str,), "N": (int, Decimal), "B": (str,)}


def _key_problems(where: str, item: object, key: Key, what: str, *, required: bool) -> list[str]:
    if not isinstance(item, dict):
        return [f"{where} is not an item (a JSON object)"]
    if key.name not in item:
        return [f"{where} lacks the {what} {key.name!r} ({key.type})"] if required else []
    value = item[key.name]
    if isinstance(value, bool) or not isinstance(value, TYPES[key.type]):
        return [f"{where} has {key.name} = {value!r}, which is not of the {what}'s type {key.type}"]
    return []


def item_problems(where: str, spec: TableSpec, item: object) -> list[str]:
    lines = []
    for key, what in ((spec.partition_key, "partition key"), (spec.sort_key, "sort key")):
        if key:
            lines += _key_problems(where, item, key, what, required=True)
    index_keys = [(i.name, k) for i in spec.indexes for k in (i.partition_key, i.sort_key) if k]
    index_keys += [(i.name, i.sort_key) for i in spec.local_indexes]
    for name, key in index_keys:
        lines += _key_problems(where, item, key, f"key of index {name}", required=False)
    return lines


def sample_problems(systems: Sequence[SystemSpec], directory: Path) -> list[str]:
    """One line per bad sample file, table or item. A system ships samples/<key>.json, or a
    folder samples/<key>/ read by its own importer (Fusion health's entries), checked there."""
    lines = []
    for system in systems:
        path = directory / f"{system.key}.json"
        if not path.is_file():
            if not (directory / system.key).is_dir():
                lines.append(f"{path}: missing: every system ships sample items for the local stand-in")
            continue
        try:
            data = json.loads(path.read_text(), parse_float=Decimal)
        except ValueError as error:
            lines.append(f"{path}: not JSON: {error}")
            continue
        tables = data.get("tables") if isinstance(data, dict) else None
        if not isinstance(tables, dict):
            lines.append(f'{path}: must be {{"tables": {{"<table id>": [items]}}}}')
            continue
        specs = {spec.id: spec for spec in system.tables}
        for table_id, items in tables.items():
            if table_id not in specs:
                lines.append(f"{path}: tables[{table_id!r}] is not a table of {system.key}: one of {', '.join(specs)}")
                continue
            if not isinstance(items, list):
                lines.append(f"{path}: tables[{table_id!r}] must be a list of items")
                continue
            for i, item in enumerate(items):
                lines += item_problems(f"{path.name}: tables[{table_id!r}][{i}]", specs[table_id], item)
    return lines

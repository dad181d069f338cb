"""The Fusion health transform, pure and without AWS: the seed's entries.json -> entry items,
and entry items -> daily summaries. tools.local.fusion_import writes them to DynamoDB.

The input is the seed's nested shape {"MMDD": {"HHMM": {"Medications": {...}, "Pain": {...},
"Activities": {...}, "o2": "88", "bpr": "129/59", "note": "...", "sleep": "7:39"}}}. Each entry
becomes one `fusion-health-entries` item keyed by date and timestamp, with the two attributes the
GSIs need derived on the way:

- `medication_taken`: the entry's primary medication, i.e. the first one it lists, lower-cased
  so that "Oxycodone" and "oxycodone" share one medication-index partition. No medication: the
  attribute is left out and the entry is simply not in that (sparse) index.
- `max_pain_level`: the highest level in any of its pain readings ("6-7-8" -> 8). No pain
  readings: left out, so the entry is not in pain-level-index.

A pain reading is a level 0-10 or a range of levels, and nothing else: a JSON number 0-10, or a
string holding one level ("5") or levels joined by "-" ("6-7-8", "3 - 5"; spaces around levels
are allowed). Decimals are allowed (decision): a level may have up to two decimal places, so
6.5 and "6.5-7.5" import, as they did before; the seed's own readings are whole numbers. Anything
else rejects the entry: "-3", "7/10", "1e1", "6-7-x", "", "11", "6--7", true, a list. The message
names the date, time, location, the value as written, why, and what is allowed.

An entry that is malformed is reported with its date, time and reason (a Rejected) and left out;
the rest still load.
"""

from __future__ import annotations

import calendar
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

PAIN_RANGE = (0, 10)
PAIN_DECIMALS = 2  # 6.5 and 6.25 are levels, 6.125 is not
PAIN_ALLOWED = "allowed: a level 0-10 such as 7, 6.5 or '7', or levels joined by '-' such as '6-7-8'"
# Entry fields with a fixed shape, by lower-cased name (the seed's JSON capitalises some).
MAP_FIELDS = ("medications", "pain", "activities")
TEXT_FIELDS = ("o2", "bpr", "note", "sleep")
# Written by the import itself; an entry may not bring its own.
DERIVED = ("date", "timestamp", "medication_taken", "max_pain_level")
_LEVEL = r"[0-9]+(?:\.[0-9]+)?"  # ASCII digits only: \d would also take other scripts' digits
_PAIN = re.compile(rf"\s*{_LEVEL}(?:\s*-\s*{_LEVEL})*\s*")
_DATE = re.compile(r"^(\d\d)(\d\d)$")
_TIME = re.compile(r"^([01]\d|2[0-3])[0-5]\d$")


class EntryError(ValueError):
    """One entry cannot be imported; the message says why."""


class ImportFailed(RuntimeError):
    """The import as a whole cannot go on (input unreadable, AWS refused)."""


@dataclass(frozen=True)
class Rejected:
    date: str
    time: str  # "*" when the whole date is unusable
    reason: str

    def __str__(self) -> str:
        return f"rejected {self.date} {self.time}: {self.reason}"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The count with its noun in the right number: "1 entry", "2 entries", "0 summaries"."""
    if count == 1:
        return f"{count} {singular}"
    if plural_form is None:
        consonant_y = singular.endswith("y") and singular[-2:-1] not in tuple("aeiou")
        plural_form = singular[:-1] + "ies" if consonant_y else singular + "s"
    return f"{count} {plural_form}"


# --- transforming


def parse(data: Any) -> tuple[list[dict], list[Rejected]]:
    """Entry items (in date, time order) and the entries that could not be imported."""
    if not isinstance(data, dict):
        raise ImportFailed(f"entries.json must be an object of dates (MMDD) to times (HHMM) to entries, got {type(data).__name__}")
    items, rejected = [], []
    for date in sorted(data):
        try:
            _check_date(date)
            if not isinstance(data[date], dict):
                raise EntryError(f"date {date!r} must map times (HHMM) to entries, got {type(data[date]).__name__}")
        except EntryError as error:
            rejected.append(Rejected(date, "*", str(error)))
            continue
        for time_ in sorted(data[date]):
            try:
                items.append(entry_item(date, time_, data[date][time_]))
            except EntryError as error:
                rejected.append(Rejected(date, time_, str(error)))
    return items, rejected


def entry_item(date: str, time_: str, entry: Any) -> dict:
    """The DynamoDB item (plain Python values) for one entry."""
    if not _TIME.match(time_):
        raise EntryError(f"time {time_!r} is not HHMM (0000-2359)")
    if not isinstance(entry, dict):
        raise EntryError(f"entry must be an object, got {type(entry).__name__}")
    item: dict[str, Any] = {"date": date, "timestamp": time_}
    for field, value in entry.items():
        name = field.lower() if field.lower() in MAP_FIELDS + TEXT_FIELDS else field
        if name in item:
            raise EntryError(f"field {field!r} given twice (names are not case-sensitive)")
        if name in DERIVED:
            raise EntryError(f"field {field!r} is set by the import; the entry may not contain it")
        if name in MAP_FIELDS:
            item[name] = _map_field(field, value, readings_checked_later=name == "pain")
        elif name in TEXT_FIELDS:
            if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
                raise EntryError(f"{field} must be a string or number, got {value!r}")
            item[name] = str(value)  # the seed stores o2, bpr and sleep as strings
        else:
            item[name] = value  # other fields are carried over unchanged
    medications = item.get("medications", {})
    primary = next((name.strip().lower() for name in medications if name.strip()), None)
    if primary:
        item["medication_taken"] = primary
    pain = max_pain_level(item.get("pain", {}))
    if pain is not None:
        item["max_pain_level"] = pain
    return item


def max_pain_level(pain: dict[str, Any]) -> int | Decimal | None:
    """The highest level in any pain reading: "6-7-8" -> 8, "5" -> 5, 6.5 -> 6.5; None without
    readings. A reading that is not a level or a range of levels 0-10 is an EntryError."""
    levels = [level for location, reading in pain.items() for level in pain_levels(location, reading)]
    if not levels:
        return None
    top = max(levels)
    return int(top) if top == top.to_integral_value() else top.normalize()


def pain_levels(location: str, reading: Any) -> list[Decimal]:
    """The levels of one pain reading ("6-7-8" -> [6, 7, 8]), or an EntryError that names the
    location, the value as written, why it is not a reading, and what is allowed."""

    def refuse(why: str) -> EntryError:
        return EntryError(f"pain {location!r} is {_shown(reading)}: {why} ({PAIN_ALLOWED})")

    if isinstance(reading, bool):
        raise refuse("a boolean, not a number")
    if isinstance(reading, str):
        if not reading.strip():
            raise refuse("empty")
        if not _PAIN.fullmatch(reading):
            if reading.strip().startswith("-"):
                raise refuse("starts with '-'; levels are not negative")
            raise refuse("not a level or levels joined by '-'")
        levels = [Decimal(part.strip()) for part in reading.split("-")]
    elif isinstance(reading, (int, Decimal)):
        levels = [Decimal(reading)]
        if not levels[0].is_finite():
            raise refuse("not a finite number")
    elif isinstance(reading, float):  # JSON's NaN and Infinity; load_json reads decimals as Decimal
        raise refuse("a binary float; DynamoDB takes Decimal" if math.isfinite(reading) else "not a finite number")
    else:
        raise refuse("not a number or a string")
    low, high = PAIN_RANGE
    for level in levels:
        if not low <= level <= high:
            raise refuse(f"level {level} is outside {low}-{high}")
        if level != level.quantize(Decimal(1).scaleb(-PAIN_DECIMALS)):
            raise refuse(f"level {level} has more than {plural(PAIN_DECIMALS, 'decimal place')}")
    return levels


def _shown(value: Any) -> str:
    """A value as the entry gave it: strings quoted, JSON's true/false/null, numbers as written."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _map_field(field: str, value: Any, *, readings_checked_later: bool = False) -> dict:
    if not isinstance(value, dict):
        raise EntryError(f"{field} must be an object, got {type(value).__name__}")
    if not readings_checked_later:  # pain readings get their own, stricter check
        for key, reading in value.items():
            if isinstance(reading, bool) or not isinstance(reading, (str, int, Decimal)):
                raise EntryError(f"{field} {key!r} must be a string or number, got {reading!r}")
    return dict(value)


def _check_date(date: str) -> None:
    match = _DATE.match(date)
    # Leap year: the seed's dates carry no year, and 0229 must stay importable.
    if not match or not 1 <= int(match[1]) <= 12 or not 1 <= int(match[2]) <= calendar.monthrange(2024, int(match[1]))[1]:
        raise EntryError(f"date {date!r} is not a valid MMDD date")


def daily_summaries(
    items: list[dict], rejected: list[Rejected], *, previously_rejected: Mapping[str, Iterable[str]] | None = None
) -> list[dict]:
    """One summary per date that has entries in `items`, computed from those entries alone.

    Pure: `items` are entry items as plain Python values, whether just parsed or read back from
    the table (the import passes every stored entry of each date it touched). Rejected times of
    a date are those in `rejected` plus `previously_rejected[date]` (what the stored summary
    lists), minus the times that have an entry in `items`."""
    by_date: dict[str, list[dict]] = {}
    for item in items:
        by_date.setdefault(item["date"], []).append(item)
    rejected_times: dict[str, set[str]] = {}
    for r in rejected:
        if r.time != "*":  # a whole unusable date has no entries, hence no summary
            rejected_times.setdefault(r.date, set()).add(r.time)
    for date, times in (previously_rejected or {}).items():
        rejected_times.setdefault(date, set()).update(times)
    summaries = []
    for date, entries in sorted(by_date.items()):
        entries = sorted(entries, key=lambda e: e["timestamp"])
        times = [e["timestamp"] for e in entries]
        summary: dict[str, Any] = {
            "date": date,
            "entry_count": len(entries),
            "first_timestamp": times[0],
            "last_timestamp": times[-1],
            "medications": dict(Counter(name.strip().lower() for e in entries for name in e.get("medications", {}) if name.strip())),
        }
        pains = [e["max_pain_level"] for e in entries if "max_pain_level" in e]
        if pains:
            summary["max_pain_level"] = max(pains)
            summary["average_pain_level"] = (sum((Decimal(str(p)) for p in pains), Decimal(0)) / len(pains)).quantize(Decimal("0.1"))
        o2 = [int(str(e["o2"])) for e in entries if str(e.get("o2", "")).isdigit()]
        if o2:
            summary["lowest_o2"] = min(o2)
        sleep = [e["sleep"] for e in entries if e.get("sleep")]
        if sleep:
            summary["sleep"] = sleep[0]
        missing = sorted(rejected_times.get(date, set()) - set(times))
        if missing:
            summary["rejected_entries"] = len(missing)
            summary["rejected_timestamps"] = missing
        summaries.append(summary)
    return summaries


# --- reading the file


def load_json(path: Path) -> Any:
    """The JSON document at `path`, numbers with a fraction as Decimal; ImportFailed if unreadable."""
    try:
        # Decimal, because boto3 refuses floats (they would lose precision).
        return json.loads(path.read_text(), parse_float=Decimal)
    except FileNotFoundError:
        raise ImportFailed(f"{path} not found") from None
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{path} is not valid JSON: {error}") from None

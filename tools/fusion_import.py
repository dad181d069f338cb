"""Import a Fusion health `entries.json` into DynamoDB: the seed's "Migration from JSON".

    .venv/bin/python tools/fusion_import.py samples/fusion-health/entries.json --env dev \\
        --endpoint-url http://127.0.0.1:8000 --region us-east-1 [--dry-run]

The input is the seed's nested shape {"MMDD": {"HHMM": {"Medications": {...}, "Pain": {...},
"Activities": {...}, "o2": "88", "bpr": "129/59", "note": "...", "sleep": "7:39"}}}. Each entry
becomes one `fusion-health-entries` item keyed by date and timestamp, with the two attributes the
GSIs need derived on the way:

- `medication_taken`: the entry's primary medication, i.e. the first one it lists, lower-cased
  so that "Oxycodone" and "oxycodone" share one medication-index partition. No medication: the
  attribute is left out and the entry is simply not in that (sparse) index.
- `max_pain_level`: the highest number in any of its pain strings ("6-7-8" -> 8). No pain
  readings: left out, so the entry is not in pain-level-index.

Every date also gets a `fusion-daily-summaries` item aggregated from its accepted entries.

Items are written with PutItem semantics, so running the import again with the same file gives
the same tables. An entry that is malformed is reported with its date, time and reason and left
out; the rest still load. Exit code: 0 all loaded, 1 some entries rejected, 2 nothing usable
(unreadable file, wrong shape, AWS error).
"""

from __future__ import annotations

import argparse
import calendar
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # config.catalogue, when run as a script

BATCH_SIZE = 25  # BatchWriteItem's limit
PAIN_RANGE = (0, 10)
# Entry fields with a fixed shape, by lower-cased name (the seed's JSON capitalises some).
MAP_FIELDS = ("medications", "pain", "activities")
TEXT_FIELDS = ("o2", "bpr", "note", "sleep")
# Written by the import itself; an entry may not bring its own.
DERIVED = ("date", "timestamp", "medication_taken", "max_pain_level")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
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
            item[name] = _map_field(field, value)
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
    """The highest number in any pain reading: "6-7-8" -> 8, "5" -> 5, 6.5 -> 6.5."""
    levels = []
    for location, reading in pain.items():
        numbers = [Decimal(str(reading))] if isinstance(reading, (int, Decimal)) else [Decimal(n) for n in _NUMBER.findall(reading)]
        if not numbers:
            raise EntryError(f"pain {location!r} has no level: {reading!r} (expected numbers like '6-7-8')")
        low, high = PAIN_RANGE
        outside = [n for n in numbers if not low <= n <= high]
        if outside:
            raise EntryError(f"pain {location!r} level {outside[0]} is outside {low}-{high}: {reading!r}")
        levels.extend(numbers)
    if not levels:
        return None
    top = max(levels)
    return int(top) if top == top.to_integral_value() else top


def _map_field(field: str, value: Any) -> dict:
    if not isinstance(value, dict):
        raise EntryError(f"{field} must be an object, got {type(value).__name__}")
    for key, reading in value.items():
        if isinstance(reading, bool) or not isinstance(reading, (str, int, Decimal)):
            raise EntryError(f"{field} {key!r} must be a string or number, got {reading!r}")
    return dict(value)


def _check_date(date: str) -> None:
    match = _DATE.match(date)
    # Leap year: the seed's dates carry no year, and 0229 must stay importable.
    if not match or not 1 <= int(match[1]) <= 12 or not 1 <= int(match[2]) <= calendar.monthrange(2024, int(match[1]))[1]:
        raise EntryError(f"date {date!r} is not a valid MMDD date")


def daily_summaries(items: list[dict], rejected: list[Rejected]) -> list[dict]:
    """One summary per date with accepted entries, from those entries only."""
    by_date: dict[str, list[dict]] = {}
    for item in items:
        by_date.setdefault(item["date"], []).append(item)
    rejected_count = Counter(r.date for r in rejected)
    summaries = []
    for date, entries in sorted(by_date.items()):
        times = sorted(e["timestamp"] for e in entries)
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
            summary["average_pain_level"] = (sum(Decimal(str(p)) for p in pains) / len(pains)).quantize(Decimal("0.1"))
        o2 = [int(e["o2"]) for e in entries if e.get("o2", "").isdigit()]
        if o2:
            summary["lowest_o2"] = min(o2)
        sleep = [e["sleep"] for e in entries if e.get("sleep")]
        if sleep:
            summary["sleep"] = sleep[0]
        if rejected_count[date]:
            summary["rejected_entries"] = rejected_count[date]
        summaries.append(summary)
    return summaries


# --- writing


def batch_write(client, table: str, items: list[dict], *, max_attempts: int = 8, sleep: Callable[[float], None] = time.sleep) -> None:
    """Put `items` in batches of 25, retrying what DynamoDB leaves unprocessed (throttling)
    with exponential backoff; fail loudly if some items are still unprocessed after that."""
    from boto3.dynamodb.types import TypeSerializer
    from botocore.exceptions import ClientError

    serialize = TypeSerializer().serialize
    for start in range(0, len(items), BATCH_SIZE):
        pending = {table: [{"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}} for item in items[start : start + BATCH_SIZE]]}
        for attempt in range(1, max_attempts + 1):
            try:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            except ClientError as error:
                raise ImportFailed(f"writing to {table} failed after {start} of {len(items)} items: {error}") from None
            if not pending:
                break
            if attempt == max_attempts:
                left = sum(len(requests) for requests in pending.values())
                raise ImportFailed(f"{left} items for {table} still unprocessed after {max_attempts} attempts; nothing is lost, run the import again")
            sleep(min(0.05 * 2**attempt, 5.0))


def load_json(path: Path) -> Any:
    try:
        # Decimal, because boto3 refuses floats (they would lose precision).
        return json.loads(path.read_text(), parse_float=Decimal)
    except FileNotFoundError:
        raise ImportFailed(f"{path} not found") from None
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{path} is not valid JSON: {error}") from None


# --- command line


def default_tables(env: str) -> tuple[str, str]:
    from config.catalogue import FUSION_HEALTH

    return FUSION_HEALTH.table("Entries").name.format(env=env), FUSION_HEALTH.table("DailySummaries").name.format(env=env)


def main(argv: list[str] | None = None) -> int:
    from config.environments import ENVIRONMENTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog="Exit code: 0 all entries loaded, 1 some entries rejected (the rest loaded), 2 nothing usable.")
    parser.add_argument("entries", type=Path, help="entries.json in the seed's date -> time -> entry shape")
    parser.add_argument("--env", default="dev", choices=sorted(ENVIRONMENTS), help="environment whose table names to use (default dev)")
    parser.add_argument("--entries-table", help="entries table name (default fusion-health-entries-ENV)")
    parser.add_argument("--summaries-table", help="daily summaries table name (default fusion-daily-summaries-ENV)")
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 for the local stand-in (default: AWS settings)")
    parser.add_argument("--region", help="AWS region (default: AWS settings)")
    parser.add_argument("--profile", help="AWS profile (default: AWS settings)")
    parser.add_argument("--dry-run", action="store_true", help="validate and show what would be written; no AWS calls")
    args = parser.parse_args(argv)
    entries_table, summaries_table = default_tables(args.env)
    entries_table = args.entries_table or entries_table
    summaries_table = args.summaries_table or summaries_table
    try:
        items, rejected = parse(load_json(args.entries))
        summaries = daily_summaries(items, rejected)
        for reason in rejected:
            print(reason, file=sys.stderr)
        if args.dry_run:
            for summary in summaries:
                meds = ", ".join(summary["medications"]) or "none"
                print(f"{summary['date']}: {summary['entry_count']} entries, max pain {summary.get('max_pain_level', '-')}, medications {meds}")
            print(f"dry run: would write {len(items)} entries to {entries_table} and {len(summaries)} summaries to {summaries_table}; {len(rejected)} rejected")
        else:
            client = _client(args)
            batch_write(client, entries_table, items)
            batch_write(client, summaries_table, summaries)
            print(f"wrote {len(items)} entries to {entries_table} and {len(summaries)} summaries to {summaries_table}; {len(rejected)} rejected")
    except ImportFailed as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # botocore's errors: no credentials, no such table, access denied
        if type(error).__module__.startswith("botocore"):
            print(f"error: {error}", file=sys.stderr)
            return 2
        raise
    return 1 if rejected else 0


def _client(args):
    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise ImportFailed("no AWS region configured: pass --region or set AWS_REGION")
    return session.client("dynamodb", endpoint_url=args.endpoint_url)


if __name__ == "__main__":
    sys.exit(main())

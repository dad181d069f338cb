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
- `max_pain_level`: the highest level in any of its pain readings ("6-7-8" -> 8). No pain
  readings: left out, so the entry is not in pain-level-index.

A pain reading is a level 0-10 or a range of levels, and nothing else: a JSON number 0-10, or a
string holding one level ("5") or levels joined by "-" ("6-7-8", "3 - 5"; spaces around levels
are allowed). Decimals are allowed (decision): a level may have up to two decimal places, so
6.5 and "6.5-7.5" import, as they did before; the seed's own readings are whole numbers. Anything
else rejects the entry: "-3", "7/10", "1e1", "6-7-x", "", "11", "6--7", true, a list. The message
names the date, time, location, the value as written, why, and what is allowed.

Daily summaries (`fusion-daily-summaries`) are rebuilt from what is stored, not from the file:
after the entries are written, every date the file touches is read back from the entries table
(Query on `date`, consistent read, every page) and its summary is computed from all stored
entries of that date, those just written and those of earlier imports. Importing a second file
for a day already loaded therefore adds to that day's summary instead of replacing it.

`rejected_entries` (decision): the number of times of that date that an import rejected and for
which no entry is stored; the times themselves are kept in the summary's `rejected_timestamps`.
Each import adds its own rejections to those the summary already lists and drops every time that
now has a stored entry. So re-importing the same file leaves the count as it was (a count of this
import's rejections alone would be lost by the next file for that day, and adding counts up
would double it on every re-run), and fixing an entry and importing it again clears it. An entry
rejected while an earlier version of it is stored is not counted: the summary describes the table.
`--dry-run` makes no AWS call, so its summaries are computed from the file alone.

Imports of PROGRESS_THRESHOLD (500) items or more report progress on stderr, at most about once
a second and once more at the end: `entries: 500 of 12000 written (850 items/s)`. The final
summary line stays on stdout.

Items are written with PutItem semantics, so running the import again with the same file gives
the same tables. An entry that is malformed is reported with its date, time and reason and left
out; the rest still load. Exit code: 0 all loaded, 1 some entries rejected, 2 nothing usable
(unreadable file, wrong shape, AWS error).
"""

from __future__ import annotations

import argparse
import calendar
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable, TextIO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # config.catalogue, when run as a script

BATCH_SIZE = 25  # BatchWriteItem's limit
PROGRESS_THRESHOLD = 500  # items in one table; fewer are written without progress lines
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


def daily_summaries(items: list[dict], rejected: list[Rejected], *, previously_rejected: dict[str, Iterable[str]] | None = None) -> list[dict]:
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
            summary["average_pain_level"] = (sum(Decimal(str(p)) for p in pains) / len(pains)).quantize(Decimal("0.1"))
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


# --- progress


class Progress:
    """`LABEL: DONE of TOTAL written (RATE items/s)` on `stream` at most once per `interval`
    seconds while items are written, and a final line with the elapsed time. `clock` and
    `stream` are injectable, so tests need no real time."""

    def __init__(self, label: str, total: int, *, stream: TextIO, clock: Callable[[], float] = time.monotonic, interval: float = 1.0) -> None:
        self.label, self.total, self.stream, self.clock, self.interval = label, total, stream, clock, interval
        self.done = 0
        self.start = self.last = clock()

    def advance(self, count: int) -> None:
        self.done += count
        now = self.clock()
        if self.done < self.total and now - self.last >= self.interval:  # the last one is finish()'s
            self.last = now
            self._say(f"{self.label}: {self.done} of {self.total} written ({self._rate(now)})")

    def finish(self) -> None:
        now = self.clock()
        self._say(f"{self.label}: {self.done} of {self.total} written in {now - self.start:.1f} s ({self._rate(now)})")

    def _rate(self, now: float) -> str:
        elapsed = now - self.start
        if elapsed <= 0:
            return "rate not measurable yet"
        rate = self.done / elapsed
        return f"{rate:.0f} items/s" if rate >= 10 else f"{rate:.1f} items/s"

    def _say(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def progress_for(label: str, total: int, *, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic, threshold: int = PROGRESS_THRESHOLD) -> Progress | None:
    """A Progress for writing `total` items, or None when there are too few to bother."""
    if total < threshold:
        return None
    return Progress(label, total, stream=stream or sys.stderr, clock=clock)


# --- writing


def batch_write(client, table: str, items: list[dict], *, max_attempts: int = 8, sleep: Callable[[float], None] = time.sleep, progress: Progress | None = None) -> None:
    """Put `items` in batches of 25, retrying what DynamoDB leaves unprocessed (throttling)
    with exponential backoff; fail loudly if some items are still unprocessed after that.
    `progress`, if given, is advanced by every item DynamoDB accepts and finished at the end."""
    from boto3.dynamodb.types import TypeSerializer
    from botocore.exceptions import ClientError

    serialize = TypeSerializer().serialize
    written = 0
    for start in range(0, len(items), BATCH_SIZE):
        pending = {table: [{"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}} for item in items[start : start + BATCH_SIZE]]}
        for attempt in range(1, max_attempts + 1):
            sent = _requests(pending)
            try:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            except ClientError as error:
                raise ImportFailed(f"writing to {table} failed after {written} of {plural(len(items), 'item')}: {error}") from None
            written += sent - _requests(pending)
            if progress:
                progress.advance(sent - _requests(pending))
            if not pending:
                break
            if attempt == max_attempts:
                left = _requests(pending)
                raise ImportFailed(f"{plural(left, 'item')} for {table} still unprocessed after {plural(max_attempts, 'attempt')}; nothing is lost, run the import again")
            sleep(min(0.05 * 2**attempt, 5.0))
    if progress:
        progress.finish()


def _requests(request_items: dict) -> int:
    return sum(len(requests) for requests in request_items.values())


def stored_entries(client, table: str, date: str, *, page_size: int | None = None) -> list[dict]:
    """Every entry of `date` in the entries table, as plain Python values: one Query on the
    partition key, consistent read (so entries written a moment ago are there), every page."""
    from boto3.dynamodb.types import TypeDeserializer
    from botocore.exceptions import ClientError

    deserialize = TypeDeserializer().deserialize
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="#date = :date",
        ExpressionAttributeNames={"#date": "date"},
        ExpressionAttributeValues={":date": {"S": date}},
        ConsistentRead=True,
        PaginationConfig={"PageSize": page_size} if page_size else {},
    )
    try:
        return [{name: deserialize(value) for name, value in item.items()} for page in pages for item in page["Items"]]
    except ClientError as error:
        raise ImportFailed(f"reading {date}'s entries back from {table} failed: {error}") from None


def stored_rejections(client, table: str, date: str) -> list[str]:
    """The rejected times that `date`'s stored summary lists (none without a summary)."""
    from boto3.dynamodb.types import TypeDeserializer
    from botocore.exceptions import ClientError

    try:
        item = client.get_item(TableName=table, Key={"date": {"S": date}}, ConsistentRead=True, ProjectionExpression="rejected_timestamps").get("Item", {})
    except ClientError as error:
        raise ImportFailed(f"reading {date}'s summary from {table} failed: {error}") from None
    times = TypeDeserializer().deserialize(item["rejected_timestamps"]) if "rejected_timestamps" in item else []
    return sorted(t for t in times if isinstance(t, str)) if isinstance(times, (list, set)) else []


def import_entries(client, entries_table: str, summaries_table: str, items: list[dict], rejected: list[Rejected], *, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic, page_size: int | None = None) -> list[dict]:
    """Write the entries, then rebuild the summary of every date this import touched from all
    stored entries of that date, and write those summaries; the summaries written."""
    batch_write(client, entries_table, items, progress=progress_for("entries", len(items), stream=stream, clock=clock))
    dates = sorted({item["date"] for item in items} | {r.date for r in rejected if r.time != "*"})
    stored: list[dict] = []
    earlier: dict[str, list[str]] = {}
    for date in dates:
        stored.extend(stored_entries(client, entries_table, date, page_size=page_size))
        earlier[date] = stored_rejections(client, summaries_table, date)
    summaries = daily_summaries(stored, rejected, previously_rejected=earlier)
    batch_write(client, summaries_table, summaries, progress=progress_for("summaries", len(summaries), stream=stream, clock=clock))
    return summaries


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
    parser.add_argument("--dry-run", action="store_true", help="validate and show what would be written; no AWS calls, so summaries come from the file alone")
    args = parser.parse_args(argv)
    entries_table, summaries_table = default_tables(args.env)
    entries_table = args.entries_table or entries_table
    summaries_table = args.summaries_table or summaries_table
    try:
        items, rejected = parse(load_json(args.entries))
        for reason in rejected:
            print(reason, file=sys.stderr)
        if args.dry_run:
            summaries = daily_summaries(items, rejected)
            for summary in summaries:
                meds = ", ".join(summary["medications"]) or "none"
                extra = f", {summary['rejected_entries']} rejected" if summary.get("rejected_entries") else ""
                print(f"{summary['date']}: {plural(summary['entry_count'], 'entry')}, max pain {summary.get('max_pain_level', '-')}, medications {meds}{extra}")
            print(
                f"dry run: would write {plural(len(items), 'entry')} to {entries_table} and {plural(len(summaries), 'summary')} to {summaries_table}; {len(rejected)} rejected. "
                "No AWS calls, so these summaries are computed from this file alone; the import recomputes them from every stored entry of each date."
            )
        else:
            summaries = import_entries(_client(args), entries_table, summaries_table, items, rejected)
            print(f"wrote {plural(len(items), 'entry')} to {entries_table} and {plural(len(summaries), 'summary')} to {summaries_table}; {len(rejected)} rejected")
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

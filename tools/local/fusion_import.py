"""Import a Fusion health `entries.json` into DynamoDB: the seed's "Migration from JSON".

    .venv/bin/python -m tools fusion-import samples/fusion-health/entries.json --env dev \\
        --endpoint-url http://127.0.0.1:8000 --region us-east-1 [--dry-run]

The transform (entries -> items with `medication_taken` and `max_pain_level`, which pain readings
are accepted, daily summaries) is tools.local.fusion_entries, pure and without AWS; its names are
re-exported here. This module writes the items and summaries and is the command line.

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
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

# The transform, re-exported: tests and the stand-in use them from here.
from tools.local.fusion_entries import (  # noqa: F401
    DERIVED,
    MAP_FIELDS,
    PAIN_ALLOWED,
    PAIN_DECIMALS,
    PAIN_RANGE,
    TEXT_FIELDS,
    EntryError,
    ImportFailed,
    Rejected,
    daily_summaries,
    entry_item,
    load_json,
    max_pain_level,
    pain_levels,
    parse,
    plural,
)

BATCH_SIZE = 25  # BatchWriteItem's limit
PROGRESS_THRESHOLD = 500  # items in one table; fewer are written without progress lines


# --- progress


class Progress:
    """`LABEL: DONE of TOTAL written (RATE items/s)` on `stream` at most once per `interval`
    seconds while items are written, and a final line with the elapsed time. `clock` and
    `stream` are injectable, so tests need no real time."""

    def __init__(
        self, label: str, total: int, *, stream: TextIO, clock: Callable[[], float] = time.monotonic, interval: float = 1.0
    ) -> None:
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


def progress_for(
    label: str,
    total: int,
    *,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    threshold: int = PROGRESS_THRESHOLD,
) -> Progress | None:
    """A Progress for writing `total` items, or None when there are too few to bother."""
    if total < threshold:
        return None
    return Progress(label, total, stream=stream or sys.stderr, clock=clock)


# --- writing


def batch_write(
    client,
    table: str,
    items: list[dict],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], None] = time.sleep,
    progress: Progress | None = None,
) -> None:
    """Put `items` in batches of 25, retrying what DynamoDB leaves unprocessed (throttling)
    with exponential backoff; fail loudly if some items are still unprocessed after that.
    `progress`, if given, is advanced by every item DynamoDB accepts and finished at the end."""
    from boto3.dynamodb.types import TypeSerializer
    from botocore.exceptions import ClientError

    serialize = TypeSerializer().serialize
    written = 0
    for start in range(0, len(items), BATCH_SIZE):
        pending = {
            table: [{"PutRequest": {"Item": {k: serialize(v) for k, v in item.items()}}} for item in items[start : start + BATCH_SIZE]]
        }
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
                raise ImportFailed(
                    f"{plural(left, 'item')} for {table} still unprocessed after {plural(max_attempts, 'attempt')}; nothing is lost, run the import again"
                )
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
        item = client.get_item(
            TableName=table, Key={"date": {"S": date}}, ConsistentRead=True, ProjectionExpression="rejected_timestamps"
        ).get("Item", {})
    except ClientError as error:
        raise ImportFailed(f"reading {date}'s summary from {table} failed: {error}") from None
    times = TypeDeserializer().deserialize(item["rejected_timestamps"]) if "rejected_timestamps" in item else []
    return sorted(t for t in times if isinstance(t, str)) if isinstance(times, (list, set)) else []


def import_entries(
    client,
    entries_table: str,
    summaries_table: str,
    items: list[dict],
    rejected: list[Rejected],
    *,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    page_size: int | None = None,
) -> list[dict]:
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


# --- command line


def default_tables(env: str) -> tuple[str, str]:
    from config.catalogue import FUSION_HEALTH

    return FUSION_HEALTH.table("Entries").name.format(env=env), FUSION_HEALTH.table("DailySummaries").name.format(env=env)


def main(argv: list[str] | None = None) -> int:
    from config.environments import ENVIRONMENTS

    parser = argparse.ArgumentParser(
        prog="python -m tools fusion-import",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Exit code: 0 all entries loaded, 1 some entries rejected (the rest loaded), 2 nothing usable.",
    )
    parser.add_argument("entries", type=Path, help="entries.json in the seed's date -> time -> entry shape")
    parser.add_argument("--env", default="dev", choices=sorted(ENVIRONMENTS), help="environment whose table names to use (default dev)")
    parser.add_argument("--entries-table", help="entries table name (default fusion-health-entries-ENV)")
    parser.add_argument("--summaries-table", help="daily summaries table name (default fusion-daily-summaries-ENV)")
    parser.add_argument(
        "--endpoint-url", help="DynamoDB endpoint, e.g. http://127.0.0.1:8000 for the local stand-in (default: AWS settings)"
    )
    parser.add_argument("--region", help="AWS region (default: AWS settings)")
    parser.add_argument("--profile", help="AWS profile (default: AWS settings)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate and show what would be written; no AWS calls, so summaries come from the file alone",
    )
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
                print(
                    f"{summary['date']}: {plural(summary['entry_count'], 'entry')}, max pain {summary.get('max_pain_level', '-')}, medications {meds}{extra}"
                )
            print(
                f"dry run: would write {plural(len(items), 'entry')} to {entries_table} and {plural(len(summaries), 'summary')} to {summaries_table}; {len(rejected)} rejected. "
                "No AWS calls, so these summaries are computed from this file alone; the import recomputes them from every stored entry of each date."
            )
        else:
            summaries = import_entries(_client(args), entries_table, summaries_table, items, rejected)
            print(
                f"wrote {plural(len(items), 'entry')} to {entries_table} and {plural(len(summaries), 'summary')} to {summaries_table}; {len(rejected)} rejected"
            )
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

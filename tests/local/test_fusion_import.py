"""tools/fusion_import.py: the transform on its own, batching with retries, and the command
against the local stand-in (in a region of its own, so the dev sample tables stay untouched)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Key

from tests.local.helpers import ROOT, SAMPLES, aws_session, in_region, recreate

import fusion_import  # noqa: E402  (tools/ is on sys.path via tests.local.helpers)
from fusion_import import EntryError, ImportFailed, Rejected

REGION = "us-west-2"
ENTRIES, SUMMARIES = "fusion-health-entries-dev", "fusion-daily-summaries-dev"
SAMPLE = SAMPLES / "fusion-health" / "entries.json"


# --- the transform


@pytest.mark.parametrize(
    "pain, expected",
    [
        ({"back": "6-7-8"}, 8),
        ({"back": "6-7", "quads": "8", "glutes": "5"}, 8),
        ({"back": " 3 - 4 "}, 4),
        ({"back": 7}, 7),
        ({"back": "6.5-7.5"}, Decimal("7.5")),
        ({"back": "0"}, 0),
        ({}, None),
    ],
)
def test_max_pain_level_is_the_highest_number_in_the_pain_strings(pain, expected):
    assert fusion_import.max_pain_level(pain) == expected


@pytest.mark.parametrize(
    "pain, message",
    [({"back": "bad"}, "pain 'back' has no level: 'bad'"), ({"back": "6-11"}, "pain 'back' level 11 is outside 0-10")],
)
def test_a_pain_reading_without_a_valid_level_is_an_error(pain, message):
    with pytest.raises(EntryError, match=message):
        fusion_import.max_pain_level(pain)


def test_the_seeds_example_entry_becomes_the_seeds_item():
    entry = {
        "Medications": {"oxycodone": "5mg"},
        "Pain": {"back": "6-7-8"},
        "Activities": {},
        "o2": "88",
        "bpr": "129/59",
        "note": "Pain is focused...",
    }
    assert fusion_import.entry_item("0523", "1300", entry) == {
        "date": "0523",
        "timestamp": "1300",
        "medications": {"oxycodone": "5mg"},
        "pain": {"back": "6-7-8"},
        "activities": {},
        "o2": "88",
        "bpr": "129/59",
        "note": "Pain is focused...",
        "medication_taken": "oxycodone",
        "max_pain_level": 8,
    }


def test_primary_medication_is_the_first_listed_lower_cased_and_absent_without_medications():
    item = fusion_import.entry_item("0523", "1300", {"Medications": {"Oxycodone": "5mg", "journavx": "100mg"}})
    assert item["medication_taken"] == "oxycodone"
    bare = fusion_import.entry_item("0523", "1300", {"Medications": {}, "Pain": {}, "o2": 95})
    assert "medication_taken" not in bare and "max_pain_level" not in bare  # sparse: not in either index
    assert bare["o2"] == "95"  # stored as a string, like the seed's item


def test_malformed_entries_are_rejected_with_date_time_and_reason_and_the_rest_kept():
    data = {
        "0523": {
            "1300": {"Pain": {"back": "6-7-8"}},
            "2460": {"Pain": {"back": "5"}},
            "1400": ["not", "an", "object"],
            "1500": {"Pain": {"back": "ouch"}},
            "1600": {"Pain": "8"},
            "1700": {"Medications": {"oxycodone": "5mg"}, "max_pain_level": 3},
            "1800": {"Pain": {"back": "7"}, "pain": {"back": "8"}},
        },
        "1345": {"0900": {}},
        "0230": {"0900": {}},
        "0524": "not a day",
    }
    items, rejected = fusion_import.parse(data)
    assert [(i["date"], i["timestamp"]) for i in items] == [("0523", "1300")]
    assert rejected == [
        Rejected("0230", "*", "date '0230' is not a valid MMDD date"),
        Rejected("0523", "1400", "entry must be an object, got list"),
        Rejected("0523", "1500", "pain 'back' has no level: 'ouch' (expected numbers like '6-7-8')"),
        Rejected("0523", "1600", "Pain must be an object, got str"),
        Rejected("0523", "1700", "field 'max_pain_level' is set by the import; the entry may not contain it"),
        Rejected("0523", "1800", "field 'pain' given twice (names are not case-sensitive)"),
        Rejected("0523", "2460", "time '2460' is not HHMM (0000-2359)"),
        Rejected("0524", "*", "date '0524' must map times (HHMM) to entries, got str"),
        Rejected("1345", "*", "date '1345' is not a valid MMDD date"),
    ]
    assert str(rejected[2]) == "rejected 0523 1500: pain 'back' has no level: 'ouch' (expected numbers like '6-7-8')"


def test_a_leap_day_is_a_valid_date():
    items, rejected = fusion_import.parse({"0229": {"0800": {}}})
    assert rejected == [] and items[0]["date"] == "0229"


def test_input_that_is_not_the_nested_shape_is_refused():
    with pytest.raises(ImportFailed, match="must be an object of dates"):
        fusion_import.parse([{"date": "0523"}])


def test_daily_summaries_aggregate_the_accepted_entries_of_each_date():
    items, rejected = fusion_import.parse(fusion_import.load_json(SAMPLE))
    summaries = {s["date"]: s for s in fusion_import.daily_summaries(items, rejected + [Rejected("0523", "2300", "x")])}
    assert summaries["0523"] == {
        "date": "0523",
        "entry_count": 3,
        "first_timestamp": "0730",
        "last_timestamp": "1815",
        "medications": {"acetaminophen": 1, "oxycodone": 2, "journavx": 1},
        "max_pain_level": 8,
        "average_pain_level": Decimal("7.0"),
        "lowest_o2": 88,
        "sleep": "7:39",
        "rejected_entries": 1,
    }
    assert summaries["0522"]["average_pain_level"] == Decimal("6.0") and "rejected_entries" not in summaries["0522"]


# --- batching


class FlakyClient:
    """A DynamoDB client that leaves items unprocessed for the first `flaky` calls."""

    def __init__(self, flaky: int) -> None:
        self.flaky = flaky
        self.calls: list[int] = []

    def batch_write_item(self, RequestItems):
        requests = RequestItems["t"]
        self.calls.append(len(requests))
        if len(self.calls) <= self.flaky:
            return {"UnprocessedItems": {"t": requests[1:]}}  # one got through
        return {"UnprocessedItems": {}}


def test_batch_write_sends_batches_of_25_and_retries_unprocessed_items():
    client, sleeps = FlakyClient(flaky=2), []
    fusion_import.batch_write(client, "t", [{"date": f"{i:04d}"} for i in range(30)], sleep=sleeps.append)
    assert client.calls == [25, 24, 23, 5]
    assert sleeps == [0.1, 0.2]  # exponential backoff


def test_batch_write_gives_up_with_a_clear_error_when_items_stay_unprocessed():
    client = FlakyClient(flaky=99)
    with pytest.raises(ImportFailed, match="22 items for t still unprocessed after 3 attempts"):
        fusion_import.batch_write(client, "t", [{"date": f"{i:04d}"} for i in range(25)], max_attempts=3, sleep=lambda _s: None)


# --- the command against the local stand-in


@pytest.fixture
def fusion_tables(moto_endpoint, env_tables):
    """Empty dev Fusion tables in their own region."""
    recreate(moto_endpoint, in_region([t for t in env_tables("dev") if t.system == "fusion-health"], REGION))
    return aws_session(REGION).resource("dynamodb", endpoint_url=moto_endpoint)


def run_import(endpoint: str, path, *extra: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fusion_import.py"), str(path), "--env", "dev", "--endpoint-url", endpoint, "--region", REGION, *extra],
        capture_output=True, text=True, env=env, timeout=60,
    )


def read_back(resource, dates) -> tuple[list[dict], list[dict]]:
    """Every entry and summary of `dates`, by Query and GetItem (never a Scan)."""
    entries = [item for date in dates for item in resource.Table(ENTRIES).query(KeyConditionExpression=Key("date").eq(date))["Items"]]
    summaries = [s for date in dates if (s := resource.Table(SUMMARIES).get_item(Key={"date": date}).get("Item"))]
    return entries, summaries


def test_import_writes_entries_and_summaries_and_rerunning_gives_the_same_tables(moto_endpoint, fusion_tables):
    dates = sorted(json.loads(SAMPLE.read_text()))
    first = run_import(moto_endpoint, SAMPLE)
    assert first.returncode == 0, first.stderr
    assert "wrote 7 entries to fusion-health-entries-dev and 3 summaries to fusion-daily-summaries-dev; 0 rejected" in first.stdout
    entries, summaries = read_back(fusion_tables, dates)
    assert [(e["date"], e["timestamp"], e.get("medication_taken"), e["max_pain_level"]) for e in entries] == [
        ("0521", "0800", "oxycodone", 8),
        ("0521", "1430", "journavx", 6),
        ("0522", "0900", "oxycodone", 8),
        ("0522", "2100", None, 4),
        ("0523", "0730", "acetaminophen", 6),
        ("0523", "1300", "oxycodone", 8),
        ("0523", "1815", "oxycodone", 7),
    ]
    assert [s["entry_count"] for s in summaries] == [2, 2, 3]
    again = run_import(moto_endpoint, SAMPLE)
    assert again.returncode == 0, again.stderr
    assert read_back(fusion_tables, dates) == (entries, summaries)
    index = fusion_tables.Table(ENTRIES).query(IndexName="pain-level-index", KeyConditionExpression=Key("max_pain_level").eq(8))["Items"]
    assert len(index) == 3  # no duplicates after the second run


def test_dry_run_validates_and_writes_nothing(moto_endpoint, fusion_tables):
    result = run_import(moto_endpoint, SAMPLE, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "0523: 3 entries, max pain 8, medications acetaminophen, oxycodone, journavx" in result.stdout
    assert "dry run: would write 7 entries" in result.stdout
    assert read_back(fusion_tables, ["0521", "0522", "0523"]) == ([], [])


def test_malformed_entries_are_reported_the_rest_load_and_the_exit_code_says_so(moto_endpoint, fusion_tables, tmp_path):
    path = tmp_path / "entries.json"
    path.write_text(json.dumps({"0601": {"0800": {"Pain": {"back": "7-8"}}, "0900": {"Pain": {"back": "very bad"}}}, "0632": {"0800": {}}}))
    result = run_import(moto_endpoint, path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "rejected 0601 0900: pain 'back' has no level: 'very bad' (expected numbers like '6-7-8')",
        "rejected 0632 *: date '0632' is not a valid MMDD date",
    ]
    entries, summaries = read_back(fusion_tables, ["0601"])
    assert [(e["timestamp"], e["max_pain_level"]) for e in entries] == [("0800", 8)]
    assert summaries[0]["rejected_entries"] == 1


@pytest.mark.parametrize(
    "content, message",
    [("[1, 2]", "error: entries.json must be an object of dates"), ("{not json", "is not valid JSON")],
)
def test_unusable_input_exits_2_with_a_clear_message(moto_endpoint, tmp_path, content, message):
    path = tmp_path / "entries.json"
    path.write_text(content)
    result = run_import(moto_endpoint, path)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_missing_table_exits_2_naming_it(moto_endpoint, fusion_tables):
    result = run_import(moto_endpoint, SAMPLE, "--entries-table", "no-such-table")
    assert result.returncode == 2
    assert "error: writing to no-such-table failed after 0 of 7 items" in result.stderr


def test_help_runs_without_make():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "fusion_import.py"), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--dry-run" in result.stdout and "--endpoint-url" in result.stdout

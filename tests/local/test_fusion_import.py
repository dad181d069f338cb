"""`python -m tools fusion-import` (tools.local.fusion_import, its transform in
tools.local.fusion_entries): the transform on its own, batching with retries, and the command
against the local stand-in (in a region of its own, so the dev sample tables stay untouched)."""

from __future__ import annotations

import io
import json
import re
import runpy
import subprocess
import sys
from decimal import Decimal

import pytest
from boto3.dynamodb.conditions import Key

from tests.local.helpers import SAMPLES, aws_session, cli_env, in_process, in_region, recreate, tool
from tools.local import fusion_import
from tools.local.fusion_import import EntryError, ImportFailed, Progress, Rejected

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
        ({"back": "8-6"}, 8),  # a falling range is still a range
        ({"back": 7}, 7),
        ({"back": "6.5-7.5"}, Decimal("7.5")),
        ({"back": Decimal("6.5")}, Decimal("6.5")),
        ({"back": "6.25"}, Decimal("6.25")),
        ({"back": "10.0"}, 10),
        ({"back": "0-10"}, 10),
        ({"back": Decimal("1E+1")}, 10),  # the JSON *number* 1e1 is 10; the string "1e1" is refused
        ({"back": "0"}, 0),
        ({}, None),
    ],
)
def test_max_pain_level_is_the_highest_level_in_the_pain_readings(pain, expected):
    assert fusion_import.max_pain_level(pain) == expected


ALLOWED = "(allowed: a level 0-10 such as 7, 6.5 or '7', or levels joined by '-' such as '6-7-8')"
NOT_LEVELS = "not a level or levels joined by '-'"
# The four, which the old digit-grabbing parse stored as 3, 10, 1 and 7, then the rest.
BAD_PAIN = [
    ("-3", "'-3': starts with '-'; levels are not negative", 3),
    ("7/10", f"'7/10': {NOT_LEVELS}", 10),
    ("1e1", f"'1e1': {NOT_LEVELS}", 1),
    ("6-7-x", f"'6-7-x': {NOT_LEVELS}", 7),
]


@pytest.mark.parametrize(
    "reading, shown_and_why",
    [(reading, why) for reading, why, _old in BAD_PAIN]
    + [
        ("", "'': empty"),
        ("  ", "'  ': empty"),
        ("11", "'11': level 11 is outside 0-10"),
        ("6-11", "'6-11': level 11 is outside 0-10"),
        (11, "11: level 11 is outside 0-10"),
        (Decimal("10.5"), "10.5: level 10.5 is outside 0-10"),
        ("6--7", f"'6--7': {NOT_LEVELS}"),
        ("6-", f"'6-': {NOT_LEVELS}"),
        ("6 7", f"'6 7': {NOT_LEVELS}"),
        (".5", f"'.5': {NOT_LEVELS}"),
        ("bad", f"'bad': {NOT_LEVELS}"),
        ("\u0663", f"'\u0663': {NOT_LEVELS}"),  # ARABIC-INDIC DIGIT THREE: digits are ASCII
        ("6.125", "'6.125': level 6.125 has more than 2 decimal places"),
        (True, "true: a boolean, not a number"),
        (None, "null: not a number or a string"),
        ([7], "[7]: not a number or a string"),
        (float("nan"), "NaN: not a finite number"),
    ],
)
def test_a_pain_reading_that_is_not_a_level_or_a_range_is_an_error_naming_value_and_reason(reading, shown_and_why):
    with pytest.raises(EntryError) as error:
        fusion_import.max_pain_level({"quads": "5", "back": reading})
    assert str(error.value) == f"pain 'back' is {shown_and_why} {ALLOWED}"


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
        Rejected("0523", "1500", f"pain 'back' is 'ouch': {NOT_LEVELS} {ALLOWED}"),
        Rejected("0523", "1600", "Pain must be an object, got str"),
        Rejected("0523", "1700", "field 'max_pain_level' is set by the import; the entry may not contain it"),
        Rejected("0523", "1800", "field 'pain' given twice (names are not case-sensitive)"),
        Rejected("0523", "2460", "time '2460' is not HHMM (0000-2359)"),
        Rejected("0524", "*", "date '0524' must map times (HHMM) to entries, got str"),
        Rejected("1345", "*", "date '1345' is not a valid MMDD date"),
    ]
    assert str(rejected[2]) == f"rejected 0523 1500: pain 'back' is 'ouch': {NOT_LEVELS} {ALLOWED}"


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
        "rejected_timestamps": ["2300"],
    }
    assert summaries["0522"]["average_pain_level"] == Decimal("6.0") and "rejected_entries" not in summaries["0522"]


def test_rejected_times_of_a_summary_add_earlier_ones_and_drop_those_with_a_stored_entry():
    items = [fusion_import.entry_item("0601", t, {"Pain": {"back": "5"}}) for t in ("0800", "0900")]
    rejected = [Rejected("0601", "1000", "x"), Rejected("0601", "0900", "x"), Rejected("0602", "*", "x")]
    [summary] = fusion_import.daily_summaries(items, rejected, previously_rejected={"0601": ["1100", "0800"]})
    assert summary["rejected_timestamps"] == ["1000", "1100"] and summary["rejected_entries"] == 2


def test_daily_summaries_take_entries_as_read_back_from_dynamodb():
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    items, _ = fusion_import.parse(fusion_import.load_json(SAMPLE))
    low_level = [{k: TypeSerializer().serialize(v) for k, v in item.items()} for item in reversed(items)]
    read_back = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in low_level]
    assert fusion_import.daily_summaries(read_back, []) == fusion_import.daily_summaries(items, [])


@pytest.mark.parametrize(
    "count, noun, expected",
    [
        (1, "entry", "1 entry"),
        (2, "entry", "2 entries"),
        (0, "entry", "0 entries"),
        (1, "summary", "1 summary"),
        (2, "summary", "2 summaries"),
        (1, "item", "1 item"),
        (2, "item", "2 items"),
        (2, "day", "2 days"),
    ],
)
def test_plural(count, noun, expected):
    assert fusion_import.plural(count, noun) == expected


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_progress_prints_at_most_once_per_second_and_a_final_line_with_the_rate():
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress("entries", 1000, stream=stream, clock=clock)
    for step in range(1, 9):  # 100 items every 0.5 s
        clock.now = step * 0.5
        progress.advance(100)
    clock.now = 5.0
    progress.advance(200)
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "entries: 200 of 1000 written (200 items/s)",
        "entries: 400 of 1000 written (200 items/s)",
        "entries: 600 of 1000 written (200 items/s)",
        "entries: 800 of 1000 written (200 items/s)",
        "entries: 1000 of 1000 written in 5.0 s (200 items/s)",
    ]


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
    with pytest.raises(ImportFailed, match="^1 item for t still unprocessed after 1 attempt;"):
        fusion_import.batch_write(FlakyClient(flaky=99), "t", [{"date": "0001"}, {"date": "0002"}], max_attempts=1, sleep=lambda _s: None)


# --- the command against the local stand-in


@pytest.fixture
def fusion_tables(moto_endpoint, env_tables):
    """Empty dev Fusion tables in their own region."""
    recreate(moto_endpoint, in_region([t for t in env_tables("dev") if t.system == "fusion-health"], REGION))
    return aws_session(REGION).resource("dynamodb", endpoint_url=moto_endpoint)


def run_import(endpoint: str, path, *extra: str) -> subprocess.CompletedProcess:
    env = cli_env(
        PATH="/usr/bin:/bin",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return subprocess.run(
        [*tool("fusion-import"), str(path), "--env", "dev", "--endpoint-url", endpoint, "--region", REGION, *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture
def import_here(moto_endpoint, monkeypatch, capsys):
    """run_import's in-process twin: same arguments, same environment, same result shape."""
    run = in_process(
        fusion_import.main,
        monkeypatch,
        capsys,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return lambda path, *extra: run(str(path), "--env", "dev", "--endpoint-url", moto_endpoint, "--region", REGION, *extra)


def read_back(resource, dates) -> tuple[list[dict], list[dict]]:
    """Every entry and summary of `dates`, by Query and GetItem (never a Scan)."""
    entries = [item for date in dates for item in resource.Table(ENTRIES).query(KeyConditionExpression=Key("date").eq(date))["Items"]]
    summaries = [s for date in dates if (s := resource.Table(SUMMARIES).get_item(Key={"date": date}).get("Item"))]
    return entries, summaries


def test_import_writes_entries_and_summaries_and_rerunning_gives_the_same_tables(import_here, fusion_tables):
    dates = sorted(json.loads(SAMPLE.read_text()))
    first = import_here(SAMPLE)
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
    again = import_here(SAMPLE)
    assert again.returncode == 0, again.stderr
    assert read_back(fusion_tables, dates) == (entries, summaries)
    index = fusion_tables.Table(ENTRIES).query(IndexName="pain-level-index", KeyConditionExpression=Key("max_pain_level").eq(8))["Items"]
    assert len(index) == 3  # no duplicates after the second run


def test_dry_run_validates_and_writes_nothing(import_here, fusion_tables):
    result = import_here(SAMPLE, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "0523: 3 entries, max pain 8, medications acetaminophen, oxycodone, journavx" in result.stdout
    assert "dry run: would write 7 entries" in result.stdout
    assert read_back(fusion_tables, ["0521", "0522", "0523"]) == ([], [])


def test_malformed_entries_are_reported_the_rest_load_and_the_exit_code_says_so(import_here, fusion_tables, tmp_path):
    path = tmp_path / "entries.json"
    path.write_text(json.dumps({"0601": {"0800": {"Pain": {"back": "7-8"}}, "0900": {"Pain": {"back": "very bad"}}}, "0632": {"0800": {}}}))
    result = import_here(path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"rejected 0601 0900: pain 'back' is 'very bad': {NOT_LEVELS} {ALLOWED}",
        "rejected 0632 *: date '0632' is not a valid MMDD date",
    ]
    entries, summaries = read_back(fusion_tables, ["0601"])
    assert [(e["timestamp"], e["max_pain_level"]) for e in entries] == [("0800", 8)]
    assert summaries[0]["rejected_entries"] == 1


@pytest.mark.parametrize(
    "content, message",
    [("[1, 2]", "error: entries.json must be an object of dates"), ("{not json", "is not valid JSON")],
)
def test_unusable_input_exits_2_with_a_clear_message(import_here, tmp_path, content, message):
    path = tmp_path / "entries.json"
    path.write_text(content)
    result = import_here(path)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_missing_table_exits_2_naming_it(import_here, fusion_tables):
    result = import_here(SAMPLE, "--entries-table", "no-such-table")
    assert result.returncode == 2
    assert "error: writing to no-such-table failed after 0 of 7 items" in result.stderr


def test_help_runs_without_make_from_any_directory(tmp_path):
    result = subprocess.run(
        [*tool("fusion-import"), "--help"], capture_output=True, text=True, timeout=30, cwd=tmp_path, env=cli_env(PATH="/usr/bin:/bin")
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m tools fusion-import ")
    assert "--dry-run" in result.stdout and "--endpoint-url" in result.stdout


@pytest.mark.filterwarnings("ignore:.*found in sys.modules after import:RuntimeWarning")  # runpy re-runs an imported module
@pytest.mark.parametrize("module", ["tools.local.stand_in", "tools.local.fusion_import", "tools.local.verify"])
def test_each_tool_module_also_runs_on_its_own(module, monkeypatch, capsys):
    """`python -m tools.local.<module>` is the same command as `python -m tools <command>`
    (run in-process as `-m` runs it: an interpreter start per module would cost a second)."""
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module(module, run_name="__main__", alter_sys=False)
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("usage: ")


def test_the_transform_names_are_importable_from_the_import_module():
    """The transform lives in fusion_entries; the stand-in and callers keep using fusion_import."""
    from tools.local import fusion_entries

    names = [
        "parse",
        "entry_item",
        "max_pain_level",
        "pain_levels",
        "daily_summaries",
        "load_json",
        "plural",
        "EntryError",
        "ImportFailed",
        "Rejected",
    ]
    for name in names:
        assert getattr(fusion_import, name) is getattr(fusion_entries, name), name


def write_entries(tmp_path, name: str, data: dict):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def pain_index(resource, level) -> list[tuple[str, str]]:
    items = resource.Table(ENTRIES).query(IndexName="pain-level-index", KeyConditionExpression=Key("max_pain_level").eq(level))["Items"]
    return [(i["date"], i["timestamp"]) for i in items]


@pytest.mark.parametrize("reading, shown_and_why, old_level", BAD_PAIN)
def test_a_pain_value_that_is_not_a_level_is_rejected_and_not_written(
    import_here, fusion_tables, tmp_path, reading, shown_and_why, old_level
):
    path = write_entries(
        tmp_path,
        "entries.json",
        {
            "0601": {
                "0800": {"Pain": {"back": "2-9-4"}},
                "0900": {"Medications": {"oxycodone": "5mg"}, "Pain": {"quads": "5", "back": reading}},
            }
        },
    )
    result = import_here(path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"rejected 0601 0900: pain 'back' is {shown_and_why} {ALLOWED}"]
    assert "wrote 1 entry to fusion-health-entries-dev and 1 summary to fusion-daily-summaries-dev; 1 rejected" in result.stdout
    entries, [summary] = read_back(fusion_tables, ["0601"])
    assert [(e["timestamp"], e["max_pain_level"]) for e in entries] == [("0800", 9)]  # a valid range still imports
    assert pain_index(fusion_tables, old_level) == []  # what the old parse made of it
    assert pain_index(fusion_tables, 9) == [("0601", "0800")]
    assert (
        fusion_tables.Table(ENTRIES).query(IndexName="medication-index", KeyConditionExpression=Key("medication_taken").eq("oxycodone"))[
            "Items"
        ]
        == []
    )
    assert (summary["entry_count"], summary["rejected_entries"], summary["rejected_timestamps"]) == (1, 1, ["0900"])


def test_a_second_file_for_a_loaded_day_adds_to_its_summary(import_here, fusion_tables, tmp_path):
    a = write_entries(
        tmp_path,
        "a.json",
        {
            "0601": {
                "0800": {"Medications": {"oxycodone": "5mg"}, "Pain": {"back": "7-8"}, "o2": "91", "sleep": "6:00"},
                "0900": {"Pain": {"back": "7/10"}},
            }
        },
    )
    b = write_entries(
        tmp_path,
        "b.json",
        {
            "0601": {
                "1200": {"Medications": {"journavx": "100mg"}, "Pain": {"back": "4"}, "o2": "88"},
                "1300": {"Medications": {"Oxycodone": "5mg"}, "Pain": {"glutes": "9"}},
            }
        },
    )
    assert import_here(a).returncode == 1
    _, [after_a] = read_back(fusion_tables, ["0601"])
    assert (after_a["entry_count"], after_a["rejected_entries"]) == (1, 1)
    assert import_here(a).returncode == 1
    assert read_back(fusion_tables, ["0601"])[1] == [after_a]  # the same file again: the same summary
    second = import_here(b)
    assert second.returncode == 0, second.stderr
    assert "wrote 2 entries to fusion-health-entries-dev and 1 summary to fusion-daily-summaries-dev; 0 rejected" in second.stdout
    entries, [summary] = read_back(fusion_tables, ["0601"])
    assert [e["timestamp"] for e in entries] == ["0800", "1200", "1300"]
    assert summary == {
        "date": "0601",
        "entry_count": 3,
        "first_timestamp": "0800",
        "last_timestamp": "1300",
        "medications": {"oxycodone": 2, "journavx": 1},
        "max_pain_level": 9,
        "average_pain_level": Decimal("7.0"),  # (8 + 4 + 9) / 3
        "lowest_o2": 88,
        "sleep": "6:00",
        "rejected_entries": 1,  # 0900 is still not stored
        "rejected_timestamps": ["0900"],
    }
    fixed = write_entries(tmp_path, "fixed.json", {"0601": {"0900": {"Pain": {"back": "7"}}}})
    assert import_here(fixed).returncode == 0
    _, [summary] = read_back(fusion_tables, ["0601"])
    assert summary["entry_count"] == 4 and "rejected_entries" not in summary and "rejected_timestamps" not in summary


def many_entries(count: int, dates=("0701", "0702", "0703")) -> dict:
    per_date = count // len(dates)
    return {date: {f"{m // 60:02d}{m % 60:02d}": {"Pain": {"back": str(m % 11)}} for m in range(per_date)} for date in dates}


def dynamodb_client(moto_endpoint):
    return aws_session(REGION).client("dynamodb", endpoint_url=moto_endpoint)


def test_summaries_are_read_back_across_query_pages(moto_endpoint, fusion_tables):
    client = dynamodb_client(moto_endpoint)
    first, _ = fusion_import.parse({"0601": {"0800": {"Pain": {"back": "3"}}, "0900": {"Pain": {"back": "4"}}, "1000": {}}})
    fusion_import.import_entries(client, ENTRIES, SUMMARIES, first, [], page_size=2)
    second, _ = fusion_import.parse({"0601": {"1100": {"Pain": {"back": "9"}}, "1200": {}}})
    [summary] = fusion_import.import_entries(client, ENTRIES, SUMMARIES, second, [], page_size=2)
    assert (summary["entry_count"], summary["first_timestamp"], summary["last_timestamp"], summary["max_pain_level"]) == (
        5,
        "0800",
        "1200",
        9,
    )
    assert read_back(fusion_tables, ["0601"])[1] == [summary]


class TickingClient:
    """A real client whose every BatchWriteItem takes 1/8 s on a fake clock."""

    def __init__(self, client, clock: FakeClock) -> None:
        self.client, self.clock = client, clock

    def batch_write_item(self, **kwargs):
        self.clock.now += 0.125
        return self.client.batch_write_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_a_large_import_reports_progress_with_a_rate(moto_endpoint, fusion_tables):
    clock, stream = FakeClock(), io.StringIO()
    items, _ = fusion_import.parse(many_entries(600))
    summaries = fusion_import.import_entries(
        TickingClient(dynamodb_client(moto_endpoint), clock), ENTRIES, SUMMARIES, items, [], stream=stream, clock=clock
    )
    assert stream.getvalue().splitlines() == [  # 24 batches of 25, one every 0.125 s
        "entries: 200 of 600 written (200 items/s)",
        "entries: 400 of 600 written (200 items/s)",
        "entries: 600 of 600 written in 3.0 s (200 items/s)",
    ]  # 3 summaries: too few for progress lines
    assert [s["entry_count"] for s in summaries] == [200, 200, 200]


def test_a_small_import_writes_no_progress_lines(moto_endpoint, fusion_tables):
    stream = io.StringIO()
    items, _ = fusion_import.parse(fusion_import.load_json(SAMPLE))
    fusion_import.import_entries(dynamodb_client(moto_endpoint), ENTRIES, SUMMARIES, items, [], stream=stream)
    assert stream.getvalue() == ""


def test_the_command_shows_progress_on_stderr_for_a_large_import(moto_endpoint, fusion_tables, tmp_path):
    result = run_import(moto_endpoint, write_entries(tmp_path, "entries.json", many_entries(600)))
    assert result.returncode == 0, result.stderr
    last = result.stderr.splitlines()[-1]
    assert re.fullmatch(r"entries: 600 of 600 written in \d+\.\d s \(\d+(\.\d)? items/s\)", last), result.stderr
    assert (
        result.stdout.splitlines()[-1]
        == "wrote 600 entries to fusion-health-entries-dev and 3 summaries to fusion-daily-summaries-dev; 0 rejected"
    )


def test_messages_use_singular_for_one(import_here, fusion_tables, tmp_path):
    one = write_entries(tmp_path, "one.json", {"0601": {"0800": {"Pain": {"back": "5"}}}})
    dry = import_here(one, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "0601: 1 entry, max pain 5, medications none",
        "dry run: would write 1 entry to fusion-health-entries-dev and 1 summary to fusion-daily-summaries-dev; 0 rejected. "
        "No AWS calls, so these summaries are computed from this file alone; the import recomputes them from every stored entry of each date.",
    ]
    wrote = import_here(one)
    assert wrote.stdout.splitlines() == [
        "wrote 1 entry to fusion-health-entries-dev and 1 summary to fusion-daily-summaries-dev; 0 rejected"
    ]

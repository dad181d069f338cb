"""The review summary of every stack (tools/review.py), snapshotted beside the raw templates.

The raw template snapshots (test_snapshots.py) are the deploy guard's exact baseline; these
are what a reviewer reads: a changed threshold is one line per environment here, a change to
every table one line per table. Both change together; read this diff first.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from tests.test_snapshots import EXPECTED, UPDATE_HINT
from tools import review


class TextSnapshot(SingleFileSnapshotExtension):
    _write_mode = WriteMode.TEXT
    file_extension = "txt"


@pytest.fixture
def snapshot_text(snapshot):
    return snapshot.use_extension(TextSnapshot)


@pytest.mark.parametrize("stack_name", EXPECTED)
def test_review_summary(synthesized, snapshot_text, stack_name):
    lines = review.summary_lines(synthesized[stack_name])
    assert len(lines) > 1, f"{stack_name}: the summary lists nothing"
    assert snapshot_text == "\n".join(lines) + "\n", UPDATE_HINT


def test_a_threshold_change_is_one_line(synthesized):
    stack = synthesized["daylight-prod"]
    alarm = next(lid for lid, r in sorted(stack.resources.items()) if r["Type"] == "AWS::CloudWatch::Alarm")
    changed = {
        **stack.template,
        "Resources": {
            **stack.resources,
            alarm: {**stack.resources[alarm], "Properties": {**stack.resources[alarm]["Properties"], "Threshold": 999}},
        },
    }
    before = review.summary_lines(stack)
    after = review.summary_lines(type(stack)(**{**stack.__dict__, "template": changed}))
    diff = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(before) == len(after) and len(diff) == 1 and ">= 999" in diff[0][1]


def test_a_change_to_every_table_is_one_line_per_table(synthesized):
    stack = synthesized["madmall-prod"]
    tables = {lid for lid, r in stack.resources.items() if r["Type"] == "AWS::DynamoDB::GlobalTable"}
    assert tables
    resources = {
        lid: ({**r, "Properties": {**r["Properties"], "BillingMode": "PROVISIONED"}} if lid in tables else r)
        for lid, r in stack.resources.items()
    }
    before = review.summary_lines(stack)
    after = review.summary_lines(with_resources(stack, resources))
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    # Each changed line is a table's settings, the line under its header.
    assert len(changed) == len(tables)
    assert all(before[i - 1].startswith("table ") and after[i].startswith("  PROVISIONED, ") for i in changed)


def with_resources(stack, resources: dict):
    return type(stack)(**{**stack.__dict__, "template": {**stack.template, "Resources": resources}})


def test_the_command_prints_the_stacks_asked_for(synthesized, tmp_path, capsys):
    from tests.local.helpers import write_assembly  # a cdk.out shaped like `cdk synth`'s

    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    assert review.main([str(assembly), "madmall-dev"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stack madmall-dev aws://111111111111/us-east-1, termination protection ")
    assert "table TableMain madmall-dev-main: PK:S + SK:S" in out and "stack daylight-dev" not in out
    assert review.main([str(assembly), "nope-dev"]) == 2
    assert "no stack nope-dev" in capsys.readouterr().err
    assert review.main([str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err

"""The review summary of every stack (tools/review.py), snapshotted beside the raw templates.

The raw template snapshots (test_snapshots.py) are the deploy guard's exact baseline; these
are what a reviewer reads: a changed threshold is one line per environment here, a change to
every table one line per table, and a new table or a new condition value adds lines without
rewriting any. Both change together; read this diff first.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

from tests.test_snapshots import EXPECTED, UPDATE_HINT
from tools import review

SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_review"


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


def test_a_new_tamper_exemption_is_one_changed_line(synthesized):
    """A caller added to a tamper rule's exemptions (who may now act unannounced) shows as its
    rule's line changing, with the new count."""
    stack = synthesized["data-platform-prod"]
    lid = next(lid for lid in sorted(stack.resources) if lid.startswith("TamperAlertsKeyPolicy"))
    rule = stack.resources[lid]
    pattern = rule["Properties"]["EventPattern"]
    branches = pattern["detail"]["$or"]
    arns = branches[1]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"][0]["anything-but"]
    widened = [
        branches[0],
        {"userIdentity": {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": [*arns, "arn:aws:iam::333333333333:role/Ops"]}]}}}},
    ]
    changed_rule = {
        **rule,
        "Properties": {**rule["Properties"], "EventPattern": {**pattern, "detail": {**pattern["detail"], "$or": widened}}},
    }
    changed = {**stack.template, "Resources": {**stack.resources, lid: changed_rule}}
    before = review.summary_lines(stack)
    after = review.summary_lines(type(stack)(**{**stack.__dict__, "template": changed}))
    diff = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(diff) == 1, diff
    assert f"rule {lid}: aws.kms PutKeyPolicy, {len(arns)} exempt" in diff[0][0]
    assert f"rule {lid}: aws.kms PutKeyPolicy, {len(arns) + 1} exempt" in diff[0][1]


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


def rewritten_and_added(before: list[str], after: list[str]) -> tuple[list[str], list[str]]:
    """The lines of `before` that `after` rewrites or drops, and the lines it adds."""
    rewritten, added = [], []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes():
        if tag != "equal":
            rewritten += before[i1:i2]
            added += after[j1:j2]
    return rewritten, added


def test_a_new_table_adds_lines_and_rewrites_only_the_resource_count(synthesized):
    stack = synthesized["madmall-prod"]
    main = stack.resources["TableMain"]
    arn = {"Fn::GetAtt": ["TableMain", "Arn"]}
    granted = []  # each statement whose resources name TableMain's ARN names the new table's too

    def grant(node):
        if isinstance(node, list):
            return [grant(v) for v in node]
        if not isinstance(node, dict):
            return node
        copied = {k: grant(v) for k, v in node.items()}
        if isinstance(node.get("Resource"), list) and arn in node["Resource"]:
            granted.append(node)
            copied["Resource"] = [*copied["Resource"], {"Fn::GetAtt": ["TableSecond", "Arn"]}]
        return copied

    resources = {lid: grant(r) for lid, r in stack.resources.items()}
    resources["TableSecond"] = {**main, "Properties": {**main["Properties"], "TableName": "madmall-prod-second"}}
    before = review.summary_lines(stack)
    rewritten, added = rewritten_and_added(before, review.summary_lines(with_resources(stack, resources)))
    assert granted, "no policy names TableMain's ARN: the test adds the table to no statement"
    assert rewritten == [before[0]] and added[0].endswith(f", {len(resources)} resources")
    resource_lines = [line for line in added if line.strip() == "resource TableSecond.Arn"]
    assert len(resource_lines) == len(granted)
    assert "table TableSecond madmall-prod-second: PK:S + SK:S" in added and "  of TableSecond" in added


def test_a_new_condition_value_is_one_added_line(synthesized):
    stack = synthesized["madmall-prod"]
    key = stack.resources["KeyData"]
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    index, listed = next(
        (i, s["Condition"]["ArnEquals"]["aws:PrincipalArn"])
        for i, s in enumerate(statements)
        if len(s.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])) > 1
    )
    role = "arn:aws:iam::333333333333:role/madmall-prod-another"
    condition = {**statements[index]["Condition"], "ArnEquals": {"aws:PrincipalArn": [*listed, role]}}
    policy = {**key["Properties"]["KeyPolicy"], "Statement": [*statements]}
    policy["Statement"][index] = {**statements[index], "Condition": condition}
    changed = {**key, "Properties": {**key["Properties"], "KeyPolicy": policy}}
    after = review.summary_lines(with_resources(stack, {**stack.resources, "KeyData": changed}))
    assert rewritten_and_added(review.summary_lines(stack), after) == ([], [f"      {role}"])


def test_no_review_snapshot_line_is_over_the_width():
    # A line over the width lists many things at once, and a change to one of them rewrites
    # it whole: the reviewer cannot see what changed.
    files = sorted(SNAPSHOTS.glob("*.txt"))
    assert files, f"no review snapshots in {SNAPSHOTS}"
    assert [f.name for f in files] == sorted(f"test_review_summary[{name}].txt" for name in EXPECTED)
    long = [
        f"{f.name}:{number}: {len(line)} characters"
        for f in files
        for number, line in enumerate(f.read_text().splitlines(), 1)
        if len(line) > review.WIDTH
    ]
    assert not long, f"lines over {review.WIDTH} characters:\n" + "\n".join(long)


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

"""tools.bench's scale helper and arithmetic. No timing is asserted: bench prints figures."""

from __future__ import annotations

import argparse
import dataclasses
import json
import runpy
import sys
from pathlib import Path

import pytest

from tools import bench


def test_scale_point_counts_resources_per_table():
    point = bench.scale_point(2)
    assert point.tables == 2
    assert point.refused is None
    # Each table is one GlobalTable plus its alarms; nothing else lives under the Tables scope.
    assert point.per_table_types["AWS::DynamoDB::GlobalTable"] == 1
    assert point.per_table_types["AWS::CloudWatch::Alarm"] >= 1
    assert set(point.per_table_types) == {"AWS::DynamoDB::GlobalTable", "AWS::CloudWatch::Alarm"}
    assert point.resources_per_table == sum(point.per_table_types.values())
    assert point.table_resources == 2 * point.resources_per_table
    # The key, roles and policies exist once per stack.
    assert point.fixed_resources > 0
    assert point.resources == point.fixed_resources + point.table_resources
    assert point.template_bytes > 0
    assert point.policy_chars > 0  # the app role's managed policy names every table


def test_synthetic_tables_have_one_gsi_and_ttl():
    system = bench.synthetic_system(3)
    assert [t.id for t in system.tables] == ["Bench000", "Bench001", "Bench002"]
    assert all(len(t.indexes) == 1 and t.ttl_attribute == "expiresAt" for t in system.tables)
    with pytest.raises(ValueError, match="tables must be >= 1, got 0"):
        bench.synthetic_system(0)


def test_table_count_at_which_a_limit_is_passed():
    # 7 per table + 8 fixed: 34 tables hold 246, 35 hold 253; 70 hold 498, 71 hold 505.
    assert bench.tables_until(250, 7, 8) == 35
    assert bench.tables_until(500, 7, 8) == 71
    assert bench.tables_until(1_000_000, 14_000.5, 7_000) == 71


def test_linear_fit_of_scale_points():
    def point(tables, resources, template_bytes):
        return bench.ScalePoint(tables, resources, 7 * tables, {}, template_bytes, 0, 0.0, None)

    per_table, fixed = bench.linear([point(10, 78, 150_000), point(50, 358, 710_000)], lambda p: p.template_bytes)
    assert (per_table, fixed) == (14_000, 10_000)


@pytest.mark.parametrize("text", ["10,x", "0", "", "-5"])
def test_scale_argument_names_the_bad_value(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not"):
        bench.table_counts(text)


def test_scale_argument_is_sorted_and_deduplicated():
    assert bench.table_counts("50, 10,50") == (10, 50)


def _points(*pairs):
    return [bench.ScalePoint(t, 0, 0, {}, 0, 0, s, None) for t, s in pairs]


def test_linearity_is_one_for_linear_growth_and_two_for_quadratic():
    assert bench.linearity(_points((10, 1.0), (50, 3.0), (100, 5.5), (200, 10.5))) == pytest.approx(1.0)
    # seconds = t^2/1000: the per-table cost grows with the table count.
    quadratic = _points(*((t, t * t / 1000) for t in (10, 50, 100, 200)))
    assert bench.linearity(quadratic) == pytest.approx((40000 - 10000) / 100 / ((2500 - 100) / 40))
    assert bench.linearity(quadratic) > bench.LINEAR_TOLERANCE


def test_bench_uses_the_limits_that_synth_enforces():
    from stacks import limits

    assert (bench.TARGET_MAX_RESOURCES, bench.CFN_MAX_RESOURCES) == (limits.MAX_RESOURCES, 500) == (250, 500)


def test_bench_times_the_app_as_cdk_json_runs_it():
    import json

    app = json.loads((Path(bench.ROOT) / "cdk.json").read_text())["app"]
    assert app.endswith(" ".join(bench.app_command())) and bench.app_command()[-1] == "app.py"


@pytest.mark.filterwarnings("ignore:.*found in sys.modules after import:RuntimeWarning")  # runpy re-runs an imported module
def test_bench_runs_as_a_module(monkeypatch, capsys):
    # As `python -m tools.bench --help` runs it, without paying an interpreter start.
    monkeypatch.setattr(sys, "argv", ["tools.bench", "--help"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("tools.bench", run_name="__main__", alter_sys=False)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--skip-synth" in out and "--scale" in out


# --- the floor: the app's jsii traffic replayed into Node (tools/bench/floor.py) ------------------

TINY_APP = """\
import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
app = cdk.App()
stack = cdk.Stack(app, "Tiny")
queue = sqs.Queue(stack, "Queue", retention_period=cdk.Duration.days(4))
# A token read back in Python and handed to Node again: the replay must map it if it moves.
cdk.CfnOutput(stack, "Arn", value=queue.queue_arn)
cdk.CfnOutput(stack, "Both", value=cdk.Fn.join(",", [queue.queue_arn, queue.queue_url]))
app.synth()
"""


def _moved(recording, shift: int):
    """`recording` with every string token renumbered by `shift`: Node numbers tokens as it
    goes, and the numbers can differ from run to run."""
    import re

    def move(line: str) -> str:
        return re.sub(r"\$\{Token\[TOKEN\.(\d+)\]\}", lambda m: f"${{Token[TOKEN.{int(m.group(1)) + shift}]}}", line)

    return dataclasses.replace(recording, requests=[move(x) for x in recording.requests], answers=[move(x) for x in recording.answers])


@pytest.fixture(scope="module")
def tiny_floor(tmp_path_factory):
    """The tiny app recorded once, then replayed once from a copy whose tokens all moved: the
    replay must map them and write the recorded assembly (measure compares them)."""
    from tools.bench import floor

    work = tmp_path_factory.mktemp("tiny")
    app = work / "tiny.py"
    app.write_text(TINY_APP)
    recording = floor.record(app, [], {}, work / "recording")
    moved = _moved(recording, 99_000)
    return recording, moved, floor.measure(moved, {}, runs=1, work=work, runtime=floor.write_runtime(work / "runtime"))


def test_the_replay_writes_the_recorded_assembly(tiny_floor):
    recording, _, times = tiny_floor
    kinds = recording.kinds()
    # The queue, its two outputs and the Duration: what the app asked Node for.
    assert kinds["create"] >= 3 and kinds["get"] >= 2 and kinds["load"] >= 1
    assert len(recording.answers) == len(recording.requests) + 1  # the hello first
    template = json.loads(next(recording.assembly.glob("Tiny.template.json")).read_text())
    assert [r["Type"] for r in template["Resources"].values()] == ["AWS::SQS::Queue"]
    # Each request is traced to the app's own line that sent it: the queue is line 5.
    assert len(recording.sites) == len(recording.requests)
    assert "tiny.py:5 <module>" in dict(recording.senders(20))
    assert all(site.startswith("tiny.py:") or site == "(outside the app)" for site in recording.sites)
    # One replay ran, and `measure` found it wrote the recorded assembly.
    ((total, node),) = times
    assert 0 < node <= total


def test_ids_that_move_between_runs_are_mapped(tiny_floor):
    # The fixture's replay was of the moved copy: it wrote the same assembly (measure raises
    # otherwise), so every moved token was mapped back. The copy did move some.
    recording, moved, _ = tiny_floor
    assert "${Token[TOKEN." in "".join(recording.answers)
    assert moved.requests != recording.requests and moved.answers != recording.answers


def test_assemblies_that_differ_are_named(tmp_path):
    from tools.bench import floor

    left, right = tmp_path / "left", tmp_path / "right"
    for side, body in ((left, "{}"), (right, '{"x": 1}')):
        (side / "a").mkdir(parents=True)
        (side / "a" / "S.template.json").write_text(body)
        (side / "tree.json").write_text(body)  # CDK's tree differs by run: not compared
        (side / "a" / "S.metadata.json").write_text(body)
    (right / "extra.json").write_text("{}")
    assert floor.different_files(left, right) == ["a/S.template.json", "extra.json"]
    assert floor.different_files(left, left) == []


def test_a_replay_that_diverges_is_an_error(tiny_floor, tmp_path):
    from tools.bench import floor

    recording, _, _ = tiny_floor
    broken = [line.replace('"aws-cdk-lib.aws_sqs.Queue"', '"aws-cdk-lib.aws_sqs.NoSuchQueue"') for line in recording.requests]
    assert broken != recording.requests
    with pytest.raises(floor.FloorError, match="the replay diverged at request"):
        floor.replay(dataclasses.replace(recording, requests=broken), {}, tmp_path / "out", floor.write_runtime(tmp_path / "rt"))


def test_an_app_that_fails_is_reported_not_replayed(tmp_path):
    from tools.bench import floor

    app = tmp_path / "bad.py"
    app.write_text("import aws_cdk as cdk\nraise SystemExit('no such stack')\n")
    with pytest.raises(floor.FloorError, match=r"the recorded synth of bad.py failed \(exit 1\): no such stack"):
        floor.record(app, [], {}, tmp_path / "work")


def test_a_runtime_that_dies_is_an_error(tiny_floor, tmp_path):
    from tools.bench import floor

    recording, _, _ = tiny_floor
    dead = tmp_path / "dead.js"
    dead.write_text("process.exit(3)\n")  # a "runtime" that says nothing and exits
    with pytest.raises(floor.FloorError, match="the jsii runtime stopped answering"):
        floor.replay(recording, {}, tmp_path / "out", dead)


def test_the_assembly_loads_come_first_and_replay_alone(tiny_floor, tmp_path):
    from tools.bench import floor

    recording, _, _ = tiny_floor
    loads = recording.loads
    assert loads >= 2  # constructs and aws-cdk-lib at least
    assert all('"api": "load"' in line for line in recording.requests[:loads])
    assert '"api": "load"' not in recording.requests[loads]
    total, node = floor.replay(recording, {}, tmp_path / "out", floor.write_runtime(tmp_path / "rt"), upto=loads)
    assert 0 < node <= total
    assert not (tmp_path / "out").exists()  # only the loads: nothing synthesized


def test_an_app_that_cannot_be_imported_is_reported(tmp_path):
    from tools.bench import floor

    app = tmp_path / "broken_import.py"
    app.write_text("import no_such_module\n")
    with pytest.raises(floor.FloorError, match="importing broken_import failed .exit 1.: .*No module named 'no_such_module'"):
        floor.import_seconds(app, [], runs=1)

"""tools.bench's scale helper and arithmetic. No timing is asserted: bench prints figures."""

from __future__ import annotations

import argparse
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

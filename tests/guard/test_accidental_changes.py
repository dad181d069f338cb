"""End to end: an innocent-looking edit of the table catalogue, synthesized by the real app and
compared with the committed snapshots, is stopped before it can replace a table.

This is the path a pull request takes (tests + `make guard`): the edit below would reach
CloudFormation as a replacement (key schema) or a failed update (two GSIs at once).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace

import pytest

import app as cdk_app
from config.catalogue import SYSTEMS
from constructs_lib.specs import IndexSpec, Key
from stacks import stage
from tests.support import ROOT, new_app

sys.path.insert(0, str(ROOT / "tools"))
import deploy_guard  # noqa: E402

SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_snapshots"


def edited_systems():
    """MADMall's sort key renamed, and two GSIs added to Fusion's entries table in one go."""
    systems = []
    for system in SYSTEMS:
        if system.key == "madmall":
            (main,) = system.tables
            system = replace(system, tables=(replace(main, sort_key=Key("SortKey")),))
        if system.key == "fusion-health":
            entries, summaries = system.tables
            extra = tuple(IndexSpec(name=f"extra-{i}", partition_key=Key(f"extra{i}"), serves="test") for i in (1, 2))
            system = replace(system, tables=(replace(entries, indexes=entries.indexes + extra), summaries))
        systems.append(system)
    return tuple(systems)


@pytest.fixture(scope="module")
def findings(tmp_path_factory, monkeypatch_module):
    monkeypatch_module.setattr(stage, "SYSTEMS", edited_systems())
    outdir = tmp_path_factory.mktemp("candidate")
    app = new_app(outdir=str(outdir), env="prod")
    cdk_app.build(app)
    app.synth()
    # The committed prod snapshots are the baseline, as `make guard` uses them.
    baseline = tmp_path_factory.mktemp("baseline")
    for snapshot in SNAPSHOTS.glob("*-prod].json"):
        shutil.copy(snapshot, baseline)
    found = deploy_guard.compare(deploy_guard.load_stacks(str(baseline)), deploy_guard.load_stacks(str(outdir)))
    return {(f.rule, f.stack, f.resource): f for f in found}


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_a_changed_sort_key_is_reported_as_a_replacement(findings):
    finding = findings[("STATEFUL-REPLACE", "madmall-prod", "TableMain")]
    assert "KeySchema" in finding.property
    assert finding.action in ("replace", "fail")


def test_two_new_gsis_in_one_change_are_reported(findings):
    finding = findings[("GSI-MULTI", "fusion-health-prod", "TableEntries")]
    assert finding.action == "fail"
    assert "extra-1" in finding.change and "extra-2" in finding.change


def test_nothing_else_is_reported(findings):
    assert set(findings) == {("STATEFUL-REPLACE", "madmall-prod", "TableMain"), ("GSI-MULTI", "fusion-health-prod", "TableEntries")}


"""The dashboards on-call opens first: one per system and environment, one for the PostgreSQL
store, and an overview of every alarm's state per environment."""

from __future__ import annotations

import json

import pytest

import config
from config.catalogue import SYSTEMS
from config.retention import archived
from tests.test_guardrails import ENVS, stacks_of


def dashboards(stack) -> dict[str, list[dict]]:
    return {
        r["Properties"]["DashboardName"]: json.loads(r["Properties"]["DashboardBody"])["widgets"]
        for r in stack.template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    }


def titles(widgets) -> set[str]:
    return {w["properties"].get("title") for w in widgets}


ALL = [env for env in ENVS if config.ENVIRONMENTS[env].dashboards == "all"]
OVERVIEW_ONLY = [env for env in ENVS if config.ENVIRONMENTS[env].dashboards == "overview"]
assert ALL and OVERVIEW_ONLY, "the tests need an environment of each dashboards choice"


@pytest.mark.parametrize("env", OVERVIEW_ONLY)
def test_an_environment_that_declines_dashboards_has_the_overview_alone(synthesized, env):
    """CloudWatch's first three dashboards a month are free: one page, not seven."""
    found = {name for stack in stacks_of(synthesized, env) for name in dashboards(stack)}
    assert found == {f"data-overview-{env}"}


@pytest.mark.parametrize("env", ALL)
def test_every_system_has_a_dashboard_with_each_tables_capacity_throttles_errors_latency_and_ttl(synthesized, env):
    archived_tables = {(s, t) for s, t, _ in archived()}
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        ((name, widgets),) = dashboards(stack).items()
        assert name == f"data-{system.key}-{env}"
        found = titles(widgets)
        for spec in system.tables:
            table = next(r["Properties"]["TableName"] for lid, r in stack.template["Resources"].items() if lid == spec.logical_id)
            for part in ("capacity used", "throttles (table and indexes)", "errors", "latency (ms)", "TTL deletions"):
                assert f"{table}: {part}" in found, (table, part)
            throttles = next(w for w in widgets if w["properties"]["title"] == f"{table}: throttles (table and indexes)")
            assert {m[-1] for m in throttles["properties"]["metrics"] if "GlobalSecondaryIndexName" in m} == {i.name for i in spec.indexes}
            capacity = next(w for w in widgets if w["properties"]["title"] == f"{table}: capacity used")
            ceilings = [a["value"] for a in capacity["properties"].get("annotations", {}).get("horizontal", [])]
            assert ceilings == (
                {"dev": [200, 100], "staging": [2000, 1000]}.get(env, []) if system.key != "fusion-health" or env != "prod" else []
            )
            if (system.key, spec.id) in archived_tables:
                for part in ("pipes", "buffer and held records", "delivered to S3"):
                    assert f"{table}-archive: {part}" in found, (table, part)


@pytest.mark.parametrize("env", ALL)
def test_the_database_dashboard_shows_cpu_capacity_connections_and_the_proxy(synthesized, env):
    ((name, widgets),) = dashboards(synthesized[f"personalpod-database-{env}"]).items()
    assert name == f"data-personalpod-{env}-database"
    assert titles(widgets) == {
        f"personalpod-{env}: CPU (%)",
        f"personalpod-{env}: capacity (ACUs, % of max)",
        f"personalpod-{env}: connections",
        f"personalpod-{env}: proxy",
    }


@pytest.mark.parametrize("env", ENVS)
def test_the_overview_shows_every_alarm_of_the_environment(synthesized, env):
    stacks = stacks_of(synthesized, env)
    alarms = {
        r["Properties"]["AlarmName"] for s in stacks for r in s.template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    (platform,) = [s for s in stacks if s.name == f"data-platform-{env}"]
    overview = dashboards(platform)[f"data-overview-{env}"]
    shown = [arn.rsplit(":alarm:", 1)[1] for w in overview for arn in w["properties"]["alarms"]]
    # Every alarm; an environment that alarms on the account only has the archive's and those.
    assert len(alarms) >= (100 if config.ENVIRONMENTS[env].alarms.scopes is None else 10) and sorted(shown) == sorted(alarms)
    assert all(len(w["properties"]["alarms"]) <= 100 for w in overview)


@pytest.mark.parametrize("env", ENVS)
def test_no_two_widgets_overlap(synthesized, env):
    for stack in stacks_of(synthesized, env):
        for name, widgets in dashboards(stack).items():
            cells = set()
            for w in widgets:
                mine = {(x, y) for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])}
                assert not cells & mine and w["x"] + w["width"] <= 24, (name, w["properties"].get("title"))
                cells |= mine

"""The alarm catalogue (config/alarms.py): one declaration per alarm kind reaches every resource
it applies to, in every environment; thresholds are validated against it; a table may override
one; a malformed kind is a config error, not a traceback."""

from __future__ import annotations

import re
from dataclasses import replace
from types import MappingProxyType

import pytest

import config
from config import alarms as catalogue
from config.environments import ENVIRONMENTS
from config.rules import alarms as alarm_rules
from constructs_lib.monitoring import table_targets
from constructs_lib.props import SCOPE_VALUES, WatchedCalls
from tests.fixture_app import NEW_KIND


def test_an_alarm_kind_added_to_the_catalogue_alone_reaches_every_table_gsi_and_environment(fixture_app):
    """The fixture app's alarm catalogue has one more kind (tests/fixture_app.py): every table and
    GSI of its catalogue, in every one of its environments, has the alarm, at the default."""
    found = {
        r["Properties"]["AlarmName"]: r["Properties"]
        for stack in fixture_app.stacks.values()
        for r in stack.template["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("MetricName") == "ConditionalCheckFailedRequests"
    }
    expected = {
        f"{cfg.table_name(system.key, spec.id, spec.name)}{suffix}-conditional-check-failures"
        for cfg in fixture_app.environments.values()
        if cfg.alarms.alarms_on("table")  # an environment that alarms on the account only has none
        for system in fixture_app.catalogue
        for spec in system.tables
        for suffix in ["", *(f"-{index.name}" for index in spec.indexes)]
    }
    assert len(expected) > len(fixture_app.environments), "the catalogue has no tables?"
    assert set(found) == expected
    assert {props["Threshold"] for props in found.values()} == {25}
    index_alarm = found[next(name for name in sorted(expected) if "-index-" in name)]
    assert {d["Name"] for d in index_alarm["Dimensions"]} == {"TableName", "GlobalSecondaryIndexName"}


def test_a_threshold_the_catalogue_does_not_declare_is_a_config_error():
    env = next(iter(ENVIRONMENTS.values()))
    changed = replace(env, alarms=replace(env.alarms, thresholds={**env.alarms.thresholds, "throtle_events": 3}))
    with pytest.raises(config.ConfigError, match=r"alarms.thresholds\['throtle_events'\] = 3 is not allowed: a threshold of the alarm"):
        config.validate_all({**ENVIRONMENTS, env.name: changed})


def test_a_tables_override_of_an_unknown_threshold_is_a_catalogue_error(monkeypatch):
    system = config.SYSTEMS[0]
    table = replace(system.tables[0], alarm_thresholds={"latency": 500})
    monkeypatch.setattr(config, "SYSTEMS", (replace(system, tables=(table, *system.tables[1:])), *config.SYSTEMS[1:]))
    with pytest.raises(config.ConfigError, match=rf"catalogue {system.key}.{table.id}: alarm_thresholds\['latency'\] = 500"):
        config.validate_all()


@pytest.mark.parametrize(
    "broken, message",
    [
        (replace(NEW_KIND, threshold="nope"), "threshold 'nope' is not declared in THRESHOLDS"),
        (replace(NEW_KIND, threshold="throttle_events", name="{table}-{region}-x"), "name uses region, which a table's alarms do not have"),
        (replace(NEW_KIND, threshold="throttle_events", id="ReadThrottles"), "id 'ReadThrottles' is also read_throttles's on a table"),
        (replace(NEW_KIND, threshold="throttle_events", applies_to=("tables",)), "applies_to 'tables' is not a scope"),
    ],
)
def test_a_malformed_alarm_kind_is_a_config_error_naming_it(monkeypatch, broken, message):
    monkeypatch.setattr(catalogue, "ALARM_KINDS", MappingProxyType({**catalogue.ALARM_KINDS, "broken": broken}))
    with pytest.raises(config.ConfigError, match=r"invalid alarm catalogue \(config/alarms.py\):\n  alarm catalogue broken: " + message):
        config.validate_all()


@pytest.mark.parametrize(
    "broken, message",
    [
        (
            WatchedCalls(id="X", what="x", service="kms", names=("DisableKey",), exempt=("ops",)),
            "tamper watch X: exempt 'ops': one of deployer, backup",
        ),
        (
            WatchedCalls(id="KeyPolicy", what="x", service="kms", names=("DisableKey",)),
            "tamper watch KeyPolicy: id 'KeyPolicy' is used twice",
        ),
        (WatchedCalls(id="X", what="x", service="kms", names=()), "tamper watch X: names is empty"),
        (WatchedCalls(id="X", what="x", service="KMS.amazonaws.com", names=("A",)), "tamper watch X: service 'KMS.amazonaws.com'"),
        (WatchedCalls(id="X", what="x", service="kms", names=("A",), buckets=True), "tamper watch X: buckets applies to s3 calls only"),
    ],
)
def test_a_malformed_tamper_watch_is_a_config_error_naming_it(monkeypatch, broken, message):
    monkeypatch.setattr(catalogue, "TAMPER_WATCH", (*catalogue.TAMPER_WATCH, broken))
    with pytest.raises(config.ConfigError, match=r"invalid alarm catalogue \(config/alarms.py\):\n  " + re.escape(message)):
        config.validate_all()


def test_the_real_catalogue_is_consistent_and_every_threshold_is_read():
    assert alarm_rules.catalogue_problems() == []
    read = {kind.threshold for kind in catalogue.ALARM_KINDS.values()}
    assert read == set(catalogue.THRESHOLDS), "a threshold no alarm kind reads is dead config"


def test_the_values_each_scope_declares_are_the_ones_its_targets_give():
    targets = table_targets("t", ["i"], ["eu-west-1"], provisioned=False)
    assert targets, "no targets"
    for target in targets:
        (scope,) = target.scopes
        assert set(target.values) == SCOPE_VALUES[scope], scope

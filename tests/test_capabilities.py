"""DynamoDB capabilities of the catalogue and config: table class, Contributor Insights,
on-demand ceilings, warm throughput, local secondary indexes (docs/data-model/decisions/)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aws_cdk.assertions import Template

import config
from config import ENVIRONMENTS
from config.catalogue import SYSTEMS
from config.rules.catalogue import catalogue_problems
from constructs_lib.specs import IndexSpec, Key, LocalIndexSpec, TableSpec, WarmThroughput
from tests.expected import ENVS
from tests.test_config import assert_rejected
from tests.test_constructs import build_table

HOT = {("daylight", "UserSessions"), ("daylight", "AuthSessions"), ("daylight", "RateLimits"), ("therapeutic-wave", "Sessions"),
       ("madmall", "Main"), ("fusion-health", "Entries"), ("personalpod", "Cache"), ("personalpod", "Sessions")}  # fmt: skip


def home(stack, lid: str) -> tuple[dict, dict]:
    """(table properties, its home-region replica)"""
    props = stack.template["Resources"][lid]["Properties"]
    (replica,) = [r for r in props["Replicas"] if r["Region"] == stack.region]
    return props, replica


# Hot tables whose keys (or an index's) are bearer secrets or health values: an accessed-keys
# report would list them, so they get THROTTLED_KEYS at most (issue 26).
SENSITIVE_HOT = {("daylight", "UserSessions"), ("daylight", "AuthSessions"), ("therapeutic-wave", "Sessions"),
                 ("fusion-health", "Entries"), ("personalpod", "Sessions")}  # fmt: skip


@pytest.mark.parametrize("env, mode", [("dev", None), ("staging", "THROTTLED_KEYS"), ("prod", "ACCESSED_AND_THROTTLED_KEYS")])
def test_contributor_insights_on_the_hot_tables_where_config_has_it(synthesized, env, mode):
    seen = 0
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        for spec in system.tables:
            _, replica = home(stack, spec.logical_id)
            hot = (system.key, spec.id) in HOT
            narrowed = "THROTTLED_KEYS" if (system.key, spec.id) in SENSITIVE_HOT else mode
            expected = {"Enabled": True, "Mode": narrowed} if mode and hot else None
            assert replica.get("ContributorInsightsSpecification") == expected, (system.key, spec.id)
            # Each index's rule has the table's mode: a GSI keyed by a health value is as sensitive.
            for index in replica.get("GlobalSecondaryIndexes", []):
                assert index.get("ContributorInsightsSpecification") == expected, (system.key, spec.id, index["IndexName"])
            seen += hot
    assert seen == len(HOT) == 8 and SENSITIVE_HOT < HOT


@pytest.mark.parametrize("env", ENVS)
def test_no_sensitive_key_reaches_an_accessed_keys_report(synthesized, env):
    """Whatever config says, a table or index whose keys are secrets or health values never has
    ACCESSED_AND_THROTTLED_KEYS: anyone with cloudwatch:GetInsightRuleReport would read them."""
    sensitive = 0
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        for spec in system.tables:
            if not spec.sensitive_keys:
                continue
            sensitive += 1
            _, replica = home(stack, spec.logical_id)
            modes = [replica.get("ContributorInsightsSpecification", {}).get("Mode")]
            modes += [i.get("ContributorInsightsSpecification", {}).get("Mode") for i in replica.get("GlobalSecondaryIndexes", [])]
            assert "ACCESSED_AND_THROTTLED_KEYS" not in modes, (system.key, spec.id)
    assert sensitive >= len(SENSITIVE_HOT)


@pytest.mark.parametrize("env", ENVS)
def test_the_audit_log_is_standard_ia_and_every_other_table_standard(synthesized, env):
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        for spec in system.tables:
            _, replica = home(stack, spec.logical_id)
            ia = (system.key, spec.id) == ("daylight", "AuditLogs")
            assert replica.get("TableClass", "STANDARD") == ("STANDARD_INFREQUENT_ACCESS" if ia else "STANDARD"), spec.id


@pytest.mark.parametrize("env, read, write", [("dev", 200, 100), ("staging", 2000, 1000), ("prod", None, None)])
def test_on_demand_tables_and_their_indexes_have_the_environments_ceiling(synthesized, env, read, write):
    checked = 0
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        for spec in system.tables:
            props, replica = home(stack, spec.logical_id)
            if props.get("BillingMode") != "PAY_PER_REQUEST":
                assert "WriteOnDemandThroughputSettings" not in props  # provisioned: its own autoscaling ceiling
                continue
            checked += 1
            assert props.get("WriteOnDemandThroughputSettings") == ({"MaxWriteRequestUnits": write} if write else None), spec.id
            assert replica.get("ReadOnDemandThroughputSettings") == ({"MaxReadRequestUnits": read} if read else None), spec.id
            for index in props.get("GlobalSecondaryIndexes", []):
                assert index.get("WriteOnDemandThroughputSettings") == ({"MaxWriteRequestUnits": write} if write else None)
    assert checked >= 28


def test_warm_throughput_and_local_indexes_reach_the_table():
    spec = TableSpec(
        id="Orders",
        name="orders-{env}",
        partition_key=Key("customerId"),
        sort_key=Key("orderId"),
        local_indexes=(
            LocalIndexSpec(name="placedAt-index", sort_key=Key("placedAt"), projection="KEYS_ONLY", serves="a customer's orders by date"),
        ),
        warm_throughput=WarmThroughput(read_units_per_second=12000, write_units_per_second=4000),
        serves="a customer's orders",
        holds=("phi",),
    )
    stack, _ = build_table(spec=spec)
    props = Template.from_stack(stack).find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]
    assert props["LocalSecondaryIndexes"] == [
        {
            "IndexName": "placedAt-index",
            "KeySchema": [{"AttributeName": "customerId", "KeyType": "HASH"}, {"AttributeName": "placedAt", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert {"AttributeName": "placedAt", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["WarmThroughput"] == {"ReadUnitsPerSecond": 12000, "WriteUnitsPerSecond": 4000}


def table(**changes) -> TableSpec:
    base = TableSpec(id="T", name="t-{env}", partition_key=Key("pk"), sort_key=Key("sk"), serves="x", holds=())
    return replace(base, **changes)


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            table(sort_key=None, local_indexes=(LocalIndexSpec(name="a", sort_key=Key("x"), serves="y"),)),
            "catalogue s.T: local indexes a need the table to have a sort key",
        ),
        (
            table(local_indexes=tuple(LocalIndexSpec(name=f"l{i}", sort_key=Key(f"x{i}"), serves="y") for i in range(6))),
            "catalogue s.T: 6 local secondary indexes; DynamoDB allows 5 per table",
        ),
        (
            table(local_indexes=(LocalIndexSpec(name="same", sort_key=Key("sk"), serves="y"),)),
            "catalogue s.T: local index 'same' sorts on the table's own sort key; query the table instead",
        ),
        (
            table(
                local_indexes=(
                    LocalIndexSpec(name="x", sort_key=Key("n", "N"), serves="y"),
                    LocalIndexSpec(name="x", sort_key=Key("m"), serves="y"),
                )
            ),
            "catalogue s.T: index name 'x' is used 2 times; index names are unique per table",
        ),
        (table(warm_throughput=WarmThroughput(read_units_per_second=0)), "catalogue s.T: warm_throughput.read_units_per_second = 0"),
        (table(table_class="GLACIER"), "catalogue s.T: table_class = 'GLACIER'; STANDARD or STANDARD_INFREQUENT_ACCESS"),
        (
            table(holds=("secret-keys",), insights="ACCESSED_AND_THROTTLED_KEYS"),
            "catalogue s.T.insights = 'ACCESSED_AND_THROTTLED_KEYS' is not allowed: its keys hold secret-keys, which an "
            "accessed-keys report would list; THROTTLED_KEYS at most",
        ),
        (
            table(
                holds=("phi",),
                insights="ACCESSED_AND_THROTTLED_KEYS",
                indexes=(IndexSpec(name="by-dose", partition_key=Key("dose"), serves="y", holds=("phi-keys",)),),
            ),
            "catalogue s.T.insights = 'ACCESSED_AND_THROTTLED_KEYS' is not allowed: its keys hold phi-keys",
        ),
        (table(insights="ALL"), "catalogue s.T.insights = 'ALL' is not allowed: None, THROTTLED_KEYS or ACCESSED_AND_THROTTLED_KEYS"),
        (
            table(holds=("pii",)),
            "catalogue s.T.holds = ('pii',) is not allowed: a tuple of phi, phi-keys, secret-keys, audit (or () for none)",
        ),
        (table(holds="phi"), "catalogue s.T.holds = 'phi' is not allowed: a tuple of"),
    ],
    ids=[
        "lsi without sort key",
        "six lsis",
        "lsi on own sort key",
        "duplicate lsi",
        "warm zero",
        "class",
        "accessed keys of a secret-keyed table",
        "accessed keys of a phi-keyed index",
        "unknown insights mode",
        "unknown holding",
        "holds not a tuple",
    ],
)
def test_catalogue_capability_mistakes_are_named(spec, message):
    from constructs_lib.specs import SystemSpec

    problems = catalogue_problems([SystemSpec(key="s", title="S", seed="s.md", tables=(spec,), migration_role=False)])
    assert any(message in line for line in problems), problems


def test_config_capability_mistakes_are_named():
    dev = config.ENVIRONMENTS["dev"]
    assert_rejected(
        ["dev.contributor_insights = 'ALL' is not allowed: off, THROTTLED_KEYS or ACCESSED_AND_THROTTLED_KEYS"],
        dev=replace(dev, contributor_insights="ALL"),
    )
    assert_rejected(
        ["dev.billing.max_read_request_units = 0 is not allowed: a whole number > 0"],
        dev=replace(dev, billing=replace(dev.billing, max_read_request_units=0)),
    )
    prod = config.ENVIRONMENTS["prod"]
    provisioned = prod.billing_overrides["fusion-health"]
    assert_rejected(
        [
            "prod.billing_overrides['fusion-health'].max_write_request_units = 5 is not allowed: unset when mode is PROVISIONED (on-demand only)"
        ],
        prod=replace(prod, billing_overrides={"fusion-health": replace(provisioned, max_write_request_units=5)}),
    )


def _capacity_alarms(synthesized, env: str) -> dict[str, dict]:
    return {
        res["Properties"]["AlarmName"]: res["Properties"]
        for stack in synthesized.values()
        if stack.environment == env
        for res in stack.template["Resources"].values()
        if res["Type"] == "AWS::CloudWatch::Alarm" and res["Properties"]["AlarmName"].endswith("-capacity")
    }


def test_provisioned_tables_and_indexes_alarm_near_their_provisioned_capacity(synthesized):
    """Where config provisions a system's capacity (billing_overrides: fusion-health in prod),
    each of its tables and GSIs, reads and writes, alarms on consumed per second as a
    percentage of provisioned; nowhere else."""
    provisioned = [(env, s) for env, cfg in ENVIRONMENTS.items() for s in SYSTEMS if cfg.billing_for(s.key).mode == "PROVISIONED"]
    assert provisioned, "config provisions no system anywhere: this test would check nothing"
    for env, cfg in ENVIRONMENTS.items():
        names = []
        for system in (system for e, system in provisioned if e == env):
            for spec in system.tables:
                table = cfg.table_name(system.key, spec.id, spec.name)
                names += [table, *(f"{table}-{i.name}" for i in spec.indexes)]
        expected = sorted(f"{name}-{kind}-capacity" for name in names for kind in ("read", "write"))
        assert sorted(_capacity_alarms(synthesized, env)) == expected, env
    env, system = provisioned[0]
    spec = next(t for t in system.tables if t.indexes)
    index = spec.indexes[0].name
    table = ENVIRONMENTS[env].table_name(system.key, spec.id, spec.name)
    alarm = _capacity_alarms(synthesized, env)[f"{table}-{index}-write-capacity"]
    assert alarm["Threshold"] == ENVIRONMENTS[env].alarms.thresholds["capacity_utilization_percent"] and alarm["AlarmActions"]
    expression, consumed, provisioned_metric = alarm["Metrics"]
    assert expression["Expression"] == "100 * (consumed / 300) / provisioned"
    assert consumed["MetricStat"]["Metric"]["MetricName"] == "ConsumedWriteCapacityUnits" and consumed["MetricStat"]["Stat"] == "Sum"
    assert provisioned_metric["MetricStat"]["Metric"]["MetricName"] == "ProvisionedWriteCapacityUnits"
    assert {"Name": "GlobalSecondaryIndexName", "Value": index} in consumed["MetricStat"]["Metric"]["Dimensions"]

"""tools.tables: table definitions read from synthesized templates and from a cdk.out."""

from __future__ import annotations

import pytest

from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from tests.expected import ENVS
from tests.local.helpers import tables, write_assembly
from tools.assembly import AssemblyError, Stack
from tools.tables import Capacity


def _schema(partition, sort=None):
    return ((partition.name, "HASH"),) + (((sort.name, "RANGE"),) if sort else ())


@pytest.mark.parametrize("env", ENVS)
def test_every_catalogue_table_is_read_with_its_keys_indexes_and_settings(env_tables, env):
    cfg = ENVIRONMENTS[env]
    by_name = {t.name: t for t in env_tables(env)}
    assert SYSTEMS and by_name
    for system in SYSTEMS:
        billing = cfg.billing_for(system.key)
        assert system.tables, system.key
        for spec in system.tables:
            table = by_name.pop(cfg.table_name(system.key, spec.id, spec.name))
            assert (table.system, table.id, table.environment) == (system.key, spec.id, env)
            assert table.key_schema == _schema(spec.partition_key, spec.sort_key)
            assert table.attribute_types == _key_attributes(spec)
            assert [(i.name, i.key_schema, i.projection, i.non_key_attributes) for i in table.indexes] == [
                (i.name, _schema(i.partition_key, i.sort_key), i.projection, i.include) for i in spec.indexes
            ]
            assert table.ttl_attribute == spec.ttl_attribute
            assert table.billing_mode == billing.mode
            if billing.mode == "PROVISIONED":
                expected = Capacity(
                    read_min=billing.read_capacity,
                    read_max=billing.max_read_capacity,
                    write_min=billing.write_capacity,
                    write_max=billing.max_write_capacity,
                )
                assert table.capacity == expected and all(i.capacity == expected for i in table.indexes)
            else:
                assert table.capacity is None
            assert table.pitr_enabled == cfg.pitr.enabled
            assert table.pitr_days == (cfg.pitr.recovery_period_days if cfg.pitr.enabled else None)
            assert table.deletion_protection == cfg.deletion_protection
            assert table.kms_key is not None and table.kms_key.logical_id and table.kms_key.alias.startswith("alias/")
            assert table.tags["Table"] == spec.id and table.tags["Environment"] == env
    assert by_name == {}, "tables in the templates that the catalogue does not declare"


def test_create_table_params_carry_everything_create_table_takes(env_tables):
    entries = next(t for t in env_tables("prod") if t.system == "fusion-health" and t.id == "Entries")
    params = entries.create_table_params("arn:aws:kms:us-east-1:123456789012:key/k")
    throughput = {"ReadCapacityUnits": entries.capacity.read_min, "WriteCapacityUnits": entries.capacity.write_min}
    assert params["TableName"] == "fusion-health-entries-prod"
    assert params["KeySchema"] == [{"AttributeName": "date", "KeyType": "HASH"}, {"AttributeName": "timestamp", "KeyType": "RANGE"}]
    assert params["AttributeDefinitions"] == [
        {"AttributeName": "date", "AttributeType": "S"},
        {"AttributeName": "max_pain_level", "AttributeType": "N"},
        {"AttributeName": "medication_taken", "AttributeType": "S"},
        {"AttributeName": "timestamp", "AttributeType": "S"},
    ]
    assert params["BillingMode"] == "PROVISIONED" and params["ProvisionedThroughput"] == throughput
    assert params["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "medication-index",
            "KeySchema": [{"AttributeName": "medication_taken", "KeyType": "HASH"}, {"AttributeName": "date", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": throughput,
        },
        {
            "IndexName": "pain-level-index",
            "KeySchema": [{"AttributeName": "max_pain_level", "KeyType": "HASH"}, {"AttributeName": "date", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": throughput,
        },
    ]
    assert params["SSESpecification"] == {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": "arn:aws:kms:us-east-1:123456789012:key/k"}
    assert params["DeletionProtectionEnabled"] is True
    assert {"Key": "Table", "Value": "Entries"} in params["Tags"]
    assert "StreamSpecification" not in params  # no template declares a stream today
    with pytest.raises(AssemblyError, match="customer-managed key: pass its ARN"):
        entries.create_table_params(None)


def test_a_cdk_out_reads_the_same_as_the_synthesized_stacks(synthesized, env_tables, tmp_path):
    assembly = write_assembly(tmp_path / "cdk.out", synthesized.values())
    for env in ENVS:
        stacks = tables.load_environment(assembly, env)
        assert stacks
        assert {s.name for s in stacks} == {s.name for s in synthesized.values() if s.environment == env}
        assert tables.tables(stacks) == env_tables(env)


def test_a_missing_cdk_out_or_environment_is_a_clear_error(synthesized, tmp_path):
    with pytest.raises(AssemblyError, match=r"manifest.json not found: run `make synth` first"):
        tables.load_environment(tmp_path / "nowhere", "dev")
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment != "dev"])
    with pytest.raises(AssemblyError, match=r"no environment 'dev' in .*; it has prod, staging"):
        tables.load_environment(assembly, "dev")


def test_a_table_whose_name_is_not_a_literal_is_refused(synthesized):
    stack = next(s for s in synthesized.values() if s.name == "madmall-dev")
    template = {"Resources": {**stack.template["Resources"]}}
    table = template["Resources"]["TableMain"]
    template["Resources"]["TableMain"] = {**table, "Properties": {**table["Properties"], "TableName": {"Ref": "SomeParameter"}}}
    odd = Stack(name="madmall-dev", environment="dev", region=stack.region, template=template)
    with pytest.raises(AssemblyError, match=r"madmall-dev/TableMain: TableName is \{'Ref': 'SomeParameter'\}, not a literal value"):
        tables.tables([odd])


def _key_attributes(spec) -> dict[str, str]:
    """Every attribute used in a key of the table or an index, with its type."""
    keys = [spec.partition_key, spec.sort_key, *(k for i in spec.indexes for k in (i.partition_key, i.sort_key))]
    return {key.name: key.type for key in [*keys, *(local.sort_key for local in spec.local_indexes)] if key}

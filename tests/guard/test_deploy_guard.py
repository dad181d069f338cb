"""Tests for tools/guard (python -m tools guard): every rule's hazard, the safe changes, the input forms."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path

import pytest

from config.environments import ENVIRONMENTS
from tools import guard as deploy_guard

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"
SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_snapshots"

PROD, STAGING, DEV = "daylight-prod", "daylight-staging", "daylight-dev"
KEY_ARN = {"Fn::GetAtt": ["OrdersKey", "Arn"]}


def gsi(name, pk, projection="ALL", *non_key):
    index = {"IndexName": name, "KeySchema": [{"AttributeName": pk, "KeyType": "HASH"}], "Projection": {"ProjectionType": projection}}
    if non_key:
        index["Projection"]["NonKeyAttributes"] = list(non_key)
    return index


def table(**overrides):
    """A fully protected prod table; tests change one thing at a time."""
    res = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "TableName": "daylight-prod-orders",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "status", "customer")],
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [gsi("byStatus", "status", "INCLUDE", "total", "createdAt")],
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "DeletionProtectionEnabled": True,
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY_ARN},
        },
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
    }
    res["Properties"].update(overrides)
    return res


def replica(region, key="arn:aws:kms:eu-west-1:111111111111:key/a"):
    return {
        "Region": region,
        "DeletionProtectionEnabled": True,
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"KMSMasterKeyId": key},
    }


def global_table(*regions):
    res = table()
    res["Type"] = "AWS::DynamoDB::GlobalTable"
    for prop in ("DeletionProtectionEnabled", "PointInTimeRecoverySpecification"):
        del res["Properties"][prop]  # per replica on a GlobalTable
    res["Properties"]["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS"}
    res["Properties"]["Replicas"] = [replica(r) for r in regions or ("eu-west-1",)]
    return res


def simple(rtype, policy=None, **properties):
    res = {"Type": rtype, "Properties": properties}
    if policy:
        res["DeletionPolicy"] = res["UpdateReplacePolicy"] = policy
    return res


ALARM = simple("AWS::CloudWatch::Alarm", Threshold=5, MetricName="Errors")
KEY = simple("AWS::KMS::Key", "Retain", EnableKeyRotation=True)


def reorder(value):
    """Same content with every object's keys reversed and order-free lists flipped."""
    if isinstance(value, dict):
        out = {k: reorder(v) for k, v in reversed(list(value.items()))}
        for unordered in ("KeySchema", "NonKeyAttributes"):
            if unordered in out:
                out[unordered] = list(reversed(out[unordered]))
        return out
    return [reorder(v) for v in value] if isinstance(value, list) else value


def baseline_resources():
    return {"Orders": table(), "OrdersKey": copy.deepcopy(KEY), "ErrorsAlarm": copy.deepcopy(ALARM)}


def write_stacks(directory: Path, stacks: dict) -> Path:
    """Stacks as a directory of <name>.template.json files."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, resources in stacks.items():
        (directory / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
    return directory


@pytest.fixture(autouse=True)
def own_directory(tmp_path, monkeypatch):
    """Run in an empty directory, so a deploy-guard.accept in the checkout cannot leak in."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def guard(tmp_path, capsys):
    """guard(base, cand) compares single-stack resource dicts (or {stack: resources} with
    stacks=True) and returns (exit code, findings from --json); args go before the inputs."""

    def run(base, cand, stack=PROD, stacks=False, args=()):
        if not stacks:
            base, cand = {stack: base}, {stack: cand}
        code = deploy_guard.main(["--json", *args, str(write_stacks(tmp_path / "base", base)), str(write_stacks(tmp_path / "cand", cand))])
        output = json.loads(capsys.readouterr().out)
        assert output["ok"] is (code == 0)
        return code, output["findings"]

    return run


def changed(mutate, resources=None):
    """Baseline resources and a copy changed by mutate(resources)."""
    base = resources or baseline_resources()
    cand = copy.deepcopy(base)
    mutate(cand)
    return base, cand


def edit(*path, **updates):
    """A mutator for changed(): update the dict found at resources[path...]."""

    def mutate(resources):
        target = resources
        for key in path:
            target = target[key]
        target.update(updates)

    return mutate


def only(findings, rule, stack=PROD, resource="Orders", prop=None):
    """The single finding, checked to name the rule, stack, resource and property."""
    assert len(findings) == 1, findings
    finding = findings[0]
    assert (finding["rule"], finding["stack"], finding["resource"]) == (rule, stack, resource)
    if prop is not None:
        assert finding["property"] == prop
    assert finding["effect"] and finding["route"]
    return finding


# ------------------------------------------------------------------ STATEFUL-DELETE / RENAME

ORPHANED = "orphaned: kept with its data but no longer managed; re-adding it later "


@pytest.mark.parametrize("stack, deletion_policy", [(PROD, "Delete"), (DEV, "Delete"), (DEV, None)])
def test_removed_table_without_retain_is_deleted(guard, stack, deletion_policy):
    base = baseline_resources()
    base["Orders"].pop("DeletionPolicy")
    if deletion_policy:
        base["Orders"]["DeletionPolicy"] = deletion_policy
    code, findings = guard(*changed(lambda r: r.pop("Orders"), base), stack=stack)
    assert code == 1
    finding = only(findings, "STATEFUL-DELETE", stack, prop="(resource)")
    assert finding["action"] == "delete"
    assert finding["effect"] == "the resource is deleted with its data (DeletionPolicy Delete)."


@pytest.mark.parametrize("stack", [PROD, DEV])
def test_removed_retained_table_is_orphaned_and_flagged(guard, stack):
    code, findings = guard(*changed(lambda r: r.pop("Orders")), stack=stack)  # DeletionPolicy Retain
    assert code == 1
    finding = only(findings, "STATEFUL-DELETE", stack, prop="(resource)")
    assert finding["action"] == "orphan"
    assert finding["effect"] == (f"the resource is {ORPHANED}fails because the name is taken (DeletionPolicy Retain).")
    assert finding["route"] == deploy_guard.ORPHAN_ROUTE and "--accept" in finding["route"]


def test_removed_retained_unnamed_key_can_be_recreated_empty(guard):
    code, findings = guard(*changed(lambda r: r.pop("OrdersKey")))
    assert code == 1
    assert f"{ORPHANED}creates a new, empty one" in only(findings, "STATEFUL-DELETE", resource="OrdersKey")["effect"]


def test_table_removed_from_the_real_prod_and_dev_templates(tmp_path, capsys):
    """The app's own templates: prod tables are Retain (orphaned), dev tables Delete (deleted)."""
    base, cand = tmp_path / "real-base", tmp_path / "real-cand"
    removed = {}
    for name in (PROD, DEV):
        doc = json.loads((SNAPSHOTS / f"test_template_snapshot[{name}].json").read_text())
        (base / name).mkdir(parents=True)
        (base / name / "stack.json").write_text(json.dumps(doc))
        resources = doc["template"]["Resources"]
        removed[name] = next(lid for lid, r in sorted(resources.items()) if r["Type"] in deploy_guard.TABLE_TYPES)
        del resources[removed[name]]
        (cand / name).mkdir(parents=True)
        (cand / name / "stack.json").write_text(json.dumps(doc))
    assert deploy_guard.main(["--json", str(base), str(cand)]) == 1
    findings = {f["stack"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert {(s, f["rule"], f["resource"], f["action"]) for s, f in findings.items()} == {
        (PROD, "STATEFUL-DELETE", removed[PROD], "orphan"),
        (DEV, "STATEFUL-DELETE", removed[DEV], "delete"),
    }
    assert ORPHANED in findings[PROD]["effect"] and "deleted with its data" in findings[DEV]["effect"]


def test_rds_cluster_removed_defaults_to_snapshot_then_delete(guard):
    base = {"Db": simple("AWS::RDS::DBCluster", Engine="aurora-postgresql")}
    code, findings = guard(base, {}, stack=DEV)
    assert code == 1
    assert "snapshotted, then deleted" in only(findings, "STATEFUL-DELETE", DEV, "Db")["effect"]


def test_removed_stack_with_stateful_resources(guard):
    base = {PROD: baseline_resources(), DEV: {"Uploads": simple("AWS::S3::Bucket"), "A": ALARM}}
    code, findings = guard(base, {PROD: baseline_resources()}, stacks=True)
    assert code == 1
    finding = only(findings, "STATEFUL-DELETE", DEV, "Uploads")
    assert "stack was removed" in finding["change"] and "stack is deleted" in finding["effect"]


def test_logical_id_rename_with_same_physical_name(guard):
    code, findings = guard(*changed(lambda r: r.update(OrdersV2=r.pop("Orders"))))
    assert code == 1
    finding = only(findings, "STATEFUL-RENAME", prop="(logical id)")
    assert "OrdersV2" in finding["change"] and "TableName" in finding["change"]
    assert "cdk refactor" in finding["route"] and "override_logical_id" in finding["route"]


def test_logical_id_rename_without_physical_name_matches_identical_properties(guard):
    code, findings = guard(*changed(lambda r: r.update(OrdersKeyV2=r.pop("OrdersKey"))))
    assert code == 1
    finding = only(findings, "STATEFUL-RENAME", resource="OrdersKey")
    assert "OrdersKeyV2 (identical properties)" in finding["change"]


def test_named_bucket_moved_to_another_stack(guard):
    bucket = simple("AWS::S3::Bucket", BucketName="daylight-dev-uploads")
    base = {DEV: {"Uploads": bucket}}
    cand = {DEV: {"A": ALARM}, "daylight-storage-dev": {"Uploads": bucket}}
    code, findings = guard(base, cand, stacks=True)
    assert code == 1
    assert "daylight-storage-dev/Uploads" in only(findings, "STATEFUL-RENAME", DEV, "Uploads")["change"]


# ------------------------------------------------------------------ STATEFUL-REPLACE


@pytest.mark.parametrize(
    "rtype, prop",
    [
        ("AWS::DynamoDB::Table", "TableName"),
        ("AWS::S3::Bucket", "BucketName"),
        ("AWS::RDS::DBCluster", "DBClusterIdentifier"),
        ("AWS::RDS::DBInstance", "DBInstanceIdentifier"),
        ("AWS::Backup::BackupVault", "BackupVaultName"),
        ("AWS::Logs::LogGroup", "LogGroupName"),
    ],
)
def test_physical_name_change_replaces(guard, rtype, prop):
    base = {"Store": simple(rtype, **{prop: "old-name"})}
    code, findings = guard(*changed(lambda r: r["Store"]["Properties"].update({prop: "new-name"}), base))
    assert code == 1
    finding = only(findings, "STATEFUL-REPLACE", resource="Store", prop=prop)
    assert finding["action"] == "replace" and "old-name -> new-name" in finding["change"]


@pytest.mark.parametrize("prop, value", [("KeySpec", "RSA_2048"), ("KeyUsage", "SIGN_VERIFY")])
def test_kms_immutable_property_change_fails(guard, prop, value):
    code, findings = guard(*changed(lambda r: r["OrdersKey"]["Properties"].update({prop: value})))
    assert code == 1
    assert only(findings, "STATEFUL-REPLACE", resource="OrdersKey", prop=prop)["action"] == "fail"


def test_kms_default_written_out_is_not_a_change(guard):
    assert guard(*changed(edit("OrdersKey", "Properties", KeySpec="SYMMETRIC_DEFAULT"))) == (0, [])


def test_key_schema_change_on_named_table_fails(guard):
    code, findings = guard(*changed(edit("Orders", "Properties", "KeySchema", 1, AttributeName="customer")))
    assert code == 1
    finding = only(findings, "STATEFUL-REPLACE", prop="KeySchema")
    # A fixed TableName makes CloudFormation refuse the replacement outright.
    assert finding["action"] == "fail" and "custom-named" in finding["effect"]


def test_key_schema_change_on_unnamed_table_replaces_it(guard):
    base = {"Orders": table()}
    del base["Orders"]["Properties"]["TableName"]
    base["Orders"]["UpdateReplacePolicy"] = "Delete"
    hash_only = edit("Orders", "Properties", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    code, findings = guard(*changed(hash_only, base), stack=DEV)
    finding = only(findings, "STATEFUL-REPLACE", DEV, prop="KeySchema")
    assert finding["action"] == "replace" and "deleted with its data" in finding["effect"]


def test_key_attribute_type_change(guard):
    code, findings = guard(*changed(edit("Orders", "Properties", "AttributeDefinitions", 0, AttributeType="N")))
    assert code == 1
    assert "pk: S -> N" in only(findings, "STATEFUL-REPLACE", prop="AttributeDefinitions")["change"]


def test_local_secondary_index_added(guard):
    lsi = {
        "IndexName": "byCustomer",
        "Projection": {"ProjectionType": "KEYS_ONLY"},
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "customer", "KeyType": "RANGE"}],
    }
    code, findings = guard(*changed(edit("Orders", "Properties", LocalSecondaryIndexes=[lsi])))
    assert code == 1
    assert "added: byCustomer" in only(findings, "STATEFUL-REPLACE", prop="LocalSecondaryIndexes")["change"]


def test_table_to_global_table_under_same_logical_id(guard):
    code, findings = guard(*changed(lambda r: r.update(Orders=global_table())))
    assert code == 1
    finding = only(findings, "STATEFUL-REPLACE", prop="Type")
    assert "AWS::DynamoDB::Table -> AWS::DynamoDB::GlobalTable" in finding["change"]
    assert finding["action"] == "fail" and "cdk import" in finding["route"]


def test_table_to_global_table_under_new_logical_id_same_table_name(guard):
    code, findings = guard(*changed(lambda r: (r.pop("Orders"), r.update(OrdersGlobal=global_table()))))
    assert code == 1
    finding = only(findings, "STATEFUL-REPLACE", prop="Type")
    assert "OrdersGlobal (same TableName)" in finding["change"]


def test_table_kms_key_swapped_is_a_warning_not_a_failure(guard):
    new_key = {"Fn::GetAtt": ["OtherKey", "Arn"]}
    code, findings = guard(*changed(edit("Orders", "Properties", "SSESpecification", KMSMasterKeyId=new_key)))
    assert code == 0  # DynamoDB re-encrypts in place: nothing to accept
    finding = only(findings, "TABLE-REKEY", prop="SSESpecification.KMSMasterKeyId")
    assert finding["severity"] == "warning" and finding["action"] == "rekey"
    assert "OrdersKey" in finding["change"] and "OtherKey" in finding["change"]
    assert "re-encrypts the live table in place" in finding["effect"]
    assert "Keep the old key enabled" in finding["route"] and "SSEDescription.Status" in finding["route"]


def test_global_table_replica_kms_key_swapped_is_a_warning(guard):
    base = {"Orders": global_table("eu-west-1", "eu-central-1")}
    new_key = edit("Orders", "Properties", "Replicas", 0, "SSESpecification", KMSMasterKeyId={"Ref": "NewKey"})
    code, findings = guard(*changed(new_key, base))
    assert code == 0
    only(findings, "TABLE-REKEY", prop="Replicas[eu-west-1].SSESpecification.KMSMasterKeyId")


def test_global_table_sse_type_changed_is_a_warning(guard):
    base = {"Orders": global_table()}
    code, findings = guard(*changed(edit("Orders", "Properties", "SSESpecification", SSEType="AES256"), base))
    assert code == 0
    assert "KMS -> AES256" in only(findings, "TABLE-REKEY", prop="SSESpecification.SSEType")["change"]


def test_a_warning_is_printed_and_the_result_is_still_ok(cli):
    new_key = {"Fn::GetAtt": ["OtherKey", "Arn"]}
    code, out, _ = cli(*changed(edit("Orders", "Properties", "SSESpecification", KMSMasterKeyId=new_key)))
    assert code == 0
    assert f"[TABLE-REKEY] (warning) {PROD}/Orders SSESpecification.KMSMasterKeyId:" in out
    assert "CloudFormation would RE-ENCRYPT the live data:" in out
    assert "deploy-guard: OK - no hazards (1 warning(s), " in out


# ------------------------------------------------------------------ GSI-MULTI


def add_gsis(*indexes):
    return lambda r: r["Orders"]["Properties"]["GlobalSecondaryIndexes"].extend(indexes)


def test_two_gsis_created_in_one_change(guard):
    code, findings = guard(*changed(add_gsis(gsi("byCustomer", "customer"), gsi("bySk", "sk"))))
    assert code == 1
    finding = only(findings, "GSI-MULTI", prop="GlobalSecondaryIndexes")
    assert "created: byCustomer, bySk" in finding["change"] and "2 deployments" in finding["route"]
    assert finding["action"] == "fail"


def test_gsi_swapped_for_another_counts_delete_and_create(guard):
    swap = edit("Orders", "Properties", GlobalSecondaryIndexes=[gsi("byCustomer", "customer")])
    code, findings = guard(*changed(swap))
    assert "deleted: byStatus" in only(findings, "GSI-MULTI")["change"]


def test_gsi_projection_change_is_delete_plus_create(guard):
    narrower = edit("Orders", "Properties", GlobalSecondaryIndexes=[gsi("byStatus", "status", "KEYS_ONLY")])
    code, findings = guard(*changed(narrower))
    assert code == 1
    assert "changed (delete + create): byStatus" in only(findings, "GSI-MULTI")["change"]


# ------------------------------------------------------------------ TTL-RENAME


def test_ttl_attribute_renamed_while_enabled(guard):
    renamed = edit("Orders", "Properties", "TimeToLiveSpecification", AttributeName="ttl")
    code, findings = guard(*changed(renamed))
    assert code == 1
    finding = only(findings, "TTL-RENAME", prop="TimeToLiveSpecification.AttributeName")
    assert "expiresAt -> ttl" in finding["change"] and "disable TTL" in finding["route"]


def test_ttl_disable_then_enable_are_each_safe(guard):
    base, disabled = changed(edit("Orders", "Properties", "TimeToLiveSpecification", Enabled=False))
    assert guard(base, disabled) == (0, [])
    enabled = copy.deepcopy(disabled)
    enabled["Orders"]["Properties"]["TimeToLiveSpecification"] = {"AttributeName": "ttl", "Enabled": True}
    assert guard(disabled, enabled) == (0, [])


# ------------------------------------------------------------------ REPLICA-MULTI


def test_two_replicas_added_in_one_change(guard):
    base = {"Orders": global_table("eu-west-1")}

    def mutate(r):
        r["Orders"]["Properties"]["Replicas"] += [replica("us-east-1"), replica("us-west-2")]

    code, findings = guard(*changed(mutate, base))
    assert code == 1
    finding = only(findings, "REPLICA-MULTI", prop="Replicas")
    assert "added: us-east-1, us-west-2" in finding["change"] and "2 deployments" in finding["route"]


def test_one_replica_added_is_safe(guard):
    base = {"Orders": global_table("eu-west-1")}

    def mutate(r):
        r["Orders"]["Properties"]["Replicas"].append(replica("us-east-1"))

    assert guard(*changed(mutate, base)) == (0, [])


# ------------------------------------------------------------------ REPLICATION-MODE


def strong_table(*regions, witness="eu-west-3"):
    res = global_table(*regions)
    res["Properties"]["MultiRegionConsistency"] = "STRONG"
    if witness:
        res["Properties"]["GlobalTableWitnesses"] = [{"Region": witness}]
    return res


@pytest.mark.parametrize(
    ("base", "mode", "change"),
    [
        (global_table("eu-west-1", "eu-west-2"), "STRONG", "EVENTUAL -> STRONG"),
        (global_table("eu-west-1", "eu-west-2"), "EVENTUAL", None),  # eventual stated: no change
        (strong_table("eu-west-1", "eu-west-2"), "EVENTUAL", "STRONG -> EVENTUAL"),
        (strong_table("eu-west-1", "eu-west-2"), None, "STRONG -> EVENTUAL"),
    ],
    ids=["eventual to strong", "eventual stated", "strong to eventual", "strong dropped"],
)
def test_an_existing_tables_consistency_mode_cannot_change(guard, base, mode, change):
    def mutate(r):
        if mode is None:
            r["Orders"]["Properties"].pop("MultiRegionConsistency")
        else:
            r["Orders"]["Properties"]["MultiRegionConsistency"] = mode

    code, findings = guard(*changed(mutate, {"Orders": base}))
    if change is None:
        assert (code, findings) == (0, [])
        return
    assert code == 1
    finding = only(findings, "REPLICATION-MODE", prop="MultiRegionConsistency")
    assert finding["change"] == change and "new table" in finding["route"]


@pytest.mark.parametrize(
    ("mutate", "prop"),
    [
        (lambda p: p["Replicas"].append(replica("eu-central-1")), "Replicas"),
        (lambda p: p["GlobalTableWitnesses"].__setitem__(0, {"Region": "eu-central-1"}), "GlobalTableWitnesses"),
        (lambda p: p.pop("GlobalTableWitnesses"), "GlobalTableWitnesses"),
    ],
    ids=["replica added", "witness moved", "witness removed"],
)
def test_a_strong_tables_regions_cannot_change(guard, mutate, prop):
    code, findings = guard(*changed(lambda r: mutate(r["Orders"]["Properties"]), {"Orders": strong_table("eu-west-1", "eu-west-2")}))
    assert code == 1
    finding = only(findings, "REPLICATION-MODE", prop=prop)
    assert "witness eu-west-3 ->" in finding["change"]


def test_a_new_strong_table_is_safe(guard):
    base = {"Orders": global_table("eu-west-1")}
    assert guard(*changed(lambda r: r.update(Ledger=strong_table("eu-west-1", "eu-west-2")), base)) == (0, [])


# ------------------------------------------------------------------ PROTECTION-WEAKENED

WEAKENINGS = [
    ("table deletion protection", lambda r: r["Orders"]["Properties"].update(DeletionProtectionEnabled=False), "DeletionProtectionEnabled"),
    ("table PITR off", lambda r: r["Orders"]["Properties"].pop("PointInTimeRecoverySpecification"), "PointInTimeRecoverySpecification"),
    (
        "PITR window lowered",
        lambda r: r["Orders"]["Properties"]["PointInTimeRecoverySpecification"].update(RecoveryPeriodInDays=7),
        "PointInTimeRecoverySpecification",
    ),
    ("DeletionPolicy", lambda r: r["Orders"].update(DeletionPolicy="Delete"), "DeletionPolicy"),
    ("UpdateReplacePolicy", lambda r: r["Orders"].pop("UpdateReplacePolicy"), "UpdateReplacePolicy"),
]


@pytest.mark.parametrize("stack", [PROD, STAGING])
@pytest.mark.parametrize("mutate, prop", [w[1:] for w in WEAKENINGS], ids=[w[0] for w in WEAKENINGS])
def test_protection_weakened_in_staging_and_prod(guard, mutate, prop, stack):
    code, findings = guard(*changed(mutate), stack=stack)
    assert code == 1
    assert only(findings, "PROTECTION-WEAKENED", stack, prop=prop)["action"] == "weaken"


@pytest.mark.parametrize("mutate", [w[1] for w in WEAKENINGS], ids=[w[0] for w in WEAKENINGS])
def test_same_weakening_in_dev_is_allowed(guard, mutate):
    assert guard(*changed(mutate), stack=DEV) == (0, [])


@pytest.mark.parametrize("rtype", ["AWS::KMS::Key", "AWS::S3::Bucket"])
@pytest.mark.parametrize("attribute", ["DeletionPolicy", "UpdateReplacePolicy"])
def test_key_and_bucket_retain_to_delete_in_staging(guard, rtype, attribute):
    base = {"Store": simple(rtype, "Retain")}
    code, findings = guard(*changed(lambda r: r["Store"].update({attribute: "Delete"}), base), stack=STAGING)
    assert code == 1
    assert only(findings, "PROTECTION-WEAKENED", STAGING, "Store", attribute)["change"] == "Retain -> Delete"


def test_global_table_replica_protections_weakened(guard):
    base = {"Orders": global_table("eu-west-1", "eu-central-1")}

    def mutate(r):
        r["Orders"]["Properties"]["Replicas"][1].update(DeletionProtectionEnabled=False, PointInTimeRecoverySpecification={})

    code, findings = guard(*changed(mutate, base))
    assert code == 1
    assert {(f["rule"], f["resource"], f["property"]) for f in findings} == {
        ("PROTECTION-WEAKENED", "Orders", "Replicas[eu-central-1].DeletionProtectionEnabled"),
        ("PROTECTION-WEAKENED", "Orders", "Replicas[eu-central-1].PointInTimeRecoverySpecification"),
    }


def test_rds_protection_and_snapshot_policy_weakened(guard):
    base = {"Db": simple("AWS::RDS::DBCluster", "Snapshot", DeletionProtection=True)}

    def mutate(r):
        r["Db"].update(DeletionPolicy="Delete")
        r["Db"]["Properties"]["DeletionProtection"] = False

    code, findings = guard(*changed(mutate, base))
    assert code == 1
    assert {f["property"] for f in findings} == {"DeletionProtection", "DeletionPolicy"}
    assert all(f["stack"] == PROD and f["resource"] == "Db" for f in findings)


# ------------------------------------------------------------------ STREAM-CHANGE


def archived(**table_overrides):
    """A prod table with an archive pipe reading its stream, as the app declares it."""
    streamed = table(StreamSpecification={"StreamViewType": "OLD_IMAGE"}, **table_overrides)
    pipe = simple(
        "AWS::Pipes::Pipe", Name="daylight-prod-orders-archive", Source={"Fn::GetAtt": ["Orders", "StreamArn"]}, Target="arn:firehose"
    )
    return {"Orders": streamed, "OrdersKey": copy.deepcopy(KEY), "OrdersArchive": pipe}


@pytest.mark.parametrize("new_spec, what", [(None, "switched off"), ({"StreamViewType": "NEW_AND_OLD_IMAGES"}, "changed")])
def test_stream_changed_or_removed_under_an_archive_pipe(guard, new_spec, what):
    def mutate(r):
        r["Orders"]["Properties"].pop("StreamSpecification")
        if new_spec:
            r["Orders"]["Properties"]["StreamSpecification"] = new_spec

    code, findings = guard(*changed(mutate, archived()), stack=DEV)  # dev too: archives are lost anywhere
    assert code == 1
    finding = only(findings, "STREAM-CHANGE", DEV, prop="StreamSpecification")
    assert finding["action"] == "gap" and "read by OrdersArchive" in finding["change"]
    assert f"the stream is {what}" in finding["effect"] and "new ARN" in finding["effect"]
    assert "never archived" in finding["effect"] and "disable TTL" in finding["route"]


def test_stream_change_nobody_reads_is_safe(guard):
    resources = archived()
    del resources["OrdersArchive"]
    assert guard(*changed(lambda r: r["Orders"]["Properties"].pop("StreamSpecification"), resources)) == (0, [])


def test_stream_switched_on_is_safe(guard):
    assert guard(*changed(edit("Orders", "Properties", StreamSpecification={"StreamViewType": "OLD_IMAGE"}))) == (0, [])


def test_lambda_event_source_mapping_counts_as_a_consumer(guard):
    resources = archived()
    resources["OrdersArchive"] = simple("AWS::Lambda::EventSourceMapping", EventSourceArn={"Fn::GetAtt": ["Orders", "StreamArn"]})
    code, findings = guard(*changed(lambda r: r["Orders"]["Properties"].pop("StreamSpecification"), resources))
    assert code == 1 and "read by OrdersArchive" in only(findings, "STREAM-CHANGE")["change"]


def test_stream_change_on_a_multi_replica_global_table_fails(guard):
    base = {"Orders": global_table("us-east-1", "eu-west-1")}
    base["Orders"]["Properties"]["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    code, findings = guard(*changed(edit("Orders", "Properties", StreamSpecification={"StreamViewType": "NEW_IMAGE"}), base))
    assert code == 1
    finding = only(findings, "STREAM-CHANGE", prop="StreamSpecification")
    assert finding["action"] == "fail" and "2 replicas" in finding["effect"]
    assert "down to one" in finding["route"]


# ------------------------------------------------------------------ ENGINE-VERSION


def cluster(version, allow=None, family="aurora-postgresql16"):
    db = simple(
        "AWS::RDS::DBCluster",
        "Snapshot",
        Engine="aurora-postgresql",
        EngineVersion=version,
        DBClusterIdentifier="personalpod-prod",
        DeletionProtection=True,
        DBClusterParameterGroupName={"Ref": "Params"},
    )
    if allow is not None:
        db["Properties"]["AllowMajorVersionUpgrade"] = allow
    return {"Db": db, "Params": simple("AWS::RDS::DBClusterParameterGroup", Family=family)}


def test_engine_minor_upgrade_is_safe(guard):
    assert guard(cluster("16.4"), cluster("16.11")) == (0, [])


def test_engine_major_upgrade_without_allow_fails(guard):
    code, findings = guard(cluster("16.11"), cluster("17.4", family="aurora-postgresql17"))
    assert code == 1
    finding = only(findings, "ENGINE-VERSION", resource="Db", prop="EngineVersion")
    assert finding["change"] == "16.11 -> 17.4 (major)" and finding["action"] == "fail"
    assert "AllowMajorVersionUpgrade is not true" in finding["effect"]


def test_engine_major_upgrade_with_the_old_parameter_group_family_fails(guard):
    code, findings = guard(cluster("16.11"), cluster("17.4", allow=True))
    finding = only(findings, "ENGINE-VERSION", resource="Db")
    assert "family aurora-postgresql16, not one for version 17" in finding["effect"]


def test_engine_major_upgrade_done_right_is_still_an_outage_to_accept(guard):
    code, findings = guard(cluster("16.11"), cluster("17.4", allow=True, family="aurora-postgresql17"))
    assert code == 1
    finding = only(findings, "ENGINE-VERSION", resource="Db")
    assert finding["action"] == "outage" and "unavailable" in finding["effect"]
    code, _ = guard(
        cluster("16.11"), cluster("17.4", allow=True, family="aurora-postgresql17"), args=["--accept", f"ENGINE-VERSION:{PROD}/Db"]
    )
    assert code == 0


@pytest.mark.parametrize("old, new", [("16.11", "16.4"), ("16.4", "15.8"), ("8.0.mysql_aurora.3.05.2", "5.7.mysql_aurora.2.11.2")])
def test_engine_downgrade_fails(guard, old, new):
    code, findings = guard(cluster(old), cluster(new))
    assert code == 1
    finding = only(findings, "ENGINE-VERSION", resource="Db")
    assert finding["change"] == f"{old} -> {new} (downgrade)" and finding["action"] == "fail"


def test_engine_version_without_a_literal_is_not_judged(guard):
    assert guard(cluster({"Ref": "Version"}), cluster("17.4")) == (0, [])


# ------------------------------------------------------------------ NAME-TAKEN

NAMED = [
    ("AWS::CloudWatch::Alarm", {"AlarmName": "daylight-prod-users-throttles"}, "AlarmName"),
    ("AWS::IAM::Role", {"RoleName": "daylight-prod-app"}, "RoleName"),
    ("AWS::IAM::ManagedPolicy", {"ManagedPolicyName": "daylight-prod-app"}, "ManagedPolicyName"),
    ("AWS::KMS::Alias", {"AliasName": "alias/daylight-prod-data"}, "AliasName"),
    ("AWS::Pipes::Pipe", {"Name": "daylight-prod-users-archive"}, "Name"),
    ("AWS::KinesisFirehose::DeliveryStream", {"DeliveryStreamName": "daylight-prod-users"}, "DeliveryStreamName"),
    ("AWS::SQS::Queue", {"QueueName": "daylight-prod-archive-dlq"}, "QueueName"),
    ("AWS::SNS::Topic", {"TopicName": "data-alerts-prod"}, "TopicName"),
    ("AWS::Backup::BackupPlan", {"BackupPlan": {"BackupPlanName": "daylight-prod"}}, "BackupPlan.BackupPlanName"),
    ("AWS::CloudWatch::Dashboard", {"DashboardName": "daylight-prod"}, "DashboardName"),
]


@pytest.mark.parametrize("rtype, properties, prop", NAMED, ids=[n[0].split("::", 1)[1] for n in NAMED])
def test_named_resource_under_a_new_logical_id_fails_on_the_taken_name(guard, rtype, properties, prop):
    base = {"Named": simple(rtype, **properties)}
    code, findings = guard(*changed(lambda r: r.update(NamedV2=r.pop("Named")), base))
    assert code == 1
    finding = only(findings, "NAME-TAKEN", resource="Named", prop="(logical id)")
    assert f"moved to NamedV2 (same {prop} " in finding["change"] and finding["action"] == "fail"
    assert "creates NamedV2 before it deletes Named" in finding["effect"] and "pin()" in finding["route"]


def test_named_role_moved_to_another_stack_fails(guard):
    role = simple("AWS::IAM::Role", RoleName="daylight-prod-app")
    code, findings = guard({PROD: {"App": role}}, {PROD: {}, "daylight-access-prod": {"App": role}}, stacks=True)
    assert "daylight-access-prod/App" in only(findings, "NAME-TAKEN", resource="App")["change"]


def test_named_resource_renamed_together_with_its_logical_id_is_safe(guard):
    base = {"Named": simple("AWS::CloudWatch::Alarm", AlarmName="old-name")}
    cand = {"NamedV2": simple("AWS::CloudWatch::Alarm", AlarmName="new-name")}
    assert guard(base, cand) == (0, [])


# ------------------------------------------------------------------ safe changes

SAFE = [
    ("unchanged", lambda r: None),
    ("new table", lambda r: r.update(Invoices=table(TableName="daylight-prod-invoices"))),
    ("one new GSI", add_gsis(gsi("byCustomer", "customer"))),
    ("alarm threshold", edit("ErrorsAlarm", "Properties", Threshold=10)),
    ("new non-stateful resource", lambda r: r.update(Topic={"Type": "AWS::SNS::Topic"})),
    ("PITR default written out", edit("Orders", "Properties", "PointInTimeRecoverySpecification", RecoveryPeriodInDays=35)),
    (
        "GSI contributor insights",
        edit("Orders", "Properties", "GlobalSecondaryIndexes", 0, ContributorInsightsSpecification={"Enabled": True}),
    ),
    ("reordered keys", lambda r: r.update(Orders=reorder(r["Orders"]))),
]


@pytest.mark.parametrize("mutate", [s[1] for s in SAFE], ids=[s[0] for s in SAFE])
def test_safe_changes_pass(guard, mutate):
    assert guard(*changed(mutate)) == (0, [])


def test_new_stack_passes(guard):
    base = {PROD: baseline_resources()}
    cand = {PROD: baseline_resources(), "daylight-edge-prod": {"Logs": simple("AWS::Logs::LogGroup")}}
    assert guard(base, cand, stacks=True) == (0, [])


# ------------------------------------------------------------------ input forms


def write_assembly(root: Path, stacks: dict, protected: bool) -> Path:
    """A cdk.out with one nested assembly per stage, like cdk.Stage produces."""
    artifacts = {}
    for name, resources in stacks.items():
        stage = name.rsplit("-", 1)[1]
        nested = root / f"assembly-{stage}"
        nested.mkdir(parents=True)
        artifact_id = f"{stage}Data1234"
        (nested / f"{artifact_id}.template.json").write_text(json.dumps({"Resources": resources}))
        (nested / "manifest.json").write_text(
            json.dumps(
                {
                    "version": "55.0.0",
                    "artifacts": {
                        f"{artifact_id}.assets": {"type": "cdk:asset-manifest", "properties": {"file": "x.json"}},
                        artifact_id: {
                            "type": "aws:cloudformation:stack",
                            "properties": {
                                "templateFile": f"{artifact_id}.template.json",
                                "stackName": name,
                                "terminationProtection": protected and stage == "prod",
                            },
                        },
                    },
                }
            )
        )
        artifacts[f"assembly-{stage}"] = {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{stage}"}}
    artifacts["Tree"] = {"type": "cdk:tree", "properties": {"file": "tree.json"}}
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root


def write_snapshots(root: Path, stacks: dict, protected: bool | None) -> Path:
    """Syrupy-style wrapped snapshots, plus files the loader must skip."""
    folder = root / "__snapshots__" / "test_stacks"
    folder.mkdir(parents=True)
    for name, resources in stacks.items():
        meta = {"name": name, "env": "eu-west-1"}
        if protected is not None:
            meta["terminationProtection"] = protected
        (folder / f"test_{name.replace('-', '_')}.json").write_text(json.dumps({"stack": meta, "template": {"Resources": resources}}))
    (folder / "unrelated.json").write_text(json.dumps({"just": "data"}))
    return root


def two_stage(resources_prod, resources_dev=None):
    return {PROD: resources_prod, DEV: resources_dev or baseline_resources()}


def test_cloud_assembly_with_nested_stage_assemblies(tmp_path, capsys):
    base = write_assembly(tmp_path / "base", two_stage(baseline_resources()), protected=True)
    _, cand_resources = changed(add_gsis(gsi("byCustomer", "customer"), gsi("bySk", "sk")))
    cand = write_assembly(tmp_path / "cand", two_stage(cand_resources), protected=False)
    assert deploy_guard.main(["--json", str(base), str(cand)]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    assert {(f["rule"], f["stack"], f["resource"], f["property"]) for f in findings} == {
        ("GSI-MULTI", PROD, "Orders", "GlobalSecondaryIndexes"),
        ("PROTECTION-WEAKENED", PROD, "(stack)", "TerminationProtection"),
    }


def test_assembly_stack_name_falls_back_to_artifact_id(tmp_path):
    root = tmp_path / "asm"
    root.mkdir()
    (root / "Data.template.json").write_text(json.dumps({"Resources": {"A": ALARM}}))
    (root / "manifest.json").write_text(
        json.dumps({"artifacts": {"Data": {"type": "aws:cloudformation:stack", "properties": {"templateFile": "Data.template.json"}}}})
    )
    assert list(deploy_guard.load_stacks(str(root))) == ["Data"]


def test_template_directory_is_searched_recursively(tmp_path, capsys):
    write_stacks(tmp_path / "base" / "nested" / "deeper", {PROD: baseline_resources()})
    _, cand_resources = changed(lambda r: r["Orders"].update(DeletionPolicy="Delete"))
    write_stacks(tmp_path / "cand" / "x", {PROD: cand_resources})
    assert deploy_guard.main([str(tmp_path / "base"), str(tmp_path / "cand")]) == 1
    out = capsys.readouterr().out
    assert "[PROTECTION-WEAKENED] daylight-prod/Orders DeletionPolicy: Retain -> Delete" in out


def test_wrapped_snapshots_and_termination_protection(tmp_path, capsys):
    base = write_snapshots(tmp_path / "base", two_stage(baseline_resources()), protected=True)
    cand = write_snapshots(tmp_path / "cand", two_stage(baseline_resources()), protected=False)
    (cand / "__snapshots__" / "test_stacks" / "broken.json").write_text("{not json")
    assert deploy_guard.main(["--json", str(base), str(cand)]) == 1
    captured = capsys.readouterr()
    findings = json.loads(captured.out)["findings"]
    assert [(f["rule"], f["stack"], f["property"]) for f in findings] == [
        ("PROTECTION-WEAKENED", PROD, "TerminationProtection")
    ]  # dev's protection is not prod's concern
    assert "skipping" in captured.err and "broken.json" in captured.err


def test_termination_protection_unknown_on_one_side_is_not_reported(tmp_path, capsys):
    base = write_assembly(tmp_path / "base", two_stage(baseline_resources()), protected=True)
    cand = write_stacks(tmp_path / "cand", two_stage(baseline_resources()))  # plain templates: unknown
    assert deploy_guard.main([str(base), str(cand)]) == 0
    assert "deploy-guard: OK" in capsys.readouterr().out


# ------------------------------------------------------------------ acceptances

DROP_ORDERS = f"STATEFUL-DELETE:{PROD}/Orders"


@pytest.fixture
def cli(tmp_path, capsys):
    """cli(base, cand, *args) runs in text mode on one prod stack -> (exit code, stdout, stderr)."""

    def run(base, cand, *args):
        code = deploy_guard.main([*args, str(write_stacks(tmp_path / "b", {PROD: base})), str(write_stacks(tmp_path / "c", {PROD: cand}))])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_accept_on_command_line(guard):
    code, findings = guard(*changed(lambda r: r.pop("Orders")), args=["--accept", DROP_ORDERS])
    assert code == 0
    assert only(findings, "STATEFUL-DELETE")["accepted"] == {"target": DROP_ORDERS, "reason": "(no reason given)", "origin": "--accept"}


def test_accept_file_in_current_directory_prints_finding_and_reason(tmp_path, cli):
    (tmp_path / "deploy-guard.accept").write_text(
        f"# orders moves to the orders-prod stack\n\n{DROP_ORDERS}  # imported into orders-prod (PR 42)\n"
    )
    code, out, err = cli(*changed(lambda r: r.pop("Orders")))
    assert (code, err) == (0, "")
    assert f"[STATEFUL-DELETE] {PROD}/Orders (resource): AWS::DynamoDB::Table removed" in out
    assert "CloudFormation would ORPHAN the resource" in out
    assert "    ACCEPTED (deploy-guard.accept:3): imported into orders-prod (PR 42)" in out
    summary, not_checked = out.strip().splitlines()[-2:]
    assert summary.startswith("deploy-guard: OK - no unaccepted hazards (1 accepted, ")
    assert not_checked.startswith("Not checked: this compares templates, it is not `cdk diff`.")


def test_accept_file_option_replaces_the_default_and_accepts_only_what_it_names(tmp_path, cli):
    (tmp_path / "deploy-guard.accept").write_text("not even valid\n")  # not read: --accept-file wins
    listed = tmp_path / "review" / "accepted.txt"
    listed.parent.mkdir()
    listed.write_text(f"{DROP_ORDERS}  # retired, data exported to S3\n")
    drop_both = changed(lambda r: (r.pop("Orders"), r.pop("OrdersKey")))
    code, out, _ = cli(*drop_both, "--accept-file", str(listed))
    assert code == 1  # the key's removal is not accepted
    assert f"ACCEPTED ({listed}:1): retired, data exported to S3" in out
    assert out.count("ACCEPTED") == 1 and f"[STATEFUL-DELETE] {PROD}/OrdersKey (resource)" in out
    assert "deploy-guard: 1 hazard(s) in 1 stack(s) (1 accepted, " in out


@pytest.mark.parametrize("line", [DROP_ORDERS, f"{DROP_ORDERS}  #   "], ids=["no #", "empty reason"])
def test_accept_file_line_without_reason_is_a_usage_error(tmp_path, cli, line):
    (tmp_path / "deploy-guard.accept").write_text(f"STATEFUL-RENAME:{PROD}/Key  # ok\n{line}\n")
    code, out, err = cli(*changed(lambda r: r.pop("Orders")))
    assert (code, out) == (2, "")
    assert f"deploy-guard.accept:2: {DROP_ORDERS} has no '# reason'" in err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--accept", f"STATEFUL-DELET:{PROD}/Orders"],
            "--accept: unknown rule 'STATEFUL-DELET' in STATEFUL-DELET:daylight-prod/Orders; allowed: "
            "STATEFUL-DELETE, STATEFUL-RENAME, STATEFUL-REPLACE, GSI-MULTI, TTL-RENAME, REPLICA-MULTI, "
            "REPLICATION-MODE, PROTECTION-WEAKENED, STREAM-CHANGE, ENGINE-VERSION, NAME-TAKEN, TABLE-REKEY",
        ),
        (["--accept", "STATEFUL-DELETE:Orders"], "'STATEFUL-DELETE:Orders' is not RULE-ID:stack/LogicalId"),
        (["--accept", f"STATEFUL-DELETE: {PROD}/Orders"], "is not RULE-ID:stack/LogicalId"),
        (["--accept-file", "missing.accept"], "cannot read missing.accept"),
    ],
    ids=["unknown rule", "no stack", "space inside", "missing file"],
)
def test_bad_acceptance_is_a_usage_error(cli, args, message):
    code, out, err = cli(*changed(lambda r: r.pop("Orders")), *args)
    assert (code, out) == (2, "")
    assert message in err


def test_stale_acceptance_warns_without_failing(cli):
    code, out, err = cli(*changed(lambda r: None), "--accept", DROP_ORDERS)
    assert code == 0 and "deploy-guard: OK - no hazards" in out
    assert err == (f"deploy-guard: warning: stale acceptance {DROP_ORDERS} (--accept) matches no finding; remove it\n")


def test_acceptance_for_another_rule_is_stale_and_does_not_hide_the_finding(cli):
    code, out, err = cli(*changed(lambda r: r.pop("Orders")), "--accept", f"PROTECTION-WEAKENED:{PROD}/Orders")
    assert code == 1 and "ACCEPTED" not in out
    assert f"stale acceptance PROTECTION-WEAKENED:{PROD}/Orders (--accept)" in err


# ------------------------------------------------------------------ output and usage


def test_text_output_explains_each_finding(tmp_path, capsys):
    base, cand = changed(add_gsis(gsi("byCustomer", "customer"), gsi("bySk", "sk")))
    write_stacks(tmp_path / "b", {PROD: base})
    write_stacks(tmp_path / "c", {PROD: cand})
    assert deploy_guard.main([str(tmp_path / "b"), str(tmp_path / "c")]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[GSI-MULTI] daylight-prod/Orders GlobalSecondaryIndexes: 2 GSI operations")
    assert lines[1].strip().startswith("CloudFormation would FAIL the update:")
    assert lines[2].strip().startswith("Safe route: Split it into 2 deployments")
    assert lines[-1].startswith("deploy-guard: 1 hazard(s) in 1 stack(s)")


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: [str(p / "missing"), str(p / "dup")], "no such directory"),
        (lambda p: [str(p / "empty"), str(p / "empty")], "no stacks found"),
        (lambda p: [str(p / "dup" / "one"), str(p / "dup")], "found twice"),
        (lambda p: [str(p / "asm"), str(p / "asm")], "cannot read"),
    ],
    ids=["missing dir", "no stacks", "duplicate stack", "broken manifest"],
)
def test_usage_errors_exit_2(tmp_path, capsys, setup, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.json").write_text(json.dumps({"not": "a stack"}))
    (tmp_path / "asm").mkdir()
    (tmp_path / "asm" / "manifest.json").write_text("{broken")
    write_stacks(tmp_path / "dup" / "one", {PROD: {}})
    write_stacks(tmp_path / "dup" / "two", {PROD: {}})
    assert deploy_guard.main(setup(tmp_path)) == 2
    assert message in capsys.readouterr().err


def test_missing_arguments_exit_2(capsys):
    assert deploy_guard.main([]) == 2
    assert "usage: deploy-guard" in capsys.readouterr().err


def test_cli_wrapper(tmp_path):
    base, cand = changed(edit("Orders", "Properties", "TimeToLiveSpecification", AttributeName="ttl"))
    write_stacks(tmp_path / "b", {PROD: base})
    write_stacks(tmp_path / "c", {PROD: cand})
    result = subprocess.run(
        [str(TOOLS / "deploy-guard"), str(tmp_path / "b"), str(tmp_path / "c")], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert "[TTL-RENAME] daylight-prod/Orders TimeToLiveSpecification.AttributeName" in result.stdout
    safe = subprocess.run(
        [str(TOOLS / "deploy-guard"), "--json", str(tmp_path / "b"), str(tmp_path / "b")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert safe.returncode == 0 and json.loads(safe.stdout)["ok"] is True


# ------------------------------------------------------------------ real templates: --env, grouping


def real_stacks(directory: Path, names, mutate=None) -> Path:
    """Copies of committed snapshots (wrapped form), each changed by mutate(resources)."""
    directory.mkdir(parents=True)
    for name in names:
        doc = json.loads((SNAPSHOTS / f"test_template_snapshot[{name}].json").read_text())
        if mutate:
            mutate(doc["template"]["Resources"])
        (directory / f"{name}.json").write_text(json.dumps(doc))
    return directory


def test_one_environment_against_all_snapshots_needs_env(tmp_path, capsys):
    prod = [p.name[len("test_template_snapshot[") : -len("].json")] for p in SNAPSHOTS.glob("*-prod].json")]
    assert len(prod) == 9  # prod's eight and its off-site stack
    cand = real_stacks(tmp_path / "cand", prod)
    assert deploy_guard.main([str(SNAPSHOTS), str(cand)]) == 1  # dev and staging look removed
    out = capsys.readouterr().out
    assert "daylight-dev" in out and "The candidate has no dev/staging stacks" in out and "--env NAME" in out
    assert deploy_guard.main(["--env", "prod", str(SNAPSHOTS), str(cand)]) == 0
    out = capsys.readouterr().out
    assert "deploy-guard: OK - no hazards (9 baseline / 9 candidate stacks, 9 matched)." in out
    assert "-dev" not in out and "-staging" not in out


def test_env_that_matches_no_stack_is_a_usage_error(tmp_path, capsys):
    assert deploy_guard.main(["--env", "qa", str(SNAPSHOTS), str(SNAPSHOTS)]) == 2
    assert "no stacks of environment qa (stack names end in the environment; found: dev, prod, staging)" in capsys.readouterr().err


def test_one_edit_in_three_environments_reads_as_one_finding(tmp_path, capsys):
    names = [f"daylight-{env}" for env in ENVIRONMENTS]
    base = real_stacks(tmp_path / "base", names)
    cand = real_stacks(tmp_path / "cand", names, lambda r: r["TableUsers"]["Properties"].pop("StreamSpecification"))
    assert deploy_guard.main([str(base), str(cand)]) == 1
    out = capsys.readouterr().out
    assert out.count("[STREAM-CHANGE]") == 1
    assert "[STREAM-CHANGE] daylight-{env}/TableUsers StreamSpecification:" in out
    assert f"\n    in: {', '.join(ENVIRONMENTS)}\n" in out
    assert "deploy-guard: 3 hazard(s) in 3 stack(s)" in out
    assert deploy_guard.main(["--json", str(base), str(cand)]) == 1  # JSON keeps one finding per stack
    found = json.loads(capsys.readouterr().out)["findings"]
    assert sorted(f["environment"] for f in found) == ["dev", "prod", "staging"]


def test_real_table_key_swap_is_a_warning_and_a_named_alarm_move_a_hazard(tmp_path, capsys):
    def mutate(r):
        r["TableUsers"]["Properties"]["Replicas"][0]["SSESpecification"]["KMSMasterKeyId"] = {"Fn::GetAtt": ["KeyOther", "Arn"]}
        lid = next(k for k, v in sorted(r.items()) if v["Type"] == "AWS::CloudWatch::Alarm")
        r[lid + "V2"] = r.pop(lid)

    base = real_stacks(tmp_path / "base", [PROD])
    cand = real_stacks(tmp_path / "cand", [PROD], mutate)
    assert deploy_guard.main(["--json", str(base), str(cand)]) == 1
    found = {f["rule"]: f for f in json.loads(capsys.readouterr().out)["findings"]}
    assert set(found) == {"TABLE-REKEY", "NAME-TAKEN"}
    assert found["TABLE-REKEY"]["severity"] == "warning" and found["NAME-TAKEN"]["severity"] == "hazard"
    assert "(same AlarmName daylight-prod-" in found["NAME-TAKEN"]["change"]


# ------------------------------------------------------------------ PROTECTION-WEAKENED: policy denies

ADMIN = "arn:aws:iam::333333333333:role/KeyAdministrator"
DENY_DESTRUCTION = {
    "Sid": "DenyKeyDestructionExceptAdministrators",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": ["kms:DeleteAlias", "kms:DisableKey", "kms:ScheduleKeyDeletion"],
    "Resource": "*",
    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [ADMIN]}},
}


def governed_key() -> dict:
    return {
        "Key": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"KeyPolicy": {"Statement": [copy.deepcopy(DENY_DESTRUCTION)], "Version": "2012-10-17"}},
        }
    }


KEY_POLICY_WEAKENINGS = [
    (
        "deny removed",
        lambda r: r["Key"]["Properties"]["KeyPolicy"]["Statement"].clear(),
        "deny DenyKeyDestructionExceptAdministrators removed or changed",
    ),
    (
        "exemption added",
        lambda r: r["Key"]["Properties"]["KeyPolicy"]["Statement"][0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append(
            "arn:aws:iam::333333333333:role/Ops"
        ),
        "deny DenyKeyDestructionExceptAdministrators removed or changed",
    ),
    (
        "kms:* to the root",
        lambda r: r["Key"]["Properties"]["KeyPolicy"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": "kms:*", "Resource": "*"}
        ),
        'every KMS action granted to "arn:aws:iam::333333333333:root"',
    ),
]


@pytest.mark.parametrize("stack", [PROD, STAGING])
@pytest.mark.parametrize("mutate, change", [w[1:] for w in KEY_POLICY_WEAKENINGS], ids=[w[0] for w in KEY_POLICY_WEAKENINGS])
def test_a_loosened_key_policy_is_a_weakening(guard, mutate, change, stack):
    code, findings = guard(*changed(mutate, governed_key()), stack=stack)
    assert code == 1
    finding = only(findings, "PROTECTION-WEAKENED", stack, "Key", "KeyPolicy")
    assert finding["change"] == change and finding["action"] == "weaken"


def test_a_loosened_key_policy_in_dev_and_a_new_allow_are_not_reported(guard):
    assert guard(*changed(KEY_POLICY_WEAKENINGS[0][1], governed_key()), stack=DEV) == (0, [])

    def new_user(r):
        r["Key"]["Properties"]["KeyPolicy"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"}, "Action": ["kms:Decrypt"], "Resource": "*"}
        )

    assert guard(*changed(new_user, governed_key())) == (0, [])


def test_a_table_policy_deny_removed_in_one_replica_is_a_weakening(guard):
    base = {"Orders": global_table("eu-west-1", "eu-central-1")}
    for replica_props in base["Orders"]["Properties"]["Replicas"]:
        replica_props["ResourcePolicy"] = {"PolicyDocument": {"Statement": [copy.deepcopy(DENY_DESTRUCTION) | {"Sid": "DenyDelete"}]}}

    def mutate(r):
        r["Orders"]["Properties"]["Replicas"][1]["ResourcePolicy"]["PolicyDocument"]["Statement"] = []

    code, findings = guard(*changed(mutate, base))
    assert code == 1
    assert only(findings, "PROTECTION-WEAKENED", PROD, "Orders", "Replicas[eu-central-1].ResourcePolicy")["change"] == (
        "deny DenyDelete removed or changed"
    )


def test_a_stream_policy_deny_removed_is_a_weakening(guard):
    """An archived table's stream policy keeps its old images (PHI) to the archive pipe: losing
    its deny is a weakened protection like a table policy's."""
    base = {"Orders": global_table("eu-west-1")}
    (replica_props,) = base["Orders"]["Properties"]["Replicas"]
    records = {
        "Sid": "DenyStreamRecordsExceptItsReaders",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "dynamodb:GetRecords",
        "Resource": "*",
    }
    replica_props["ReplicaStreamSpecification"] = {"ResourcePolicy": {"PolicyDocument": {"Statement": [records]}}}

    def mutate(r):
        del r["Orders"]["Properties"]["Replicas"][0]["ReplicaStreamSpecification"]

    code, findings = guard(*changed(mutate, base))
    assert code == 1
    finding = only(findings, "PROTECTION-WEAKENED", PROD, "Orders", "Replicas[eu-west-1].ReplicaStreamSpecification.ResourcePolicy")
    assert finding["change"] == "deny DenyStreamRecordsExceptItsReaders removed or changed"


def test_deleting_or_replacing_the_audit_trail_is_a_hazard(guard):
    """The trail is the record of who read PHI: removing it, or renaming it (a replacement),
    is stopped like a table's."""
    trail = {"Type": "AWS::CloudTrail::Trail", "Properties": {"TrailName": "data-audit-prod", "IsLogging": True}}
    base = {"AuditTrail": trail}

    def rename(r):
        r["AuditTrail"]["Properties"]["TrailName"] = "data-audit-prod-2"

    code, findings = guard(*changed(rename, base))
    assert code == 1
    assert only(findings, "STATEFUL-REPLACE", PROD, "AuditTrail")["action"] in ("replace", "fail")

    code, findings = guard(*changed(lambda r: r.pop("AuditTrail"), base))
    assert code == 1
    assert [f["rule"] for f in findings if f["resource"] == "AuditTrail"] == ["STATEFUL-DELETE"]


def test_the_air_gapped_vault_is_guarded_like_the_other_vaults(guard):
    """Deleting or replacing it, or loosening its access policy's denies, is a hazard."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyRecoveryPointChangesExceptBreakGlass",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": ["backup:DeleteRecoveryPoint"],
                "Resource": "*",
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::333333333333:role/BreakGlass"]}},
            }
        ],
    }
    vault = {
        "Type": "AWS::Backup::LogicallyAirGappedBackupVault",
        "DeletionPolicy": "Retain",
        "Properties": {
            "BackupVaultName": "data-tables-prod-airgapped",
            "MinRetentionDays": 35,
            "MaxRetentionDays": 2555,
            "AccessPolicy": policy,
        },
    }
    base = {"BackupVaultAirGapped": vault}

    code, findings = guard(*changed(lambda r: r.pop("BackupVaultAirGapped"), base))
    assert code == 1 and [f["rule"] for f in findings if f["resource"] == "BackupVaultAirGapped"] == ["STATEFUL-DELETE"]

    def rename(r):
        r["BackupVaultAirGapped"]["Properties"]["BackupVaultName"] = "data-tables-prod-airgapped-2"

    code, findings = guard(*changed(rename, base))
    assert code == 1 and only(findings, "STATEFUL-REPLACE", PROD, "BackupVaultAirGapped")

    def shorter(r):
        r["BackupVaultAirGapped"]["Properties"]["MinRetentionDays"] = 7  # fixed at creation: a replacement

    code, findings = guard(*changed(shorter, base))
    assert code == 1 and only(findings, "STATEFUL-REPLACE", PROD, "BackupVaultAirGapped")["property"] == "MinRetentionDays"

    def loosen(r):
        r["BackupVaultAirGapped"]["Properties"]["AccessPolicy"]["Statement"][0]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].append(
            "arn:aws:iam::333333333333:role/Someone"
        )

    code, findings = guard(*changed(loosen, base))
    assert code == 1 and only(findings, "PROTECTION-WEAKENED", PROD, "BackupVaultAirGapped")

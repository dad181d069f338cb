#!/usr/bin/env python3
"""deploy-guard: refuse CloudFormation changes that lose data or fail half-way.

Usage: deploy-guard [--json] [--accept RULE-ID:stack/LogicalId]... [--accept-file PATH]
                    BASELINE CANDIDATE

BASELINE and CANDIDATE are each a CDK cloud assembly (a directory with
manifest.json, nested Stage assemblies followed), or a directory searched
recursively for *.template.json files or wrapped snapshot *.json files
({"stack": {"name": ..., "terminationProtection": ...}, "template": {...}}).
Stacks are matched by stack name. A stack belongs to the environment its name
ends in ("daylight-prod": prod); staging and prod stacks are protected: their
protections may not be weakened. --env NAME compares only that environment's
stacks (for a candidate synthesized with `-c env=NAME`).

Deliberate hazards are acknowledged, not switched off: each acceptance names one
rule, stack and logical id, and (in deploy-guard.accept or --accept-file) a reason.
Accepted findings are still printed.

Warnings (a change that is safe but needs care) are printed and do not fail.
Exit codes: 0 safe (or every hazard accepted), 1 unaccepted hazards, 2 usage error.

Standard library only on purpose: the guard has to run in CI and against old
git refs without installing (or importing) the CDK.  See docs/deploy-guard.md.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator

# Resources whose loss loses data (or the ability to read it, for KMS keys).
STATEFUL_TYPES = frozenset({
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::Backup::BackupVault",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
})
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"})
# Environments whose data is protected: weakening a protection there is a hazard.
PROTECTED_ENVIRONMENTS = ("staging", "prod")

# The property holding the physical name; changing it means replacement.
PHYSICAL_NAME = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
}
# Resources that are not stateful but carry a fixed physical name (property path, dotted for
# nested properties). CloudFormation creates a moved resource before it deletes the old one,
# so a new logical id with the same name fails on the taken name.
FIXED_NAME = {
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::CompositeAlarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Pipes::Pipe": "Name",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Backup::BackupPlan": "BackupPlan.BackupPlanName",
    "AWS::Budgets::Budget": "Budget.BudgetName",
    "AWS::Chatbot::SlackChannelConfiguration": "ConfigurationName",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::Events::Rule": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::CloudTrail::Trail": "TrailName",
}
# Resources that read a table's stream (property holding the stream ARN).
STREAM_CONSUMERS = {"AWS::Pipes::Pipe": "Source", "AWS::Lambda::EventSourceMapping": "EventSourceArn"}
STREAM_ATTRIBUTES = ("StreamArn", "LatestStreamArn")
DATABASE_TYPES = ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")
# Immutable KMS key properties with their CloudFormation defaults, so that
# writing out a default explicitly is not reported as a change.
KMS_IMMUTABLE = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT",
                 "Origin": "AWS_KMS", "MultiRegion": False}
POLICY_RANK = {"Delete": 0, "Snapshot": 1, "Retain": 2, "RetainExceptOnCreate": 2}
FATE = {"Delete": "deleted with its data", "Snapshot": "snapshotted, then deleted",
        "Retain": "orphaned: kept with its data, but no longer managed by the stack",
        "RetainExceptOnCreate": "orphaned: kept with its data, but no longer managed by the stack"}
ACTION = {"fail": "FAIL the update", "replace": "REPLACE the resource",
          "delete": "DELETE the resource", "rekey": "RE-ENCRYPT the live data",
          "weaken": "APPLY it silently", "orphan": "ORPHAN the resource",
          "outage": "take the database OFFLINE", "gap": "LOSE stream records"}
ACCEPT_FILE = "deploy-guard.accept"  # read from the current directory when present


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    route: str  # default safe route; a finding may give a more specific one
    severity: str = "hazard"  # "hazard" fails unless accepted; "warning" is reported only


RULES = {rule.id: rule for rule in (
    Rule("STATEFUL-DELETE", "stateful resource, or a stack holding one, removed",
         "If the data must go: set RemovalPolicy.RETAIN (or back it up) and deploy, then remove "
         "the resource in a later deployment (accepting that removal, see --accept). If it must "
         "stay: put it back in the template."),
    Rule("STATEFUL-RENAME", "stateful resource moved to another logical id or stack",
         "Keep the old logical id (CfnResource.override_logical_id), or move it with `cdk refactor`; "
         "or retain + import: set RemovalPolicy.RETAIN and deploy, remove it and deploy, "
         "then `cdk import` it under the new id."),
    Rule("STATEFUL-REPLACE", "change that makes CloudFormation replace a stateful resource",
         "Keep the property as it is. If it really has to change: create a new resource under a new "
         "logical id next to the old one, migrate the data, switch consumers, then remove the old "
         "one (RETAIN first)."),
    Rule("GSI-MULTI", "more than one GSI created/deleted on one table in one deployment",
         "One GSI create or delete per deployment, waiting for the index to be ACTIVE in between."),
    Rule("TTL-RENAME", "TTL attribute renamed while TTL stays enabled",
         "Deployment 1: disable TTL (Enabled: false). Deployment 2, once DynamoDB accepts another TTL "
         "change (it rate-limits them): enable TTL with the new attribute name."),
    Rule("REPLICA-MULTI", "more than one GlobalTable replica added/removed in one deployment",
         "Add or remove one replica per deployment, waiting for the replica to be ACTIVE in between."),
    Rule("PROTECTION-WEAKENED", "protection of staging or production data weakened",
         "Keep the protection in staging and prod. If it must be lifted (e.g. to retire a resource), "
         "do it in its own reviewed deployment, right before the one that removes the resource."),
    Rule("STREAM-CHANGE", "table stream changed under its consumers, or on a multi-replica table",
         "Keep StreamSpecification as it is."),
    Rule("ENGINE-VERSION", "database engine major version changed, or version lowered",
         "Upgrade a major version on its own: a parameter group of the new family, "
         "AllowMajorVersionUpgrade: true, a snapshot first, in a maintenance window (or an RDS "
         "blue/green deployment to keep downtime to a switchover). An engine cannot be downgraded: "
         "put the version back."),
    Rule("NAME-TAKEN", "resource with a fixed physical name moved to another logical id or stack",
         "Keep the old logical id (pin() / CfnResource.override_logical_id). Or give the moved "
         "resource a new physical name in the same change (CloudFormation then creates the new one "
         "and deletes the old); or remove the old resource in one deployment and add the new one in "
         "the next."),
    Rule("TABLE-REKEY", "table encryption key changed",
         "Keep the old key enabled, with its key policy and grants, until DescribeTable shows "
         "SSEDescription.Status ENABLED on the new key in every replica region; retire the old key "
         "only in a later deployment (RETAIN first; KMS deletes keys only after a pending window).",
         severity="warning"),
)}

ORPHAN_ROUTE = "If intended, accept it explicitly (see --accept) and import it elsewhere if it moves."
TYPE_CHANGE_ROUTE = ("Retain + import: set RemovalPolicy.RETAIN on the existing table and deploy; remove "
                     "it from the app and deploy (the table is orphaned, data kept); then `cdk import` "
                     "it as the new type.")
KEY_SCHEMA_ROUTE = ("Key schema, key attribute types and LSIs are fixed when a table is created: create a "
                    "new table under a new logical id and name, backfill it (export/import or dual "
                    "writes), switch readers and writers, then retire the old table (RETAIN first).")
KMS_KEY_ROUTE = ("Create a new key under a new logical id, move its users to it, and retire the old key "
                 "later (RETAIN first; KMS deletes keys only after a pending window).")


def environment_of(stack_name: str) -> str:
    """The environment a stack belongs to: its name's last part ("daylight-prod" -> "prod")."""
    return stack_name.rsplit("-", 1)[-1]


def protected(stack_name: str) -> bool:
    return environment_of(stack_name) in PROTECTED_ENVIRONMENTS


@dataclass
class Stack:
    name: str
    resources: dict
    termination_protection: bool | None  # None: the input form does not say
    source: str

    @property
    def environment(self) -> str:
        return environment_of(self.name)


@dataclass(frozen=True)
class Acceptance:
    target: str  # RULE-ID:stack/LogicalId
    reason: str
    origin: str  # file:line or --accept, so a reviewer can find it


@dataclass
class Finding:
    rule: str
    stack: str
    resource: str
    property: str
    change: str
    action: str  # a key of ACTION
    effect: str
    route: str
    accepted: Acceptance | None = None

    @property
    def target(self) -> str:
        return f"{self.rule}:{self.stack}/{self.resource}"

    @property
    def severity(self) -> str:
        return RULES[self.rule].severity

    @property
    def environment(self) -> str:
        return environment_of(self.stack)

    @property
    def blocking(self) -> bool:
        return self.severity == "hazard" and not self.accepted


@dataclass
class Pair:
    """One logical id present in both the baseline and the candidate stack."""
    stack: str
    lid: str
    old: dict
    new: dict
    old_stack: dict  # every resource of the stack, for checks that follow references
    new_stack: dict

    @property
    def type(self) -> str:
        return self.new.get("Type", "")

    @property
    def old_props(self) -> dict:
        return props(self.old)

    @property
    def new_props(self) -> dict:
        return props(self.new)

    def finding(self, rule, prop, change, action, effect, route=None) -> Finding:
        return Finding(rule, self.stack, self.lid, prop, change, action, effect,
                       route or RULES[rule].route)


class UsageError(Exception):
    pass


# ---------------------------------------------------------------- helpers

def canon(value) -> str:
    """Canonical JSON, so key order and intrinsic spelling don't matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def props(resource: dict) -> dict:
    value = resource.get("Properties")
    return value if isinstance(value, dict) else {}


def truthy(value) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def show(value) -> str:
    return "(unset)" if value is None else value if isinstance(value, str) else canon(value)


def policy(resource: dict, attribute: str) -> str:
    """Effective DeletionPolicy/UpdateReplacePolicy, with CloudFormation's defaults."""
    value = resource.get(attribute)
    if isinstance(value, str):
        return value
    rds_snapshot = resource.get("Type") == "AWS::RDS::DBCluster" or (
        resource.get("Type") == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in props(resource))
    # CloudFormation defaults to Snapshot on deletion for these RDS resources only.
    return "Snapshot" if attribute == "DeletionPolicy" and rds_snapshot else "Delete"


def key_schema(obj: dict) -> dict:
    # Keyed by KeyType: the list order of HASH/RANGE carries no meaning.
    return {k.get("KeyType"): k.get("AttributeName")
            for k in obj.get("KeySchema") or [] if isinstance(k, dict)}


def attribute_types(table_props: dict) -> dict:
    return {a.get("AttributeName"): a.get("AttributeType")
            for a in table_props.get("AttributeDefinitions") or [] if isinstance(a, dict)}


def index_signatures(table_props: dict, key: str) -> dict:
    """IndexName -> what DynamoDB cannot change in place (keys, key types, projection)."""
    types = attribute_types(table_props)
    result = {}
    for index in table_props.get(key) or []:
        if not isinstance(index, dict):
            continue
        keys = key_schema(index)
        projection = dict(index.get("Projection") or {})
        if isinstance(projection.get("NonKeyAttributes"), list):  # a set, not a sequence
            projection["NonKeyAttributes"] = sorted(projection["NonKeyAttributes"], key=canon)
        result[show(index.get("IndexName"))] = canon(
            {"keys": keys, "types": {n: types.get(n) for n in keys.values()}, "projection": projection})
    return result


def replicas(table_props: dict) -> dict:
    return {show(r.get("Region")): r for r in table_props.get("Replicas") or [] if isinstance(r, dict)}


def replacement_effect(pair: Pair) -> tuple[str, str]:
    name_prop = PHYSICAL_NAME.get(pair.type)
    name = pair.new_props.get(name_prop) if name_prop else None
    if name is not None and canon(name) == canon(pair.old_props.get(name_prop)):
        return "fail", (f"the change needs a replacement, but {name_prop} is fixed and a "
                        "custom-named resource cannot be replaced.")
    fate = FATE.get(policy(pair.new, "UpdateReplacePolicy"), FATE["Delete"])
    return "replace", f"a new, empty resource is created and the old one is {fate}."


def listing(label: str, names: list) -> str:
    return f"{label}: {', '.join(names)}" if names else ""


# ---------------------------------------------------------------- checks on one logical id

def check_replacement(pair: Pair) -> Iterator[Finding]:
    old, new = pair.old_props, pair.new_props
    name_prop = PHYSICAL_NAME.get(pair.type)
    if name_prop and canon(old.get(name_prop)) != canon(new.get(name_prop)):
        change = f"physical name {show(old.get(name_prop))} -> {show(new.get(name_prop))}"
        yield pair.finding("STATEFUL-REPLACE", name_prop, change, *replacement_effect(pair))
    if pair.type == "AWS::KMS::Key":
        for prop, default in KMS_IMMUTABLE.items():
            before, after = old.get(prop, default), new.get(prop, default)
            if canon(before) != canon(after):
                yield pair.finding(
                    "STATEFUL-REPLACE", prop, f"{show(before)} -> {show(after)}", "fail",
                    f"{prop} is immutable and CloudFormation never replaces a KMS key for it, "
                    "whatever the UpdateReplacePolicy.", KMS_KEY_ROUTE)
    if pair.type in TABLE_TYPES:
        yield from check_table_keys(pair)
        yield from check_table_kms(pair)


def check_table_keys(pair: Pair) -> Iterator[Finding]:
    old, new = pair.old_props, pair.new_props
    action, effect = replacement_effect(pair)
    if key_schema(old) != key_schema(new):
        change = f"{canon(key_schema(old))} -> {canon(key_schema(new))}"
        yield pair.finding("STATEFUL-REPLACE", "KeySchema", change, action, effect, KEY_SCHEMA_ROUTE)
    else:
        old_types, new_types = attribute_types(old), attribute_types(new)
        for name in sorted(filter(None, key_schema(new).values()), key=str):
            if old_types.get(name) != new_types.get(name):
                change = f"type of key attribute {name}: {old_types.get(name)} -> {new_types.get(name)}"
                yield pair.finding("STATEFUL-REPLACE", "AttributeDefinitions", change, action, effect,
                                   KEY_SCHEMA_ROUTE)
    old_lsi = index_signatures(old, "LocalSecondaryIndexes")
    new_lsi = index_signatures(new, "LocalSecondaryIndexes")
    if old_lsi != new_lsi:
        changed = [n for n in sorted(old_lsi.keys() & new_lsi.keys()) if old_lsi[n] != new_lsi[n]]
        parts = [listing("added", sorted(new_lsi.keys() - old_lsi.keys())),
                 listing("removed", sorted(old_lsi.keys() - new_lsi.keys())), listing("changed", changed)]
        yield pair.finding("STATEFUL-REPLACE", "LocalSecondaryIndexes", "; ".join(filter(None, parts)),
                           action, effect, KEY_SCHEMA_ROUTE)


def check_table_kms(pair: Pair) -> Iterator[Finding]:
    """A new key (or key type) on a table or replica: DynamoDB re-encrypts it in place."""
    old, new = pair.old_props, pair.new_props
    paths = {"SSESpecification.KMSMasterKeyId": (old, new), "SSESpecification.SSEType": (old, new)}
    if pair.type == "AWS::DynamoDB::GlobalTable":
        # The key of a GlobalTable is set per replica; SSEType stays on the table.
        del paths["SSESpecification.KMSMasterKeyId"]
        old_replicas, new_replicas = replicas(old), replicas(new)
        for region in sorted(old_replicas.keys() & new_replicas.keys()):
            prop = f"Replicas[{region}].SSESpecification.KMSMasterKeyId"
            paths[prop] = (old_replicas[region], new_replicas[region])
    for prop, (before, after) in paths.items():
        setting = prop.rsplit(".", 1)[1]
        old_key = (before.get("SSESpecification") or {}).get(setting)
        new_key = (after.get("SSESpecification") or {}).get(setting)
        if canon(old_key) != canon(new_key):
            yield pair.finding(
                "TABLE-REKEY", prop, f"{show(old_key)} -> {show(new_key)}", "rekey",
                "DynamoDB re-encrypts the live table in place, in the background: no replacement and "
                "no downtime, but until it finishes the table still needs the old key. Disabling the "
                "old key, deleting it or revoking its grants before then makes the table inaccessible.")


def check_gsis(pair: Pair) -> Iterator[Finding]:
    if pair.type not in TABLE_TYPES:
        return
    old = index_signatures(pair.old_props, "GlobalSecondaryIndexes")
    new = index_signatures(pair.new_props, "GlobalSecondaryIndexes")
    created, deleted = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    # DynamoDB cannot alter a GSI's keys or projection: that is a delete plus a create.
    changed = [n for n in sorted(old.keys() & new.keys()) if old[n] != new[n]]
    operations = len(created) + len(deleted) + 2 * len(changed)
    if operations <= 1:
        return
    parts = [listing("created", created), listing("deleted", deleted),
             listing("keys/projection changed (delete + create)", changed)]
    route = (f"Split it into {operations} deployments, one GSI create or delete each, waiting for the "
             "index to be ACTIVE in between. To change a GSI's keys or projection, add a new GSI under "
             "a new name, move the queries, and delete the old one in a later deployment.")
    yield pair.finding("GSI-MULTI", "GlobalSecondaryIndexes",
                       f"{operations} GSI operations in one deployment ({'; '.join(filter(None, parts))})",
                       "fail", "DynamoDB accepts one GSI create or delete per table update, so the stack "
                       "update fails and rolls back.", route)


def check_ttl(pair: Pair) -> Iterator[Finding]:
    if pair.type not in TABLE_TYPES:
        return
    old = pair.old_props.get("TimeToLiveSpecification") or {}
    new = pair.new_props.get("TimeToLiveSpecification") or {}
    if (truthy(old.get("Enabled")) and truthy(new.get("Enabled"))
            and canon(old.get("AttributeName")) != canon(new.get("AttributeName"))):
        change = f"{show(old.get('AttributeName'))} -> {show(new.get('AttributeName'))} while enabled"
        yield pair.finding("TTL-RENAME", "TimeToLiveSpecification.AttributeName", change, "fail",
                           "DynamoDB only changes the TTL attribute after TTL is disabled, and limits "
                           "how often TTL can be changed, so the update fails.")


def check_replicas(pair: Pair) -> Iterator[Finding]:
    if pair.type != "AWS::DynamoDB::GlobalTable":
        return
    old, new = replicas(pair.old_props), replicas(pair.new_props)
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    if len(added) + len(removed) > 1:
        parts = filter(None, [listing("added", added), listing("removed", removed)])
        route = f"{RULES['REPLICA-MULTI'].route} That is {len(added) + len(removed)} deployments."
        yield pair.finding("REPLICA-MULTI", "Replicas", "; ".join(parts), "fail",
                           "a GlobalTable update can add or remove only one replica, so the update fails.",
                           route)


def protected_parts(pair: Pair) -> Iterator[tuple[str, dict, dict]]:
    """(property prefix, old, new) holding deletion protection / PITR settings."""
    if pair.type == "AWS::DynamoDB::GlobalTable":
        old, new = replicas(pair.old_props), replicas(pair.new_props)
        for region in sorted(old.keys() & new.keys()):
            yield f"Replicas[{region}].", old[region], new[region]
    else:
        yield "", pair.old_props, pair.new_props


def pitr(spec) -> tuple[bool, int | None]:
    spec = spec if isinstance(spec, dict) else {}
    days = spec.get("RecoveryPeriodInDays", 35)  # DynamoDB's default window
    return truthy(spec.get("PointInTimeRecoveryEnabled")), days if isinstance(days, int) else None


def check_protection(pair: Pair) -> Iterator[Finding]:
    if not protected(pair.stack):
        return
    weaken = "nothing stops it; afterwards a single mistaken removal or replacement destroys the data."
    flag = "DeletionProtection" if pair.type.startswith("AWS::RDS::") else "DeletionProtectionEnabled"
    for prefix, old, new in protected_parts(pair):
        if truthy(old.get(flag)) and not truthy(new.get(flag)):
            yield pair.finding("PROTECTION-WEAKENED", prefix + flag, "deletion protection turned off",
                               "weaken", weaken)
        (old_on, old_days), (new_on, new_days) = (pitr(old.get("PointInTimeRecoverySpecification")),
                                                  pitr(new.get("PointInTimeRecoverySpecification")))
        prop = prefix + "PointInTimeRecoverySpecification"
        if old_on and not new_on:
            yield pair.finding("PROTECTION-WEAKENED", prop, "point-in-time recovery turned off", "weaken", weaken)
        elif old_on and old_days and new_days and new_days < old_days:
            yield pair.finding("PROTECTION-WEAKENED", prop, f"recovery window {old_days} -> {new_days} days",
                               "weaken", weaken)
    for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
        before, after = policy(pair.old, attribute), policy(pair.new, attribute)
        if POLICY_RANK.get(before, 0) >= 1 and POLICY_RANK.get(after, 0) < POLICY_RANK.get(before, 0):
            yield pair.finding("PROTECTION-WEAKENED", attribute, f"{before} -> {after}", "weaken", weaken)


def stream_consumers(stack: dict, table_lid: str) -> list[str]:
    """Logical ids of the pipes and event source mappings that read `table_lid`'s stream."""
    wanted = {canon({"Fn::GetAtt": [table_lid, attr]}) for attr in STREAM_ATTRIBUTES}
    wanted |= {canon({"Fn::GetAtt": f"{table_lid}.{attr}"}) for attr in STREAM_ATTRIBUTES}
    return sorted(lid for lid, res in stack.items()
                  if res.get("Type") in STREAM_CONSUMERS
                  and canon(props(res).get(STREAM_CONSUMERS[res["Type"]])) in wanted)


def check_stream(pair: Pair) -> Iterator[Finding]:
    if pair.type not in TABLE_TYPES:
        return
    old, new = pair.old_props.get("StreamSpecification"), pair.new_props.get("StreamSpecification")
    if canon(old) == canon(new):
        return
    change = f"{show(old)} -> {show(new)}"
    replica_count = max(len(replicas(pair.old_props)), len(replicas(pair.new_props)))
    if pair.type == "AWS::DynamoDB::GlobalTable" and replica_count > 1:
        yield pair.finding(
            "STREAM-CHANGE", "StreamSpecification", change, "fail",
            f"the table has {replica_count} replicas, and CloudFormation only changes a global table's "
            "stream while it has one replica (a multi-replica table needs its stream), so the update "
            "fails.",
            "Keep StreamSpecification as it is. If it must change: remove the replicas one per "
            "deployment down to one, change the stream, then add them back one per deployment.")
        return
    consumers = stream_consumers(pair.old_stack, pair.lid)
    if not old or not consumers:
        return  # a stream switched on, or one nobody reads: nothing is cut off
    what = "switched off" if not new else "changed (DynamoDB disables the stream and enables a new one)"
    yield pair.finding(
        "STREAM-CHANGE", "StreamSpecification", f"{change}; read by {', '.join(consumers)}", "gap",
        f"the stream is {what}. A re-enabled stream gets a new ARN and a pipe cannot change its "
        "source, so its consumers stop (CloudFormation has to recreate them, which fails on a fixed "
        "name); TTL deletions made in between are never archived, and TTL has already removed them "
        "from the table.",
        "Keep StreamSpecification as it is. If it must change: disable TTL on the table first (its own "
        "deployment; expired items then stay in the table), change the stream together with a new "
        "pipe under a new logical id and name, check the pipe is RUNNING, then enable TTL again; the "
        "held-back items expire through the new pipe.")


def engine_version(value) -> tuple[int, ...] | None:
    if not isinstance(value, str):
        return None  # not a literal (a parameter or an intrinsic): nothing to compare
    numbers = []
    for part in value.split("."):
        digits = "".join(c for c in part if c.isdigit()) if part[:1].isdigit() else ""
        if not digits:
            break
        numbers.append(int(digits))
    return tuple(numbers) or None


def major(engine: str, version: tuple[int, ...]) -> tuple[int, ...]:
    # PostgreSQL 10 and later number majors by the first part (16.4 -> 16); older PostgreSQL and
    # MySQL by the first two (9.6.22 -> 9.6, 8.0.mysql_aurora.3.05.2 -> 8.0).
    if "postgres" in engine and version[0] >= 10:
        return version[:1]
    return version[:2]


def parameter_group_family(stack: dict, reference) -> str | None:
    if isinstance(reference, dict) and isinstance(reference.get("Ref"), str):
        family = props(stack.get(reference["Ref"], {})).get("Family")
        return family if isinstance(family, str) else None
    return None


def check_engine_version(pair: Pair) -> Iterator[Finding]:
    if pair.type not in DATABASE_TYPES:
        return
    old_props, new_props = pair.old_props, pair.new_props
    before, after = engine_version(old_props.get("EngineVersion")), engine_version(new_props.get("EngineVersion"))
    engine = str(new_props.get("Engine") or old_props.get("Engine") or "")
    if before is None or after is None or before == after:
        return
    change = f"{old_props['EngineVersion']} -> {new_props['EngineVersion']}"
    if after < before:
        yield pair.finding("ENGINE-VERSION", "EngineVersion", f"{change} (downgrade)", "fail",
                           "RDS cannot downgrade a database engine, so the update fails; the only way "
                           "to an older version is restoring a snapshot taken on it.",
                           "Put EngineVersion back. To run an older version, restore a snapshot taken "
                           "on it into a new cluster.")
        return
    if major(engine, before) == major(engine, after):
        return  # a minor upgrade, applied in place
    problems = []
    if not truthy(new_props.get("AllowMajorVersionUpgrade")):
        problems.append("AllowMajorVersionUpgrade is not true, so RDS refuses the update")
    family = parameter_group_family(pair.new_stack, new_props.get("DBClusterParameterGroupName")
                                    or new_props.get("DBParameterGroupName"))
    new_major = ".".join(map(str, major(engine, after)))
    if family and not family.endswith(new_major):
        problems.append(f"its parameter group is of family {family}, not one for version {new_major}")
    if problems:
        yield pair.finding("ENGINE-VERSION", "EngineVersion", f"{change} (major)", "fail",
                           "a major version upgrade, but " + "; ".join(problems) + ": the update fails.")
    else:
        yield pair.finding("ENGINE-VERSION", "EngineVersion", f"{change} (major)", "outage",
                           "a major version upgrade in place: the database is unavailable while it "
                           "runs (typically 10 to 30 minutes or more), and it cannot be rolled back "
                           "except by restoring a snapshot.")


RESOURCE_CHECKS = (check_replacement, check_gsis, check_ttl, check_replicas, check_stream,
                   check_engine_version, check_protection)


# ---------------------------------------------------------------- checks on whole stacks

def successor_index(baseline: dict, candidate: dict) -> tuple[dict, dict]:
    """Stateful resources new in the candidate, by physical name and by identical properties."""
    by_name, by_props = {}, {}
    for stack in candidate.values():
        known = baseline[stack.name].resources if stack.name in baseline else {}
        for lid, res in stack.resources.items():
            if lid in known or (res.get("Type") not in STATEFUL_TYPES and not name_key(res)):
                continue
            if name_key(res):
                by_name.setdefault(name_key(res), (stack.name, lid, res))
            if res.get("Type") in STATEFUL_TYPES:
                by_props.setdefault((stack.name, res["Type"], canon(props(res))), (stack.name, lid, res))
    return by_name, by_props


def fixed_name(res: dict) -> tuple[str, object] | None:
    """(property, value) of the resource's physical name, when the template fixes one."""
    name_prop = PHYSICAL_NAME.get(res.get("Type")) or FIXED_NAME.get(res.get("Type"))
    value = props(res)
    for part in (name_prop or "").split(".") if name_prop else ():
        value = value.get(part) if isinstance(value, dict) else None
    return (name_prop, value) if name_prop and value is not None else None


def name_key(res: dict) -> tuple | None:
    named = fixed_name(res)
    if not named:
        return None
    # Table and GlobalTable share one namespace of table names.
    family = "table" if res["Type"] in TABLE_TYPES else res["Type"]
    return family, canon(named[1])


def find_successor(stack: str, res: dict, index: tuple[dict, dict]) -> tuple | None:
    by_name, by_props = index
    if name_key(res):
        return by_name.get(name_key(res))
    # No physical name: identical properties in the same stack is the best evidence of a rename
    # (across stacks, e.g. dev and prod, identical resources are normal).
    return by_props.get((stack, res.get("Type"), canon(props(res))))


def check_removed(old: Stack, new: Stack | None, index) -> Iterator[Finding]:
    remaining = new.resources if new else {}
    for lid, res in sorted(old.resources.items()):
        rtype = res.get("Type")
        if lid in remaining:
            continue
        if rtype not in STATEFUL_TYPES:
            successor = find_successor(old.name, res, index) if name_key(res) else None
            if successor:
                yield name_taken(old.name, lid, res, successor)
            continue
        deletion = policy(res, "DeletionPolicy")
        fate = FATE.get(deletion, FATE["Delete"])
        successor = find_successor(old.name, res, index)
        if successor:
            yield successor_finding(old.name, lid, res, successor, fate)
            continue
        action, route = "delete", RULES["STATEFUL-DELETE"].route
        if POLICY_RANK.get(deletion, 0) >= 2:
            # Retain keeps the data, but the resource silently leaves management (a prod table
            # dropped from the template would pass unseen), so it is reported for review too.
            again = "fails because the name is taken" if name_key(res) else "creates a new, empty one"
            action, route = "orphan", ORPHAN_ROUTE
            fate = f"orphaned: kept with its data but no longer managed; re-adding it later {again}"
        effect = f"the resource is {fate} (DeletionPolicy {deletion})."
        if new is None:
            effect = f"once the stack is deleted (cdk destroy, pipeline clean-up), {effect}"
        where = "its stack was removed from the app" if new is None else "removed from the template"
        yield Finding("STATEFUL-DELETE", old.name, lid, "(resource)", f"{rtype} {where}", action,
                      effect, route)


def name_taken(stack: str, lid: str, res: dict, successor: tuple) -> Finding:
    new_stack, new_lid, _ = successor
    target = new_lid if new_stack == stack else f"{new_stack}/{new_lid}"
    name_prop, name = fixed_name(res)
    return Finding("NAME-TAKEN", stack, lid, "(logical id)",
                   f"{res['Type']} moved to {target} (same {name_prop} {show(name)})", "fail",
                   f"CloudFormation creates {target} before it deletes {lid}, and the create fails "
                   f"because {name_prop} {show(name)} is still taken, so the update rolls back.",
                   RULES["NAME-TAKEN"].route)


def successor_finding(stack: str, lid: str, res: dict, successor: tuple, fate: str) -> Finding:
    new_stack, new_lid, new_res = successor
    target = new_lid if new_stack == stack else f"{new_stack}/{new_lid}"
    name_prop, name = fixed_name(res) or (None, None)
    named = name_prop is not None
    clash = (f"creating {target} fails while {name_prop} {show(name)} is still taken, "
             "so the update rolls back; without that clash the old one would be " if named else
             f"{target} is created from scratch and the old one is ")
    if new_res["Type"] != res["Type"]:
        return Finding("STATEFUL-REPLACE", stack, lid, "Type",
                       f"{res['Type']} -> {new_res['Type']} as {target} (same {name_prop})",
                       "fail" if named else "replace",
                       f"a type change is a delete + create: {clash}{fate}.", TYPE_CHANGE_ROUTE)
    return Finding("STATEFUL-RENAME", stack, lid, "(logical id)",
                   f"{res['Type']} moved to {target}" + (f" (same {name_prop})" if named else
                                                         " (identical properties)"),
                   "replace", f"it sees a delete + create, not a rename: {clash}{fate}.",
                   RULES["STATEFUL-RENAME"].route)


def check_termination_protection(old: Stack, new: Stack | None) -> Iterator[Finding]:
    if (new and protected(new.name) and old.termination_protection is True
            and new.termination_protection is False):
        yield Finding("PROTECTION-WEAKENED", new.name, "(stack)", "TerminationProtection",
                      "termination protection turned off", "weaken",
                      "nothing stops it; afterwards the whole stack, data included, can be deleted "
                      "in one step.",
                      RULES["PROTECTION-WEAKENED"].route)


def compare(baseline: dict, candidate: dict) -> list[Finding]:
    index = successor_index(baseline, candidate)
    findings: list[Finding] = []
    for name in sorted(baseline):
        old, new = baseline[name], candidate.get(name)
        findings += check_removed(old, new, index)
        findings += check_termination_protection(old, new)
        for lid in sorted(old.resources.keys() & (new.resources.keys() if new else set())):
            pair = Pair(name, lid, old.resources[lid], new.resources[lid], old.resources, new.resources)
            if pair.old.get("Type") not in STATEFUL_TYPES and pair.type not in STATEFUL_TYPES:
                continue
            if pair.old.get("Type") != pair.type:
                findings.append(type_change(pair))
                continue  # the other checks would compare two different schemas
            for check in RESOURCE_CHECKS:
                findings += check(pair)
    return findings


def type_change(pair: Pair) -> Finding:
    return pair.finding("STATEFUL-REPLACE", "Type", f"{pair.old.get('Type')} -> {pair.type}", "fail",
                        "changing the type of an existing logical id is rejected "
                        "(\"Update of resource type is not permitted\").", TYPE_CHANGE_ROUTE)


# ---------------------------------------------------------------- loading stacks

def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error


def resources_of(template) -> dict:
    found = template.get("Resources") if isinstance(template, dict) else None
    return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def read_assembly(directory: Path) -> Iterator[Stack]:
    manifest = read_json(directory / "manifest.json")
    artifacts = manifest.get("artifacts") if isinstance(manifest, dict) else None
    for artifact_id, artifact in sorted((artifacts or {}).items()):
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack":
            template_path = directory / properties.get("templateFile", f"{artifact_id}.template.json")
            # CDK writes terminationProtection explicitly; absent means CloudFormation's default (off).
            yield Stack(properties.get("stackName") or artifact_id, resources_of(read_json(template_path)),
                        bool(properties.get("terminationProtection", False)), str(template_path))
        elif artifact.get("type") == "cdk:cloud-assembly":
            if "directoryName" not in properties:
                raise UsageError(f"{directory / 'manifest.json'}: nested assembly {artifact_id} "
                                 "has no directoryName")
            yield from read_assembly(directory / properties["directoryName"])


def scan_files(directory: Path) -> Iterator[Stack]:
    for path in sorted(directory.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"deploy-guard: warning: skipping {path}: {error}", file=sys.stderr)
            continue
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("stack"), dict) and isinstance(doc.get("template"), dict):
            meta = doc["stack"]
            protection = meta.get("terminationProtection")
            yield Stack(meta.get("name") or path.stem, resources_of(doc["template"]),
                        protection if isinstance(protection, bool) else None, str(path))
        elif path.name.endswith(".template.json") or isinstance(doc.get("Resources"), dict):
            yield Stack(path.name.removesuffix(".json").removesuffix(".template"), resources_of(doc),
                        None, str(path))


def load_stacks(location: str) -> dict[str, Stack]:
    directory = Path(location)
    if not directory.is_dir():
        raise UsageError(f"{location}: no such directory")
    is_assembly = (directory / "manifest.json").is_file()
    stacks: dict[str, Stack] = {}
    for stack in read_assembly(directory) if is_assembly else scan_files(directory):
        if stack.name in stacks:
            raise UsageError(f"stack {stack.name!r} found twice: {stacks[stack.name].source} "
                             f"and {stack.source}")
        stacks[stack.name] = stack
    if not stacks:
        raise UsageError(f"{location}: no stacks found (expected a cloud assembly with manifest.json, "
                         "*.template.json files or wrapped snapshot *.json files)")
    return stacks


# ---------------------------------------------------------------- acceptances

def parse_acceptance(text: str, origin: str, reason_required: bool) -> Acceptance:
    target, _, reason = text.partition("#")
    target, reason = target.strip(), reason.strip()
    rule, _, where = target.partition(":")
    stack, _, lid = where.partition("/")
    if not (rule and stack and lid) or any(c.isspace() for c in target):
        raise UsageError(f"{origin}: {text.strip()!r} is not RULE-ID:stack/LogicalId [# reason]")
    if rule not in RULES:
        raise UsageError(f"{origin}: unknown rule {rule!r} in {target}; allowed: {', '.join(RULES)}")
    if reason_required and not reason:
        raise UsageError(f"{origin}: {target} has no '# reason': say why this hazard is accepted, "
                         "a reviewer must see it")
    return Acceptance(target, reason or "(no reason given)", origin)


def read_acceptances(path: Path) -> list[Acceptance]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from error
    return [parse_acceptance(line, f"{path}:{number}", reason_required=True)
            for number, line in enumerate(lines, 1) if line.strip() and not line.lstrip().startswith("#")]


def accept(findings: list[Finding], acceptances: list[Acceptance]) -> list[Acceptance]:
    """Mark accepted findings; return the stale acceptances, which match no finding."""
    by_target: dict[str, Acceptance] = {}
    for acceptance in acceptances:
        by_target.setdefault(acceptance.target, acceptance)
    for finding in findings:
        finding.accepted = by_target.get(finding.target)
    found = {finding.target for finding in findings}
    return [acceptance for acceptance in acceptances if acceptance.target not in found]


# ---------------------------------------------------------------- output and CLI

ENV_ORDER = {"dev": 0, "staging": 1, "prod": 2}
NOT_CHECKED = ("Not checked: this compares templates, it is not `cdk diff`. It cannot see drift or "
               "changes made by hand in AWS, a failed earlier deployment, service quotas, values known "
               "only at deploy time (parameters, lookups), or changes to stateless resources other than "
               "moved fixed names. Run `make diff ENV=...` against the account before deploying.")


def _generic(finding: Finding, text: str) -> str:
    """`text` with the finding's environment (and account ids) written as placeholders, so the
    same edit in dev, staging and prod reads the same."""
    env = re.escape(finding.environment)
    return re.sub(r"(?<![0-9])[0-9]{12}(?![0-9])", "{account}", re.sub(rf"\b{env}\b", "{env}", text))


def group(findings: list[Finding]) -> list[list[Finding]]:
    """Findings that are one edit seen in several environments, in first-seen order."""
    groups: dict[tuple, list[Finding]] = {}
    for finding in findings:
        key = (finding.rule, finding.resource, finding.action, finding.accepted is not None,
               *(_generic(finding, text) for text in (finding.stack, finding.property, finding.change,
                                                       finding.effect, finding.route)))
        groups.setdefault(key, []).append(finding)
    return [sorted(members, key=lambda f: (ENV_ORDER.get(f.environment, 9), f.environment))
            for members in groups.values()]


def render(members: list[Finding]) -> str:
    first = members[0]
    one = len(members) == 1
    text = (lambda t: t) if one else (lambda t: _generic(first, t))
    label = "" if first.severity == "hazard" else f" ({first.severity})"
    lines = [f"[{first.rule}]{label} {text(first.stack)}/{first.resource} {text(first.property)}: "
             f"{text(first.change)}"]
    if not one:
        lines.append(f"    in: {', '.join(f.environment for f in members)}")
    lines += [f"    CloudFormation would {ACTION[first.action]}: {text(first.effect)}",
              f"    Safe route: {text(first.route)}"]
    for finding in members:
        if finding.accepted:
            where = "" if one else f" in {finding.environment}"
            lines.append(f"    ACCEPTED{where} ({finding.accepted.origin}): {finding.accepted.reason}")
    return "\n".join(lines)


def summary(findings: list[Finding], baseline: dict, candidate: dict) -> str:
    compared = len(baseline.keys() & candidate.keys())
    counts = f"{len(baseline)} baseline / {len(candidate)} candidate stacks, {compared} matched"
    hazards = [f for f in findings if f.severity == "hazard"]
    open_ = [f for f in hazards if not f.accepted]
    warnings = len(findings) - len(hazards)
    if len(open_) < len(hazards):
        counts = f"{len(hazards) - len(open_)} accepted, {counts}"
    if warnings:
        counts = f"{warnings} warning(s), {counts}"
    missing = sorted({s.environment for s in baseline.values()} - {s.environment for s in candidate.values()})
    hint = (f" The candidate has no {'/'.join(missing)} stacks: if you synthesized one environment, "
            "compare only it (--env NAME, make guard ENV=NAME)." if missing else "")
    if not open_:
        return (f"deploy-guard: OK - no {'unaccepted ' if hazards else ''}hazards ({counts}).{hint}\n"
                f"{NOT_CHECKED}")
    stacks = len({f.stack for f in open_})
    return (f"deploy-guard: {len(open_)} hazard(s) in {stacks} stack(s) ({counts}); "
            f"do not deploy this change in one step.{hint}")


def only_environments(stacks: dict[str, Stack], environments: list[str], location: str) -> dict[str, Stack]:
    if not environments:
        return stacks
    chosen = {name: stack for name, stack in stacks.items() if stack.environment in environments}
    if not chosen:
        found = ", ".join(sorted({s.environment for s in stacks.values()}))
        raise UsageError(f"{location}: no stacks of environment {', '.join(environments)} "
                         f"(stack names end in the environment; found: {found})")
    return chosen


def as_json(finding: Finding) -> dict:
    return {**asdict(finding), "severity": finding.severity, "environment": finding.environment}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="deploy-guard", description="Flag CloudFormation changes that would delete or replace "
        "stateful resources, fail mid-deployment, or weaken staging and production protections.")
    parser.add_argument("baseline", help="what is deployed: cloud assembly or template/snapshot dir")
    parser.add_argument("candidate", help="what would be deployed, same forms")
    parser.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    parser.add_argument("--env", action="append", default=[], metavar="NAME",
                        help="compare only this environment's stacks (repeatable), e.g. prod")
    parser.add_argument("--accept", action="append", default=[], metavar="RULE-ID:stack/LogicalId",
                        help="acknowledge one finding (repeatable; may end in '# reason')")
    parser.add_argument("--accept-file", metavar="PATH", help="acceptances, one "
                        f"'RULE-ID:stack/LogicalId  # reason' a line (default: ./{ACCEPT_FILE} if present)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad usage; return it for in-process callers
        return int(exit_.code or 0)
    try:
        acceptances = [parse_acceptance(text, "--accept", reason_required=False) for text in args.accept]
        accept_file = Path(args.accept_file) if args.accept_file else Path(ACCEPT_FILE)
        if args.accept_file or accept_file.is_file():
            acceptances += read_acceptances(accept_file)
        baseline = only_environments(load_stacks(args.baseline), args.env, args.baseline)
        candidate = only_environments(load_stacks(args.candidate), args.env, args.candidate)
    except UsageError as error:
        print(f"deploy-guard: error: {error}", file=sys.stderr)
        return 2
    findings = compare(baseline, candidate)
    for stale in accept(findings, acceptances):
        print(f"deploy-guard: warning: stale acceptance {stale.target} ({stale.origin}) matches no "
              "finding; remove it", file=sys.stderr)
    ok = not any(finding.blocking for finding in findings)
    if args.json:
        print(json.dumps({"ok": ok, "summary": summary(findings, baseline, candidate),
                          "findings": [as_json(f) for f in findings]}, indent=2))
    else:
        for members in group(findings):
            print(render(members) + "\n")
        print(summary(findings, baseline, candidate))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The deploy guard's vocabulary: what is stateful, the rules, findings, and the small
helpers every check shares. Standard library and config only (see tools/guard/__init__.py)."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from config import environments as config_environments
from config.model import PROTECTION_METADATA
from tools.assembly import Stack, canon, environment_of, props
from tools.tables import attribute_types, key_schema

STATEFUL_TYPES = frozenset(
    {
        "AWS::DynamoDB::Table",
        "AWS::DynamoDB::GlobalTable",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::Backup::BackupVault",
        "AWS::Backup::LogicallyAirGappedBackupVault",
        "AWS::SecretsManager::Secret",
        "AWS::Logs::LogGroup",
        # The audit trail: deleting or replacing it stops the record of who read PHI.
        "AWS::CloudTrail::Trail",
    }
)
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"})
PROTECTED_LEVELS = ("protected", "production")

# The property holding the physical name; changing it means replacement.
PHYSICAL_NAME = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::Backup::BackupVault": "BackupVaultName",
    "AWS::Backup::LogicallyAirGappedBackupVault": "BackupVaultName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::CloudTrail::Trail": "TrailName",
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
KMS_IMMUTABLE = {"KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Origin": "AWS_KMS", "MultiRegion": False}
POLICY_RANK = {"Delete": 0, "Snapshot": 1, "Retain": 2, "RetainExceptOnCreate": 2}
FATE = {
    "Delete": "deleted with its data",
    "Snapshot": "snapshotted, then deleted",
    "Retain": "orphaned: kept with its data, but no longer managed by the stack",
    "RetainExceptOnCreate": "orphaned: kept with its data, but no longer managed by the stack",
}
ACTION = {
    "fail": "FAIL the update",
    "replace": "REPLACE the resource",
    "delete": "DELETE the resource",
    "rekey": "RE-ENCRYPT the live data",
    "weaken": "APPLY it silently",
    "orphan": "ORPHAN the resource",
    "outage": "take the database OFFLINE",
    "gap": "LOSE stream records",
}
ACCEPT_FILE = "deploy-guard.accept"  # read from the current directory when present


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    route: str  # default safe route; a finding may give a more specific one
    severity: str = "hazard"  # "hazard" fails unless accepted; "warning" is reported only


RULES = {
    rule.id: rule
    for rule in (
        Rule(
            "STATEFUL-DELETE",
            "stateful resource, or a stack holding one, removed",
            "If the data must go: set RemovalPolicy.RETAIN (or back it up) and deploy, then remove "
            "the resource in a later deployment (accepting that removal, see --accept). If it must "
            "stay: put it back in the template.",
        ),
        Rule(
            "STATEFUL-RENAME",
            "stateful resource moved to another logical id or stack",
            "Keep the old logical id (CfnResource.override_logical_id), or move it with `cdk refactor`; "
            "or retain + import: set RemovalPolicy.RETAIN and deploy, remove it and deploy, "
            "then `cdk import` it under the new id.",
        ),
        Rule(
            "STATEFUL-REPLACE",
            "change that makes CloudFormation replace a stateful resource",
            "Keep the property as it is. If it really has to change: create a new resource under a new "
            "logical id next to the old one, migrate the data, switch consumers, then remove the old "
            "one (RETAIN first).",
        ),
        Rule(
            "GSI-MULTI",
            "more than one GSI created/deleted on one table in one deployment",
            "One GSI create or delete per deployment, waiting for the index to be ACTIVE in between.",
        ),
        Rule(
            "TTL-RENAME",
            "TTL attribute renamed while TTL stays enabled",
            "Deployment 1: disable TTL (Enabled: false). Deployment 2, once DynamoDB accepts another TTL "
            "change (it rate-limits them): enable TTL with the new attribute name.",
        ),
        Rule(
            "REPLICA-MULTI",
            "more than one GlobalTable replica added/removed in one deployment",
            "Add or remove one replica per deployment, waiting for the replica to be ACTIVE in between.",
        ),
        Rule(
            "REPLICATION-MODE",
            "a table's consistency mode, or a strongly consistent table's regions, changed",
            "Keep the table as it is. For the other mode, declare a new table (new catalogue id and "
            "name) with it, migrate the data and switch consumers, then retire the old table (RETAIN first).",
        ),
        Rule(
            "PROTECTION-WEAKENED",
            "protection of staging or production data weakened",
            "Keep the protection in staging and prod. If it must be lifted (e.g. to retire a resource), "
            "do it in its own reviewed deployment, right before the one that removes the resource.",
        ),
        Rule(
            "STREAM-CHANGE", "table stream changed under its consumers, or on a multi-replica table", "Keep StreamSpecification as it is."
        ),
        Rule(
            "ENGINE-VERSION",
            "database engine major version changed, or version lowered",
            "Upgrade a major version on its own: a parameter group of the new family, "
            "AllowMajorVersionUpgrade: true, a snapshot first, in a maintenance window (or an RDS "
            "blue/green deployment to keep downtime to a switchover). An engine cannot be downgraded: "
            "put the version back.",
        ),
        Rule(
            "NAME-TAKEN",
            "resource with a fixed physical name moved to another logical id or stack",
            "Keep the old logical id (pin() / CfnResource.override_logical_id). Or give the moved "
            "resource a new physical name in the same change (CloudFormation then creates the new one "
            "and deletes the old); or remove the old resource in one deployment and add the new one in "
            "the next.",
        ),
        Rule(
            "TABLE-REKEY",
            "table encryption key changed",
            "Keep the old key enabled, with its key policy and grants, until DescribeTable shows "
            "SSEDescription.Status ENABLED on the new key in every replica region; retire the old key "
            "only in a later deployment (RETAIN first; KMS deletes keys only after a pending window).",
            severity="warning",
        ),
    )
}

ORPHAN_ROUTE = "If intended, accept it explicitly (see --accept) and import it elsewhere if it moves."
TYPE_CHANGE_ROUTE = (
    "Retain + import: set RemovalPolicy.RETAIN on the existing table and deploy; remove "
    "it from the app and deploy (the table is orphaned, data kept); then `cdk import` "
    "it as the new type."
)
KEY_SCHEMA_ROUTE = (
    "Key schema, key attribute types and LSIs are fixed when a table is created: create a "
    "new table under a new logical id and name, backfill it (export/import or dual "
    "writes), switch readers and writers, then retire the old table (RETAIN first)."
)
KMS_KEY_ROUTE = (
    "Create a new key under a new logical id, move its users to it, and retire the old key "
    "later (RETAIN first; KMS deletes keys only after a pending window)."
)


def protection_of(stack: Stack) -> str | None:
    """The protection level a stack's template records; else (a template from before it did)
    its environment's in config; None for an environment config does not know."""
    recorded = stack.template.get("Metadata", {}).get(PROTECTION_METADATA)
    if recorded is not None:
        return recorded
    cfg = config_environments.ENVIRONMENTS.get(stack.environment or environment_of(stack.name))
    return cfg.protection if cfg else None


def protected(*stacks: Stack | None) -> bool:
    """Weakening a protection is a hazard where either side says the data is protected: a
    change that lowers `protection` in config is still judged by the baseline's level, so it
    cannot silence the guard for its own weakenings."""
    return any(protection_of(stack) in PROTECTED_LEVELS for stack in stacks if stack is not None)


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

    # The field `property` shadows the builtin in this class body (for type checkers; at
    # runtime an annotation binds nothing), so the decorator is spelled out.
    @builtins.property
    def target(self) -> str:
        return f"{self.rule}:{self.stack}/{self.resource}"

    @builtins.property
    def severity(self) -> str:
        return RULES[self.rule].severity

    @builtins.property
    def environment(self) -> str:
        return environment_of(self.stack)

    @builtins.property
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
    protected: bool = False  # its stack's data is protected (`protected`): weakening is a hazard

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
        return Finding(rule, self.stack, self.lid, prop, change, action, effect, route or RULES[rule].route)


class UsageError(Exception):
    """Bad arguments or acceptances; the message says which."""


# ---------------------------------------------------------------- helpers


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
        resource.get("Type") == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in props(resource)
    )
    # CloudFormation defaults to Snapshot on deletion for these RDS resources only.
    return "Snapshot" if attribute == "DeletionPolicy" and rds_snapshot else "Delete"


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
            {"keys": keys, "types": {n: types.get(n) for n in keys.values()}, "projection": projection}
        )
    return result


def replicas(table_props: dict) -> dict:
    return {show(r.get("Region")): r for r in table_props.get("Replicas") or [] if isinstance(r, dict)}


def replacement_effect(pair: Pair) -> tuple[str, str]:
    name_prop = PHYSICAL_NAME.get(pair.type)
    name = pair.new_props.get(name_prop) if name_prop else None
    if name is not None and canon(name) == canon(pair.old_props.get(name_prop)):
        return "fail", (f"the change needs a replacement, but {name_prop} is fixed and a custom-named resource cannot be replaced.")
    fate = FATE.get(policy(pair.new, "UpdateReplacePolicy"), FATE["Delete"])
    return "replace", f"a new, empty resource is created and the old one is {fate}."


def listing(label: str, names: list) -> str:
    return f"{label}: {', '.join(names)}" if names else ""

"""`DataTable`: a DynamoDB table (TableV2) with this project's defaults, alarms and narrow grants."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

from aws_cdk import CfnTag, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.alerts import AlarmActions
from constructs_lib.identity import pin
from constructs_lib.kms import via
from constructs_lib.monitoring import Alarms, table_targets
from constructs_lib.nag import acknowledge
from constructs_lib.props import AlarmKind, AlarmSettings, Governance, Replica, TableBilling
from constructs_lib.specs import INSIGHTS_MODES, Key, TableSpec

# Least privilege: no Scan (every access pattern is a key or index lookup), no wildcards.
READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable")
WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
# Audit evidence is insert-only for every role but break-glass: no update, no delete, and no
# BatchWriteItem (its DeleteRequest deletes). PutItem can still overwrite an item with the
# same key: the app writes with attribute_not_exists on the key (docs/security.md).
INSERT_ONLY_ACTIONS = ("dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable")
# A customer-managed key is used by DynamoDB on the caller's behalf.
KMS_READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
KMS_WRITE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo")

# What would remove a table's own protections: its resource policy, and its PITR window.
SELF_PROTECTED_ACTIONS = ("dynamodb:DeleteResourcePolicy", "dynamodb:PutResourcePolicy", "dynamodb:UpdateContinuousBackups")

# What the deployer may never do to a table's items: it creates and changes tables (and so may
# use their key through DynamoDB), but reading, exporting or restoring the data is not its job.
DEPLOYER_DENIED_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:GetItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:Query",
    "dynamodb:RestoreTableToPointInTime",
    "dynamodb:Scan",
)

_KEY_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


@overload
def _attr(key: Key) -> dynamodb.Attribute: ...
@overload
def _attr(key: Key | None) -> dynamodb.Attribute | None: ...
def _attr(key: Key | None) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=key.name, type=_KEY_TYPES[key.type]) if key else None


@dataclass(frozen=True, kw_only=True)
class TableSettings:
    """The per-environment half of a table; the spec is the other."""

    billing: TableBilling
    pitr_enabled: bool
    pitr_days: int
    deletion_protection: bool
    removal_policy: RemovalPolicy
    # The catalogue's kinds for tables, GSIs and replicas, and the environment's thresholds
    # (a table's own overrides, from its spec, go over them).
    alarm_kinds: Sequence[AlarmKind]
    alarms: AlarmSettings
    governance: Governance
    replicas: Sequence[Replica] = ()
    # Catalogue ids of the tables replicated with multi-Region strong consistency (the others:
    # eventual), and the witness region that makes their third region, if any.
    strong_consistency: frozenset[str] = frozenset()
    witness_region: str | None = None
    # Contributor Insights on the catalogue's hot tables: None (off) or its mode.
    contributor_insights: str | None = None
    # An archived table's stream view ("OLD_IMAGE" or "NEW_AND_OLD_IMAGES", config archive.stream_view).
    stream_view: str = "OLD_IMAGE"


def table_policy(g: Governance, *, deletable: bool) -> iam.PolicyDocument:
    """Every table's resource policy: denies only, so the roles' IAM grants stay the one source
    of access. In a table's own policy "*" means the table and its indexes (a stream has a
    policy of its own)."""
    may_delete = g.may_destroy(deletable=deletable, administrators=False)
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="DenyAccessFromOutsideTheAccount",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:*"],
                resources=["*"],
                # AWS services acting for the account (backups, streams to Pipes) are not principals of it.
                conditions={"StringNotEquals": {"aws:PrincipalAccount": g.account}, "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}},
            ),
            iam.PolicyStatement(
                sid="DenyTheDeployerTheItems",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(DEPLOYER_DENIED_ACTIONS),
                resources=["*"],
                conditions={"ArnEquals": {"aws:PrincipalArn": [g.deployer_arn]}},
            ),
            iam.PolicyStatement(
                sid="DenyTableDeletionExceptBreakGlass",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:DeleteTable"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": may_delete}},
            ),
            # The policy protects itself, and the recovery window with it: switching PITR off
            # discards the 35 days at once. CloudFormation's GlobalTable handler makes these
            # calls on a deploy (the deploy guard and config validation judge those changes).
            iam.PolicyStatement(
                sid="DenyPolicyAndRecoveryChangesExceptBreakGlassAndDeployer",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(SELF_PROTECTED_ACTIONS),
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": sorted({g.break_glass_arn, g.deployer_arn})}},
            ),
        ]
    )


def stream_policy(g: Governance, readers: Sequence[str]) -> iam.PolicyDocument:
    """An archived table's stream carries full old images of its items: only its `readers` (the
    archive pipe's role) and break-glass may read its records; CloudFormation may describe it.
    AWS services acting for the account are not refused."""
    service = {"BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="DenyStreamRecordsExceptItsReaders",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": sorted({*readers, g.break_glass_arn})}, **service},
            ),
            iam.PolicyStatement(
                sid="DenyStreamDescriptionExceptItsReadersAndDeployer",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["dynamodb:DescribeStream"],
                resources=["*"],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": sorted({*readers, g.break_glass_arn, g.deployer_arn})}, **service},
            ),
        ]
    )


class DataTable(Construct):
    """One table of the catalogue: TableV2 encrypted with a customer-managed key, PITR, deletion
    protection, TTL, the environment's removal policy, a pinned logical id, and the AWS-recommended
    alarms for the table and each GSI (constructs_lib/monitoring.py), all wired to the alert actions.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: TableSpec,
        table_name: str,
        key: kms.IKey,
        settings: TableSettings,
        alarm_actions: AlarmActions,
        stream_readers: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.spec = spec
        self.table_name = table_name
        self.key = key
        billing, read_capacity, write_capacity = _billing(settings.billing)
        policy = table_policy(settings.governance, deletable=settings.removal_policy == RemovalPolicy.DESTROY)
        streams = stream_policy(settings.governance, stream_readers) if stream_readers else None
        strong = spec.id in settings.strong_consistency
        self.table = dynamodb.TableV2(
            self,
            "Table",
            table_name=table_name,
            partition_key=_attr(spec.partition_key),
            sort_key=_attr(spec.sort_key),
            billing=billing,
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=index.name,
                    partition_key=_attr(index.partition_key),
                    sort_key=_attr(index.sort_key),
                    projection_type=_PROJECTIONS[index.projection],
                    non_key_attributes=list(index.include) or None,
                    read_capacity=read_capacity,
                    write_capacity=write_capacity,
                    # The same on-demand ceiling as the table's (none when provisioned).
                    max_read_request_units=settings.billing.max_read_request_units,
                    max_write_request_units=settings.billing.max_write_request_units,
                )
                for index in spec.indexes
            ],
            local_secondary_indexes=[
                dynamodb.LocalSecondaryIndexProps(
                    index_name=local.name,
                    sort_key=_attr(local.sort_key),
                    projection_type=_PROJECTIONS[local.projection],
                    non_key_attributes=list(local.include) or None,
                )
                for local in spec.local_indexes
            ]
            or None,
            table_class=dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS if spec.table_class == "STANDARD_INFREQUENT_ACCESS" else None,
            contributor_insights_specification=dynamodb.ContributorInsightsSpecification(
                enabled=True, mode=dynamodb.ContributorInsightsMode[insights]
            )
            if (insights := insights_mode(spec.insights, settings.contributor_insights))
            else None,
            warm_throughput=dynamodb.WarmThroughput(
                read_units_per_second=spec.warm_throughput.read_units_per_second,
                write_units_per_second=spec.warm_throughput.write_units_per_second,
            )
            if spec.warm_throughput
            else None,
            time_to_live_attribute=spec.ttl_attribute,
            # Archived tables stream old images: a TTL deletion carries the item being expired
            # (new ones too where config says so: DynamoDB's requirement for replicas).
            dynamo_stream=dynamodb.StreamViewType[settings.stream_view] if stream_readers else None,
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(
                key, replica_key_arns={r.region: r.kms_key_arn for r in settings.replicas} or None
            ),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=settings.pitr_enabled,
                recovery_period_in_days=settings.pitr_days if settings.pitr_enabled else None,
            ),
            deletion_protection=settings.deletion_protection,
            removal_policy=settings.removal_policy,
            resource_policy=policy,
            stream_resource_policy=streams,
            # Each replica is protected like the table: TableV2 gives a replica no policy of its
            # own unless told (resourcePolicyPerReplica is on in cdk.json).
            replicas=[
                dynamodb.ReplicaTableProps(region=r.region, resource_policy=policy, stream_resource_policy=streams)
                for r in settings.replicas
            ]
            or None,
            # Set only where strong: an eventual table's template stays as it was.
            multi_region_consistency=dynamodb.MultiRegionConsistency.STRONG if strong else None,
            witness_region=settings.witness_region if strong else None,
            # The catalogue id, so costs and findings name the table.
            tags=[CfnTag(key="Table", value=spec.id)],
        )
        if not settings.pitr_enabled:
            acknowledge(
                self.table,
                {
                    "CKV_AWS_165": "pitr.enabled is off by config in this environment (dev): its tables hold test data that "
                    "is rebuilt, not restored; staging and prod keep 35 days."
                },
            )
        # The logical id is the table's identity to CloudFormation: pin it to the catalogue id
        # so refactoring the construct tree can never replace (and empty) a table.
        pin(self.table, spec.logical_id)
        self._arn = self.table.table_arn
        self._key_arn = key.key_arn
        self._kms_via = via(self, "dynamodb")
        self.alarms = Alarms(
            self,
            "Alarms",
            kinds=settings.alarm_kinds,
            targets=table_targets(
                table_name,
                [index.name for index in spec.indexes],
                # ReplicationLatency is published for eventual replicas only: a strong table's
                # writes are acknowledged once another region has them.
                [] if strong else [r.region for r in settings.replicas],
                provisioned=settings.billing.mode == "PROVISIONED",
            ),
            settings=settings.alarms.overridden(spec.alarm_thresholds),
            actions=alarm_actions,
        ).alarms

    @property
    def table_arn(self) -> str:
        return self._arn

    def index_arns(self, names: Sequence[str] | None = None) -> list[str]:
        chosen = [i.name for i in self.spec.indexes] if names is None else list(names)
        unknown = set(chosen) - {i.name for i in self.spec.indexes}
        if unknown:
            raise ValueError(f"{self.table_name} has no index {sorted(unknown)}; it has {[i.name for i in self.spec.indexes]}")
        return [f"{self._arn}/index/{name}" for name in chosen]

    # --- narrow grants, as data: explicit actions, the table and its named indexes, the key via
    # DynamoDB only. Callers (constructs_lib/roles.py) collect them across tables and write one
    # customer-managed policy from them (`statements`): not a role's inline policy, which HIPAA
    # and NIST checks forbid, and one a reviewer can read on its own.

    def read_grants(self, *, indexes: Sequence[str] | None = None, leading_keys: Sequence[str] = ()) -> list[Grant]:
        return self._grants(READ_ACTIONS, KMS_READ_ACTIONS, indexes, leading_keys)

    def write_grants(self, *, leading_keys: Sequence[str] = ()) -> list[Grant]:
        # Writes go to the base table only; DynamoDB maintains the indexes.
        actions = INSERT_ONLY_ACTIONS if "audit" in self.spec.holds else WRITE_ACTIONS
        return self._grants(actions, KMS_WRITE_ACTIONS, [], leading_keys)

    def read_write_grants(self, *, indexes: Sequence[str] | None = None, leading_keys: Sequence[str] = ()) -> list[Grant]:
        return self.read_grants(indexes=indexes, leading_keys=leading_keys) + self.write_grants(leading_keys=leading_keys)

    def _grants(
        self, actions: Sequence[str], kms_actions: Sequence[str], indexes: Sequence[str] | None, leading_keys: Sequence[str]
    ) -> list[Grant]:
        # No Sids: with the minimizePolicies feature flag CDK merges these statements across
        # tables, which keeps a 19-table system's policy far under IAM's size limit.
        conditions = {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": list(leading_keys)}} if leading_keys else None
        return [
            Grant(tuple(actions), (self._arn, *self.index_arns(indexes)), conditions),
            Grant(tuple(kms_actions), (self._key_arn,), {"StringEquals": {"kms:ViaService": self._kms_via}}),
        ]


def insights_mode(table: str | None, environment: str | None) -> str | None:
    """The narrower of the table's Contributor Insights (the catalogue's) and the environment's."""
    if table is None or environment is None:
        return None
    return min(table, environment, key=INSIGHTS_MODES.index)


@dataclass(frozen=True)
class Grant:
    """One Allow statement as data: actions, resources, conditions (None: no Condition)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: dict | None = None


def statements(grants: Sequence[Grant]) -> list[dict]:
    """Policy statements (JSON) for `grants`, in order, each distinct one once: the key statement
    of every table of a system is the same, and minimizePolicies would merge the copies anyway.
    A policy's document is written from them with PolicyDocument.from_json."""
    seen: dict[str, Grant] = {}
    for grant in grants:
        seen.setdefault(json.dumps([grant.actions, grant.resources, grant.conditions], sort_keys=True), grant)
    return [
        {
            "Effect": "Allow",
            "Action": list(g.actions),
            "Resource": list(g.resources),
            **({"Condition": g.conditions} if g.conditions else {}),
        }
        for g in seen.values()
    ]


def _billing(billing: TableBilling) -> tuple[dynamodb.Billing, dynamodb.Capacity | None, dynamodb.Capacity | None]:
    if billing.mode == "PAY_PER_REQUEST":
        return (
            dynamodb.Billing.on_demand(
                max_read_request_units=billing.max_read_request_units, max_write_request_units=billing.max_write_request_units
            ),
            None,
            None,
        )
    if billing.max_read_capacity is None or billing.max_write_capacity is None:
        # config validation refuses provisioned billing without both ceilings.
        raise ValueError("provisioned billing needs max_read_capacity and max_write_capacity")
    read = dynamodb.Capacity.autoscaled(
        min_capacity=billing.read_capacity,
        max_capacity=billing.max_read_capacity,
        target_utilization_percent=billing.target_utilization_percent,
    )
    write = dynamodb.Capacity.autoscaled(
        min_capacity=billing.write_capacity,
        max_capacity=billing.max_write_capacity,
        target_utilization_percent=billing.target_utilization_percent,
    )
    return dynamodb.Billing.provisioned(read_capacity=read, write_capacity=write), read, write

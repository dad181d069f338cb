"""Table definitions read out of synthesized stacks (tools.assembly reads the stacks).

The local stand-in (`tools.local.stand_in`) creates its tables from here and `tools.local.verify`
compares live tables against the same reading, so neither keeps a second hand-written list of
keys, indexes or settings: what CDK synthesized is the only description.

Only `AWS::DynamoDB::GlobalTable` (CDK's TableV2) is read; the replica in the stack's own region
carries the per-region settings (tags, PITR, deletion protection, read capacity, KMS key).
Stdlib only, so it can be imported without the CDK.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.assembly import AssemblyError, Stack, read_assembly

TABLE_TYPE = "AWS::DynamoDB::GlobalTable"


@dataclass(frozen=True)
class Capacity:
    """Provisioned capacity bounds. Autoscaled capacity is created at its minimum and is in
    order anywhere between minimum and maximum; fixed capacity has minimum == maximum."""

    read_min: int
    read_max: int
    write_min: int
    write_max: int


@dataclass(frozen=True)
class KmsKey:
    """The customer-managed key a table is encrypted with, as the template declares it. Its ARN
    is not in the template (it is a Fn::GetAtt), so it is found through the key's alias."""

    logical_id: str
    alias: str | None
    description: str


@dataclass(frozen=True)
class Index:
    name: str
    key_schema: tuple[tuple[str, str], ...]  # ((attribute, HASH|RANGE), ...)
    projection: str
    non_key_attributes: tuple[str, ...]
    capacity: Capacity | None


@dataclass(frozen=True)
class TableDef:
    stack: str
    environment: str
    region: str
    logical_id: str  # "Table<Id>", pinned to the catalogue id
    name: str
    attribute_types: dict[str, str]  # every key attribute of the table and its indexes
    key_schema: tuple[tuple[str, str], ...]
    billing_mode: str  # PAY_PER_REQUEST | PROVISIONED
    capacity: Capacity | None
    indexes: tuple[Index, ...]
    stream_view_type: str | None
    ttl_attribute: str | None
    pitr_enabled: bool
    pitr_days: int | None
    deletion_protection: bool
    table_class: str
    tags: dict[str, str] = field(default_factory=dict)
    kms_key: KmsKey | None = None  # None: DynamoDB's AWS-owned key

    @property
    def id(self) -> str:
        """The catalogue id ("Users"), which samples/<system>.json files use."""
        return self.logical_id.removeprefix("Table")

    @property
    def system(self) -> str:
        """The system key: the stack name without its environment suffix."""
        return self.stack.removesuffix(f"-{self.environment}")

    def create_table_params(self, kms_key_arn: str | None) -> dict[str, Any]:
        """CreateTable parameters for this table. TTL and PITR are separate API calls
        (UpdateTimeToLive, UpdateContinuousBackups) and are not included."""
        params: dict[str, Any] = {
            "TableName": self.name,
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in sorted(self.attribute_types.items())],
            "KeySchema": _key_schema(self.key_schema),
            "BillingMode": self.billing_mode,
            "DeletionProtectionEnabled": self.deletion_protection,
            "TableClass": self.table_class,
        }
        if self.capacity:
            params["ProvisionedThroughput"] = _throughput(self.capacity)
        if self.indexes:
            params["GlobalSecondaryIndexes"] = [_index_params(index) for index in self.indexes]
        if self.stream_view_type:
            params["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": self.stream_view_type}
        if self.kms_key and not self.kms_key.logical_id:
            params["SSESpecification"] = {"Enabled": True, "SSEType": "KMS"}  # the AWS managed key
        elif self.kms_key:
            if not kms_key_arn:
                raise AssemblyError(f"{self.name} is encrypted with a customer-managed key: pass its ARN")
            params["SSESpecification"] = {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": kms_key_arn}
        if self.tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())]
        return params


def _key_schema(schema: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"AttributeName": name, "KeyType": kind} for name, kind in schema]


def _throughput(capacity: Capacity) -> dict[str, int]:
    return {"ReadCapacityUnits": capacity.read_min, "WriteCapacityUnits": capacity.write_min}


def _index_params(index: Index) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    params: dict[str, Any] = {"IndexName": index.name, "KeySchema": _key_schema(index.key_schema), "Projection": projection}
    if index.capacity:
        params["ProvisionedThroughput"] = _throughput(index.capacity)
    return params


# --- reading cdk.out


def load_environment(root: Path | str, environment: str) -> list[Stack]:
    """Every stack of one environment of a cloud assembly (a nested assembly per Stage)."""
    root = Path(root)
    if not (root / "manifest.json").is_file():
        raise AssemblyError(f"{root / 'manifest.json'} not found: run `make synth` first")
    stacks = list(read_assembly(root))
    found = sorted({s.environment for s in stacks})
    if environment not in found:
        raise AssemblyError(f"no environment {environment!r} in {root}; it has {', '.join(found) or 'none'}")
    chosen = [s for s in stacks if s.environment == environment]
    for stack in chosen:
        if not stack.region or stack.region.startswith("unknown"):
            raise AssemblyError(f"stack {stack.name} in {root} has no region; tables need a region-specific stack")
    return sorted(chosen, key=lambda s: s.name)


def tables(stacks: Iterable[Stack]) -> list[TableDef]:
    """Every table of the given stacks, by name."""
    found = [
        table_def(stack, logical_id)
        for stack in stacks
        for logical_id, res in stack.template.get("Resources", {}).items()
        if res["Type"] == TABLE_TYPE
    ]
    return sorted(found, key=lambda t: t.name)


def table_def(stack: Stack, logical_id: str) -> TableDef:
    resources = stack.template["Resources"]
    props = resources[logical_id]["Properties"]
    where = f"{stack.name}/{logical_id}"
    replicas = [r for r in props.get("Replicas", []) if r.get("Region") == stack.region]
    if len(replicas) != 1:
        raise AssemblyError(f"{where}: expected one replica in the stack's region {stack.region}, found {len(replicas)}")
    replica = replicas[0]
    billing_mode = _literal(props.get("BillingMode", "PROVISIONED"), where, "BillingMode")
    provisioned = billing_mode == "PROVISIONED"
    replica_indexes = {i["IndexName"]: i for i in replica.get("GlobalSecondaryIndexes", [])}
    indexes = tuple(
        Index(
            name=gsi["IndexName"],
            key_schema=_schema(gsi["KeySchema"]),
            projection=gsi.get("Projection", {}).get("ProjectionType", "ALL"),
            non_key_attributes=tuple(gsi.get("Projection", {}).get("NonKeyAttributes", ())),
            capacity=_capacity(replica_indexes.get(gsi["IndexName"], {}), gsi, f"{where} index {gsi['IndexName']}")
            if provisioned
            else None,
        )
        for gsi in props.get("GlobalSecondaryIndexes", [])
    )
    ttl = props.get("TimeToLiveSpecification") or {}
    pitr = replica.get("PointInTimeRecoverySpecification") or {}
    sse_enabled = (props.get("SSESpecification") or {}).get("SSEEnabled", False)
    return TableDef(
        stack=stack.name,
        environment=stack.environment,
        region=stack.region,
        logical_id=logical_id,
        name=_literal(props.get("TableName"), where, "TableName"),
        attribute_types={a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]},
        key_schema=_schema(props["KeySchema"]),
        billing_mode=billing_mode,
        capacity=_capacity(replica, props, where) if provisioned else None,
        indexes=indexes,
        stream_view_type=(props.get("StreamSpecification") or {}).get("StreamViewType"),
        ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
        pitr_enabled=bool(pitr.get("PointInTimeRecoveryEnabled", False)),
        pitr_days=pitr.get("RecoveryPeriodInDays") if pitr.get("PointInTimeRecoveryEnabled") else None,
        deletion_protection=bool(replica.get("DeletionProtectionEnabled", False)),
        table_class=replica.get("TableClass", "STANDARD"),
        tags={t["Key"]: _literal(t["Value"], where, f"tag {t['Key']}") for t in replica.get("Tags", [])},
        kms_key=_kms_key(resources, replica, where) if sse_enabled else None,
    )


# --- a table's raw properties, read tolerantly (the deploy guard compares any two templates
# with these; table_def needs literal values)


def key_schema(obj: dict) -> dict:
    """KeyType -> attribute name of a table's or index's KeySchema (HASH/RANGE order carries
    no meaning)."""
    return {k.get("KeyType"): k.get("AttributeName") for k in obj.get("KeySchema") or [] if isinstance(k, dict)}


def attribute_types(table_props: dict) -> dict:
    """Attribute name -> S | N | B, from AttributeDefinitions."""
    return {a.get("AttributeName"): a.get("AttributeType") for a in table_props.get("AttributeDefinitions") or [] if isinstance(a, dict)}


def _schema(key_schema: list[dict]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in key_schema)


def _capacity(read_source: dict, write_source: dict, where: str) -> Capacity:
    """Read capacity is per replica (fixed or autoscaled); a global table's write capacity is
    autoscaled and shared by its replicas."""
    read = read_source.get("ReadProvisionedThroughputSettings") or {}
    if "ReadCapacityUnits" in read:
        read_min = read_max = read["ReadCapacityUnits"]
    elif "ReadCapacityAutoScalingSettings" in read:
        read_min, read_max = read["ReadCapacityAutoScalingSettings"]["MinCapacity"], read["ReadCapacityAutoScalingSettings"]["MaxCapacity"]
    else:
        raise AssemblyError(f"{where}: PROVISIONED but no read capacity in its replica")
    write = (write_source.get("WriteProvisionedThroughputSettings") or {}).get("WriteCapacityAutoScalingSettings")
    if not write:
        raise AssemblyError(f"{where}: PROVISIONED but no write capacity autoscaling settings")
    return Capacity(read_min=read_min, read_max=read_max, write_min=write["MinCapacity"], write_max=write["MaxCapacity"])


def _kms_key(resources: dict, replica: dict, where: str) -> KmsKey:
    ref = (replica.get("SSESpecification") or {}).get("KMSMasterKeyId")
    if not ref:
        # SSEEnabled without a key id means the AWS managed key (alias/aws/dynamodb).
        return KmsKey(logical_id="", alias="alias/aws/dynamodb", description="AWS managed key for DynamoDB")
    logical_id = _referenced_logical_id(ref)
    if logical_id is None or resources.get(logical_id, {}).get("Type") != "AWS::KMS::Key":
        raise AssemblyError(f"{where}: encrypted with {ref!r}; only a key declared in the same stack can be read")
    aliases = sorted(
        res["Properties"]["AliasName"]
        for res in resources.values()
        if res["Type"] == "AWS::KMS::Alias" and _referenced_logical_id(res["Properties"].get("TargetKeyId")) == logical_id
    )
    description = resources[logical_id].get("Properties", {}).get("Description", "")
    return KmsKey(logical_id=logical_id, alias=aliases[0] if aliases else None, description=description)


def _referenced_logical_id(value: Any) -> str | None:
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    return None


def _literal(value: Any, where: str, what: str) -> Any:
    if value is None or isinstance(value, (dict, list)):
        raise AssemblyError(f"{where}: {what} is {value!r}, not a literal value; tables need literal names, billing modes and tags")
    return value

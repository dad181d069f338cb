"""verify-deployment --env NAME: compare the live DynamoDB tables with the synthesized templates.

    tools/verify-deployment --env staging [--assembly cdk.out] [--profile P] [--endpoint-url URL]
    .venv/bin/python -m tools verify --env staging ...   (the same: the wrapper runs this)

Run it after `make deploy ENV=...` (against what `make synth` wrote for that deployment). Every
table of the environment in cdk.out is described in its stack's region and compared on: status,
key schema and key attribute types, GSIs (keys, projection, status), billing mode and provisioned
capacity (within the autoscaling bounds), streams, PITR and its recovery period, TTL, encryption
(the KMS key the template's alias points at), deletion protection, table class and tags (the
template's tags must be present with their values; extra tags such as CloudFormation's are fine).
Each difference is printed as one line. Tables that exist in the account but not in the
templates are not looked for.

A restored table (docs/restore.md) is checked with `--restored NAME --as TABLE [--region R]`: the
live table NAME (in region R, for a restore from a cross-region copy) against the template's
TABLE of the environment, setting by setting. A restore brings back
keys, indexes and items, but not TTL, streams, PITR, deletion protection or tags: the lines say
what to set before the restored table takes the original's place.

Credentials, profile and endpoint come from the usual AWS settings (AWS_PROFILE,
AWS_ENDPOINT_URL, ...) or the flags. Exit code: 0 no drift, 1 drift, 2 could not check (no
cdk.out, unknown environment, no credentials, access denied).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.assembly import AssemblyError
from tools.tables import Capacity, TableDef, load_environment
from tools.tables import tables as read_tables

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Drift:
    table: str
    what: str
    expected: Any
    found: Any

    def __str__(self) -> str:
        return f"{self.table}: {self.what}: expected {self.expected}, found {self.found}"


class Checker:
    """Compares tables in one region; resolves each KMS alias once."""

    def __init__(self, dynamodb, kms) -> None:
        self.dynamodb = dynamodb
        self.kms = kms
        self._aliases: dict[str, str | None] = {}

    def check(self, table: TableDef) -> list[Drift]:
        drifts: list[Drift] = []

        def expect(what: str, expected: Any, found: Any) -> None:
            if expected != found:
                drifts.append(Drift(table.name, what, expected, found))

        try:
            live = self.dynamodb.describe_table(TableName=table.name)["Table"]
        except self.dynamodb.exceptions.ResourceNotFoundException:
            return [Drift(table.name, "table", "to exist", "no such table")]
        expect("status", "ACTIVE", live["TableStatus"])
        expect("key schema", _schema(table.key_schema), _schema(_pairs(live["KeySchema"])))
        # Only the template's attributes: an extra index brings its own, and is reported as such.
        live_types = {a["AttributeName"]: a["AttributeType"] for a in live["AttributeDefinitions"]}
        for name, kind in sorted(table.attribute_types.items()):
            expect(f"type of key attribute {name}", kind, live_types.get(name, "not defined"))
        # Tables created before on-demand existed have no BillingModeSummary: they are provisioned.
        billing = live.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        expect("billing mode", table.billing_mode, billing)
        if table.capacity and billing == "PROVISIONED":
            _capacity(expect, "", table.capacity, live["ProvisionedThroughput"])
        self._indexes(table, live, billing, expect)
        stream = live.get("StreamSpecification") or {}
        expect(
            "stream",
            table.stream_view_type or "disabled",
            stream.get("StreamViewType", "disabled") if stream.get("StreamEnabled") else "disabled",
        )
        ttl = self.dynamodb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        ttl_on = ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING")
        expect("TTL attribute", table.ttl_attribute or "disabled", ttl.get("AttributeName") if ttl_on else "disabled")
        pitr = self.dynamodb.describe_continuous_backups(TableName=table.name)["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}
        )
        live_pitr = (
            f"enabled, {pitr.get('RecoveryPeriodInDays', 35)} days" if pitr.get("PointInTimeRecoveryStatus") == "ENABLED" else "disabled"
        )
        expect("point-in-time recovery", f"enabled, {table.pitr_days or 35} days" if table.pitr_enabled else "disabled", live_pitr)
        expect("encryption", *self._encryption(table, live.get("SSEDescription") or {}))
        expect("deletion protection", table.deletion_protection, bool(live.get("DeletionProtectionEnabled", False)))
        expect("table class", table.table_class, live.get("TableClassSummary", {}).get("TableClass", "STANDARD"))
        live_tags = self._tags(live["TableArn"])
        for key, value in sorted(table.tags.items()):
            expect(f"tag {key}", value, live_tags.get(key, "no such tag"))
        return drifts

    def _indexes(self, table: TableDef, live: dict, billing: str, expect) -> None:
        live_indexes = {i["IndexName"]: i for i in live.get("GlobalSecondaryIndexes", [])}
        for name in sorted(set(live_indexes) - {i.name for i in table.indexes}):
            expect(f"index {name}", "no such index", "present")
        for index in table.indexes:
            found = live_indexes.get(index.name)
            if found is None:
                expect(f"index {index.name}", "present", "missing")
                continue
            expect(f"index {index.name} status", "ACTIVE", found.get("IndexStatus"))
            expect(f"index {index.name} key schema", _schema(index.key_schema), _schema(_pairs(found["KeySchema"])))
            projection = found.get("Projection", {})
            expect(
                f"index {index.name} projection",
                _projection(index.projection, index.non_key_attributes),
                _projection(projection.get("ProjectionType"), projection.get("NonKeyAttributes", ())),
            )
            if index.capacity and billing == "PROVISIONED":
                _capacity(expect, f"index {index.name} ", index.capacity, found.get("ProvisionedThroughput", {}))

    def _encryption(self, table: TableDef, sse: dict) -> tuple[str, str]:
        """(expected, found) as text: the AWS-owned key, or KMS with a key ARN."""
        found = (
            f"KMS key {sse.get('KMSMasterKeyArn')}"
            if sse.get("Status") in ("ENABLED", "UPDATING") and sse.get("SSEType") == "KMS"
            else "AWS owned key"
        )
        key = table.kms_key
        if key is None:
            return "AWS owned key", found
        if key.alias is None:
            # Without an alias the key's ARN is unknowable from here: require a customer key.
            arn = sse.get("KMSMasterKeyArn")
            is_customer_key = bool(arn) and self.kms.describe_key(KeyId=arn)["KeyMetadata"].get("KeyManager") == "CUSTOMER"
            return "a customer-managed KMS key", "a customer-managed KMS key" if is_customer_key else found
        if key.alias not in self._aliases:
            try:
                self._aliases[key.alias] = self.kms.describe_key(KeyId=key.alias)["KeyMetadata"]["Arn"]
            except self.kms.exceptions.NotFoundException:
                self._aliases[key.alias] = None
        arn = self._aliases[key.alias]
        if arn is None:
            return f"KMS key of {key.alias}", f"{found} ({key.alias} does not exist)"
        return f"KMS key {arn}", found

    def _tags(self, arn: str) -> dict[str, str]:
        tags, kwargs = {}, {"ResourceArn": arn}
        while True:
            page = self.dynamodb.list_tags_of_resource(**kwargs)
            tags.update({t["Key"]: t["Value"] for t in page.get("Tags", [])})
            if not page.get("NextToken"):
                return tags
            kwargs["NextToken"] = page["NextToken"]


def _pairs(key_schema: list[dict]) -> tuple[tuple[str, str], ...]:
    return tuple((k["AttributeName"], k["KeyType"]) for k in key_schema)


def _schema(pairs: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in pairs)


def _projection(kind: str | None, non_key: tuple[str, ...] | list[str]) -> str:
    return f"{kind} {sorted(non_key)}" if non_key else str(kind)


def _capacity(expect, prefix: str, capacity: Capacity, live: dict) -> None:
    for what, low, high, units in (
        ("read", capacity.read_min, capacity.read_max, live.get("ReadCapacityUnits")),
        ("write", capacity.write_min, capacity.write_max, live.get("WriteCapacityUnits")),
    ):
        if units is None or not low <= units <= high:
            expect(f"{prefix}{what} capacity", f"{low}-{high}" if low != high else low, units)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def verify(tables: list[TableDef], session, endpoint_url: str | None = None) -> list[Drift]:
    """Every drift of `tables`, checking each in its own region."""
    checkers: dict[str, Checker] = {}
    drifts = []
    for table in tables:
        if table.region not in checkers:
            checkers[table.region] = Checker(
                session.client("dynamodb", region_name=table.region, endpoint_url=endpoint_url),
                session.client("kms", region_name=table.region, endpoint_url=endpoint_url),
            )
        drifts.extend(checkers[table.region].check(table))
    return drifts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="verify-deployment",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog="Exit code: 0 no drift, 1 drift, 2 could not check.",
    )
    parser.add_argument("--env", required=True, help="environment: one of config/environments.py (a Stage in cdk.out)")
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out", help="synthesized cloud assembly (default cdk.out)")
    parser.add_argument("--profile", help="AWS profile (default: AWS settings)")
    parser.add_argument("--endpoint-url", help="endpoint for DynamoDB and KMS (default: AWS settings, e.g. AWS_ENDPOINT_URL)")
    parser.add_argument("--restored", metavar="NAME", help="check only this live table, a restored copy (docs/restore.md) ...")
    parser.add_argument("--as", dest="as_table", metavar="TABLE", help="... against this table of the templates (its physical name)")
    parser.add_argument("--region", help="with --restored: the region the restored table is in (a restore from a cross-region copy)")
    args = parser.parse_args(argv)
    if bool(args.restored) != bool(args.as_table):
        parser.error("--restored and --as go together: --restored <restored table> --as <table of the templates>")
    try:
        import boto3
        import botocore.exceptions
    except ImportError as error:
        print(f"error: {error}: verify-deployment needs boto3, which the project venv has (make setup)", file=sys.stderr)
        return 2

    try:
        tables = read_tables(load_environment(args.assembly, args.env))
        if args.restored:
            templates = {t.name: t for t in tables}
            if args.as_table not in templates:
                print(
                    f"error: {args.env} has no table {args.as_table!r} in its templates; it has {', '.join(sorted(templates))}",
                    file=sys.stderr,
                )
                return 2
            restored = dataclasses.replace(templates[args.as_table], name=args.restored)
            tables = [dataclasses.replace(restored, region=args.region) if args.region else restored]
        regions = sorted({t.region for t in tables})
        print(f"verify-deployment: {len(tables)} tables of {args.env} from {_shown(args.assembly)}, in {', '.join(regions) or 'no region'}")
        drifts = verify(tables, boto3.Session(profile_name=args.profile), args.endpoint_url)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        print(f"error: could not read the live tables: {error}", file=sys.stderr)
        return 2
    for drift in drifts:
        print(f"DRIFT {drift}")
    drifted = len({d.table for d in drifts})
    print(f"{len(tables)} tables checked: " + (f"{len(drifts)} drifts in {drifted} tables" if drifts else "no drift"))
    return 1 if drifts else 0


if __name__ == "__main__":
    sys.exit(main())

"""Multi-Region strong consistency (MRSC) for the tables config names: three regions of one
region set, no TTL, no local indexes (docs/restore.md, "Regional failover")."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import region_ok

# DynamoDB's MRSC region sets, as the DynamoDB API and CloudFormation references list them and
# as aws-cdk-lib's TableV2 checks them at synth: a table's three regions come from one set.
# (A later version of the developer guide lists more regions; CDK refuses those, so do we.)
REGION_SETS = {
    "US": ("us-east-1", "us-east-2", "us-west-2"),
    "EU": ("eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1"),
    "AP": ("ap-northeast-1", "ap-northeast-2", "ap-northeast-3"),
}


def region_set(region: str) -> str | None:
    return next((name for name, regions in REGION_SETS.items() if region in regions), None)


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    strong = cfg.strong_consistency
    if not strong.tables and strong.witness_region is None:
        return
    specs = {f"{system.key}.{spec.id}": spec for system in systems for spec in system.tables}
    seen: set[str] = set()
    for i, name in enumerate(strong.tables):
        key = f"strong_consistency.tables[{i}]"
        spec = specs.get(name)
        p.check(spec is not None, key, name, "a catalogue table as 'system.TableId': " + ", ".join(sorted(specs)))
        p.check(name not in seen, key, name, "each table once")
        seen.add(name)
        if spec is None:
            continue
        # DynamoDB: "MRSC global tables do not support Time To Live (TTL)", nor local
        # secondary indexes (developer guide, "Global tables: how it works").
        p.check(
            spec.ttl_attribute is None,
            key,
            name,
            f"a table without TTL: MRSC tables do not support it ({name} expires items by {spec.ttl_attribute!r})",
        )
        p.check(not spec.local_indexes, key, name, "a table without local secondary indexes: MRSC tables do not support them")
    replicas = [r.region for r in cfg.replicas]
    witness = strong.witness_region
    if witness is not None:
        p.check(
            region_ok(witness) and witness != cfg.region and witness not in replicas,
            "strong_consistency.witness_region",
            witness,
            f"an AWS region other than the environment's ({cfg.region}) and its replicas'",
        )
    if not strong.tables:
        p.check(False, "strong_consistency.witness_region", witness, "None while strong_consistency.tables is empty")
        return
    # Exactly three regions: the primary and two replicas, or the primary, one replica and a witness.
    wanted = 1 if witness is not None else 2
    p.check(
        len(replicas) == wanted,
        "replicas",
        tuple(replicas),
        f"{'one region' if wanted == 1 else 'two regions'} for the MRSC tables"
        + (f" (with the witness {witness}: three regions in all)" if witness else " (or one and a strong_consistency.witness_region)"),
    )
    for i, region in enumerate(replicas):
        _in_home_set(p, cfg.region, f"replicas[{i}].region", region)
    if witness is not None and region_ok(witness):
        _in_home_set(p, cfg.region, "strong_consistency.witness_region", witness)


def _in_home_set(p: Problems, home_region: str, key: str, region: str) -> None:
    """`region` is of `home_region`'s MRSC region set (CDK checks the same at synth)."""
    home = region_set(home_region)
    p.check(
        home is not None and region_set(region) == home,
        key,
        region,
        f"a region of {home_region}'s MRSC region set: " + ", ".join(REGION_SETS[home])
        if home
        else f"none: {home_region} is in no MRSC region set",
    )

"""Checks on one logical id present in both the baseline and the candidate stack."""

from __future__ import annotations

from collections.abc import Iterator

from tools.assembly import canon, props
from tools.guard.engine import check_engine_version
from tools.guard.model import (
    KEY_SCHEMA_ROUTE,
    KMS_IMMUTABLE,
    KMS_KEY_ROUTE,
    PHYSICAL_NAME,
    POLICY_RANK,
    RULES,
    STREAM_ATTRIBUTES,
    STREAM_CONSUMERS,
    TABLE_TYPES,
    Finding,
    Pair,
    index_signatures,
    listing,
    policy,
    replacement_effect,
    replicas,
    show,
    truthy,
)
from tools.tables import attribute_types, key_schema

AIR_GAPPED_CREATE_ONLY = ("MinRetentionDays", "MaxRetentionDays", "EncryptionKeyArn")


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
                    "STATEFUL-REPLACE",
                    prop,
                    f"{show(before)} -> {show(after)}",
                    "fail",
                    f"{prop} is immutable and CloudFormation never replaces a KMS key for it, whatever the UpdateReplacePolicy.",
                    KMS_KEY_ROUTE,
                )
    if pair.type == "AWS::Backup::LogicallyAirGappedBackupVault":
        # Fixed at creation (its resource schema's createOnlyProperties): a change replaces it.
        for prop in AIR_GAPPED_CREATE_ONLY:
            if canon(old.get(prop)) != canon(new.get(prop)):
                yield pair.finding("STATEFUL-REPLACE", prop, f"{show(old.get(prop))} -> {show(new.get(prop))}", *replacement_effect(pair))
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
                yield pair.finding("STATEFUL-REPLACE", "AttributeDefinitions", change, action, effect, KEY_SCHEMA_ROUTE)
    old_lsi = index_signatures(old, "LocalSecondaryIndexes")
    new_lsi = index_signatures(new, "LocalSecondaryIndexes")
    if old_lsi != new_lsi:
        changed = [n for n in sorted(old_lsi.keys() & new_lsi.keys()) if old_lsi[n] != new_lsi[n]]
        parts = [
            listing("added", sorted(new_lsi.keys() - old_lsi.keys())),
            listing("removed", sorted(old_lsi.keys() - new_lsi.keys())),
            listing("changed", changed),
        ]
        yield pair.finding("STATEFUL-REPLACE", "LocalSecondaryIndexes", "; ".join(filter(None, parts)), action, effect, KEY_SCHEMA_ROUTE)


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
                "TABLE-REKEY",
                prop,
                f"{show(old_key)} -> {show(new_key)}",
                "rekey",
                "DynamoDB re-encrypts the live table in place, in the background: no replacement and "
                "no downtime, but until it finishes the table still needs the old key. Disabling the "
                "old key, deleting it or revoking its grants before then makes the table inaccessible.",
            )


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
    parts = [listing("created", created), listing("deleted", deleted), listing("keys/projection changed (delete + create)", changed)]
    route = (
        f"Split it into {operations} deployments, one GSI create or delete each, waiting for the "
        "index to be ACTIVE in between. To change a GSI's keys or projection, add a new GSI under "
        "a new name, move the queries, and delete the old one in a later deployment."
    )
    yield pair.finding(
        "GSI-MULTI",
        "GlobalSecondaryIndexes",
        f"{operations} GSI operations in one deployment ({'; '.join(filter(None, parts))})",
        "fail",
        "DynamoDB accepts one GSI create or delete per table update, so the stack update fails and rolls back.",
        route,
    )


def check_ttl(pair: Pair) -> Iterator[Finding]:
    if pair.type not in TABLE_TYPES:
        return
    old = pair.old_props.get("TimeToLiveSpecification") or {}
    new = pair.new_props.get("TimeToLiveSpecification") or {}
    if truthy(old.get("Enabled")) and truthy(new.get("Enabled")) and canon(old.get("AttributeName")) != canon(new.get("AttributeName")):
        change = f"{show(old.get('AttributeName'))} -> {show(new.get('AttributeName'))} while enabled"
        yield pair.finding(
            "TTL-RENAME",
            "TimeToLiveSpecification.AttributeName",
            change,
            "fail",
            "DynamoDB only changes the TTL attribute after TTL is disabled, and limits how often TTL can be changed, so the update fails.",
        )


def check_replicas(pair: Pair) -> Iterator[Finding]:
    if pair.type != "AWS::DynamoDB::GlobalTable":
        return
    old, new = replicas(pair.old_props), replicas(pair.new_props)
    added, removed = sorted(new.keys() - old.keys()), sorted(old.keys() - new.keys())
    if len(added) + len(removed) > 1:
        parts = filter(None, [listing("added", added), listing("removed", removed)])
        route = f"{RULES['REPLICA-MULTI'].route} That is {len(added) + len(removed)} deployments."
        yield pair.finding(
            "REPLICA-MULTI",
            "Replicas",
            "; ".join(parts),
            "fail",
            "a GlobalTable update can add or remove only one replica, so the update fails.",
            route,
        )


def consistency(table_props: dict) -> str:
    return show(table_props.get("MultiRegionConsistency") or "EVENTUAL")


def witnesses(table_props: dict) -> list[str]:
    return sorted(show(w.get("Region")) for w in table_props.get("GlobalTableWitnesses") or [] if isinstance(w, dict))


def check_replication_mode(pair: Pair) -> Iterator[Finding]:
    """DynamoDB fixes a global table's consistency mode when it is created, and a strongly
    consistent table's three regions with it: it adds or removes no replica or witness of one
    (only deleting two of them, which makes it a one-region table). The update would fail."""
    if pair.type != "AWS::DynamoDB::GlobalTable":
        return
    old, new = pair.old_props, pair.new_props
    if consistency(old) != consistency(new):
        yield pair.finding(
            "REPLICATION-MODE",
            "MultiRegionConsistency",
            f"{consistency(old)} -> {consistency(new)}",
            "fail",
            "DynamoDB sets a global table's consistency mode only when it creates the table, so the update fails.",
        )
    elif consistency(new) == "STRONG":
        before = (sorted(replicas(old)), witnesses(old))
        after = (sorted(replicas(new)), witnesses(new))
        if before != after:
            yield pair.finding(
                "REPLICATION-MODE",
                "Replicas" if before[0] != after[0] else "GlobalTableWitnesses",
                f"regions {', '.join(before[0])} witness {', '.join(before[1]) or '-'} -> "
                f"regions {', '.join(after[0])} witness {', '.join(after[1]) or '-'}",
                "fail",
                "a strongly consistent table keeps the three regions it was created with, so the update fails.",
            )


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
    if not pair.protected:
        return
    weaken = "nothing stops it; afterwards a single mistaken removal or replacement destroys the data."
    flag = "DeletionProtection" if pair.type.startswith("AWS::RDS::") else "DeletionProtectionEnabled"
    for prefix, old, new in protected_parts(pair):
        if truthy(old.get(flag)) and not truthy(new.get(flag)):
            yield pair.finding("PROTECTION-WEAKENED", prefix + flag, "deletion protection turned off", "weaken", weaken)
        (old_on, old_days), (new_on, new_days) = (
            pitr(old.get("PointInTimeRecoverySpecification")),
            pitr(new.get("PointInTimeRecoverySpecification")),
        )
        prop = prefix + "PointInTimeRecoverySpecification"
        if old_on and not new_on:
            yield pair.finding("PROTECTION-WEAKENED", prop, "point-in-time recovery turned off", "weaken", weaken)
        elif old_on and old_days and new_days and new_days < old_days:
            yield pair.finding("PROTECTION-WEAKENED", prop, f"recovery window {old_days} -> {new_days} days", "weaken", weaken)
    for attribute in ("DeletionPolicy", "UpdateReplacePolicy"):
        before, after = policy(pair.old, attribute), policy(pair.new, attribute)
        if POLICY_RANK.get(before, 0) >= 1 and POLICY_RANK.get(after, 0) < POLICY_RANK.get(before, 0):
            yield pair.finding("PROTECTION-WEAKENED", attribute, f"{before} -> {after}", "weaken", weaken)


def policy_documents(pair: Pair) -> Iterator[tuple[str, dict, dict]]:
    """(property, old document, new document) of the policies that guard data: key policies,
    tables' and their streams' resource policies (per replica of a global table) and backup
    vault access policies."""
    old, new = pair.old_props, pair.new_props
    if pair.type == "AWS::KMS::Key":
        yield "KeyPolicy", old.get("KeyPolicy") or {}, new.get("KeyPolicy") or {}
    elif pair.type == "AWS::DynamoDB::GlobalTable":
        before, after = replicas(old), replicas(new)
        for region in sorted(before.keys() & after.keys()):
            yield (
                f"Replicas[{region}].ResourcePolicy",
                (before[region].get("ResourcePolicy") or {}).get("PolicyDocument") or {},
                (after[region].get("ResourcePolicy") or {}).get("PolicyDocument") or {},
            )
            # The stream's own policy: who may read the old images it carries.
            yield (
                f"Replicas[{region}].ReplicaStreamSpecification.ResourcePolicy",
                ((before[region].get("ReplicaStreamSpecification") or {}).get("ResourcePolicy") or {}).get("PolicyDocument") or {},
                ((after[region].get("ReplicaStreamSpecification") or {}).get("ResourcePolicy") or {}).get("PolicyDocument") or {},
            )
    elif pair.type == "AWS::DynamoDB::Table":
        yield (
            "ResourcePolicy",
            (old.get("ResourcePolicy") or {}).get("PolicyDocument") or {},
            (new.get("ResourcePolicy") or {}).get("PolicyDocument") or {},
        )
    elif pair.type in ("AWS::Backup::BackupVault", "AWS::Backup::LogicallyAirGappedBackupVault"):
        yield "AccessPolicy", old.get("AccessPolicy") or {}, new.get("AccessPolicy") or {}


def _statements(document) -> list[dict]:
    found = document.get("Statement", []) if isinstance(document, dict) else []
    return [s for s in (found if isinstance(found, list) else [found]) if isinstance(s, dict)]


def _everything_to(document) -> set[str]:
    """Principals a policy allows every KMS action ("kms:*" or "*")."""
    who = set()
    for s in _statements(document):
        actions = s.get("Action", [])
        if s.get("Effect") == "Allow" and {"kms:*", "*"} & set(actions if isinstance(actions, list) else [actions]):
            principal = s.get("Principal", {})
            values = principal.get("AWS", []) if isinstance(principal, dict) else principal
            who |= {canon(v) for v in (values if isinstance(values, list) else [values])}
    return who


def check_policy_denies(pair: Pair) -> Iterator[Finding]:
    """A deny that keeps administrators from destroying a key or strangers from a table,
    removed or loosened (a longer exemption list counts), or kms:* given to somebody new."""
    if not pair.protected:
        return
    weaken = "nothing stops it; afterwards one administrator can destroy the key, or read or delete the data, alone."
    for prop, old, new in policy_documents(pair):
        kept = {canon(s) for s in _statements(new) if s.get("Effect") == "Deny"}
        for statement in _statements(old):
            if statement.get("Effect") == "Deny" and canon(statement) not in kept:
                yield pair.finding(
                    "PROTECTION-WEAKENED", prop, f"deny {statement.get('Sid', '(no Sid)')} removed or changed", "weaken", weaken
                )
        for who in sorted(_everything_to(new) - _everything_to(old)):
            yield pair.finding("PROTECTION-WEAKENED", prop, f"every KMS action granted to {who}", "weaken", weaken)


def stream_consumers(stack: dict, table_lid: str) -> list[str]:
    """Logical ids of the pipes and event source mappings that read `table_lid`'s stream."""
    wanted = {canon({"Fn::GetAtt": [table_lid, attr]}) for attr in STREAM_ATTRIBUTES}
    wanted |= {canon({"Fn::GetAtt": f"{table_lid}.{attr}"}) for attr in STREAM_ATTRIBUTES}
    return sorted(
        lid
        for lid, res in stack.items()
        if res.get("Type") in STREAM_CONSUMERS and canon(props(res).get(STREAM_CONSUMERS[res["Type"]])) in wanted
    )


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
            "STREAM-CHANGE",
            "StreamSpecification",
            change,
            "fail",
            f"the table has {replica_count} replicas, and CloudFormation only changes a global table's "
            "stream while it has one replica (a multi-replica table needs its stream), so the update "
            "fails.",
            "Keep StreamSpecification as it is. If it must change: remove the replicas one per "
            "deployment down to one, change the stream, then add them back one per deployment.",
        )
        return
    consumers = stream_consumers(pair.old_stack, pair.lid)
    if not old or not consumers:
        return  # a stream switched on, or one nobody reads: nothing is cut off
    what = "switched off" if not new else "changed (DynamoDB disables the stream and enables a new one)"
    yield pair.finding(
        "STREAM-CHANGE",
        "StreamSpecification",
        f"{change}; read by {', '.join(consumers)}",
        "gap",
        f"the stream is {what}. A re-enabled stream gets a new ARN and a pipe cannot change its "
        "source, so its consumers stop (CloudFormation has to recreate them, which fails on a fixed "
        "name); TTL deletions made in between are never archived, and TTL has already removed them "
        "from the table.",
        "Keep StreamSpecification as it is. If it must change: disable TTL on the table first (its own "
        "deployment; expired items then stay in the table), change the stream together with a new "
        "pipe under a new logical id and name, check the pipe is RUNNING, then enable TTL again; the "
        "held-back items expire through the new pipe.",
    )


RESOURCE_CHECKS = (
    check_replacement,
    check_gsis,
    check_ttl,
    check_replicas,
    check_replication_mode,
    check_stream,
    check_engine_version,
    check_protection,
    check_policy_denies,
)

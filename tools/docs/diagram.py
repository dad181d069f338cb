"""Mermaid data-flow diagrams: one per system for docs/data-model/<system>.md, and an overview
of an environment's stacks for docs/architecture.md.

Everything drawn is read from the synthesized templates, as the rest of the generated docs
are, so the picture shows what would be deployed: a table missing from a template is missing
from its picture, and a grant the template does not make draws no edge. Config supplies only
what the templates cannot say: each table's retention tier (config/retention.py), which groups
similar tables so that a system with many of them stays readable, and the environments' deploy
order.

A diagram is built once per environment; the page shows the environment whose diagram has the
most parts (nodes and edges, counted, never chosen by name) and says in a note what the
others lack or add. GitHub renders a ```mermaid block itself, so no tool or image is committed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from config.model import EnvironmentConfig
from config.retention import RETENTION
from constructs_lib.specs import SystemSpec
from constructs_lib.table import READ_ACTIONS, WRITE_ACTIONS
from stacks import naming
from tools.assembly import Stack
from tools.docs.facts import Stacks, as_list, getatt_target, of_type
from tools.docs.markdown import env_pattern, md_table, plural
from tools.guard.model import protected
from tools.tables import TABLE_TYPE

# What a role's actions on a table amount to. ConditionCheckItem and DescribeTable come with
# both kinds of grant, so they say nothing about either.
READS = frozenset(READ_ACTIONS) - frozenset(WRITE_ACTIONS) | {"dynamodb:Scan", "dynamodb:PartiQLSelect"}
WRITES = frozenset(WRITE_ACTIONS) - frozenset(READ_ACTIONS)
INSERT_ONLY = frozenset({"dynamodb:PutItem"})
VAULT_TYPES = ("AWS::Backup::BackupVault", "AWS::Backup::LogicallyAirGappedBackupVault")
ARROWS = {"flow": "-->", "backup": "-.->", "access": "==>", "key": "---", "watch": "--o"}
LEGEND = [
    ["`-->`", "data flow: TTL deletions through the archive path, a proxy to its database, alarms' notifications to their SNS topics"],
    ["`-.->`", "backup: a plan's recovery points into a vault, a vault's copies off-site, an archive's replica"],
    ["`==>`", "role access, labelled with what the role's policies allow: read, write (insert = PutItem only), read+write, connect"],
    ["`---`", "encrypted under a KMS key"],
    [
        "`--o`",
        "watched by: alarms (counted by metric) on what they watch, a dashboard on the tables it charts and the alarms it shows, "
        "the audit trail on the tables whose data events it logs (reads+writes, or writes only)",
    ],
]
# What an alarm watches, by the type of the resource its metric's dimensions name: the title of
# its node in the picture and the subgraph its watch edge goes to ("" for the tables it names).
WATCHED = {
    TABLE_TYPE: ("tables and indexes", ""),
    "AWS::DynamoDB::Table": ("tables and indexes", ""),
    "AWS::Pipes::Pipe": ("the archive path", "archive"),
    "AWS::SQS::Queue": ("the archive path", "archive"),
    "AWS::KinesisFirehose::DeliveryStream": ("the archive path", "archive"),
    "AWS::RDS::DBInstance": ("the database", "database"),
    "AWS::RDS::DBCluster": ("the database", "database"),
    "AWS::RDS::DBProxy": ("the database", "database"),
}
# The property holding the name a metric dimension gives a resource by, per resource type.
NAME_PROPERTY = {
    TABLE_TYPE: "TableName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Pipes::Pipe": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBProxy": "DBProxyName",
}


def safe_id(text: str) -> str:
    """A Mermaid node id: letters, digits and underscores only (a dash or dot would be syntax)."""
    return re.sub(r"\W", "_", text)


def quoted(text: str) -> str:
    # A double quote would end the label; Mermaid reads #quot; as one.
    return '"' + text.replace('"', "#quot;") + '"'


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # lines joined with <br/>
    kind: str  # what the node is, for the note on other environments ("backup vault", "table group")
    group: str = ""  # the subgraph it is drawn in
    shape: str = "box"  # "box" or "store" (a cylinder)


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    style: str  # a key of ARROWS
    label: str = ""


@dataclass
class Diagram:
    direction: str = "LR"
    groups: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (title, parent group)
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[Edge, None] = field(default_factory=dict)  # ordered set

    def group(self, gid: str, title: str, parent: str = "") -> str:
        self.groups.setdefault(gid, (title, parent))
        return gid

    def node(self, node: Node) -> str:
        self.nodes.setdefault(node.id, node)
        return node.id

    def link(self, src: str, dst: str, style: str, label: str = "") -> None:
        self.edges[Edge(src, dst, style, label)] = None

    def parts(self) -> int:
        return len(self.nodes) + len(self.edges)

    def mermaid(self) -> str:
        lines = [f"flowchart {self.direction}"]

        def emit(parent: str, indent: str) -> None:
            for node in self.nodes.values():
                if node.group == parent:
                    open_, close = ("[(", ")]") if node.shape == "store" else ("[", "]")
                    lines.append(f"{indent}{node.id}{open_}{quoted(node.label)}{close}")
            for gid, (title, gparent) in self.groups.items():
                if gparent == parent and self._used(gid):
                    lines.append(f"{indent}subgraph {gid}[{quoted(title)}]")
                    emit(gid, indent + "  ")
                    lines.append(f"{indent}end")

        emit("", "  ")
        for edge in self.edges:
            label = f"|{quoted(edge.label)}|" if edge.label else ""
            lines.append(f"  {edge.src} {ARROWS[edge.style]}{label} {edge.dst}")
        return "```mermaid\n" + "\n".join(lines) + "\n```"

    def _used(self, gid: str) -> bool:
        """A subgraph with nothing in it would draw an empty box."""
        return any(n.group == gid for n in self.nodes.values()) or any(p == gid and self._used(g) for g, (_, p) in self.groups.items())


# --- reading the templates -------------------------------------------------------------------


def find_all(value: object, key: str) -> Iterable[object]:
    """Every value under `key` anywhere in a template fragment."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from find_all(v, key)
    elif isinstance(value, list):
        for v in value:
            yield from find_all(v, key)


def getatts(value: object) -> list[tuple[str, str]]:
    """(logical id, attribute) of every Fn::GetAtt in a fragment."""
    return [(a[0], a[1]) for a in find_all(value, "Fn::GetAtt") if isinstance(a, list) and len(a) == 2]


def refs(value: object) -> list[str]:
    return [r for r in find_all(value, "Ref") if isinstance(r, str)]


def arn_name(arn: str) -> str:
    """The resource name at the end of an ARN (bucket, backup vault)."""
    return re.split(r"[:/]", arn)[-1]


def db_user(resource: object) -> str:
    """The database user at the end of an rds-db:connect resource (`...:dbuser:<id>/<user>`)."""
    parts = resource["Fn::Join"][1] if isinstance(resource, dict) and "Fn::Join" in resource else [resource]
    return str(parts[-1]).rsplit("/", 1)[-1] if isinstance(parts[-1], str) else "?"


def access_text(actions: set[str], leading_keys: bool) -> str:
    reads, writes = actions & READS, actions & WRITES
    write = "insert" if writes and writes <= INSERT_ONLY else "write"
    text = "+".join(part for part, present in (("read", reads), (write, writes)) if present)
    return text + (", own keys only" if leading_keys else "") if text else ""


def table_access(template: dict) -> dict[str, dict[str, str]]:
    """role logical id -> table logical id -> access text, from the Allow statements of every
    policy attached to a role of the stack. Stream and index ARNs are not the table's items:
    only `Arn` counts, so the archive pipe's stream reads draw no role edge."""
    roles = of_type(template, "AWS::IAM::Role")
    tables = of_type(template, TABLE_TYPE)
    actions: dict[tuple[str, str], set[str]] = {}
    keyed: set[tuple[str, str]] = set()
    policies = [*of_type(template, "AWS::IAM::Policy").values(), *of_type(template, "AWS::IAM::ManagedPolicy").values()]
    for policy in policies:
        for role in refs(policy["Properties"].get("Roles", [])):
            if role not in roles:
                continue
            for statement in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
                if statement.get("Effect", "Allow") != "Allow":
                    continue
                granted = {a for a in as_list(statement.get("Action", [])) if a.startswith("dynamodb:")}
                for resource in as_list(statement.get("Resource", [])):
                    target = getatt_target(resource)
                    if target in tables and resource["Fn::GetAtt"][1] == "Arn" and granted:
                        actions.setdefault((role, target), set()).update(granted)
                        if "dynamodb:LeadingKeys" in str(statement.get("Condition", {})):
                            keyed.add((role, target))
    result: dict[str, dict[str, str]] = {}
    for (role, table), granted in sorted(actions.items()):
        text = access_text(granted, (role, table) in keyed)
        if text:
            result.setdefault(role, {})[table] = text
    return result


def role_kind(lid: str, role: dict, stack_name: str) -> str:
    """ "app" for the role named `<stack>-app`; a role without a name goes by its logical id."""
    name = role["Properties"].get("RoleName")
    return name.removeprefix(stack_name + "-") if isinstance(name, str) else lid


def key_label(template: dict, lid: str) -> str:
    aliases = [
        a["Properties"]["AliasName"]
        for a in of_type(template, "AWS::KMS::Alias").values()
        if getatt_target(a["Properties"]["TargetKeyId"]) == lid
    ]
    return "KMS key<br/>" + (aliases[0] if aliases else lid)


def vaults(stacks: Iterable[Stack]) -> dict[str, tuple[Stack, str, dict]]:
    """backup vault name -> (stack, logical id, resource), across one environment's stacks."""
    found = {}
    for stack in stacks:
        for vtype in VAULT_TYPES:
            for lid, vault in of_type(stack.template, vtype).items():
                name = vault["Properties"].get("BackupVaultName")
                if isinstance(name, str):
                    found[name] = (stack, lid, vault)
    return found


def buckets(stacks: Iterable[Stack]) -> dict[str, tuple[Stack, str, dict]]:
    """bucket name -> (stack, logical id, resource), across one environment's stacks."""
    return {
        b["Properties"]["BucketName"]: (stack, lid, b)
        for stack in stacks
        for lid, b in of_type(stack.template, "AWS::S3::Bucket").items()
        if isinstance(b["Properties"].get("BucketName"), str)
    }


def lifecycle_text(bucket: dict, prefix: str) -> str:
    """The storage-class steps and expiry of the lifecycle rule that covers `prefix`."""
    for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", []):
        if rule.get("Prefix") and prefix.startswith(rule["Prefix"]):
            steps = [f"{t['StorageClass'].replace('_', ' ').title()} day {t['TransitionInDays']}" for t in rule.get("Transitions", [])]
            if "ExpirationInDays" in rule:
                steps.append(f"expires day {rule['ExpirationInDays']}")
            lock = bucket["Properties"].get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention")
            if lock:
                steps.append(f"Object Lock {lock['Mode']} {lock.get('Days', lock.get('Years'))} d")
            return " · ".join(steps)
    return "no lifecycle rule"


# --- what watches a table: alarms, dashboards, the audit trail -----------------------------


def field_holds(field: Mapping[str, object], value: str) -> bool:
    """Whether `value` passes one of a trail's advanced field selectors (every operator it has)."""

    def test(op: str, against: object) -> bool:
        if not isinstance(against, str):  # an unresolved token matches nothing we can name
            return False
        if op == "Equals":
            return value == against
        return value.startswith(against) if op == "StartsWith" else value.endswith(against)

    positive = all(any(test(op, v) for v in as_list(field[op])) for op in ("Equals", "StartsWith", "EndsWith") if op in field)
    negative = any(any(test(op[3:], v) for v in as_list(field[op])) for op in ("NotEquals", "NotStartsWith", "NotEndsWith") if op in field)
    return positive and not negative


def trail_logs(trail: Mapping, table_arn: str) -> str:
    """What a trail's advanced event selectors log of one table's data events: "reads+writes",
    "writes", "reads" or "" (nothing); "(some)" after it when a matching selector also filters on
    another field (event name, principal), so not every such call is logged."""
    kinds: set[str] = set()
    filtered = False
    for selector in trail.get("AdvancedEventSelectors", []):
        fields = {f["Field"]: f for f in selector.get("FieldSelectors", [])}
        wanted = (("eventCategory", "Data"), ("resources.type", "AWS::DynamoDB::Table"), ("resources.ARN", table_arn))
        if "eventCategory" not in fields or not all(name not in fields or field_holds(fields[name], v) for name, v in wanted):
            continue
        ro = fields.get("readOnly")
        kinds |= {k for k, v in (("reads", "true"), ("writes", "false")) if ro is None or field_holds(ro, v)}
        filtered |= bool(set(fields) - {"eventCategory", "resources.type", "resources.ARN", "readOnly"})
    text = "+".join(k for k in ("reads", "writes") if k in kinds)
    return text + (" (some)" if text and filtered else "")


def trails(stacks: Iterable[Stack], region: str) -> dict[str, tuple[Stack, dict]]:
    """trail name -> (stack, properties) of the logging trails that see `region`'s calls."""
    found = {}
    for stack in stacks:
        for lid, trail in of_type(stack.template, "AWS::CloudTrail::Trail").items():
            props = trail["Properties"]
            if props.get("IsLogging", True) is not False and (props.get("IsMultiRegionTrail") or stack.region == region):
                found[props.get("TrailName") if isinstance(props.get("TrailName"), str) else lid] = (stack, props)
    return found


def alarm_metric(alarm: Mapping) -> str:
    """The metric an alarm watches: its MetricName, or the one its math expression combines
    (several joined with +)."""
    props = alarm["Properties"]
    if isinstance(props.get("MetricName"), str):
        return props["MetricName"]
    names = sorted(
        {str(m) for stat in find_all(props.get("Metrics", []), "Metric") if isinstance(stat, dict) for m in [stat.get("MetricName")] if m}
    )
    return "+".join(names) or "expression"


def alarm_topics(template: dict, alarm: Mapping) -> list[str]:
    """The SNS topics (by name) an alarm's AlarmActions notify: an ARN's last part, or the
    TopicName of a topic of the same template it refers to."""
    topics = []
    for action in as_list(alarm["Properties"].get("AlarmActions", [])):
        ref = action.get("Ref") if isinstance(action, dict) else None
        if isinstance(action, str) and action.startswith("arn:") and ":sns:" in action:
            topics.append(arn_name(action))
        elif isinstance(ref, str) and template["Resources"].get(ref, {}).get("Type") == "AWS::SNS::Topic":
            name = template["Resources"][ref]["Properties"].get("TopicName")
            topics.append(name if isinstance(name, str) else ref)
    return topics


def dashboard_text(dashboard: Mapping) -> str:
    """A dashboard's body with the literal parts of an Fn::Join run together."""
    body = dashboard["Properties"].get("DashboardBody", "")
    if isinstance(body, str):
        return body
    return "".join(part for joined in find_all(body, "Fn::Join") if isinstance(joined, list) for part in joined[1] if isinstance(part, str))


# --- one system ------------------------------------------------------------------------------


class SystemPicture:
    """A system's diagram in one environment, built part by part from its stacks' templates."""

    def __init__(self, system: SystemSpec, cfg: EnvironmentConfig, stacks: Stacks) -> None:
        self.system, self.cfg = system, cfg
        self.env_stacks = sorted((s for s in stacks.values() if s.environment == cfg.name), key=lambda s: s.name)
        self.stack = stacks[naming.stack_name(cfg, system.key)]
        self.database = stacks.get(naming.stack_name(cfg, f"{system.key}-database"))
        self.vaults = vaults(self.env_stacks)
        self.buckets = buckets(self.env_stacks)
        self.d = Diagram()
        self.d.group("roles", "Roles")
        self.d.group("tables", f"Tables of {self.stack.name}")
        self.d.group("archive", "Archive path (TTL deletions of cold tables)")
        self.d.group("backup", "Backups")
        self.d.group("watch", "Watched by")
        self.trails = trails(self.env_stacks, self.stack.region)
        self.table_node: dict[str, str] = {}  # table logical id -> the node drawing it
        self.role_node: dict[str, str] = {}  # role name -> node
        self.role_kinds: dict[str, str] = {}  # role logical id -> "app", "readonly", ...

    def build(self) -> Diagram:
        template = self.stack.template
        access = table_access(template)
        self.roles(template, access)
        self.tables(template, access)
        self.archives(template)
        self.backups(self.stack, dict(self.table_node))
        if self.database is not None:
            self.relational(self.database)
        self.watch()
        return self.d

    def logged(self, lid: str) -> tuple[tuple[str, str], ...]:
        """(trail, what it logs) of one table of the stack, for each trail logging any of it."""
        name = self.stack.template["Resources"][lid]["Properties"]["TableName"]
        arn = f"arn:aws:dynamodb:{self.stack.region}:{self.stack.account}:table/{name}"
        return tuple(
            (trail, text) for trail, (_, props) in sorted(self.trails.items(), key=lambda item: item[0]) if (text := trail_logs(props, arn))
        )

    def roles(self, template: dict, access: Mapping[str, dict[str, str]]) -> None:
        for lid, role in of_type(template, "AWS::IAM::Role").items():
            name = role["Properties"].get("RoleName")
            if lid in access:
                kind = self.role_kinds[lid] = role_kind(lid, role, self.stack.name)
                label = f"{kind} role<br/>{name}" if isinstance(name, str) else f"role {lid}"
                node = self.d.node(Node(f"role_{safe_id(lid)}", label, "role", "roles"))
                self.role_node[name if isinstance(name, str) else lid] = node

    def tables(self, template: dict, access: Mapping[str, dict[str, str]]) -> None:
        """Tables reached by the same roles with the same access sit in one box, so each role
        draws one edge per box rather than one per table. Inside it, tables with the same
        treatment (retention tier, key, backup) share a node; an archived table is drawn alone,
        since its archive path is its own."""
        specs = {spec.logical_id: spec for spec in self.system.tables}
        selected = {t for sel in of_type(template, "AWS::Backup::BackupSelection").values() for t, _ in getatts(sel)}
        pipes = of_type(template, "AWS::Pipes::Pipe").values()
        archived = {t for pipe in pipes for t, att in getatts(pipe["Properties"].get("Source")) if att == "StreamArn"}
        resources = template["Resources"]
        found = sorted(of_type(template, TABLE_TYPE), key=lambda lid: resources[lid]["Properties"]["TableName"])
        by_access: dict[tuple, list[str]] = {}
        for lid in found:
            by_access.setdefault(tuple(sorted((role, tables[lid]) for role, tables in access.items() if lid in tables)), []).append(lid)
        for signature, members in by_access.items():
            box = "tables"
            if len(by_access) > 1:
                reached = ", ".join(self.role_kinds[role] for role, _ in signature) or "no data role"
                box = self.d.group(f"access_{safe_id(min(members))}", f"reached by {reached}", "tables")
            for role, text in signature:
                self.d.link(f"role_{safe_id(role)}", box, "access", text)
            groups: dict[tuple, list[str]] = {}
            for lid in members:
                table = resources[lid]
                spec = specs.get(lid)
                rule = RETENTION.get((self.system.key, spec.id)) if spec else None
                ttl = table["Properties"].get("TimeToLiveSpecification", {}).get("Enabled")
                tier = f"{rule.tier} tier" if rule else ("TTL set by the app" if ttl else "no TTL")
                key = next((t for t, _ in getatts(list(find_all(table, "KMSMasterKeyId")))), "")
                groups.setdefault((tier, key, lid in selected, self.logged(lid), lid if lid in archived else ""), []).append(lid)
            for (tier, key, _backed_up, _logged, alone), lids in groups.items():
                lines = [tier]
                for lid in lids:
                    props = resources[lid]["Properties"]
                    gsis = [i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])]
                    regions = [r["Region"] for r in props.get("Replicas", []) if isinstance(r.get("Region"), str)]
                    line = props["TableName"] + (f" · GSI {', '.join(gsis)}" if gsis else "")
                    lines.append(line + (f" · replicas {', '.join(regions)}" if len(regions) > 1 else ""))
                kind = "archived table" if alone else "table group"
                node = self.d.node(Node(f"tables_{safe_id(min(lids))}", "<br/>".join(lines), kind, box, "store"))
                for lid in lids:
                    self.table_node[lid] = node
                if key:
                    self.d.link(self.d.node(Node(f"key_{safe_id(key)}", key_label(template, key), "KMS key")), node, "key")
        self._merge_key_edges(sorted(set(self.table_node.values())))

    def _merge_key_edges(self, nodes: list[str]) -> None:
        """One key edge to the tables' box when one key encrypts every table."""
        key_edges = [e for e in self.d.edges if e.style == "key" and e.dst in nodes]
        if len(nodes) > 1 and len({e.src for e in key_edges}) == 1 and sorted(e.dst for e in key_edges) == nodes:
            for edge in key_edges:
                del self.d.edges[edge]
            self.d.link(key_edges[0].src, "tables", "key")

    def archives(self, template: dict) -> None:
        """Table stream -> pipe -> buffer queue -> drain pipe -> Firehose -> bucket prefix. The
        middle is one node per table (its parts a line each): it has no branches to draw."""
        pipes = of_type(template, "AWS::Pipes::Pipe").values()
        by_source = {getatts(p["Properties"]["Source"])[0]: p["Properties"] for p in pipes if getatts(p["Properties"].get("Source"))}
        resources = template["Resources"]
        for table, node in sorted(self.table_node.items()):
            pipe = by_source.get((table, "StreamArn"))
            if pipe is None:
                continue
            view = resources[table]["Properties"].get("StreamSpecification", {}).get("StreamViewType", "?")
            lines = [f"stream {view} → pipe {pipe['Name']}"]
            drain = by_source.get(getatts(pipe["Target"])[0])
            delivery = resources[getatts(drain["Target"])[0][0]]["Properties"] if drain else None
            if drain:
                lines.append(f"→ buffer queue → drain pipe {drain['Name']}")
            if delivery:
                s3 = delivery["ExtendedS3DestinationConfiguration"]
                lines.append(f"→ Firehose {delivery['DeliveryStreamName']} ({s3.get('CompressionFormat', 'UNCOMPRESSED')})")
            aid = self.d.node(Node(f"archive_{safe_id(table)}", "<br/>".join(lines), "archive path", "archive"))
            self.d.link(node, aid, "flow", "TTL deletions")
            if delivery:
                s3 = delivery["ExtendedS3DestinationConfiguration"]
                self.bucket_prefix(aid, arn_name(s3["BucketARN"]), s3["Prefix"].split("!{")[0].removesuffix("data/"), "flow")

    def bucket_prefix(self, src: str, bucket_name: str, prefix: str, style: str, label: str = "") -> None:
        found = self.buckets.get(bucket_name)
        # Ids name the stack and logical id, not the bucket (whose name holds the account), so
        # the same bucket has the same id in every environment's picture.
        where = f"{env_pattern(self.cfg.name, found[0].name)}_{found[1]}" if found else env_pattern(self.cfg.name, bucket_name)
        region = f" ({found[0].region})" if found and found[0].region else ""
        gid = self.d.group(f"bucket_{safe_id(where)}", f"bucket {bucket_name}{region}")
        text = lifecycle_text(found[2], prefix) if found else "bucket not in this environment's templates"
        nid = self.d.node(Node(f"{gid}_{safe_id(prefix)}", f"{prefix}<br/>{text}", "archive prefix", gid))
        self.d.link(src, nid, style, label)
        # The bucket's replication rules for this prefix: the off-site copy of the archive.
        for rule in found[2]["Properties"].get("ReplicationConfiguration", {}).get("Rules", []) if found else []:
            if prefix.startswith(rule.get("Filter", {}).get("Prefix", "")) and rule.get("Status", "Enabled") == "Enabled":
                self.bucket_prefix(nid, arn_name(rule["Destination"]["Bucket"]), prefix, "backup", "replica")

    def backups(self, stack: Stack, covered: Mapping[str, str]) -> None:
        """Selections -> plan -> vault -> copies in other vaults (off-site, air-gapped)."""
        template = stack.template
        for sel in of_type(template, "AWS::Backup::BackupSelection").values():
            plan_lid = getatts(sel["Properties"]["BackupPlanId"])[0][0]
            plan = template["Resources"][plan_lid]["Properties"]["BackupPlan"]
            rules = plan["BackupPlanRule"]
            lines = [f"backup plan {plan['BackupPlanName']}"]
            for rule in rules:
                life = rule.get("Lifecycle", {})
                cold = f", cold after {life['MoveToColdStorageAfterDays']} d" if life.get("MoveToColdStorageAfterDays") else ""
                lines.append(f"{rule['RuleName']}: {rule['ScheduleExpression']}, keep {life.get('DeleteAfterDays', '∞')} d{cold}")
            pid = self.d.node(
                Node(f"plan_{safe_id(stack.name.removesuffix(self.cfg.name))}{plan_lid}", "<br/>".join(lines), "backup plan", "backup")
            )
            targets = sorted(
                {covered[t] for t in refs(sel["Properties"]["BackupSelection"]["Resources"]) + [t for t, _ in getatts(sel)] if t in covered}
            )
            every = sorted(set(self.table_node.values()))
            if stack is self.stack and targets == every and len(every) > 1:
                targets = ["tables"]
            for target in targets:
                self.d.link(target, pid, "backup", "selected")
            for name in sorted({r["TargetBackupVault"] for r in rules if isinstance(r.get("TargetBackupVault"), str)}):
                vid = self.vault_node(name, "")
                self.d.link(pid, vid, "backup", ", ".join(r["RuleName"] for r in rules if r.get("TargetBackupVault") == name))
                for arn in sorted({c["DestinationBackupVaultArn"] for r in rules for c in r.get("CopyActions", [])}):
                    days = ", ".join(
                        f"{r['RuleName']} {c.get('Lifecycle', {}).get('DeleteAfterDays', '∞')} d"
                        for r in rules
                        for c in r.get("CopyActions", [])
                        if c["DestinationBackupVaultArn"] == arn
                    )
                    self.d.link(
                        vid, self.vault_node(arn_name(arn), arn.split(":")[3] if arn.count(":") > 3 else ""), "backup", f"copy, keep {days}"
                    )

    def vault_node(self, name: str, region: str) -> str:
        found = self.vaults.get(name)
        if found:
            stack, lid, vault = found
            kind = "logically air-gapped vault" if vault["Type"].endswith("LogicallyAirGappedBackupVault") else "backup vault"
            lock = vault["Properties"].get("LockConfiguration")
            detail = f"<br/>locked, min {lock.get('MinRetentionDays', '?')} d" if lock else ""
            label = f"{kind} {name} ({stack.region or region or '?'}){detail}"
            nid = f"vault_{safe_id(env_pattern(self.cfg.name, stack.name))}_{lid}"
        else:
            kind, label, nid = (
                "backup vault",
                f"vault {name} ({region or '?'}), not in this app's templates",
                f"vault_{safe_id(env_pattern(self.cfg.name, name))}",
            )
        return self.d.node(Node(nid, label, kind, "backup"))

    def covering(self, nodes: Iterable[str]) -> list[str]:
        """Where to draw one edge to each of `nodes` (table nodes): the tables' box when they are
        all of it, an access box for each they fill, else the nodes themselves."""
        wanted = set(nodes)
        boxes = ["tables", *(gid for gid, (_, parent) in self.d.groups.items() if parent == "tables")]
        result = []
        for box in boxes:
            inside = {n.id for n in self.d.nodes.values() if n.group == box or self.d.groups.get(n.group, ("", ""))[1] == box}
            if len(inside) > 1 and inside <= wanted:
                result.append(box)
                wanted -= inside
        return result + sorted(wanted)

    def watch(self) -> None:
        """What watches the system: its stacks' alarms, one node per kind of thing watched with a
        count per metric, wired to the SNS topics their AlarmActions notify; the dashboards of
        the environment that chart one of its tables or show one of its alarms; the trails whose
        advanced event selectors log its tables' data events, an edge per kind of logging."""
        groups: dict[str, tuple[str | None, list[tuple[dict, dict, set[str]]]]] = {}  # title -> (box, [(template, alarm, named)])
        for stack in (s for s in (self.stack, self.database) if s is not None):
            resources = stack.template["Resources"]
            by_name = {
                r["Properties"][NAME_PROPERTY[r["Type"]]]: lid
                for lid, r in resources.items()
                if r["Type"] in NAME_PROPERTY and isinstance(r["Properties"].get(NAME_PROPERTY[r["Type"]]), str)
            }
            for alarm in of_type(stack.template, "AWS::CloudWatch::Alarm").values():
                named: set[str] = set()
                for dims in find_all(alarm["Properties"], "Dimensions"):
                    for dim in as_list(dims):
                        value = dim.get("Value") if isinstance(dim, dict) else None
                        target = by_name.get(value) if isinstance(value, str) else getatt_target(value) or next(iter(refs(value)), None)
                        if isinstance(target, str) and target in resources:
                            named.add(target)
                kinds = sorted({WATCHED[resources[t]["Type"]] for t in named if resources[t]["Type"] in WATCHED})
                title, box = kinds[0] if kinds else (f"other resources of {stack.name}", None)
                groups.setdefault(title, (box, []))[1].append((stack.template, alarm, named))
        alarm_node: dict[str, tuple[str, int]] = {}  # alarm name -> (its node, how many alarms the node counts)
        for title, (box, alarms) in sorted(groups.items()):
            metrics = Counter(alarm_metric(alarm) for _, alarm, _ in alarms)
            lines = [
                f"{plural(len(alarms), 'alarm')} on {title}",
                *(f"{n} {m}" for m, n in sorted(metrics.items(), key=lambda mn: (-mn[1], mn[0]))),
            ]
            nid = self.d.node(Node(f"alarms_{safe_id(env_pattern(self.cfg.name, title))}", "<br/>".join(lines), "alarm group", "watch"))
            for _, alarm, _ in alarms:
                if isinstance(alarm["Properties"].get("AlarmName"), str):
                    alarm_node[alarm["Properties"]["AlarmName"]] = (nid, len(alarms))
            if box == "":
                for target in self.covering({self.table_node[t] for _, _, named in alarms for t in named if t in self.table_node}):
                    self.d.link(nid, target, "watch")
            elif box and self.d._used(box):
                self.d.link(nid, box, "watch")
            topics = Counter(topic for template, alarm, _ in alarms for topic in sorted(set(alarm_topics(template, alarm))))
            for topic, n in sorted(topics.items()):
                self.d.link(nid, self.topic_node(topic), "flow", "notifies" if n == len(alarms) else f"{n} of them notify")
        names = {self.stack.template["Resources"][lid]["Properties"]["TableName"]: node for lid, node in self.table_node.items()}
        # The other things a dashboard may chart, by name: the parts of a watched box drawn here.
        in_box = {
            r["Properties"][NAME_PROPERTY[r["Type"]]]: WATCHED[r["Type"]][1]
            for stack in (s for s in (self.stack, self.database) if s is not None)
            for r in stack.template["Resources"].values()
            if WATCHED.get(r["Type"], ("", ""))[1] and isinstance(r["Properties"].get(NAME_PROPERTY[r["Type"]]), str)
        }
        for stack in self.env_stacks:
            for lid, dashboard in of_type(stack.template, "AWS::CloudWatch::Dashboard").items():
                text = dashboard_text(dashboard)
                charted = {node for name, node in names.items() if f'"{name}"' in text}
                boxes = sorted({box for name, box in in_box.items() if f'"{name}"' in text and self.d._used(box)})
                shown = Counter(alarm_node[name] for name in alarm_node if f':alarm:{name}"' in text)
                if not charted and not boxes and not shown:
                    continue
                name = dashboard["Properties"].get("DashboardName", lid)
                did = self.d.node(
                    Node(
                        f"dashboard_{safe_id(env_pattern(self.cfg.name, stack.name))}_{lid}",
                        f"dashboard {name}<br/>({stack.name})",
                        "dashboard",
                        "watch",
                    )
                )
                for target in [*self.covering(charted), *boxes]:
                    self.d.link(did, target, "watch", "charts")
                for (nid, total), n in sorted(shown.items()):
                    self.d.link(did, nid, "watch", "shows their states" if n == total else f"shows {n} of their states")
        for trail, (stack, _) in sorted(self.trails.items(), key=lambda item: item[0]):
            by_text: dict[str, set[str]] = {}
            for lid, node in self.table_node.items():
                for text in (text for logger, text in self.logged(lid) if logger == trail):
                    by_text.setdefault(text, set()).add(node)
            if not by_text:
                continue
            tid = self.d.node(
                Node(
                    f"trail_{safe_id(env_pattern(self.cfg.name, stack.name + '_' + trail))}",
                    f"audit trail {trail}<br/>({stack.name})",
                    "audit trail",
                    "watch",
                )
            )
            for text, nodes in sorted(by_text.items()):
                for target in self.covering(nodes):
                    self.d.link(tid, target, "watch", f"logs {text}")

    def topic_node(self, name: str) -> str:
        for stack in self.env_stacks:
            for lid, topic in of_type(stack.template, "AWS::SNS::Topic").items():
                if topic["Properties"].get("TopicName") == name:
                    subscribers = Counter(
                        sub["Properties"].get("Protocol", "?")
                        for sub in of_type(stack.template, "AWS::SNS::Subscription").values()
                        if refs(sub["Properties"].get("TopicArn")) == [lid]
                    )
                    said = ", ".join(f"{n} {protocol}" for protocol, n in sorted(subscribers.items())) or "none"
                    label = f"SNS topic {name}<br/>({stack.name}), subscribers: {said}"
                    break
            else:
                continue
            break
        else:
            label = f"SNS topic {name}<br/>not in this app's templates"
        return self.d.node(Node(f"topic_{safe_id(env_pattern(self.cfg.name, name))}", label, "SNS topic", "watch"))

    def relational(self, stack: Stack) -> None:
        """The PostgreSQL store: its cluster, the proxy in front of it where the template has one,
        who may connect to which, its key and its backups."""
        template = stack.template
        gid = self.d.group("database", f"PostgreSQL store ({stack.name})")
        resources = template["Resources"]
        nodes = {}
        for lid, cluster in of_type(template, "AWS::RDS::DBCluster").items():
            props = cluster["Properties"]
            instances = len(of_type(template, "AWS::RDS::DBInstance"))
            label = f"Aurora cluster {props.get('DBClusterIdentifier', lid)}<br/>{props.get('Engine')} {props.get('EngineVersion', '')}, {instances} instances"
            nodes[lid] = self.d.node(Node(f"db_{safe_id(lid)}", label, "database cluster", gid, "store"))
            for key in {t for t, _ in getatts(props.get("KmsKeyId"))}:
                self.d.link(self.d.node(Node(f"key_db_{safe_id(key)}", key_label(template, key), "KMS key")), nodes[lid], "key")
        for lid, proxy in of_type(template, "AWS::RDS::DBProxy").items():
            props = proxy["Properties"]
            nodes[lid] = self.d.node(
                Node(
                    f"db_{safe_id(lid)}",
                    f"RDS Proxy {props.get('DBProxyName', lid)}<br/>TLS {'required' if props.get('RequireTLS') else 'optional'}, {props.get('DefaultAuthScheme', '?')}",
                    "RDS Proxy",
                    gid,
                )
            )
            for role_lid, _ in getatts(props.get("RoleArn")):  # the proxy signs in with its own role
                nodes[role_lid] = nodes[lid]
        for policy in of_type(template, "AWS::IAM::ManagedPolicy").values():
            props = policy["Properties"]
            for statement in as_list(props["PolicyDocument"]["Statement"]):
                if "rds-db:connect" not in as_list(statement.get("Action", [])):
                    continue
                target = next(
                    (
                        nodes[t]
                        for t, _ in getatts(statement["Resource"])
                        if t in nodes and resources[t]["Type"] in ("AWS::RDS::DBProxy", "AWS::RDS::DBCluster")
                    ),
                    None,
                )
                user = db_user(statement["Resource"])
                for role in as_list(props.get("Roles", [])):
                    src = nodes.get(role["Ref"]) if isinstance(role, dict) else self.role_node.get(role)
                    if src is None and isinstance(role, str):  # a person's role, outside this app
                        src = self.d.node(
                            Node(
                                f"person_{safe_id(env_pattern(self.cfg.name, role))}", f"role {role}<br/>(a person)", "person role", "roles"
                            )
                        )
                    if src and target and src != target:
                        self.d.link(src, target, "flow" if src in nodes.values() else "access", f"connect as {user}")
        self.backups(stack, {lid: node for lid, node in nodes.items() if resources.get(lid, {}).get("Type") == "AWS::RDS::DBCluster"})


def differences(chosen: str, pictures: Mapping[str, Diagram]) -> list[str]:
    """What each other environment's diagram lacks or adds, by kind of part; labels carry names
    with the environment in them, so they are compared with the name replaced by {env}."""

    def parts(env: str) -> tuple[dict[str, str], set[tuple[str, str, str, str]]]:
        d = pictures[env]
        nodes = {n.id: n.kind for n in d.nodes.values()}
        edges = {(e.src, e.style, env_pattern(env, e.label), e.dst) for e in d.edges}
        return nodes, edges

    base_nodes, base_edges = parts(chosen)
    notes = []
    for env in pictures:
        if env == chosen:
            continue
        nodes, edges = parts(env)

        def count(ids: Iterable[str], kinds: Mapping[str, str]) -> str:
            tally: dict[str, int] = {}
            for i in ids:
                tally[kinds[i]] = tally.get(kinds[i], 0) + 1
            return ", ".join(f"{n} {k}{('es' if k.endswith('x') else 's') if n > 1 else ''}" for k, n in sorted(tally.items()))

        lacks = count(sorted(set(base_nodes) - set(nodes)), base_nodes)
        adds = count(sorted(set(nodes) - set(base_nodes)), nodes)
        changed = len(base_edges ^ edges)
        said = [
            f"lacks {lacks}" if lacks else "",
            f"adds {adds}" if adds else "",
            f"{plural(changed, 'edge')} differ{'s' if changed == 1 else ''} (labels or ends)" if changed else "",
        ]
        notes.append(f"- **{env}**: " + ("; ".join(s for s in said if s) or "the same picture, with its own names"))
    return notes


def system_diagram(system: SystemSpec, stacks: Stacks, environments: Mapping[str, EnvironmentConfig]) -> str:
    """The `## Data flow` section of a system page."""
    pictures = {env: SystemPicture(system, cfg, stacks).build() for env, cfg in environments.items()}
    # The most parts wins; a tie goes to the environment deployed last, the closest to production.
    chosen = max(pictures, key=lambda env: (pictures[env].parts(), environments[env].deploy_order))
    return "\n\n".join(
        [
            "## Data flow",
            f"Drawn from the **{chosen}** templates, the environment whose picture has the most parts. Tables with the same treatment "
            "(retention tier, key, backup, and the same access from every role) share a box; an archived table has its own. "
            "An edge to a box's title applies to every table in it.",
            pictures[chosen].mermaid(),
            md_table(["edge", "means"], LEGEND),
            "The other environments, against this picture:\n\n" + "\n".join(differences(chosen, pictures)),
        ]
    )


# --- the overview ----------------------------------------------------------------------------


def deploy_order(env_stacks: Mapping[str, Stack]) -> list[str]:
    """Stack names, each after those it depends on (ties by name), as `cdk deploy` orders them."""
    order: list[str] = []
    waiting = sorted(env_stacks)
    while waiting:
        # A cycle cannot be synthesized; should one appear, the rest are drawn by name rather than not at all.
        ready = next((n for n in waiting if all(d in order or d not in env_stacks for d in env_stacks[n].dependencies)), waiting[0])
        order.append(ready)
        waiting.remove(ready)
    return order


def overview(stacks: Stacks, environments: Mapping[str, EnvironmentConfig]) -> str:
    """The stacks of one environment (the one with the most stacks), their regions, dependencies
    and deploy order, and where the guard, the change-set gate and the stack policies act."""
    by_env = {env: {n: s for n, s in stacks.items() if s.environment == env} for env in environments}
    envs = sorted(environments.values(), key=lambda cfg: cfg.deploy_order)
    chosen = max(by_env, key=lambda env: (len(by_env[env]), environments[env].deploy_order))
    d = Diagram(direction="TB")
    path = d.group("path", "On the way to a deploy")
    d.node(Node("guard", "pull request: make guard<br/>templates against the base branch's snapshots", "step", path))
    d.node(Node("synth", "merge: make synth + make validate (cfn-lint), once", "step", path))
    d.link("guard", "synth", "flow")
    previous = "synth"
    for cfg in envs:
        policy = any(protected(s) for s in by_env[cfg.name].values())
        label = f"deploy {cfg.name}: change sets → change-set gate → execute" + (" → stack policies" if policy else "")
        previous_node = d.node(Node(f"deploy_{safe_id(cfg.name)}", label, "step", path))
        d.link(previous, previous_node, "flow", "next" if previous != "synth" else "")
        previous = previous_node
    env = d.group("env", f"Stacks of {chosen}, numbered in deploy order")
    order = deploy_order(by_env[chosen])
    for i, name in enumerate(order, 1):
        stack = by_env[chosen][name]
        region = d.group(f"region_{safe_id(stack.region or 'unknown')}", f"region {stack.region or '?'}", env)
        d.node(Node(f"stack_{safe_id(name)}", f"{i}. {name}", "stack", region))
    for name in order:
        for dep in by_env[chosen][name].dependencies:
            if dep in by_env[chosen]:
                d.link(f"stack_{safe_id(dep)}", f"stack_{safe_id(name)}", "flow", "before")
    d.link(f"deploy_{safe_id(chosen)}", env, "access", "gate refuses unaccepted replace/delete of stateful resources")
    lines = [
        d.mermaid(),
        md_table(
            ["edge", "means"],
            [
                [
                    "`-->` between steps",
                    "the order a change takes: the guard on the pull request, one synth, then each environment in `deploy_order`",
                ],
                ["`-->` between stacks", "deployed before: the stack at the arrow's end depends on the one at its start"],
                ["`==>`", "the change-set gate reads each stack's change set before it is executed; stack policies are set after it"],
            ],
        ),
        "Stacks per environment: " + ", ".join(f"{cfg.name} {len(by_env[cfg.name])}" for cfg in envs) + ".",
    ]
    return "\n\n".join(lines)

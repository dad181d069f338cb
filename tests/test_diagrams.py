"""The generated Mermaid diagrams (tools/docs/diagram.py) against references the generator does
not use: the review summary's lines (tools/review.py: tables, role grants, the archive pipes
and the archive delivery role's bucket prefixes, the backup plans' vaults) and the backup plans'
copy targets read here from the template. Its "Watched by" part is checked the same way: the
alarms it counts against the review summary's alarm lines of the system's stacks, the topics
and dashboards against the templates, and each table's trail edges against the trail's advanced
event selectors read here. The diagram is parsed back from its Mermaid text, so what is checked
is what a reader sees; a table the generator drops, an edge it invents or mislabels, an alarm
removed or a selector changed, fails here (tests below prove the check notices each).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field

import pytest

from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from stacks import naming
from tests.expected import ENVS
from tools import docs as gen
from tools.assembly import Stack
from tools.docs.diagram import system_diagram
from tools.review import summary_lines

READ = {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PartiQLSelect"}
WRITE = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}


# --- reading a diagram back ------------------------------------------------------------------


@dataclass
class Parsed:
    labels: dict[str, str] = field(default_factory=dict)  # node or subgraph id -> label
    parent: dict[str, str] = field(default_factory=dict)  # node or subgraph id -> enclosing subgraph
    subgraphs: set[str] = field(default_factory=set)
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # (src, arrow, label, dst)

    def members(self, gid: str) -> set[str]:
        """The nodes an edge to `gid` reaches: itself, or every node inside the subgraph."""
        if gid not in self.subgraphs:
            return {gid}

        def inside(node: str) -> bool:
            while node in self.parent:
                node = self.parent[node]
                if node == gid:
                    return True
            return False

        return {n for n in self.labels if n not in self.subgraphs and inside(n)}

    def lines(self, node: str) -> list[str]:
        return self.labels[node].split("<br/>")


def parse(markdown: str) -> Parsed:
    blocks = re.findall(r"```mermaid\n(.*?)```", markdown, re.S)
    assert len(blocks) == 1, f"expected one mermaid block, found {len(blocks)}"
    parsed, stack = Parsed(), []
    for line in blocks[0].splitlines()[1:]:
        line = line.strip()
        if m := re.fullmatch(r'subgraph (\w+)\["(.*)"\]', line):
            parsed.labels[m[1]], parsed.subgraphs = m[2], parsed.subgraphs | {m[1]}
            if stack:
                parsed.parent[m[1]] = stack[-1]
            stack.append(m[1])
        elif line == "end":
            stack.pop()
        elif m := re.fullmatch(r'(\w+)\[\(?"(.*)"\)?\]', line):
            parsed.labels[m[1]] = m[2]
            if stack:
                parsed.parent[m[1]] = stack[-1]
        elif m := re.fullmatch(r'(\w+) (-->|-\.->|==>|---|--o)(?:\|"(.*)"\|)? (\w+)', line):
            parsed.edges.append((m[1], m[2], m[3] or "", m[4]))
        else:
            raise AssertionError(f"a line the test cannot read (so maybe Mermaid cannot either): {line!r}")
    assert not stack, "a subgraph is not closed"
    for src, _, _, dst in parsed.edges:
        assert src in parsed.labels and dst in parsed.labels, f"an edge to an undeclared node: {src} -> {dst}"
    return parsed


# --- the references --------------------------------------------------------------------------


@dataclass
class Reference:
    tables: dict[str, str]  # logical id -> physical name
    roles: set[str]  # role names of the stack
    grants: dict[tuple[str, str], set[str]]  # (role name, table name) -> dynamodb actions
    pipes: dict[str, str]  # pipe name -> table name it reads the stream of
    archives: set[tuple[str, str]]  # (bucket, prefix) the archive delivery may write
    vaults: set[str]  # vault names backups go to or are copied to


def blocks(lines: list[str], head: str) -> list[tuple[str, list[str]]]:
    """Each top-level line starting with `head` and the indented lines under it."""
    found, current = [], None
    for line in lines:
        if not line.startswith(" "):
            current = (line, []) if line.startswith(head) else None
            if current:
                found.append(current)
        elif current:
            current[1].append(line)
    return found


def statements(body: list[str]) -> list[tuple[str, set[str], list[str]]]:
    """(effect, actions, resources) of each policy statement the review lists under a role."""
    result: list[tuple[str, set[str], list[str]]] = []
    for line in body:
        if line in ("  allow", "  deny"):
            result.append((line.strip(), set(), []))
        elif result and line.startswith("    action "):
            result[-1][1].add(line.removeprefix("    action "))
        elif result and line.startswith("    resource "):
            result[-1][2].append(line.removeprefix("    resource "))
    return result


def reference(stack: Stack, database: Stack | None) -> Reference:
    lines = summary_lines(stack)
    tables = {m[1]: m[2] for line in lines if (m := re.match(r"table (\w+) (\S+):", line))}
    grants: dict[tuple[str, str], set[str]] = {}
    archives = set()
    roles = set()
    for head, body in blocks(lines, "role "):
        role = head.split()[2].rstrip(":")
        roles.add(role)
        for effect, actions, resources in statements(body):
            if effect != "allow":
                continue
            for resource in resources:
                table = resource.removesuffix(".Arn")
                if resource.endswith(".Arn") and table in tables and actions & (READ | WRITE):
                    grants.setdefault((role, tables[table]), set()).update(actions)
                if "s3:PutObject" in actions and (m := re.fullmatch(r"arn:aws:s3:::([^/]+)/(.+/)\*", resource)):
                    archives.add((m[1], m[2]))
    pipes = {m[1]: tables[m[2]] for line in lines if (m := re.fullmatch(r"pipe (\S+): (\w+)\.StreamArn -> .*", line)) and m[2] in tables}
    vaults = set()
    for source in (stack, database):
        if source is None:
            continue
        vaults |= {m[1] for line in summary_lines(source) if (m := re.match(r"backup \S+: .* to (\S+), keep", line))}
        for resource in source.template["Resources"].values():
            if resource["Type"] == "AWS::Backup::BackupPlan":
                for rule in resource["Properties"]["BackupPlan"]["BackupPlanRule"]:
                    vaults |= {c["DestinationBackupVaultArn"].rsplit(":", 1)[-1] for c in rule.get("CopyActions", [])}
    return Reference(tables, roles, grants, pipes, archives, vaults)


def access_kind(actions: set[str]) -> tuple[bool, bool]:
    return bool(actions & READ), bool(actions & WRITE)


def label_kind(label: str) -> tuple[bool, bool]:
    what = label.split(",")[0]
    return "read" in what, "write" in what or "insert" in what


def problems(picture: Parsed, ref: Reference) -> list[str]:
    """Everything the diagram says differently from the reference; [] when it agrees."""
    found = []
    table_nodes = {n for n in picture.labels if n not in picture.subgraphs and picture.labels[n] and n in picture.members("tables")}
    drawn: dict[str, str] = {}  # table name -> node
    for node in table_nodes:
        for line in picture.lines(node):
            name = line.split(" · ")[0]
            if name in ref.tables.values():
                drawn[name] = node
    found += [f"table {name} is not drawn" for name in sorted(set(ref.tables.values()) - set(drawn))]
    roles = {line: node for node in picture.labels if node not in picture.subgraphs for line in picture.lines(node) if line in ref.roles}
    edges: dict[tuple[str, str], str] = {}
    for src, arrow, label, dst in picture.edges:
        role = next((r for r, n in roles.items() if n == src), None)
        if arrow == "==>" and role:
            for node in picture.members(dst):
                for name, at in drawn.items():
                    if at == node:
                        if (role, name) in edges:
                            found.append(f"two edges from {role} to {name}")
                        edges[(role, name)] = label
    for key, actions in sorted(ref.grants.items()):
        if key not in edges:
            found.append(f"no edge for the grant {key}")
        elif label_kind(edges[key]) != access_kind(actions):
            found.append(f"edge {key} says {edges[key]!r}, the grant is {sorted(actions)}")
        elif "insert" in edges[key] and actions & WRITE != {"dynamodb:PutItem"}:
            found.append(f"edge {key} says insert, the grant is {sorted(actions & WRITE)}")
    found += [f"edge {key} {label!r} matches no grant" for key, label in sorted(edges.items()) if key not in ref.grants]
    for pipe, table in sorted(ref.pipes.items()):
        holder = next((n for n in picture.labels if pipe in picture.labels[n].replace("<br/>", " ").split()), None)
        if holder is None:
            found.append(f"archive pipe {pipe} is not drawn")
        elif table in drawn and not any(s == drawn[table] and d == holder for s, _, _, d in picture.edges):
            found.append(f"archive pipe {pipe} is not linked from {table}")
    for bucket, prefix in sorted(ref.archives):
        boxes = [g for g in picture.subgraphs if picture.labels[g].startswith(f"bucket {bucket}")]
        if not any(picture.lines(n)[0] == prefix for g in boxes for n in picture.members(g)):
            found.append(f"archive {bucket}/{prefix} is not drawn")
    vault_lines = " ".join(picture.labels[n] for n in picture.members("backup")) if "backup" in picture.subgraphs else ""
    found += [f"vault {v} is not drawn" for v in sorted(ref.vaults) if f" {v} " not in vault_lines]
    return found


# --- what watches the tables: alarms, topics, dashboards, the audit trail ---------------------


@dataclass
class Watch:
    alarms: int  # alarm lines of the review summaries of the system's stacks
    topics: set[str]  # SNS topics the alarms' AlarmActions name, resolved here from the templates
    dashboards: set[str]  # dashboard names of the system's stacks
    logged: dict[str, str]  # table name -> "reads+writes" or "writes", from the trail's selectors


def trail_reference(env_stacks: list[Stack], tables: dict[str, str], stack: Stack) -> dict[str, str]:
    """What the trails of the environment log of each table, read from their selectors here with
    only the operators the app uses (StartsWith on the ARN, readOnly Equals): a selector with
    readOnly "false" logs writes, one without readOnly logs both."""
    logged: dict[str, set[str]] = {}
    for other in env_stacks:
        for resource in other.template["Resources"].values():
            if resource["Type"] != "AWS::CloudTrail::Trail":
                continue
            for selector in resource["Properties"]["AdvancedEventSelectors"]:
                fields = {f["Field"]: f for f in selector["FieldSelectors"]}
                if fields.get("resources.type", {}).get("Equals") != ["AWS::DynamoDB::Table"]:
                    continue
                kinds = (
                    {"false": {"writes"}, "true": {"reads"}}[fields["readOnly"]["Equals"][0]]
                    if "readOnly" in fields
                    else {"reads", "writes"}
                )
                for name in tables.values():
                    arn = f"arn:aws:dynamodb:{stack.region}:{stack.account}:table/{name}"
                    if "resources.ARN" not in fields or any(arn.startswith(p) for p in fields["resources.ARN"]["StartsWith"]):
                        logged.setdefault(name, set()).update(kinds)
    return {name: "+".join(k for k in ("reads", "writes") if k in kinds) for name, kinds in logged.items()}


def watch_reference(synthesized, stack: Stack, database: Stack | None, tables: dict[str, str]) -> Watch:
    mine = [s for s in (stack, database) if s is not None]
    alarms = sum(1 for s in mine for line in summary_lines(s) if line.startswith("alarm "))
    topics, dashboards = set(), set()
    for s in mine:
        resources = s.template["Resources"]
        for resource in resources.values():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                for action in resource["Properties"].get("AlarmActions", []):
                    topics.add(
                        action.rsplit(":", 1)[-1] if isinstance(action, str) else resources[action["Ref"]]["Properties"]["TopicName"]
                    )
            elif resource["Type"] == "AWS::CloudWatch::Dashboard":
                dashboards.add(resource["Properties"]["DashboardName"])
    env_stacks = [s for s in synthesized.values() if s.environment == stack.environment]
    return Watch(alarms, topics, dashboards, trail_reference(env_stacks, tables, stack))


def watch_problems(picture: Parsed, ref: Reference, watch: Watch) -> list[str]:
    """What the "Watched by" part says differently from the templates; [] when it agrees."""
    found = []
    alarm_nodes = {n: int(m[1]) for n in picture.labels if (m := re.fullmatch(r"(\d+) alarms? on .*", picture.lines(n)[0]))}
    drawn = sum(alarm_nodes.values())
    if drawn != watch.alarms:
        found.append(f"{drawn} alarms drawn, the stacks have {watch.alarms}")
    for node, count in alarm_nodes.items():
        if sum(int(line.split()[0]) for line in picture.lines(node)[1:]) != count:
            found.append(f"{node}: its metrics do not add up to {count}")
    topic_of = {
        n: picture.labels[n].split("<br/>")[0].removeprefix("SNS topic ")
        for n in picture.labels
        if picture.labels[n].startswith("SNS topic ")
    }
    for topic in sorted(watch.topics):
        if not any(topic_of.get(d) == topic and s in alarm_nodes and label == "notifies" for s, _, label, d in picture.edges):
            found.append(f"no alarm is drawn notifying topic {topic}")
    found += [
        f"dashboard {d} is not drawn"
        for d in sorted(watch.dashboards)
        if not any(label.startswith(f"dashboard {d}<br/>") for label in picture.labels.values())
    ]
    trails = {n for n in picture.labels if picture.labels[n].startswith("audit trail ")}
    node_of = {line.split(" · ")[0]: n for n in picture.members("tables") for line in picture.lines(n)}
    for name in sorted(ref.tables.values()):
        labels = sorted(
            label for s, arrow, label, d in picture.edges if s in trails and arrow == "--o" and node_of.get(name) in picture.members(d)
        )
        expected = [f"logs {watch.logged[name]}"] if name in watch.logged else []
        if labels != expected:
            found.append(f"trail edges to {name} say {labels}, the selectors say {expected}")
    return found


# --- fixtures --------------------------------------------------------------------------------


def _stacks(synthesized) -> dict[str, Stack]:
    assert synthesized, "the session synthesized no stacks"
    return dict(synthesized)


@pytest.fixture(scope="module")
def pages(synthesized) -> dict[str, str]:
    return {system.key: system_diagram(system, _stacks(synthesized), ENVIRONMENTS) for system in SYSTEMS}


def chosen_env(page: str) -> str:
    m = re.search(r"Drawn from the \*\*(\w+)\*\* templates", page)
    assert m, "the page does not say which environment it draws"
    return m[1]


def stacks_of(synthesized, system, env: str) -> tuple[Stack, Stack | None]:
    cfg = ENVIRONMENTS[env]
    return synthesized[naming.stack_name(cfg, system.key)], synthesized.get(naming.stack_name(cfg, f"{system.key}-database"))


# --- tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.key)
def test_diagram_agrees_with_the_review_summary(system, pages, synthesized):
    page = pages[system.key]
    env = chosen_env(page)
    ref = reference(*stacks_of(synthesized, system, env))
    # The reference must have something to check, or an empty diagram would pass.
    assert len(ref.tables) == len(system.tables)
    assert ref.grants and ref.vaults
    assert problems(parse(page), ref) == []


@pytest.mark.parametrize("system", SYSTEMS, ids=lambda s: s.key)
def test_what_watches_each_system_agrees_with_its_templates(system, pages, synthesized):
    page = pages[system.key]
    stack, database = stacks_of(synthesized, system, chosen_env(page))
    ref = reference(stack, database)
    watch = watch_reference(synthesized, stack, database, ref.tables)
    # Each part must have something to compare, or a picture without it would pass.
    assert watch.alarms > 0 and watch.topics and watch.dashboards
    assert set(watch.logged) == set(ref.tables.values()), "the trail logs every table's writes at least"
    assert watch_problems(parse(page), ref, watch) == []


def test_the_trail_logs_reads_of_some_tables_and_only_writes_of_others(pages, synthesized):
    """Both kinds of trail edge are drawn somewhere, so the check above compares both."""
    kinds = set()
    for system in SYSTEMS:
        stack, database = stacks_of(synthesized, system, chosen_env(pages[system.key]))
        kinds |= set(watch_reference(synthesized, stack, database, reference(stack, database).tables).logged.values())
    assert kinds == {"reads+writes", "writes"}


def mutated(synthesized, stack: Stack, template: dict) -> dict[str, Stack]:
    return {
        **synthesized,
        stack.name: Stack(stack.name, stack.environment, template, stack.termination_protection, stack.account, stack.region),
    }


def test_a_removed_alarm_is_noticed(synthesized):
    system = SYSTEMS[0]
    env = ENVS[-1]
    stack, database = stacks_of(synthesized, system, env)
    ref = reference(stack, database)
    watch = watch_reference(synthesized, stack, database, ref.tables)
    template = copy.deepcopy(stack.template)
    alarm = next(lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm")
    del template["Resources"][alarm]
    page = system_diagram(system, mutated(synthesized, stack, template), {env: ENVIRONMENTS[env]})
    assert f"{watch.alarms - 1} alarms drawn, the stacks have {watch.alarms}" in watch_problems(parse(page), ref, watch)


def test_a_changed_trail_selector_is_noticed(synthesized):
    """A table taken out of the trail's read selector is drawn with "logs writes"; the check,
    against the selectors it was taken from, names it."""
    env = ENVS[-1]
    (platform,) = [
        s
        for s in synthesized.values()
        if s.environment == env and any(r["Type"] == "AWS::CloudTrail::Trail" for r in s.template["Resources"].values())
    ]
    template = copy.deepcopy(platform.template)
    (trail,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudTrail::Trail"]
    reads = next(
        f["StartsWith"]
        for sel in trail["Properties"]["AdvancedEventSelectors"]
        if not any(f["Field"] == "readOnly" for f in sel["FieldSelectors"])
        for f in sel["FieldSelectors"]
        if f["Field"] == "resources.ARN" and ":table/" in f["StartsWith"][0] and "/stream/" not in f["StartsWith"][0]
    )
    removed = reads.pop(0)
    name = removed.rsplit("/", 1)[-1]
    system = next(s for s in SYSTEMS if name in reference(*stacks_of(synthesized, s, env)).tables.values())
    stack, database = stacks_of(synthesized, system, env)
    ref = reference(stack, database)
    watch = watch_reference(synthesized, stack, database, ref.tables)
    assert watch.logged[name] == "reads+writes"
    page = system_diagram(system, mutated(synthesized, platform, template), {env: ENVIRONMENTS[env]})
    found = watch_problems(parse(page), ref, watch)
    assert f"trail edges to {name} say ['logs writes'], the selectors say ['logs reads+writes']" in found


def test_the_archives_and_offsite_vaults_are_covered(pages, synthesized):
    # Somewhere in the catalogue a table is archived and a vault copies off-site: the checks
    # above would otherwise pass on systems that have none.
    refs = [reference(*stacks_of(synthesized, s, chosen_env(pages[s.key]))) for s in SYSTEMS]
    assert any(r.archives for r in refs) and any(r.pipes for r in refs)
    assert any(len(r.vaults) > 1 for r in refs)


def test_every_committed_page_holds_its_diagram(pages):
    for system in SYSTEMS:
        committed = (gen.ROOT / gen.PAGES / f"{system.key}.md").read_text()
        assert pages[system.key] in committed, f"run `make docs`: {system.key}'s diagram is stale"
        # At the top of the page: before the tables' summary.
        assert committed.index("## Data flow") < committed.index("## Design decisions")


def test_a_table_dropped_from_the_picture_is_noticed(synthesized):
    """The check itself can fail: a diagram drawn from a template without one table, checked
    against the reference of the template with it, names the table and its grants."""
    system = next(s for s in SYSTEMS if len(s.tables) > 1)
    env = ENVS[-1]
    stack, database = stacks_of(synthesized, system, env)
    dropped = system.tables[0].logical_id
    template = copy.deepcopy(stack.template)
    del template["Resources"][dropped]
    mutated = {
        **synthesized,
        stack.name: Stack(stack.name, stack.environment, template, stack.termination_protection, stack.account, stack.region),
    }
    found = problems(parse(system_diagram(system, mutated, {env: ENVIRONMENTS[env]})), reference(stack, database))
    name = reference(stack, database).tables[dropped]
    assert f"table {name} is not drawn" in found
    assert any(p.startswith("no edge for the grant") and name in p for p in found)


def test_a_wrong_edge_label_is_noticed(pages, synthesized):
    system = SYSTEMS[0]
    page = pages[system.key]
    ref = reference(*stacks_of(synthesized, system, chosen_env(page)))
    assert '|"read+write"|' in page
    assert problems(parse(page.replace('|"read+write"|', '|"read"|', 1)), ref) != []


def test_the_catalogue_decides_what_is_drawn(fixture_app):
    """The fixture's added table (MADMall's Notifications) and its environment with a replica
    region are drawn like the shipped ones, without a change to the generator."""
    from tests.fixture_app import NOTIFICATIONS

    system = next(s for s in fixture_app.catalogue if NOTIFICATIONS in s.tables)
    page = system_diagram(system, fixture_app.stacks, fixture_app.environments)
    env = chosen_env(page)
    cfg = fixture_app.environments[env]
    stack = fixture_app.stacks[naming.stack_name(cfg, system.key)]
    ref = reference(stack, None)
    assert NOTIFICATIONS.name.format(env=env) in ref.tables.values()
    assert problems(parse(page), ref) == []
    assert "- **qa**" in page or env == "qa"


def test_the_database_is_behind_its_proxy_only_where_the_template_has_one(pages, synthesized):
    system = next(s for s in SYSTEMS if stacks_of(synthesized, s, ENVS[-1])[1] is not None)
    env = ENVS[-1]
    stack, database = stacks_of(synthesized, system, env)
    assert database is not None
    proxies = [lid for lid, r in database.template["Resources"].items() if r["Type"] == "AWS::RDS::DBProxy"]
    clusters = [lid for lid, r in database.template["Resources"].items() if r["Type"] == "AWS::RDS::DBCluster"]
    assert len(proxies) == 1 and len(clusters) == 1

    def app_connects_to(template: dict) -> str:
        db = {**synthesized, database.name: Stack(database.name, env, template, True, database.account, database.region)}
        picture = parse(system_diagram(system, db, {env: ENVIRONMENTS[env]}))
        app = next(
            n for n, label in picture.labels.items() if label.endswith(f"<br/>{naming.stack_name(ENVIRONMENTS[env], system.key)}-app")
        )
        (target,) = [d for s, arrow, label, d in picture.edges if s == app and label.startswith("connect as")]
        return picture.labels[target]

    assert app_connects_to(database.template).startswith("RDS Proxy")
    # Without a proxy (as an environment may be configured), the app signs in to the cluster.
    direct = json.loads(
        json.dumps(database.template).replace(f'["{proxies[0]}", "DBProxyArn"]', f'["{clusters[0]}", "DBClusterResourceId"]')
    )
    direct["Resources"] = {lid: r for lid, r in direct["Resources"].items() if not r["Type"].startswith("AWS::RDS::DBProxy")}
    assert app_connects_to(direct).startswith("Aurora cluster")


def test_overview_draws_every_stack_and_dependency_of_its_environment(synthesized):
    page = (gen.ROOT / gen.ARCHITECTURE).read_text()
    generated = page.split(gen.BEGIN)[1].split(gen.END)[0]
    picture = parse(generated)
    env = re.search(r"Stacks of (\w+), numbered", generated)
    assert env
    mine = {name: s for name, s in synthesized.items() if s.environment == env[1]}
    assert len(mine) == max(sum(s.environment == e for s in synthesized.values()) for e in ENVS)
    drawn = {label.split(". ", 1)[1]: node for node, label in picture.labels.items() if re.match(r"\d+\. ", label)}
    assert sorted(drawn) == sorted(mine)
    number = {name: int(picture.labels[node].split(".")[0]) for name, node in drawn.items()}
    dependencies = {(dep, name) for name, s in mine.items() for dep in s.dependencies}
    assert dependencies, "no stack depends on another: the dependency check would pass on nothing"
    for dep, name in dependencies:
        assert (drawn[dep], "-->", "before", drawn[name]) in picture.edges
        assert number[dep] < number[name], f"{dep} is deployed after {name}, which depends on it"
    for name, s in mine.items():
        region = picture.parent[drawn[name]]
        assert picture.labels[region] == f"region {s.region}"


def test_generated_part_of_architecture_is_between_markers_and_the_rest_survives(tmp_path):
    page = f"# Hand-written\n\nbefore\n\n{gen.BEGIN}\nold picture\n{gen.END}\n\nafter, by hand\n"
    result = gen.between_markers(page, "NEW")
    assert result == f"# Hand-written\n\nbefore\n\n{gen.BEGIN}\n\nNEW\n\n{gen.END}\n\nafter, by hand\n"
    assert gen.between_markers(result, "NEW") == result  # idempotent
    with pytest.raises(gen.DataModelError, match="needs one line"):
        gen.between_markers("# no markers\n", "NEW")
    committed = (gen.ROOT / gen.ARCHITECTURE).read_text()
    assert committed.count(gen.BEGIN) == 1 and committed.count(gen.END) == 1
    assert "### Where the diagrams come from" in committed.split(gen.END)[1]

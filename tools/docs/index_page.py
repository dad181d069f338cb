"""The data-model index page (docs/data-model.md): every system's summary, the environments'
settings, the account-level alarms, retention and the archive lifecycle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from config.retention import RETENTION
from constructs_lib.specs import SystemSpec
from stacks.stage import PLATFORM
from tools.docs.facts import Stacks, TableFacts, alarms, of_type, stack_of
from tools.docs.markdown import env_pattern, field, md_table, name_pattern, plural
from tools.docs.render import BANNER, alarm_rows, summary_table


def retention_rows(tables: Mapping[str, Mapping[str, dict[str, TableFacts]]]) -> list[list[str]]:
    rows = []
    for system in SYSTEMS:
        for spec in system.tables:
            facts = tables[system.key][spec.id]
            if all(f.ttl == "—" for f in facts.values()):
                continue
            rule = RETENTION.get((system.key, spec.id))
            rule_cells = (
                [
                    rule.tier,
                    str(rule.table_days if rule.archive else rule.days),
                    str(rule.archive_days) if rule.archive else "—",
                    str(rule.days),
                    "yes" if rule.from_seed else "no (decision)",
                ]
                if rule
                else ["—", "set per item by the app", "—", "—", "—"]
            )
            rows.append(
                [
                    system.key,
                    f"[{spec.id}](data-model/{system.key}.md#{spec.id.lower()})",
                    name_pattern(facts),
                    field(facts, "ttl"),
                    *rule_cells,
                ]
            )
    return rows


def archive_rows(stacks: Stacks) -> list[list[str]]:
    """One row per archive prefix and environment, read from the platform's bucket lifecycles."""
    rows = []
    for env, cfg in ENVIRONMENTS.items():
        for _logical_id, bucket in sorted(of_type(stack_of(stacks, cfg, PLATFORM).template, "AWS::S3::Bucket").items()):
            props = bucket["Properties"]
            lock = props.get("ObjectLockConfiguration", {}).get("Rule", {}).get("DefaultRetention", {})
            for rule in props.get("LifecycleConfiguration", {}).get("Rules", []):
                if "Transitions" not in rule:
                    continue  # the access-log bucket's plain expiry
                moves = {t["StorageClass"]: t["TransitionInDays"] for t in rule["Transitions"]}
                locked = f"{lock['Mode']} {lock['Days']} days" if lock else "—"
                rows.append(
                    [
                        env,
                        f"`{rule['Prefix']}`",
                        f"`{props['BucketName']}`",
                        moves.get("GLACIER", "—"),
                        moves.get("DEEP_ARCHIVE", "—"),
                        rule["ExpirationInDays"],
                        locked,
                    ]
                )
    return rows


# --- system page -----------------------------------------------------------------------------


def alert_rows() -> list[list[str]]:
    envs = ENVIRONMENTS.values()
    return [
        ["alerts: email", *(", ".join(cfg.alerts.emails) or "—" for cfg in envs)],
        [
            "alerts: Slack (AWS Chatbot)",
            *(f"{cfg.alerts.slack.workspace_id}/{cfg.alerts.slack.channel_id}" if cfg.alerts.slack else "—" for cfg in envs),
        ],
        ["alerts: external SNS topic", *(f"`{cfg.alerts.external_topic_arn}`" if cfg.alerts.external_topic_arn else "—" for cfg in envs)],
    ]


def environment_table(tables: Mapping[str, Mapping[str, dict[str, TableFacts]]]) -> str:
    def across(attribute: str, systems: Iterable[SystemSpec] = SYSTEMS) -> list[str]:
        # Every table of the given systems in one environment; several values would all show.
        return [", ".join(sorted({getattr(t[env], attribute) for s in systems for t in tables[s.key].values()})) for env in ENVIRONMENTS]

    envs = ENVIRONMENTS.values()
    rows = [
        ["account", *(cfg.account for cfg in envs)],
        ["region", *(cfg.region for cfg in envs)],
        *([f"billing: {s.key}", *across("billing", [s])] for s in SYSTEMS),
        ["point-in-time recovery", *across("pitr")],
        ["deletion protection", *across("deletion_protection")],
        ["removal policy (tables)", *across("removal")],
        ["termination protection (stacks)", *("on" if cfg.termination_protection else "off" for cfg in envs)],
        *alert_rows(),
    ]
    return md_table(["setting", *ENVIRONMENTS], rows)


def platform_alarms(stacks: Stacks) -> str:
    per = {env: alarms(stack_of(stacks, cfg, PLATFORM).template) for env, cfg in ENVIRONMENTS.items()}
    rows = alarm_rows(per, lambda env, a: env_pattern(env, a.name))
    return md_table(["alarm", "metric", *ENVIRONMENTS], rows)


def system_summary(system: SystemSpec, tables: dict[str, dict[str, TableFacts]]) -> str:
    page = f"data-model/{system.key}.md"
    gsis = sum(len({name for f in facts.values() for name in f.indexes}) for facts in tables.values())
    line = f"Seed `{system.seed}`; {plural(len(tables), 'table')}, {plural(gsis, 'GSI')}; page: [{page}]({page})."
    return "\n\n".join([f"## {system.title}", line, summary_table(system, tables, page)])


def index_page(stacks: Stacks, tables: Mapping[str, dict[str, dict[str, TableFacts]]]) -> str:
    parts = [
        BANNER,
        "# Data model",
        "One page per system under [data-model/](data-model/): every table's keys, GSIs and the access pattern each serves, TTL, retention, "
        "alarms, IAM roles and KMS keys. Facts are read from the synthesized CloudFormation templates; account, region, termination protection "
        "and alert channels from `config/environments.py`; access patterns from `config/catalogue.py`; retention from `config/retention.py`. "
        "Design decisions are hand-written in `docs/data-model/decisions/`. Regenerate with `make docs`.",
        *(system_summary(s, tables[s.key]) for s in SYSTEMS),
        "## Environments\n\n" + environment_table(tables),
        "## Account-level alarms (stack `data-platform-{env}`)\n\n" + platform_alarms(stacks),
        "## Retention\n\nEvery table with TTL. Retention counts from the item's creation: the app writes the TTL attribute as "
        "creation + the days in the table; cold data is then archived and kept the rest of its total. The seed gives the totals; "
        "the split of a cold table's total is a decision (docs/retention.md).\n\n"
        + md_table(
            [
                "system",
                "table",
                "name",
                "TTL attribute",
                "tier",
                "days in the table",
                "days in the archive",
                "total days",
                "total from the seed",
            ],
            retention_rows(tables),
        ),
        "## Archive lifecycle\n\nTTL deletions of archived tables (never user deletes) reach S3 through the table's stream, an "
        "EventBridge Pipe and Firehose (GZIP, KMS). Each prefix moves to Glacier Flexible Retrieval, then Deep Archive, and expires at "
        "the end of its retention, counted in days from its arrival in the archive. Read from the `data-platform-{env}` templates.\n\n"
        + md_table(
            ["env", "prefix", "bucket", "Glacier after (days)", "Deep Archive after", "expires after", "Object Lock"], archive_rows(stacks)
        ),
    ]
    return "\n\n".join(parts) + "\n"

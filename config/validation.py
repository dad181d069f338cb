"""What configuration may hold: `validate` names every value that is not allowed, with what is.

It runs before any construct exists (config.load), so a bad value never reaches a template.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.alarms import threshold_problems
from config.sections import (  # noqa: F401  (the minimums are part of this module's interface)
    DEEP_ARCHIVE_MINIMUM_DAYS,
    GLACIER_MINIMUM_DAYS,
    _archive,
    _audit_trail,
    _backup,
    _billing,
    _database,
    _offsite,
    _positive,
    _Problems,
    _workload,
)

ENVIRONMENT_NAMES = ("dev", "staging", "prod")
# The cost-allocation tags: every resource carries both (stacks/stage.py), and the budgets filter on them.
COST_TAG = "CostCenter"
SYSTEM_TAG = "System"


class ConfigError(ValueError):
    """A config value that is not allowed. The message names key, value and what is allowed."""


ACCOUNT = re.compile(r"^\d{12}$")


@functools.cache
def aws_regions() -> frozenset[str]:
    """The regions of the aws partition, from the endpoint data botocore bundles (offline): a
    region that merely looks right (us-east-9) is refused."""
    data = json.loads((importlib.resources.files("botocore") / "data" / "partitions.json").read_text())
    (aws,) = [p for p in data["partitions"] if p["id"] == "aws"]
    return frozenset(name for name in aws["regions"] if not name.endswith("-global"))


def _region_ok(name: object) -> bool:
    return isinstance(name, str) and name in aws_regions()


EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
SNS_ARN = re.compile(r"^arn:aws(-[a-z]+)*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[A-Za-z0-9_-]{1,256}$")
KMS_KEY_ARN = re.compile(r"^arn:aws(-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[0-9a-f-]{36}$")
IAM_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
IAM_PRINCIPAL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]{1,512}$")
SERVICE_PRINCIPAL = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com$")
SLACK_WORKSPACE = re.compile(r"^T[A-Z0-9]{8,}$")
SLACK_CHANNEL = re.compile(r"^[CG][A-Z0-9]{8,}$")
TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
# GitHub's rules: an owner is 1-39 letters, digits and single inner hyphens; a repository
# 1-100 letters, digits, '.', '_' and '-', and neither '.' nor '..'.
GITHUB_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
GITHUB_REPO = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$")
GITHUB_OIDC_PROVIDER_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):oidc-provider/token\.actions\.githubusercontent\.com$")
BOOTSTRAP_QUALIFIER = re.compile(r"^[a-z0-9]{1,10}$")


def _validate_one(cfg: EnvironmentConfig, system_keys: tuple[str, ...]) -> list[str]:
    p = _Problems(cfg.name)
    p.check(cfg.name in ENVIRONMENT_NAMES, "name", cfg.name, "one of " + ", ".join(ENVIRONMENT_NAMES))
    p.check(bool(ACCOUNT.match(cfg.account)), "account", cfg.account, "a 12-digit AWS account id")
    p.check(_region_ok(cfg.region), "region", cfg.region, "an AWS region of the aws partition (botocore's list), e.g. us-east-1")

    _billing(p, "billing", cfg.billing)
    for system, billing in cfg.billing_overrides.items():
        p.check(system in system_keys, f"billing_overrides[{system!r}]", system, "a system key: " + ", ".join(system_keys))
        _billing(p, f"billing_overrides[{system!r}]", billing)

    days = cfg.pitr.recovery_period_days
    p.check(isinstance(days, int) and 1 <= days <= 35, "pitr.recovery_period_days", days, "1-35 (DynamoDB's range)")
    p.check(cfg.removal_policy in ("retain", "destroy"), "removal_policy", cfg.removal_policy, "retain or destroy")

    if cfg.is_production:
        # Production may never lose data by a config slip: these are not choices there.
        p.check(cfg.pitr.enabled is True, "pitr.enabled", cfg.pitr.enabled, "True in prod")
        p.check(cfg.deletion_protection is True, "deletion_protection", cfg.deletion_protection, "True in prod")
        p.check(cfg.removal_policy == "retain", "removal_policy", cfg.removal_policy, "'retain' in prod")
        p.check(cfg.termination_protection is True, "termination_protection", cfg.termination_protection, "True in prod")

    a = cfg.alarms
    for name, value, allowed in threshold_problems(a.thresholds, complete=True):
        p.add(f"alarms.thresholds[{name!r}]", value, allowed)
    for name in ("evaluation_periods", "datapoints_to_alarm"):
        _positive(p, f"alarms.{name}", getattr(a, name))
    if isinstance(a.datapoints_to_alarm, int) and isinstance(a.evaluation_periods, int):
        p.check(
            a.datapoints_to_alarm <= a.evaluation_periods,
            "alarms.datapoints_to_alarm",
            a.datapoints_to_alarm,
            f"<= evaluation_periods ({a.evaluation_periods})",
        )

    alerts = cfg.alerts
    for i, email in enumerate(alerts.emails):
        p.check(bool(EMAIL.match(email)), f"alerts.emails[{i}]", email, "an email address such as ops@example.com")
    p.check(len(set(alerts.emails)) == len(alerts.emails), "alerts.emails", alerts.emails, "each address once")
    if alerts.slack is not None:
        p.check(
            bool(SLACK_WORKSPACE.match(alerts.slack.workspace_id)),
            "alerts.slack.workspace_id",
            alerts.slack.workspace_id,
            "a Slack team id such as T0123ABCD",
        )
        p.check(
            bool(SLACK_CHANNEL.match(alerts.slack.channel_id)),
            "alerts.slack.channel_id",
            alerts.slack.channel_id,
            "a Slack channel id such as C0123ABCD",
        )
    if alerts.external_topic_arn is not None:
        match = SNS_ARN.match(alerts.external_topic_arn)
        p.check(bool(match), "alerts.external_topic_arn", alerts.external_topic_arn, "an SNS topic ARN arn:aws:sns:REGION:ACCOUNT:NAME")
        if match:
            # CloudWatch alarm actions can only notify a topic in the alarm's own region.
            p.check(
                match["region"] == cfg.region,
                "alerts.external_topic_arn",
                alerts.external_topic_arn,
                f"a topic in the environment's region {cfg.region}",
            )
    p.check(
        bool(alerts.emails or alerts.slack or alerts.external_topic_arn),
        "alerts",
        "no endpoints",
        "at least one email, Slack channel or external topic: alarms must reach someone",
    )

    acc = cfg.access
    p.check(
        bool(SERVICE_PRINCIPAL.match(acc.app_service_principal)),
        "access.app_service_principal",
        acc.app_service_principal,
        "a service principal such as ecs-tasks.amazonaws.com",
    )
    if acc.app_source_arn is not None:
        parts = acc.app_source_arn.split(":") if isinstance(acc.app_source_arn, str) else []
        p.check(
            len(parts) >= 6 and parts[0] == "arn" and parts[3] in ("", cfg.region, "*") and parts[4] == cfg.account and bool(parts[5]),
            "access.app_source_arn",
            acc.app_source_arn,
            f"None, or an ARN pattern of this environment's account and region, such as arn:aws:ecs:{cfg.region}:{cfg.account}:*",
        )
    for group in ("readonly_principal_arns", "migration_principal_arns"):
        # A role nobody may assume is dead weight; one anybody may assume is a hole.
        p.check(
            len(getattr(acc, group)) > 0, f"access.{group}", getattr(acc, group), "at least one IAM role ARN allowed to assume the role"
        )
        for i, arn in enumerate(getattr(acc, group)):
            p.check(bool(IAM_ROLE_ARN.match(arn)), f"access.{group}[{i}]", arn, "an IAM role ARN arn:aws:iam::ACCOUNT:role/NAME")

    _keys(p, cfg, system_keys)
    p.check(
        cfg.contributor_insights in ("off", "THROTTLED_KEYS", "ACCESSED_AND_THROTTLED_KEYS"),
        "contributor_insights",
        cfg.contributor_insights,
        "off, THROTTLED_KEYS or ACCESSED_AND_THROTTLED_KEYS",
    )

    _positive(p, "monthly_budget_usd", cfg.monthly_budget_usd)
    # The budgets filter on these tags (stacks/stage.py): CostCenter must be set per environment.
    p.check(bool(cfg.tags.get(COST_TAG)), f"tags[{COST_TAG!r}]", cfg.tags.get(COST_TAG), "set: the environment's budget filters on it")
    for system, amount in cfg.system_budgets_usd.items():
        p.check(system in system_keys, f"system_budgets_usd[{system!r}]", system, "a system key: " + ", ".join(system_keys))
        _positive(p, f"system_budgets_usd[{system!r}]", amount)
    shares = sum(a for a in cfg.system_budgets_usd.values() if isinstance(a, int))
    p.check(
        shares <= cfg.monthly_budget_usd if isinstance(cfg.monthly_budget_usd, int) else True,
        "system_budgets_usd",
        dict(cfg.system_budgets_usd),
        f"shares adding up to at most monthly_budget_usd ({cfg.monthly_budget_usd}), not {shares}",
    )
    _positive(p, "access_log_retention_days", cfg.access_log_retention_days)

    seen_regions = {cfg.region}
    for i, replica in enumerate(cfg.replicas):
        ok_region = _region_ok(replica.region)
        p.check(ok_region, f"replicas[{i}].region", replica.region, "an AWS region name such as us-west-2")
        p.check(
            replica.region not in seen_regions,
            f"replicas[{i}].region",
            replica.region,
            "a region other than the primary and the other replicas",
        )
        seen_regions.add(replica.region)
        match = KMS_KEY_ARN.match(replica.kms_key_arn)
        p.check(
            match is not None and (not ok_region or match["region"] == replica.region),
            f"replicas[{i}].kms_key_arn",
            replica.kms_key_arn,
            f"a KMS key ARN in {replica.region}",
        )

    ci = cfg.ci
    p.check(
        bool(GITHUB_OWNER.match(ci.github_owner)),
        "ci.github_owner",
        ci.github_owner,
        "a GitHub user or organisation: 1-39 letters, digits or inner single hyphens",
    )
    p.check(
        bool(GITHUB_REPO.match(ci.github_repo)),
        "ci.github_repo",
        ci.github_repo,
        "a GitHub repository name: 1-100 letters, digits, '.', '_' or '-'",
    )
    if ci.oidc_provider_arn is not None:
        match = GITHUB_OIDC_PROVIDER_ARN.match(ci.oidc_provider_arn)
        # The deploy role can only trust a provider of its own account.
        p.check(
            match is not None and match["account"] == cfg.account,
            "ci.oidc_provider_arn",
            ci.oidc_provider_arn,
            f"None, or arn:aws:iam::{cfg.account}:oidc-provider/token.actions.githubusercontent.com",
        )
    p.check(
        bool(BOOTSTRAP_QUALIFIER.match(ci.bootstrap_qualifier)),
        "ci.bootstrap_qualifier",
        ci.bootstrap_qualifier,
        "1-10 lowercase letters or digits (cdk bootstrap --qualifier)",
    )

    _archive(p, cfg.archive)
    _backup(p, cfg)
    _audit_trail(p, cfg)
    _offsite(p, cfg, _region_ok)
    _database(p, cfg)
    _workload(p, cfg)

    for key, value in cfg.tags.items():
        p.check(
            bool(TAG_KEY.match(key)) and not key.lower().startswith("aws:"),
            f"tags[{key!r}]",
            key,
            "a tag key of 1-128 characters, not starting with aws:",
        )
        p.check(isinstance(value, str) and len(value) <= 256, f"tags[{key!r}]", value, "a string of at most 256 characters")
    _trust(p, cfg)
    return p.lines


# Data roles this project creates per system; their names end in one of these.
DATA_ROLE_SUFFIXES = ("app", "readonly", "migration", "tenant", "backup", "archive-pipe", "archive-delivery")


def _keys(p: _Problems, cfg: EnvironmentConfig, system_keys: tuple[str, ...]) -> None:
    """Key administrators and the break-glass role: real principals, and never one that also
    reads the data, so administering a key never comes with using it."""
    keys = cfg.keys
    admins = keys.administrator_arns
    p.check(
        isinstance(admins, tuple) and len(admins) > 0,
        "keys.administrator_arns",
        admins,
        "at least one IAM role or user ARN that administers the keys",
    )
    readers = {*cfg.access.readonly_principal_arns, *cfg.access.migration_principal_arns}
    own_roles = {f"{system}-{cfg.name}-{suffix}" for system in system_keys for suffix in DATA_ROLE_SUFFIXES}
    candidates = [*((f"keys.administrator_arns[{i}]", arn) for i, arn in enumerate(admins)), ("keys.break_glass_arn", keys.break_glass_arn)]
    for key, arn in candidates:
        if not (isinstance(arn, str) and IAM_PRINCIPAL_ARN.match(arn)):
            p.add(key, arn, "an IAM role or user ARN arn:aws:iam::ACCOUNT:role/NAME")
        elif arn in readers or arn.rsplit("/", 1)[-1] in own_roles:
            p.add(
                key,
                arn,
                "a principal that cannot read the data: not a data role, nor one listed in access.readonly/migration_principal_arns",
            )
        elif arn.rsplit("/", 1)[-1].startswith("cdk-"):
            p.add(key, arn, "a principal of your own: the CDK deploy role is named in every key policy already, with less")
    p.check(
        keys.break_glass_arn not in admins,
        "keys.break_glass_arn",
        keys.break_glass_arn,
        "a principal other than the key administrators: break-glass use must stand out in CloudTrail",
    )


def _arn_account(arn: object) -> str | None:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and ACCOUNT.match(parts[4]) else None


def _trust(p: _Problems, cfg: EnvironmentConfig) -> None:
    """Principals, the external topic and replica keys in another account only when that
    account is listed in trusted_accounts."""
    for i, account in enumerate(cfg.trusted_accounts):
        p.check(
            bool(ACCOUNT.match(account)) and account != cfg.account,
            f"trusted_accounts[{i}]",
            account,
            "a 12-digit AWS account id other than this environment's own",
        )
    allowed = {cfg.account, *cfg.trusted_accounts}
    trusted = f"this environment's ({cfg.account})" + (
        f" or a trusted one ({', '.join(cfg.trusted_accounts)})" if cfg.trusted_accounts else ""
    )
    foreign: list[tuple[str, str | None]] = [
        *(
            (f"access.{group}[{i}]", arn)
            for group in ("readonly_principal_arns", "migration_principal_arns")
            for i, arn in enumerate(getattr(cfg.access, group))
        ),
        ("alerts.external_topic_arn", cfg.alerts.external_topic_arn),
        *((f"keys.administrator_arns[{i}]", arn) for i, arn in enumerate(cfg.keys.administrator_arns)),
        *((f"audit_trail.reader_arns[{i}]", arn) for i, arn in enumerate(cfg.audit_trail.reader_arns)),
        ("audit_trail.organization_trail_arn", cfg.audit_trail.organization_trail_arn),
        ("offsite.account_vault_arn", cfg.offsite.account_vault_arn),
        ("keys.break_glass_arn", cfg.keys.break_glass_arn),
        *((f"replicas[{i}].kms_key_arn", r.kms_key_arn) for i, r in enumerate(cfg.replicas)),
    ]
    for key, arn in foreign:
        owner = _arn_account(arn)
        if owner is not None and owner not in allowed:
            p.add(key, arn, f"an ARN in {trusted} account; list {owner} in trusted_accounts to trust it on purpose")


def validate(configs: Mapping[str, EnvironmentConfig], tables: Mapping[str, Mapping[str, str]]) -> None:
    """Validate every environment, and physical table names across all of them.

    `tables` maps system key -> {table id: name template}. Raises one ConfigError listing
    every problem found.
    """
    system_keys = tuple(tables)
    lines: list[str] = []
    owners: dict[tuple[str, str, str], str] = {}
    for env_name, cfg in configs.items():
        if cfg.name != env_name:
            lines.append(f"{env_name}.name = {cfg.name!r} is not allowed: the environment's own name {env_name!r}")
        lines.extend(_validate_one(cfg, system_keys))
        known = {f"{system}.{table_id}" for system, ids in tables.items() for table_id in ids}
        for key in cfg.table_name_overrides:
            if key not in known:
                lines.append(
                    f"{cfg.name}.table_name_overrides[{key!r}] is not allowed: a table of the catalogue, one of " + ", ".join(sorted(known))
                )
        for system, templates in tables.items():
            for table_id, template in templates.items():
                physical = cfg.table_name(system, table_id, template)
                where = f"{cfg.name}.{system}.{table_id}"
                if not TABLE_NAME.match(physical):
                    lines.append(f"{where} table name {physical!r} is not allowed: 3-255 characters of A-Z a-z 0-9 _ . -")
                # Table names are unique per account and region, across environments too.
                slot = (cfg.account, cfg.region, physical)
                if slot in owners:
                    lines.append(
                        f"{where} table name {physical!r} is not allowed: {owners[slot]} already uses it in account {cfg.account} {cfg.region}"
                    )
                owners.setdefault(slot, where)
    if lines:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))


def select(configs: Mapping[str, EnvironmentConfig], selector: str | None) -> tuple[EnvironmentConfig, ...]:
    """The environments to synthesize: all by default, or the one named by `-c env=NAME`."""
    if selector in (None, ""):
        return tuple(configs.values())
    if selector not in configs:
        raise ConfigError(f"env = {selector!r} is not allowed: one of " + ", ".join(configs))
    return (configs[selector],)


# DynamoDB's default quota of global secondary indexes per table, and its fixed limit of local ones.
MAX_GSIS = 20
MAX_LSIS = 5


def catalogue_problems(systems: Sequence[SystemSpec]) -> list[str]:
    """Mistakes in the table catalogue that CDK or CloudFormation would only report as a
    traceback or a failed deployment: one line each, naming system, table and index."""
    lines: list[str] = []
    for system in systems:
        seen_tables: set[str] = set()
        for table in system.tables:
            where = f"{system.key}.{table.id}"
            if table.id in seen_tables:
                lines.append(f"catalogue {where}: table id {table.id!r} is used twice in {system.key}; each table needs its own id")
            seen_tables.add(table.id)
            names = [index.name for index in table.indexes]
            for name in sorted({n for n in names if names.count(n) > 1}):
                lines.append(f"catalogue {where}: index name {name!r} is used {names.count(name)} times; index names are unique per table")
            locals_ = [local.name for local in table.local_indexes]
            for name in sorted({n for n in locals_ if (names + locals_).count(n) > 1}):
                lines.append(
                    f"catalogue {where}: index name {name!r} is used {(names + locals_).count(name)} times; index names are unique per table"
                )
            if table.local_indexes and table.sort_key is None:
                lines.append(
                    f"catalogue {where}: local indexes {', '.join(locals_)} need the table to have a sort key (DynamoDB requires one)"
                )
            if len(table.local_indexes) > MAX_LSIS:
                lines.append(f"catalogue {where}: {len(table.local_indexes)} local secondary indexes; DynamoDB allows {MAX_LSIS} per table")
            for local in table.local_indexes:
                if table.sort_key and local.sort_key == table.sort_key:
                    lines.append(
                        f"catalogue {where}: local index {local.name!r} sorts on the table's own sort key; query the table instead"
                    )
            warm = table.warm_throughput
            if warm is not None:
                for unit in ("read_units_per_second", "write_units_per_second"):
                    value = getattr(warm, unit)
                    if value is not None and not (isinstance(value, int) and value > 0):
                        lines.append(f"catalogue {where}: warm_throughput.{unit} = {value!r}; a whole number > 0, or None")
            if table.table_class not in ("STANDARD", "STANDARD_INFREQUENT_ACCESS"):
                lines.append(f"catalogue {where}: table_class = {table.table_class!r}; STANDARD or STANDARD_INFREQUENT_ACCESS")
            for name, value, allowed in threshold_problems(table.alarm_thresholds, complete=False):
                lines.append(f"catalogue {where}: alarm_thresholds[{name!r}] = {value!r} is not allowed: {allowed}")
            if len(table.indexes) > MAX_GSIS:
                lines.append(f"catalogue {where}: {len(table.indexes)} global secondary indexes; DynamoDB allows {MAX_GSIS} per table")
            types: dict[str, set[str]] = {}
            own = (table.partition_key, table.sort_key)
            for key in own:
                if key:
                    types.setdefault(key.name, set()).add(key.type)
            for index in table.indexes:
                if (index.partition_key, index.sort_key) == own:
                    lines.append(
                        f"catalogue {where}: index {index.name!r} has the table's own keys ({table.partition_key.name}"
                        + (f" + {table.sort_key.name}" if table.sort_key else "")
                        + "); query the table instead, or give the index other keys"
                    )
                for key in (index.partition_key, index.sort_key):
                    if key:
                        types.setdefault(key.name, set()).add(key.type)
            for local in table.local_indexes:
                types.setdefault(local.sort_key.name, set()).add(local.sort_key.type)
            for name, kinds in sorted(types.items()):
                if len(kinds) > 1:
                    lines.append(
                        f"catalogue {where}: attribute {name!r} is a key with types {', '.join(sorted(kinds))}; "
                        "an attribute has one type (S, N or B) in a table and its indexes"
                    )
    return lines

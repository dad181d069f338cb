"""PersonalPod's Aurora cluster: network, capacity, readers, backups, retention, monitoring."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

import ipaddress
import re

from config.rules.aws import IAM_ROLE_ARN, LOG_RETENTION_DAYS, ROLE_ARN_ALLOWED

# A PostgreSQL user name db-bootstrap writes unquoted: lower case, digits, _; not a name the
# stack or RDS uses itself.
PERSON_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
RESERVED_NAMES = ("personalpod_admin", "personalpod_app", "personalpod_people", "rds_pgaudit", "rdsadmin", "postgres")

PERFORMANCE_INSIGHTS_DAYS = (7, *(31 * months for months in range(1, 24)), 731)
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)


def _half_steps(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high and float(value * 2).is_integer()


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    db = cfg.database
    try:
        network = ipaddress.IPv4Network(db.vpc_cidr)
        ok_cidr = network.is_private and 16 <= network.prefixlen <= 22
    except (ValueError, TypeError):
        ok_cidr = False
    p.check(
        ok_cidr, "database.vpc_cidr", db.vpc_cidr, "a private IPv4 network from /16 to /22 such as 10.40.0.0/16 (room for a /24 per zone)"
    )
    zones = db.zone_count
    ok_zones = isinstance(zones, int) and not isinstance(zones, bool) and 2 <= zones <= 6
    p.check(ok_zones, "database.zone_count", zones, "2-6: RDS and RDS Proxy need subnets in at least two zones")
    if ok_cidr and ok_zones:
        p.check(
            zones <= 2 ** (24 - network.prefixlen),
            "database.zone_count",
            zones,
            f"at most {2 ** (24 - network.prefixlen)}: one /24 per zone in {db.vpc_cidr}",
        )
    p.check(_half_steps(db.min_capacity_acu, 0, 256), "database.min_capacity_acu", db.min_capacity_acu, "0-256 in steps of 0.5")
    p.check(_half_steps(db.max_capacity_acu, 1, 256), "database.max_capacity_acu", db.max_capacity_acu, "1-256 in steps of 0.5")
    if _half_steps(db.min_capacity_acu, 0, 256) and _half_steps(db.max_capacity_acu, 1, 256):
        p.check(
            db.max_capacity_acu >= db.min_capacity_acu,
            "database.max_capacity_acu",
            db.max_capacity_acu,
            f">= min_capacity_acu ({db.min_capacity_acu})",
        )
    _capacity_and_proxy(p, cfg)
    p.check(
        isinstance(db.readers, int) and not isinstance(db.readers, bool) and 0 <= db.readers <= 15,
        "database.readers",
        db.readers,
        "0-15 (Aurora's replica limit)",
    )
    days = db.backup_retention_days
    p.check(
        isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 35,
        "database.backup_retention_days",
        days,
        "1-35 (Aurora's range)",
    )
    p.check(
        db.removal_policy in ("retain", "snapshot", "destroy"), "database.removal_policy", db.removal_policy, "retain, snapshot or destroy"
    )
    p.check(
        db.performance_insights_retention_days in PERFORMANCE_INSIGHTS_DAYS,
        "database.performance_insights_retention_days",
        db.performance_insights_retention_days,
        "7, a multiple of 31 up to 713, or 731",
    )
    p.check(
        db.log_retention_days in LOG_RETENTION_DAYS,
        "database.log_retention_days",
        db.log_retention_days,
        "a CloudWatch Logs retention: " + ", ".join(map(str, LOG_RETENTION_DAYS)),
    )
    p.check(
        db.monitoring_interval_seconds in MONITORING_INTERVALS,
        "database.monitoring_interval_seconds",
        db.monitoring_interval_seconds,
        "one of 1, 5, 10, 15, 30, 60",
    )
    _people(p, cfg)
    if cfg.protection == "production":
        # The primary store of users' data: a config slip must never be able to delete it.
        p.check(
            db.deletion_protection is True,
            "database.deletion_protection",
            db.deletion_protection,
            f"True where protection is {cfg.protection!r}",
        )
        p.check(
            db.removal_policy in ("snapshot", "retain"),
            "database.removal_policy",
            db.removal_policy,
            f"'snapshot' or 'retain' where protection is {cfg.protection!r}",
        )
        p.check(
            not isinstance(days, int) or days >= 7, "database.backup_retention_days", days, f">= 7 where protection is {cfg.protection!r}"
        )


def _capacity_and_proxy(p: Problems, cfg: EnvironmentConfig) -> None:
    """Auto-pause exactly at 0 ACUs, never behind a proxy; production keeps both the proxy and
    warm instances (docs/cost.md, "Decisions")."""
    db = cfg.database
    p.check(isinstance(db.proxy, bool), "database.proxy", db.proxy, "True or False")
    minutes = db.auto_pause_minutes
    p.check(
        minutes is None or (isinstance(minutes, int) and not isinstance(minutes, bool) and 5 <= minutes <= 1440),
        "database.auto_pause_minutes",
        minutes,
        "None, or 5-1440 (Aurora's SecondsUntilAutoPause: five minutes to a day)",
    )
    if not _half_steps(db.min_capacity_acu, 0, 256):
        return
    pauses = db.min_capacity_acu == 0
    if pauses:
        p.check(
            minutes is not None,
            "database.auto_pause_minutes",
            minutes,
            "5-1440 where min_capacity_acu is 0: how long an instance waits without a connection before it pauses",
        )
        p.check(
            db.proxy is not True,
            "database.min_capacity_acu",
            db.min_capacity_acu,
            "at least 0.5 where database.proxy is True: RDS Proxy keeps connections to the instances open, so they would never pause",
        )
    else:
        p.check(
            minutes is None,
            "database.auto_pause_minutes",
            minutes,
            f"None where min_capacity_acu is {db.min_capacity_acu}: only an instance that may scale to 0 ACUs pauses",
        )
    if cfg.protection == "production":
        # The store users wait on: failover without dropped connections, no resume wait.
        p.check(db.proxy is True, "database.proxy", db.proxy, f"True where protection is {cfg.protection!r}")
        p.check(not pauses, "database.min_capacity_acu", db.min_capacity_acu, f"at least 0.5 where protection is {cfg.protection!r}")


def _people(p: Problems, cfg: EnvironmentConfig) -> None:
    """Each person once, by a user name db-bootstrap can write, through a role of this account;
    the master secret's reader is not a person's role."""
    db = cfg.database
    names: dict[str, int] = {}
    arns: dict[str, int] = {}
    for i, person in enumerate(db.people):
        key = f"database.people[{i}]"
        p.check(
            isinstance(person.name, str) and bool(PERSON_NAME.match(person.name)) and person.name not in RESERVED_NAMES,
            f"{key}.name",
            person.name,
            "a PostgreSQL user name: a lower-case letter, then 1-62 of a-z 0-9 _; not " + ", ".join(RESERVED_NAMES),
        )
        p.check(
            isinstance(person.principal_arn, str)
            and bool(IAM_ROLE_ARN.match(person.principal_arn))
            and person.principal_arn.split(":")[4] == cfg.account,
            f"{key}.principal_arn",
            person.principal_arn,
            f"{ROLE_ARN_ALLOWED} in this environment's account ({cfg.account})",
        )
        for seen, value, what in ((names, person.name, "name"), (arns, person.principal_arn, "principal_arn")):
            if value in seen:
                p.check(False, f"{key}.{what}", value, f"each person once: database.people[{seen[value]}] has it already")
            seen.setdefault(value, i)
    arn = db.bootstrap_principal_arn
    if arn is not None:
        p.check(
            isinstance(arn, str) and bool(IAM_ROLE_ARN.match(arn)) and arn.split(":")[4] == cfg.account,
            "database.bootstrap_principal_arn",
            arn,
            f"{ROLE_ARN_ALLOWED} in this environment's account ({cfg.account}), or None",
        )
        people = {*arns, *cfg.access.readonly_principal_arns, *cfg.access.migration_principal_arns}
        p.check(
            arn not in people,
            "database.bootstrap_principal_arn",
            arn,
            "a non-human identity (a CI or task role): not a person's, the read-only or the migration principals",
        )

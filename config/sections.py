"""Validation of the resource sections of an environment's config: billing, archive, backup
and the database. config.validation runs them with the rest; each names every bad value."""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.model import ArchiveConfig, BillingConfig, EnvironmentConfig

# S3's minimum storage durations (days) for the archive's storage classes.
GLACIER_MINIMUM_DAYS = 90
DEEP_ARCHIVE_MINIMUM_DAYS = 180


class _Problems:
    """Collects every problem of one environment so the user fixes them in one pass."""

    def __init__(self, env: str) -> None:
        self.env = env
        self.lines: list[str] = []

    def add(self, key: str, value: object, allowed: str) -> None:
        self.lines.append(f"{self.env}.{key} = {value!r} is not allowed: {allowed}")

    def check(self, ok: bool, key: str, value: object, allowed: str) -> None:
        if not ok:
            self.add(key, value, allowed)


def _positive(p: _Problems, key: str, value: int | None, required: bool = True) -> None:
    if value is None:
        p.check(not required, key, value, "a whole number > 0")
        return
    p.check(isinstance(value, int) and not isinstance(value, bool) and value > 0, key, value, "a whole number > 0")


def _billing(p: _Problems, key: str, billing: BillingConfig) -> None:
    p.check(billing.mode in ("PAY_PER_REQUEST", "PROVISIONED"), f"{key}.mode", billing.mode, "PAY_PER_REQUEST or PROVISIONED")
    capacities = ("read_capacity", "write_capacity", "max_read_capacity", "max_write_capacity")
    if billing.mode == "PROVISIONED":
        for name in capacities:
            _positive(p, f"{key}.{name}", getattr(billing, name))
        read, write = billing.read_capacity, billing.write_capacity
        max_read, max_write = billing.max_read_capacity, billing.max_write_capacity
        if isinstance(read, int) and isinstance(write, int) and isinstance(max_read, int) and isinstance(max_write, int):
            p.check(max_read >= read, f"{key}.max_read_capacity", max_read, f">= read_capacity ({read})")
            p.check(max_write >= write, f"{key}.max_write_capacity", max_write, f">= write_capacity ({write})")
        p.check(
            20 <= billing.target_utilization_percent <= 90,
            f"{key}.target_utilization_percent",
            billing.target_utilization_percent,
            "20-90 (DynamoDB autoscaling's range)",
        )
        for name in ("max_read_request_units", "max_write_request_units"):
            p.check(
                getattr(billing, name) is None, f"{key}.{name}", getattr(billing, name), "unset when mode is PROVISIONED (on-demand only)"
            )
    else:
        for name in capacities:
            p.check(getattr(billing, name) is None, f"{key}.{name}", getattr(billing, name), "unset when mode is PAY_PER_REQUEST")
        for name in ("max_read_request_units", "max_write_request_units"):
            _positive(p, f"{key}.{name}", getattr(billing, name), required=False)


def _archive(p: _Problems, archive: ArchiveConfig) -> None:
    p.check(
        isinstance(archive.glacier_after_days, int) and archive.glacier_after_days >= 0,
        "archive.glacier_after_days",
        archive.glacier_after_days,
        "a whole number >= 0",
    )
    floor = archive.glacier_after_days + GLACIER_MINIMUM_DAYS
    p.check(
        archive.deep_archive_after_days >= floor,
        "archive.deep_archive_after_days",
        archive.deep_archive_after_days,
        f">= glacier_after_days + {GLACIER_MINIMUM_DAYS} ({floor}): Glacier bills 90 days minimum",
    )
    p.check(
        archive.audit_object_lock in (None, "COMPLIANCE", "GOVERNANCE"),
        "archive.audit_object_lock",
        archive.audit_object_lock,
        "COMPLIANCE, GOVERNANCE or None",
    )


CRON = re.compile(r"^cron\([^()]+\)$")


def _backup_rules(p: _Problems, prefix: str, rules, *, cold_allowed: bool) -> None:
    p.check(len(rules) > 0, prefix, rules, "at least one rule when backup is enabled")
    names = [rule.name for rule in rules]
    p.check(len(set(names)) == len(names), prefix, names, "unique rule names")
    for i, rule in enumerate(rules):
        key = f"{prefix}[{i}]"
        p.check(bool(re.match(r"^[A-Za-z0-9_.-]{1,50}$", rule.name)), f"{key}.name", rule.name, "1-50 of A-Z a-z 0-9 _ . -")
        p.check(bool(CRON.match(rule.schedule)), f"{key}.schedule", rule.schedule, "a cron expression such as cron(0 5 * * ? *)")
        _positive(p, f"{key}.delete_after_days", rule.delete_after_days)
        cold = rule.move_to_cold_storage_after_days
        if cold is not None and not cold_allowed:
            p.add(f"{key}.move_to_cold_storage_after_days", cold, "None: AWS Backup keeps no Aurora backups in cold storage")
        elif cold is not None:
            _positive(p, f"{key}.move_to_cold_storage_after_days", cold)
            if isinstance(cold, int) and isinstance(rule.delete_after_days, int):
                # AWS Backup keeps cold-storage recovery points at least 90 days.
                p.check(
                    rule.delete_after_days >= cold + 90,
                    f"{key}.delete_after_days",
                    rule.delete_after_days,
                    f">= move_to_cold_storage_after_days + 90 ({cold + 90})",
                )


def _backup(p: _Problems, cfg: EnvironmentConfig) -> None:
    backup = cfg.backup
    if cfg.name in ("staging", "prod"):
        p.check(backup.enabled is True, "backup.enabled", backup.enabled, f"True in {cfg.name}")
    if not backup.enabled:
        return
    _backup_rules(p, "backup.rules", backup.rules, cold_allowed=True)
    # PersonalPod's PostgreSQL store goes to the same locked vault, with rules of its own.
    _backup_rules(p, "database.backup_rules", cfg.database.backup_rules, cold_allowed=False)
    lock = backup.vault_lock_min_retention_days
    if cfg.is_production:
        p.check(lock is not None, "backup.vault_lock_min_retention_days", lock, "set in prod: the vault must be locked")
    if lock is not None:
        _positive(p, "backup.vault_lock_min_retention_days", lock)
        for key, rules in (("backup.rules", backup.rules), ("database.backup_rules", cfg.database.backup_rules)):
            shortest = min((r.delete_after_days for r in rules if isinstance(r.delete_after_days, int)), default=lock)
            # A locked vault refuses recovery points that would expire before its minimum.
            p.check(
                not isinstance(lock, int) or lock <= shortest,
                "backup.vault_lock_min_retention_days",
                lock,
                f"<= the shortest of {key}' delete_after_days ({shortest})",
            )


# What each setting accepts, as the services define it.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
PERFORMANCE_INSIGHTS_DAYS = (7, *(31 * months for months in range(1, 24)), 731)
MONITORING_INTERVALS = (1, 5, 10, 15, 30, 60)


def _half_steps(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high and float(value * 2).is_integer()


def _database(p: _Problems, cfg: EnvironmentConfig) -> None:
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
    if cfg.is_production:
        # The primary store of users' data: a config slip must never be able to delete it.
        p.check(db.deletion_protection is True, "database.deletion_protection", db.deletion_protection, "True in prod")
        p.check(db.removal_policy in ("snapshot", "retain"), "database.removal_policy", db.removal_policy, "'snapshot' or 'retain' in prod")
        p.check(not isinstance(days, int) or days >= 7, "database.backup_retention_days", days, ">= 7 in prod")


CLOUDTRAIL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:cloudtrail:[a-z0-9-]+:(?P<account>\d{12}):trail/[\w.-]{3,128}$")
IAM_ROLE = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")


def _audit_trail(p: _Problems, cfg: EnvironmentConfig) -> None:
    trail = cfg.audit_trail
    p.check(trail.mode in ("create", "organization", "off"), "audit_trail.mode", trail.mode, "create, organization or off")
    # An environment whose tables are protected holds data worth an audit trail.
    p.check(
        not (trail.mode == "off" and cfg.deletion_protection),
        "audit_trail.mode",
        trail.mode,
        "create or organization where tables are deletion-protected: that data needs a record of who read and wrote it",
    )
    for name in ("read_events", "management_events"):
        p.check(isinstance(getattr(trail, name), bool), f"audit_trail.{name}", getattr(trail, name), "True or False")
    if trail.mode == "organization":
        p.check(
            isinstance(trail.organization_trail_arn, str) and bool(CLOUDTRAIL_ARN.match(trail.organization_trail_arn)),
            "audit_trail.organization_trail_arn",
            trail.organization_trail_arn,
            "the organization trail's ARN, arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME",
        )
        return
    p.check(
        trail.organization_trail_arn is None,
        "audit_trail.organization_trail_arn",
        trail.organization_trail_arn,
        "None unless mode is organization",
    )
    if trail.mode == "off":
        return
    _positive_days = isinstance(trail.retention_days, int) and not isinstance(trail.retention_days, bool) and trail.retention_days > 0
    p.check(_positive_days, "audit_trail.retention_days", trail.retention_days, "a whole number of days > 0")
    p.check(
        trail.object_lock in (None, "COMPLIANCE", "GOVERNANCE"),
        "audit_trail.object_lock",
        trail.object_lock,
        "COMPLIANCE, GOVERNANCE or None",
    )
    p.check(
        trail.log_group_retention_days in LOG_RETENTION_DAYS,
        "audit_trail.log_group_retention_days",
        trail.log_group_retention_days,
        "a CloudWatch Logs retention: " + ", ".join(map(str, LOG_RETENTION_DAYS)),
    )
    for i, arn in enumerate(trail.reader_arns):
        p.check(
            isinstance(arn, str) and bool(IAM_ROLE.match(arn)),
            f"audit_trail.reader_arns[{i}]",
            arn,
            "an IAM role ARN arn:aws:iam::ACCOUNT:role/NAME",
        )


BACKUP_VAULT_ARN = re.compile(r"^arn:aws(-[a-z]+)*:backup:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):backup-vault:[A-Za-z0-9_.-]{2,50}$")


def _offsite(p: _Problems, cfg: EnvironmentConfig, region_ok) -> None:
    offsite = cfg.offsite
    if cfg.is_production:
        p.check(
            offsite.region is not None,
            "offsite.region",
            offsite.region,
            "a second region in prod: its backups and audit archive need a copy off-site",
        )
    if offsite.region is not None:
        p.check(
            region_ok(offsite.region) and offsite.region != cfg.region,
            "offsite.region",
            offsite.region,
            f"an AWS region other than the environment's ({cfg.region})",
        )
        p.check(cfg.backup.enabled, "offsite.region", offsite.region, "None unless backup.enabled: there is nothing to copy")
    if offsite.account_vault_arn is not None:
        p.check(
            isinstance(offsite.account_vault_arn, str) and bool(BACKUP_VAULT_ARN.match(offsite.account_vault_arn)),
            "offsite.account_vault_arn",
            offsite.account_vault_arn,
            "a backup vault ARN, arn:aws:backup:REGION:ACCOUNT:backup-vault:NAME",
        )


def _workload(p: _Problems, cfg: EnvironmentConfig) -> None:
    w = cfg.workload
    for name in ("read_million", "write_million", "table_gb", "expired_million", "database_gb"):
        value = getattr(w, name)
        p.check(_number(value) and value >= 0, f"workload.{name}", value, "a number >= 0")
    for name in ("item_kb", "trail_event_kb"):
        value = getattr(w, name)
        p.check(_number(value) and 0 < value <= 400, f"workload.{name}", value, "a number of KB > 0 and <= 400 (DynamoDB's item limit)")
    acu = w.database_average_acu
    db = cfg.database
    if acu is not None:
        p.check(
            _number(acu) and db.min_capacity_acu <= acu <= db.max_capacity_acu,
            "workload.database_average_acu",
            acu,
            f"None (the minimum) or a number within database.min_capacity_acu..max_capacity_acu ({db.min_capacity_acu}..{db.max_capacity_acu})",
        )


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)

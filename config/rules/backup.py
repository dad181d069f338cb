"""AWS Backup: plans, their rules, the vault lock; required where protection is 'protected' or 'production'."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

import re

from config.rules.aws import check_role_arns

CRON = re.compile(r"^cron\([^()]+\)$")


def _backup_rules(p: Problems, prefix: str, rules, *, cold_allowed: bool) -> None:
    p.check(len(rules) > 0, prefix, rules, "at least one rule when backup is enabled")
    names = [rule.name for rule in rules]
    p.check(len(set(names)) == len(names), prefix, names, "unique rule names")
    for i, rule in enumerate(rules):
        key = f"{prefix}[{i}]"
        p.check(bool(re.match(r"^[A-Za-z0-9_.-]{1,50}$", rule.name)), f"{key}.name", rule.name, "1-50 of A-Z a-z 0-9 _ . -")
        p.check(bool(CRON.match(rule.schedule)), f"{key}.schedule", rule.schedule, "a cron expression such as cron(0 5 * * ? *)")
        p.positive(f"{key}.delete_after_days", rule.delete_after_days)
        cold = rule.move_to_cold_storage_after_days
        if cold is not None and not cold_allowed:
            p.add(f"{key}.move_to_cold_storage_after_days", cold, "None: AWS Backup keeps no Aurora backups in cold storage")
        elif cold is not None:
            p.positive(f"{key}.move_to_cold_storage_after_days", cold)
            if isinstance(cold, int) and isinstance(rule.delete_after_days, int):
                # AWS Backup keeps cold-storage recovery points at least 90 days.
                p.check(
                    rule.delete_after_days >= cold + 90,
                    f"{key}.delete_after_days",
                    rule.delete_after_days,
                    f">= move_to_cold_storage_after_days + 90 ({cold + 90})",
                )


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    backup = cfg.backup
    if cfg.protection != "rebuildable":
        p.check(backup.enabled is True, "backup.enabled", backup.enabled, f"True where protection is {cfg.protection!r}")
    _restore_testing(p, cfg)
    if not backup.enabled:
        return
    _backup_rules(p, "backup.rules", backup.rules, cold_allowed=True)
    # PersonalPod's PostgreSQL store goes to the same locked vault, with rules of its own.
    _backup_rules(p, "database.backup_rules", cfg.database.backup_rules, cold_allowed=False)
    lock = backup.vault_lock_min_retention_days
    if cfg.protection == "production":
        p.check(
            lock is not None,
            "backup.vault_lock_min_retention_days",
            lock,
            f"set where protection is {cfg.protection!r}: the vault must be locked",
        )
        p.check(
            backup.vault_lock_mode == "compliance",
            "backup.vault_lock_mode",
            backup.vault_lock_mode,
            f"'compliance' where protection is {cfg.protection!r}: nobody may loosen the lock",
        )
    p.check(
        backup.vault_lock_mode in ("compliance", "governance"), "backup.vault_lock_mode", backup.vault_lock_mode, "compliance or governance"
    )
    check_role_arns(p, "backup.restore_principal_arns", backup.restore_principal_arns)
    most = backup.vault_lock_max_retention_days
    if lock is None:
        p.check(most is None, "backup.vault_lock_max_retention_days", most, "None unless vault_lock_min_retention_days is set")
    else:
        rules = (*backup.rules, *cfg.database.backup_rules)
        longest = max((r.delete_after_days for r in rules if isinstance(r.delete_after_days, int)), default=0)
        floor = max(longest, lock if isinstance(lock, int) else 0)
        p.check(
            isinstance(most, int) and not isinstance(most, bool) and most >= floor,
            "backup.vault_lock_max_retention_days",
            most,
            f"set with the lock, >= the longest rule's delete_after_days and the minimum ({floor}): a locked vault refuses longer retention",
        )
    if lock is not None:
        p.positive("backup.vault_lock_min_retention_days", lock)
        for key, rules in (("backup.rules", backup.rules), ("database.backup_rules", cfg.database.backup_rules)):
            shortest = min((r.delete_after_days for r in rules if isinstance(r.delete_after_days, int)), default=lock)
            # A locked vault refuses recovery points that would expire before its minimum.
            p.check(
                not isinstance(lock, int) or lock <= shortest,
                "backup.vault_lock_min_retention_days",
                lock,
                f"<= the shortest of {key}' delete_after_days ({shortest})",
            )


SCHEDULE = re.compile(r"^(cron\([^()]+\)|rate\(\d+ (minute|minutes|hour|hours|day|days)\))$")


def _restore_testing(p: Problems, cfg: EnvironmentConfig) -> None:
    """Restore tests restore what the vault holds, and page through the tamper alerts' rules."""
    tests = cfg.backup.restore_testing
    if tests is None:
        return
    p.check(cfg.backup.enabled is True, "backup.restore_testing", "set", "None unless backup.enabled: there is nothing to restore")
    p.check(
        cfg.audit_trail.mode in ("create", "organization"),
        "backup.restore_testing",
        "set",
        "None unless audit_trail.mode is create or organization: their failures page through the rules a trail feeds",
    )
    p.check(
        bool(isinstance(tests.schedule, str) and SCHEDULE.match(tests.schedule)),
        "backup.restore_testing.schedule",
        tests.schedule,
        "cron(...) or rate(N days|hours|minutes)",
    )
    for name, low, high in (("start_window_hours", 1, 168), ("keep_hours", 1, 168), ("window_days", 1, 365)):
        value = getattr(tests, name)
        p.check(
            isinstance(value, int) and not isinstance(value, bool) and low <= value <= high,
            f"backup.restore_testing.{name}",
            value,
            f"a whole number from {low} to {high}",
        )

"""Copies outside the primary region (and account): required where protection is 'production'."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

import re

from config.rules.aws import region_ok

BACKUP_VAULT_ARN = re.compile(r"^arn:aws(-[a-z]+)*:backup:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):backup-vault:[A-Za-z0-9_.-]{2,50}$")


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    offsite = cfg.offsite
    if cfg.protection == "production":
        p.check(
            offsite.region is not None,
            "offsite.region",
            offsite.region,
            f"a second region where protection is {cfg.protection!r}: its backups and audit archive need a copy off-site",
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
    _air_gapped(p, cfg)
    _table_copy_days(p, cfg)


def _table_copy_days(p: Problems, cfg: EnvironmentConfig) -> None:
    """Each names a backup rule, keeps its copies at least 7 days (an air-gapped vault's least)
    and no longer than the originals, and not below a standard vault's lock."""
    rules = {rule.name: rule for rule in cfg.backup.rules}
    floor = 7 if cfg.offsite.air_gapped else (cfg.backup.vault_lock_min_retention_days or 1)
    for name, days in cfg.offsite.table_copy_days.items():
        key = f"offsite.table_copy_days[{name!r}]"
        if name not in rules:
            p.check(False, key, days, f"a backup rule's name: one of {', '.join(rules) or '(none: backup.rules is empty)'}")
            continue
        p.check(
            isinstance(days, int) and not isinstance(days, bool) and floor <= days <= rules[name].delete_after_days,
            key,
            days,
            f"a whole number from {floor} (the off-site vault's lock) to {rules[name].delete_after_days} (the rule's own days)",
        )
        p.check(cfg.offsite.region is not None, key, days, "nothing unless offsite.region is set: there are no copies")


MPA_TEAM_ARN = re.compile(r"^arn:aws(-[a-z]+)*:mpa::(?P<account>\d{12}):approval-team/[\w-]+$")
# The shipped placeholder accounts (one digit twelve times): never a real team.
PLACEHOLDER_ACCOUNT = re.compile(r"^(\d)\1{11}$")


def _air_gapped(p: Problems, cfg: EnvironmentConfig) -> None:
    offsite = cfg.offsite
    if offsite.air_gapped:
        p.check(offsite.region is not None, "offsite.air_gapped", True, "False unless offsite.region is set: the vault is there")
        lock = cfg.backup.vault_lock_min_retention_days
        p.check(
            lock is not None and lock >= 7 and cfg.backup.vault_lock_max_retention_days is not None,
            "offsite.air_gapped",
            True,
            "False unless backup.vault_lock_min_retention_days (at least 7, an air-gapped vault's minimum) and _max_ are set",
        )
    team = offsite.mpa_approval_team_arn
    if team is not None:
        match = MPA_TEAM_ARN.match(team) if isinstance(team, str) else None
        p.check(
            bool(match) and not PLACEHOLDER_ACCOUNT.match(match["account"] if match else "") and offsite.air_gapped,
            "offsite.mpa_approval_team_arn",
            team,
            "a real multi-party approval team's ARN, arn:aws:mpa::ACCOUNT:approval-team/ID, with air_gapped (a vault's team "
            "cannot be taken back once set: no placeholder account)",
        )

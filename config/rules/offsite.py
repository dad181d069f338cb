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

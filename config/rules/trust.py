"""Other accounts: principals, the external topic and replica keys in another account only when that account is listed in trusted_accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import ACCOUNT


def _arn_account(arn: object) -> str | None:
    parts = arn.split(":") if isinstance(arn, str) else []
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and ACCOUNT.match(parts[4]) else None


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
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
        *((f"backup.restore_principal_arns[{i}]", arn) for i, arn in enumerate(cfg.backup.restore_principal_arns)),
        ("keys.break_glass_arn", cfg.keys.break_glass_arn),
        *((f"replicas[{i}].kms_key_arn", r.kms_key_arn) for i, r in enumerate(cfg.replicas)),
    ]
    for key, arn in foreign:
        owner = _arn_account(arn)
        if owner is not None and owner not in allowed:
            p.add(key, arn, f"an ARN in {trusted} account; list {owner} in trusted_accounts to trust it on purpose")

"""Who reaches the data (the app's service, the read-only and migration principals) and who governs the keys: never one that also reads the data."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import IAM_PRINCIPAL_ARN, SERVICE_PRINCIPAL, check_role_arns


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
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
        check_role_arns(p, f"access.{group}", getattr(acc, group))

    _keys(p, cfg, tuple(s.key for s in systems))


# Data roles this project creates per system; their names end in one of these.
DATA_ROLE_SUFFIXES = ("app", "readonly", "migration", "tenant", "backup", "archive-pipe", "archive-delivery")


def _keys(p: Problems, cfg: EnvironmentConfig, system_keys: tuple[str, ...]) -> None:
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

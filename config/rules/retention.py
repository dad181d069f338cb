"""Retention rules against the catalogue, and each environment's archive against them."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from config.model import EnvironmentConfig

from config import retention
from config.model import DEEP_ARCHIVE_MINIMUM_DAYS


def check_rules(tables: dict[str, dict[str, str | None]]) -> list[str]:
    """Problems with RETENTION against the catalogue: `tables` is system -> {table id: ttl attribute}."""
    problems = []
    for (system, table_id), rule in retention.RETENTION.items():
        where = f"retention[{system}.{table_id}]"
        if table_id not in tables.get(system, {}):
            problems.append(f"{where} names no table of the catalogue")
        elif tables[system][table_id] is None:
            problems.append(f"{where} needs a TTL attribute on the table to expire items")
        if rule.tier not in ("hot", "warm", "cold"):
            problems.append(f"{where}.tier = {rule.tier!r} is not allowed: hot, warm or cold")
        if not (isinstance(rule.days, int) and rule.days > 0):
            problems.append(f"{where}.days = {rule.days!r} is not allowed: a whole number > 0")
        elif rule.archive and not (isinstance(rule.table_days, int) and 0 < rule.table_days < rule.days):
            problems.append(
                f"{where}.table_days = {rule.table_days!r} is not allowed: a cold table's days in the table, "
                f"a whole number > 0 and < days ({rule.days}); the archive keeps the rest"
            )
        elif not rule.archive and rule.table_days is not None:
            problems.append(f"{where}.table_days = {rule.table_days!r} is not allowed: None for a {rule.tier} table (it is never archived)")
    return problems


def archive_problems(environments: Mapping[str, EnvironmentConfig]) -> list[str]:
    """Each archived table's days in the archive against every environment's Deep Archive
    transition (its minimum storage), and replicas (refused while tables are archived)."""
    too_short = [
        f"{env}: retention[{system}.{table_id}] keeps {rule.archive_days} days in the archive (days {rule.days} - table_days "
        f"{rule.table_days}), which is not allowed: >= archive.deep_archive_after_days + {DEEP_ARCHIVE_MINIMUM_DAYS} "
        f"({cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS}), Deep Archive's minimum"
        for env, cfg in environments.items()
        for system, table_id, rule in retention.archived()
        if rule.archive_days < cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS
    ]
    return too_short + replicated_archives(environments)


def replicated_archives(environments: Mapping[str, EnvironmentConfig]) -> list[str]:
    """Replicas need archive streams of NEW_AND_OLD_IMAGES first.

    A table with more than one replica needs a NEW_AND_OLD_IMAGES stream, and CloudFormation
    only changes a stream while the table has one replica; an archived table streams OLD_IMAGE
    to its archive pipe by default, and changing that stream cuts the pipe off (the deploy
    guard's STREAM-CHANGE). So replicas are allowed only once `archive.stream_view` is
    NEW_AND_OLD_IMAGES, which is a deployment of its own (docs/first-deploy.md).
    """
    tables = sorted(f"{system}.{table_id}" for system, table_id, _ in retention.archived())
    return [
        f"{env}.replicas = {tuple(r.region for r in cfg.replicas)!r} is not allowed while tables are archived "
        f"through OLD_IMAGE streams ({', '.join(tables)}): a multi-replica table needs a NEW_AND_OLD_IMAGES stream, "
        "and CloudFormation cannot change a stream once a table has more than one replica. First set "
        f"{env}.archive.stream_view = 'NEW_AND_OLD_IMAGES' in a deployment of their own (docs/first-deploy.md, "
        "'Replicas and archive streams'), then add one replica per deployment"
        for env, cfg in environments.items()
        if cfg.replicas and tables and cfg.archive.stream_view != "NEW_AND_OLD_IMAGES"
    ]

"""Configuration: the table catalogue, retention rules and the three environments.

`load()` is the only entry point; it validates everything before any construct is built.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.alarms import catalogue_problems as alarm_catalogue_problems
from config.catalogue import SYSTEMS, name_templates
from config.environments import ENVIRONMENTS
from config.model import EnvironmentConfig
from config.retention import RETENTION, RetentionRule, archived, check_rules
from config.validation import DEEP_ARCHIVE_MINIMUM_DAYS, ConfigError, catalogue_problems, select, validate

__all__ = ["ConfigError", "EnvironmentConfig", "RETENTION", "RetentionRule", "SYSTEMS", "archived", "load", "validate_all"]


def validate_all(environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> None:
    mistakes = alarm_catalogue_problems()
    if mistakes:
        raise ConfigError("invalid alarm catalogue (config/alarms.py):\n  " + "\n  ".join(mistakes))
    mistakes = catalogue_problems(SYSTEMS)
    if mistakes:
        raise ConfigError("invalid table catalogue (config/catalogue.py):\n  " + "\n  ".join(mistakes))
    problems = check_rules({s.key: {t.id: t.ttl_attribute for t in s.tables} for s in SYSTEMS})
    if problems:
        raise ConfigError("invalid retention rules:\n  " + "\n  ".join(problems))
    validate(environments, name_templates())
    too_short = [
        f"{env}: retention[{system}.{table_id}] keeps {rule.archive_days} days in the archive (days {rule.days} - table_days "
        f"{rule.table_days}), which is not allowed: >= archive.deep_archive_after_days + {DEEP_ARCHIVE_MINIMUM_DAYS} "
        f"({cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS}), Deep Archive's minimum"
        for env, cfg in environments.items()
        for system, table_id, rule in archived()
        if rule.archive_days < cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS
    ]
    problems = too_short + replicated_archives(environments)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def replicated_archives(environments: Mapping[str, EnvironmentConfig]) -> list[str]:
    """Replicas are refused while tables are archived through their streams.

    A table with more than one replica needs a NEW_AND_OLD_IMAGES stream, and CloudFormation
    only changes a stream while the table has one replica; an archived table streams OLD_IMAGE
    to its archive pipe, and changing that stream cuts the pipe off (the deploy guard's
    STREAM-CHANGE). So adding replicas to it would fail mid-deployment, or lose expirations.
    """
    tables = sorted(f"{system}.{table_id}" for system, table_id, _ in archived())
    return [
        f"{env}.replicas = {tuple(r.region for r in cfg.replicas)!r} is not allowed while tables are archived "
        f"through their streams ({', '.join(tables)}): a multi-replica table needs a NEW_AND_OLD_IMAGES stream, "
        "and CloudFormation cannot change a stream once a table has more than one replica. First move the "
        "archive streams to NEW_AND_OLD_IMAGES in a deployment of their own (docs/first-deploy.md, "
        "'Replicas and archive streams'), then add one replica per deployment"
        for env, cfg in environments.items()
        if cfg.replicas and tables
    ]


def load(selector: str | None = None, environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> tuple[EnvironmentConfig, ...]:
    """Validated configs of the selected environments (all when `selector` is empty)."""
    chosen = select(environments, selector)
    validate_all(environments)
    return chosen

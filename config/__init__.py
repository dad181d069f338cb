"""Configuration: the table catalogue, retention rules and the three environments.

`load()` is the only entry point; it validates everything before any construct is built.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.catalogue import SYSTEMS, name_templates
from config.environments import ENVIRONMENTS
from config.model import EnvironmentConfig
from config.retention import RETENTION, RetentionRule, archived, check_rules
from config.validation import DEEP_ARCHIVE_MINIMUM_DAYS, ConfigError, select, validate

__all__ = ["ConfigError", "EnvironmentConfig", "RETENTION", "RetentionRule", "SYSTEMS", "archived", "load", "validate_all"]


def validate_all(environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> None:
    problems = check_rules({s.key: {t.id: t.ttl_attribute for t in s.tables} for s in SYSTEMS})
    if problems:
        raise ConfigError("invalid retention rules:\n  " + "\n  ".join(problems))
    validate(environments, name_templates())
    too_short = [
        f"{env}: retention[{system}.{table_id}].days = {rule.days} is not allowed: >= archive.deep_archive_after_days + {DEEP_ARCHIVE_MINIMUM_DAYS} ({cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS}), Deep Archive's minimum"
        for env, cfg in environments.items()
        for system, table_id, rule in archived()
        if rule.days < cfg.archive.deep_archive_after_days + DEEP_ARCHIVE_MINIMUM_DAYS
    ]
    if too_short:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(too_short))


def load(selector: str | None = None, environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> tuple[EnvironmentConfig, ...]:
    """Validated configs of the selected environments (all when `selector` is empty)."""
    chosen = select(environments, selector)
    validate_all(environments)
    return chosen

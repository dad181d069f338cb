"""Configuration, in layers that import only downward:

1. errors.py: ConfigError and the Problems collector;
2. model.py: the types and constants;
3. the data: catalogue.py (systems and tables), alarms.py (the alarm catalogue), retention.py,
   environments.py;
4. rules/: every rule, one module per section;
5. here: `load()`, the only entry point, which validates everything before any construct is built.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from config.errors import ConfigError
from config.model import EnvironmentConfig
from config.rules import problems

__all__ = ["ConfigError", "ENVIRONMENTS", "EnvironmentConfig", "SYSTEMS", "load", "select", "validate_all"]


def validate_all(environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> None:
    """Raise one ConfigError naming every problem of the catalogues and `environments`."""
    found = problems(environments, SYSTEMS)
    if found:
        raise ConfigError("\n".join(f"{heading}:\n  " + "\n  ".join(lines) for heading, lines in found))


def select(configs: Mapping[str, EnvironmentConfig], selector: str | None) -> tuple[EnvironmentConfig, ...]:
    """The environments to synthesize: all by default, or the one named by `-c env=NAME`."""
    if selector in (None, ""):
        return tuple(configs.values())
    if selector not in configs:
        raise ConfigError(f"env = {selector!r} is not allowed: one of " + ", ".join(configs))
    return (configs[selector],)


def load(selector: str | None = None, environments: Mapping[str, EnvironmentConfig] = ENVIRONMENTS) -> tuple[EnvironmentConfig, ...]:
    """Validated configs of the selected environments (all when `selector` is empty)."""
    chosen = select(environments, selector)
    validate_all(environments)
    return chosen

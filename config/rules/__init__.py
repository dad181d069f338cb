"""Every rule config must satisfy, one module per section of an environment's config, plus the
catalogue's, the alarm catalogue's, retention's and the physical names'. `problems` runs them
all and returns one line per bad value, naming its key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from config.errors import Problems
from config.model import EnvironmentConfig
from config.rules import (
    access,
    alarms,
    alerts,
    archive,
    audit_trail,
    backup,
    billing,
    catalogue,
    ci,
    database,
    environment,
    names,
    offsite,
    replication,
    retention,
    trust,
    workload,
)
from constructs_lib.specs import SystemSpec

# Each section's check(problems, environment, systems), in the order their lines are reported.
SECTIONS = (
    environment.check,
    billing.check,
    alarms.check,
    alerts.check,
    access.check,
    ci.check,
    archive.check,
    backup.check,
    audit_trail.check,
    offsite.check,
    replication.check,
    database.check,
    workload.check,
    trust.check,
)


def problems(configs: Mapping[str, EnvironmentConfig], systems: Sequence[SystemSpec]) -> list[tuple[str, list[str]]]:
    """(heading, lines) of each group of problems found: the alarm catalogue, the table
    catalogue, retention, then the environments. An empty list: config is valid."""
    groups = [
        ("invalid alarm catalogue (config/alarms.py)", alarms.catalogue_problems()),
        ("invalid table catalogue (config/catalogue.py)", catalogue.catalogue_problems(systems)),
        ("invalid retention rules", retention.check_rules({s.key: {t.id: t.ttl_attribute for t in s.tables} for s in systems})),
    ]
    found = [(heading, lines) for heading, lines in groups if lines]
    if found:
        return found  # the environments are judged against a catalogue that is itself valid
    lines: list[str] = []
    for name, cfg in configs.items():
        if cfg.name != name:
            lines.append(f"{name}.name = {cfg.name!r} is not allowed: the environment's own name {name!r}")
        p = Problems(cfg.name)
        for check in SECTIONS:
            check(p, cfg, systems)
        lines += p.lines
    lines += names.check(configs, systems)
    lines += retention.archive_problems(configs)
    return [("invalid configuration", lines)] if lines else []

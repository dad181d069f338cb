"""What the tests expect to find, derived from config: which environments, stacks, tables and
pinned logical ids there are. Never what a protection must be: the required values (PITR on
with 35 days, Retain, deletion protection, encryption) stay literal in the tests, so a config
mistake cannot make a test agree with it. Environments are chosen by the fields that state
their intent (`protection`), not by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from config import ENVIRONMENTS, SYSTEMS
from config.model import EnvironmentConfig
from constructs_lib.specs import SystemSpec
from stacks.stage import stack_names

# Every environment, in config's order.
ENVS = list(ENVIRONMENTS)
# Environments whose data is worth keeping ("protected" or "production"): protections are
# required there (config/rules/environment.py) and the guard blocks their weakening.
PROTECTED = [name for name, cfg in ENVIRONMENTS.items() if cfg.protection != "rebuildable"]
REBUILDABLE = [name for name, cfg in ENVIRONMENTS.items() if cfg.protection == "rebuildable"]
PRODUCTION = [name for name, cfg in ENVIRONMENTS.items() if cfg.protection == "production"]
# Environments with this project's own audit trail (config audit_trail.mode).
AUDITED = [name for name, cfg in ENVIRONMENTS.items() if cfg.audit_trail.mode == "create"]
assert ENVS and PROTECTED and REBUILDABLE and PRODUCTION, "the tests need an environment of each protection level"


def table_count(systems: Sequence[SystemSpec] = SYSTEMS) -> int:
    """Tables of the catalogue, one of each per environment."""
    return sum(len(system.tables) for system in systems)


def stacks(cfg: EnvironmentConfig) -> list[str]:
    return stack_names(cfg)


def pinned_ids(stack_key: str, cfg: EnvironmentConfig, catalogue: Sequence[SystemSpec] = SYSTEMS) -> set[str]:
    """The logical ids of a stack's stateful resources, each pinned (constructs_lib/identity.py):
    a system's key and tables from the catalogue, the shared stacks' by what config turns on."""
    systems = {system.key: system for system in catalogue}
    if stack_key in systems:
        system = systems[stack_key]
        return {"KeyData", *(spec.logical_id for spec in system.tables), *(["KeyFieldEncryption"] if system.field_encryption else [])}
    if stack_key == "data-platform":
        return {
            "KeyAlerts",
            "AccessLogsBucket",
            "KeyArchive",
            "ArchiveBucket",
            "AuditArchiveBucket",
            *(["KeyBackup", "BackupVault"] if cfg.backup.enabled else []),
            *(["KeyAuditTrail", "AuditTrailBucket", "AuditTrail"] if cfg.audit_trail.mode == "create" else []),
        }
    if stack_key == "personalpod-database":
        return {"KeyDatabase", "DatabaseCluster", "DatabaseWriter", *(f"DatabaseReader{i}" for i in range(1, cfg.database.readers + 1))}
    raise KeyError(f"no pinned ids known for stack {stack_key!r}: add them to tests/expected.py")

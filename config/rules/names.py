"""Physical names built from an environment's name: each must stay within its service's own
limit and alphabet, checked here (one clear error) instead of by CloudFormation mid-deploy.
Tables must also be unique per account and region, across environments.

`physical_names` repeats the patterns the stacks and constructs name things by; a test
(tests/test_environments.py) checks that every such name in the synthesized templates is one
of these, so a new name pattern cannot slip past it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from config import retention
from config.rules.aws import TABLE_NAME

if TYPE_CHECKING:
    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

# (what, maximum length, allowed form) per kind of name, as each service documents it.
BUCKET = ("an S3 bucket name", 63, re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$"))
ROLE = ("an IAM role name", 64, re.compile(r"^[\w+=,.@-]+$"))
VAULT = ("a backup vault name", 50, re.compile(r"^[A-Za-z0-9_.-]+$"))
STACK = ("a CloudFormation stack name", 128, re.compile(r"^[A-Za-z][A-Za-z0-9-]*$"))
PIPE = ("an EventBridge pipe or Firehose stream name", 64, re.compile(r"^[A-Za-z0-9_.-]+$"))
QUEUE = ("an SQS queue name", 80, re.compile(r"^[A-Za-z0-9_-]+$"))
RESTORE_PLAN = ("an AWS Backup restore testing plan name", 50, re.compile(r"^[A-Za-z0-9_]+$"))
DB_IDENTIFIER = ("an RDS identifier", 63, re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"))
# The stacks of an environment besides one per system (stacks/stage.py).
SHARED_STACKS = ("data-platform", "ci-deploy", "data-offsite", "personalpod-database")
# Roles each system's stack creates (constructs_lib/roles.py, backup.py, archive.py).
SYSTEM_ROLES = ("app", "readonly", "migration", "tenant", "backup", "archive-pipe", "archive-delivery")


def physical_names(cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> list[tuple[str, tuple[str, int, re.Pattern]]]:
    """(name, kind) of every physical name built from `cfg`'s name, besides its tables'."""
    env, account = cfg.name, cfg.account
    regions = [cfg.region, *([cfg.offsite.region] if cfg.offsite.region else [])]
    offsite = ["", *(["-offsite"] if cfg.offsite.region else [])]
    names: list[tuple[str, tuple[str, int, re.Pattern]]] = [
        *((f"{s.key}-{env}", STACK) for s in systems),
        *((f"{stack}-{env}", STACK) for stack in SHARED_STACKS),
        *(
            (f"data-{kind}-{env}{o}-{account}-{region}", BUCKET)
            for kind in ("access-logs", "audit-archive")
            for o, region in zip(offsite, regions, strict=True)
        ),
        *((f"data-{kind}-{env}-{account}-{cfg.region}", BUCKET) for kind in ("archive", "audit-trail")),
        *([(f"data-audit-trail-{env}-offsite-{account}-{cfg.offsite.region}", BUCKET)] if cfg.offsite.region else []),
        (f"data-audit-trail-{env}-replication", ROLE),
        *((f"{s.key}-{env}-{role}", ROLE) for s in systems for role in SYSTEM_ROLES),
        (f"personalpod-database-{env}-backup", ROLE),
        (f"data-audit-archive-{env}-replication", ROLE),
        (f"cdk-deploy-{env}", ROLE),
        *((f"data-tamper-alerts-{env}-{region}", ROLE) for region in regions),  # and its managed policy (128 allowed)
        (f"data-denied-calls-{env}", QUEUE),
        (f"data-restore-tests-{env}", ROLE),
        (f"data-restore-validation-{env}", ROLE),  # and its function
        (f"data_restore_tests_{env}", RESTORE_PLAN),
        *((f"data-tables-{env}{o}", VAULT) for o in offsite),
        *([(f"data-tables-{env}-airgapped", VAULT)] if cfg.offsite.air_gapped else []),
        (f"personalpod-{env}", DB_IDENTIFIER),
        (f"personalpod-{env}-writer", DB_IDENTIFIER),
        *(
            (f"personalpod-{env}-reader-{i}", DB_IDENTIFIER)
            for i in range(1, cfg.database.readers + 1 if isinstance(cfg.database.readers, int) else 1)
        ),
    ]
    by_key = {s.key: s for s in systems}
    for system, table_id, _ in retention.archived():
        if system not in by_key:
            continue
        spec = by_key[system].table(table_id)
        archive = f"{cfg.table_name(system, table_id, spec.name)}-archive"
        names += [(archive, PIPE), (f"{archive}-drain", PIPE), (f"{archive}-buffer", QUEUE), (f"{archive}-held", QUEUE)]
        names.append((f"{system}-{env}-archive-dlq", QUEUE))
    return names


def check(configs: Mapping[str, EnvironmentConfig], systems: Sequence[SystemSpec]) -> list[str]:
    """Every environment's physical names, and its tables' names across all environments."""
    lines: list[str] = []
    owners: dict[tuple[str, str, str], str] = {}
    known = {f"{s.key}.{spec.id}" for s in systems for spec in s.tables}
    orders: dict[object, str] = {}
    for cfg in configs.values():
        other = orders.setdefault(cfg.deploy_order, cfg.name)
        if other != cfg.name:
            lines.append(f"{cfg.name}.deploy_order = {cfg.deploy_order!r} is not allowed: {other} has it; each environment its own place")
        if isinstance(cfg.name, str) and re.match(r"^[a-z][a-z0-9]*$", cfg.name):
            for name, (what, limit, form) in dict(physical_names(cfg, systems)).items():
                if len(name) > limit or not form.match(name):
                    lines.append(
                        f"{cfg.name}.name = {cfg.name!r} is not allowed: it makes {what} {name!r} ({len(name)} characters), "
                        f"and {what} is at most {limit} characters of {form.pattern}; choose a shorter name"
                    )
        for key in cfg.table_name_overrides:
            if key not in known:
                lines.append(
                    f"{cfg.name}.table_name_overrides[{key!r}] is not allowed: a table of the catalogue, one of " + ", ".join(sorted(known))
                )
        for system in systems:
            for spec in system.tables:
                physical = cfg.table_name(system.key, spec.id, spec.name)
                where = f"{cfg.name}.{system.key}.{spec.id}"
                if not TABLE_NAME.match(physical):
                    lines.append(f"{where} table name {physical!r} is not allowed: 3-255 characters of A-Z a-z 0-9 _ . -")
                # Table names are unique per account and region, across environments too.
                slot = (cfg.account, cfg.region, physical)
                if slot in owners:
                    lines.append(
                        f"{where} table name {physical!r} is not allowed: {owners[slot]} already uses it in account {cfg.account} {cfg.region}"
                    )
                owners.setdefault(slot, where)
    return lines

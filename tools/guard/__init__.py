"""deploy-guard: refuse CloudFormation changes that lose data or fail half-way.

Usage: python -m tools guard [--json] [--env NAME]... [--accept RULE-ID:stack/LogicalId]... [--accept-file PATH]
                    BASELINE CANDIDATE

BASELINE and CANDIDATE are each a CDK cloud assembly (a directory with
manifest.json, nested Stage assemblies followed), or a directory searched
recursively for *.template.json files or wrapped snapshot *.json files
({"stack": {"name": ..., "terminationProtection": ...}, "template": {...}}).
Stacks are matched by stack name. A stack belongs to the environment its name
ends in ("daylight-prod": prod); the stacks of an environment whose config says its data is
protected (`protection` other than "rebuildable") may not have their protections weakened. --env NAME compares only that environment's
stacks (for a candidate synthesized with `-c env=NAME`).

Deliberate hazards are acknowledged, not switched off: each acceptance names one
rule, stack and logical id, and (in deploy-guard.accept or --accept-file) a reason.
Accepted findings are still printed.

Warnings (a change that is safe but needs care) are printed and do not fail.
Exit codes: 0 safe (or every hazard accepted), 1 unaccepted hazards, 2 usage error.

Standard library and config (plain Python) only, on purpose: the guard has to run in CI and
against old git refs without installing (or importing) the CDK. See docs/deploy-guard.md.

    tools.guard.model    stateful types, rules, findings, shared helpers
    tools.guard.checks   checks on one logical id (replacement, keys, GSIs, TTL, streams, ...)
    tools.guard.stacks   checks on whole stacks (removed, moved, renamed) and `compare`
    tools.guard.cli      acceptances, output, exit codes
Stacks are read by tools.assembly, the reader every tool shares.
"""

from tools.assembly import canon, load_stacks, props
from tools.guard.cli import main, parse_acceptance, read_acceptances
from tools.guard.model import (
    ACTION,
    ORPHAN_ROUTE,
    PHYSICAL_NAME,
    PROTECTION_METADATA,
    RULES,
    STATEFUL_TYPES,
    TABLE_TYPES,
    Finding,
    Rule,
    UsageError,
    protected,
)
from tools.guard.stacks import compare

__all__ = [
    "ACTION",
    "ORPHAN_ROUTE",
    "PHYSICAL_NAME",
    "PROTECTION_METADATA",
    "RULES",
    "STATEFUL_TYPES",
    "TABLE_TYPES",
    "Finding",
    "Rule",
    "UsageError",
    "canon",
    "compare",
    "load_stacks",
    "main",
    "parse_acceptance",
    "props",
    "protected",
    "read_acceptances",
]

"""Write docs/data-model.md and docs/data-model/<system>.md from the synthesized templates.

Keys, GSIs, TTL, billing, PITR, protection, alarms, roles and KMS keys are read from the
CloudFormation templates, so the docs describe what would be deployed rather than what the
code meant to declare. The prose comes from config: access patterns and descriptions from
config/catalogue.py, retention from config/retention.py, account, region, termination
protection and alert channels from config/environments.py. Each system's design decisions are
hand-written in docs/data-model/decisions/<system>.md and included verbatim.

    python -m tools docs                      # synthesize in-process, write the docs
    python -m tools docs --assembly cdk.out   # read the templates `make synth` wrote
    python -m tools docs --check              # write nothing; exit 1 naming stale files

Stacks are read through tools.assembly (an in-process synthesis is read back from its cloud
assembly like cdk.out), tables through tools.tables.table_def; tools.docs.facts formats what
the pages show, tools.docs.render lays the pages out.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from config.catalogue import SYSTEMS
from tools.docs.facts import DataModelError, Stacks, all_tables, roles
from tools.docs.index_page import index_page
from tools.docs.render import BANNER, DECISIONS, roles_section, system_page
from tools.docs.sources import from_assembly, synthesize
from tools.synth import ROOT

__all__ = [
    "BANNER",
    "DECISIONS",
    "INDEX",
    "PAGES",
    "ROOT",
    "DataModelError",
    "generate",
    "main",
    "roles",
    "roles_section",
    "stale",
    "synthesize",
    "write",
]

INDEX = "docs/data-model.md"
PAGES = "docs/data-model"


def generate(stacks: Stacks, root: Path = ROOT) -> dict[str, str]:
    """Relative path -> content of every generated doc, from stacks by name (tools.assembly.Stack)."""
    tables = all_tables(stacks)
    docs = {INDEX: index_page(stacks, tables)}
    for system in SYSTEMS:
        docs[f"{PAGES}/{system.key}.md"] = system_page(system, stacks, tables[system.key], root)
    return docs


def stale(docs: Mapping[str, str], root: Path = ROOT) -> list[str]:
    """Generated files whose committed copy differs or is missing, and pages no system generates."""
    changed = [p for p, text in docs.items() if not (root / p).is_file() or (root / p).read_text() != text]
    orphans = [str(p.relative_to(root)) for p in (root / PAGES).glob("*.md") if str(p.relative_to(root)) not in docs]
    return sorted(changed + orphans)


def write(docs: Mapping[str, str], root: Path = ROOT) -> list[str]:
    paths = stale(docs, root)
    for rel in paths:
        target = root / rel
        if rel in docs:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(docs[rel])
        else:
            target.unlink()  # a page of a system the catalogue no longer has
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools docs", description=__doc__.splitlines()[0])
    parser.add_argument("--assembly", type=Path, help="read templates from this cloud assembly (e.g. cdk.out) instead of synthesizing")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 and name the files that differ")
    args = parser.parse_args(argv)
    try:
        docs = generate(from_assembly(args.assembly) if args.assembly else synthesize())
    except DataModelError as error:
        print(f"docs: {error}", file=sys.stderr)
        return 2
    if args.check:
        paths = stale(docs)
        for path in paths:
            print(f"stale: {path}", file=sys.stderr)
        if paths:
            print("the data-model docs are out of date: run `make docs` and commit the result", file=sys.stderr)
        return 1 if paths else 0
    paths = write(docs)
    print("\n".join(f"wrote {p}" for p in paths) or f"up to date: {len(docs)} files")
    return 0

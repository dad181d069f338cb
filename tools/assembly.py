"""The one reader of synthesized output, for every tool: cloud assemblies (`cdk.out`, nested
Stage assemblies followed), directories of `*.template.json`, and directories of the
tests' wrapped snapshots ({"stack": {...}, "template": {...}}).

Standard library only: the deploy guard and the change summary import it, and they must run
against an old git ref's snapshots without installing (or importing) the CDK.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ASSET_HASH = re.compile(r"^[0-9a-f]{64}(\.json|\.zip)?$")
# Metadata that differs between builds (construct paths, asset locations) without being a change.
_BUILD_METADATA = ("aws:cdk:path", "aws:asset:")


class AssemblyError(Exception):
    """The input cannot be read: missing, malformed, or without the stacks asked for."""


@dataclass(frozen=True)
class Stack:
    """One synthesized stack, whatever form it was read from."""

    name: str  # CloudFormation stack name, e.g. "daylight-dev"
    environment: str  # the Stage's name, an environment of config (the stack name's last part)
    template: dict
    termination_protection: bool | None = None  # None: the input form does not say
    account: str = ""
    region: str = ""
    source: str = ""  # the file it came from, for messages
    # From a cloud assembly only: the stacks this one is deployed after (by stack name), and the
    # role `cdk deploy` assumes for it (${AWS::Partition} unresolved).
    dependencies: tuple[str, ...] = ()
    assume_role_arn: str = ""

    @property
    def resources(self) -> dict[str, dict]:
        found = self.template.get("Resources") if isinstance(self.template, dict) else None
        return {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}


def environment_of(stack_name: str) -> str:
    """The environment a stack belongs to: its name's last part ("daylight-prod" -> "prod")."""
    return stack_name.rsplit("-", 1)[-1]


def canon(value: Any) -> str:
    """Canonical JSON, so key order and intrinsic spelling don't matter."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def props(resource: dict) -> dict:
    value = resource.get("Properties")
    return value if isinstance(value, dict) else {}


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise AssemblyError(f"cannot read {path}: {error}") from error


def _account_region(environment: str) -> tuple[str, str]:
    # "aws://<account>/<region>"; CDK writes "unknown-account"/"unknown-region" when not set.
    parts = environment.removeprefix("aws://").split("/")
    return (parts[0], parts[1]) if len(parts) == 2 else ("", "")


def read_assembly(directory: Path, stage: str | None = None) -> Iterator[Stack]:
    """Every stack artifact of a cloud assembly, nested Stage assemblies followed."""
    manifest = read_json(directory / "manifest.json")
    artifacts = (manifest.get("artifacts") if isinstance(manifest, dict) else None) or {}
    # Dependencies name artifact ids of the same manifest; stacks are known by stack name.
    names = {
        aid: (a.get("properties") or {}).get("stackName") or aid
        for aid, a in artifacts.items()
        if a.get("type") == "aws:cloudformation:stack"
    }
    for artifact_id, artifact in sorted(artifacts.items()):
        properties = artifact.get("properties") or {}
        if artifact.get("type") == "aws:cloudformation:stack":
            template_path = directory / properties.get("templateFile", f"{artifact_id}.template.json")
            name = names[artifact_id]
            account, region = _account_region(artifact.get("environment", ""))
            # CDK writes terminationProtection explicitly; absent means CloudFormation's default (off).
            yield Stack(
                name,
                stage or environment_of(name),
                read_json(template_path),
                bool(properties.get("terminationProtection", False)),
                account,
                region,
                str(template_path),
                tuple(names[d] for d in artifact.get("dependencies") or () if d in names),
                str(properties.get("assumeRoleArn") or ""),
            )
        elif artifact.get("type") == "cdk:cloud-assembly":
            if "directoryName" not in properties:
                raise AssemblyError(f"{directory / 'manifest.json'}: nested assembly {artifact_id} has no directoryName")
            yield from read_assembly(directory / properties["directoryName"], properties.get("displayName"))


def scan_files(directory: Path) -> Iterator[Stack]:
    """Wrapped snapshots and plain templates found anywhere under `directory`."""
    for path in sorted(directory.rglob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            print(f"warning: skipping {path}: {error}", file=sys.stderr)
            continue
        if not isinstance(doc, dict):
            continue
        if isinstance(doc.get("stack"), dict) and isinstance(doc.get("template"), dict):
            meta = doc["stack"]
            name = meta.get("name") or path.stem
            protection = meta.get("terminationProtection")
            account, region = _account_region(str(meta.get("environment", "")))
            yield Stack(
                name,
                environment_of(name),
                doc["template"],
                protection if isinstance(protection, bool) else None,
                account,
                region,
                str(path),
            )
        elif path.name.endswith(".template.json") or isinstance(doc.get("Resources"), dict):
            name = path.name.removesuffix(".json").removesuffix(".template")
            yield Stack(name, environment_of(name), doc, None, source=str(path))


def load_stacks(location: str | Path, environments: Iterable[str] = ()) -> dict[str, Stack]:
    """Stacks by name from an assembly or a template/snapshot directory, optionally only those
    of the given environments. Raises AssemblyError with a message a person can act on."""
    directory = Path(location)
    if not directory.is_dir():
        raise AssemblyError(f"{location}: no such directory")
    is_assembly = (directory / "manifest.json").is_file()
    stacks: dict[str, Stack] = {}
    for stack in read_assembly(directory) if is_assembly else scan_files(directory):
        if stack.name in stacks:
            raise AssemblyError(f"stack {stack.name!r} found twice: {stacks[stack.name].source} and {stack.source}")
        stacks[stack.name] = stack
    if not stacks:
        raise AssemblyError(
            f"{location}: no stacks found (expected a cloud assembly with manifest.json, "
            "*.template.json files or wrapped snapshot *.json files)"
        )
    wanted = list(environments)
    if wanted:
        chosen = {name: s for name, s in stacks.items() if s.environment in wanted}
        if not chosen:
            found = ", ".join(sorted({s.environment for s in stacks.values()}))
            raise AssemblyError(
                f"{location}: no stacks of environment {', '.join(wanted)} (stack names end in the environment; found: {found})"
            )
        stacks = chosen
    return stacks


def normalise(template: dict) -> dict:
    """A template (or one resource) without what churns on every build or CDK upgrade but is
    not a change: asset hashes and construct-path/asset metadata. Nothing the deploy guard
    judges is touched."""
    clean = copy.deepcopy(template)
    found = clean.get("Resources")
    resources = found if isinstance(found, dict) else {"": clean}
    for resource in resources.values():
        metadata = resource.get("Metadata") if isinstance(resource, dict) else None
        if isinstance(metadata, dict):
            for key in [k for k in metadata if k.startswith(_BUILD_METADATA)]:
                del metadata[key]
            if not metadata:
                del resource["Metadata"]

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        match = _ASSET_HASH.match(node) if isinstance(node, str) else None
        return "<asset-hash>" + (match.group(1) or "") if match else node

    return scrub(clean)


def main(argv: list[str]) -> int:
    """`python -m tools stacks [cdk.out]`: every stack of an assembly, a line each."""
    root = Path(argv[0] if argv else "cdk.out")
    try:
        stacks = list(read_assembly(root))
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not stacks:
        print(f"no stacks in {root}", file=sys.stderr)
        return 1
    for s in stacks:
        env = f"aws://{s.account}/{s.region}"
        try:
            shown = Path(s.source).relative_to(Path.cwd())
        except ValueError:
            shown = Path(s.source)
        print(f"{s.name:32} {env:32} {len(s.resources):4d} resources  {shown}")
    print(f"{len(stacks)} stack templates in {root}")
    return 0

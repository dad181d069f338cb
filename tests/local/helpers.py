"""Helpers for the tests against the local AWS stand-in (fixtures are in conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
sys.path.insert(0, str(ROOT / "tools"))
import local_stack  # noqa: E402
import templates  # noqa: E402

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def _no_scan(**_kwargs):
    raise AssertionError("Scan called: every access pattern must be a Query or GetItem on a key or index")


def aws_session(region: str) -> boto3.Session:
    """A boto3 session for the stand-in; any Scan through it fails the test."""
    session = boto3.Session(region_name=region, **CREDENTIALS)
    session.events.register("before-call.dynamodb.Scan", _no_scan)
    return session


def in_region(tables, region: str):
    """The same tables placed in another region: an isolated copy inside the one moto server."""
    return [dataclasses.replace(t, region=region) for t in tables]


def recreate(endpoint: str, tables) -> None:
    """Drop the tables if present (deletion protection off first), then create them afresh."""
    clients = {region: local_stack.clients(endpoint, region)[0] for region in {t.region for t in tables}}
    for table in tables:
        dynamodb = clients[table.region]
        try:
            dynamodb.update_table(TableName=table.name, DeletionProtectionEnabled=False)
            dynamodb.delete_table(TableName=table.name)
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
    local_stack.create_tables(endpoint, tables)


def write_assembly(root: Path, stacks) -> Path:
    """A cloud assembly shaped like `cdk synth`'s: root manifest -> one nested assembly per
    environment -> stack templates."""
    root.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    by_env: dict[str, list] = {}
    for stack in stacks:
        by_env.setdefault(stack.environment, []).append(stack)
    for env, env_stacks in by_env.items():
        nested = root / f"assembly-{env}"
        nested.mkdir(exist_ok=True)
        nested_artifacts = {}
        for stack in env_stacks:
            artifact_id = stack.name.replace("-", "")
            (nested / f"{artifact_id}.template.json").write_text(json.dumps(stack.template))
            nested_artifacts[artifact_id] = {
                "type": "aws:cloudformation:stack",
                "environment": f"aws://{stack.account}/{stack.region}",
                "properties": {"templateFile": f"{artifact_id}.template.json", "stackName": stack.name},
            }
        (nested / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": nested_artifacts}))
        artifacts[f"assembly-{env}"] = {"type": "cdk:cloud-assembly", "properties": {"directoryName": f"assembly-{env}", "displayName": env}}
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root

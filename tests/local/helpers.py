"""Helpers for the tests against the local AWS stand-in (fixtures are in conftest.py).

The /proc readers here are the tests' own, independent of the stand-in code under test
(tools.local.stand_in), so a bug there cannot hide itself from the tests.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import boto3

from tools import tables
from tools.local import stand_in as local_stack

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

__all__ = [
    "CREDENTIALS",
    "ROOT",
    "SAMPLES",
    "aws_session",
    "cli_env",
    "in_region",
    "is_moto_server",
    "kill_moto",
    "local_stack",
    "proc_argv",
    "proc_state",
    "recreate",
    "tables",
    "tool",
    "write_assembly",
]


def tool(command: str, python: Path | str = sys.executable) -> list[str]:
    """The argv prefix of a tool's command line, `python -m tools COMMAND`, e.g.
    tool("verify") + ["--env", "dev"]. The subprocess needs the repository root importable: give
    it cli_env(), or cwd=ROOT."""
    return [str(python), "-m", "tools", command]


def cli_env(**variables: str) -> dict[str, str]:
    """An environment for a tool's subprocess: the repository root on PYTHONPATH (so `tools`
    and `config` import from any cwd), one AWS attempt (as tests/conftest.py sets for the tests
    themselves), plus `variables`."""
    return {"PYTHONPATH": str(ROOT), "AWS_MAX_ATTEMPTS": os.environ["AWS_MAX_ATTEMPTS"], **variables}


def in_process(main: Callable[[list[str]], int], monkeypatch, capsys, **environment: str) -> Callable[..., subprocess.CompletedProcess]:
    """A tool's main() run as its subprocess twin would run it, for the cases where the
    interpreter's start (a third of a second) is not what is tested: `environment` set, no
    AWS_PROFILE, and the exit code and output in the same result shape."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)

    def run(*args: str) -> subprocess.CompletedProcess:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess([], code, out, err)

    return run


# --- processes, read from /proc


def proc_state(pid: int) -> str | None:
    """The state letter of a process ("S", "R", "Z", ...); None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat.rpartition(b")")[2].split()
    return fields[0].decode() if fields else None


def proc_argv(pid: int) -> list[str]:
    try:
        return [os.fsdecode(arg) for arg in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]
    except OSError:
        return []


def is_moto_server(pid: int) -> bool:
    """A live (not zombie) process whose argv holds `-m moto.server`."""
    argv = proc_argv(pid)
    return proc_state(pid) not in (None, "Z", "X") and any(a == "-m" and b == "moto.server" for a, b in zip(argv, argv[1:], strict=False))


def kill_moto(pid: int) -> bool:
    """SIGTERM, then SIGKILL, the moto server `pid`, if it is one; True if it was one."""
    if not is_moto_server(pid):
        return False
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + 5
        while is_moto_server(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not is_moto_server(pid):
            return True
    raise AssertionError(f"moto server pid {pid} survived SIGTERM and SIGKILL")


# --- tables


def _no_scan(**_kwargs):
    raise AssertionError("Scan called: every access pattern must be a Query or GetItem on a key or index")


@functools.cache
def aws_session(region: str) -> boto3.Session:
    """A boto3 session for the stand-in, one per region (a session loads the service models
    once, and every client made from it reuses them); any Scan through it fails the test."""
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
    assert by_env, "write_assembly needs at least one stack"
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
        artifacts[f"assembly-{env}"] = {
            "type": "cdk:cloud-assembly",
            "properties": {"directoryName": f"assembly-{env}", "displayName": env},
        }
    (root / "manifest.json").write_text(json.dumps({"version": "55.0.0", "artifacts": artifacts}))
    return root

"""The local AWS stand-in: a moto server on loopback holding one environment's tables and samples.

    python -m tools local up [--port 8000] [--env dev] [--assembly cdk.out] [--samples samples]
    python -m tools local down

`up` starts `python -m moto.server` on 127.0.0.1 in the background (its pid in .local/moto.pid,
its log in .local/moto.log), creates every table of the environment exactly as the synthesized
templates declare it (tools.tables), loads samples/<system>.json, prints what it made and
returns. Run again it reuses the running server, leaves existing tables alone and rewrites the
same sample items. `down` stops exactly the process in the pid file, if it is still ours, and
removes the pid file only once that process is gone.

Encryption: each stack's customer-managed KMS key is mirrored as a moto KMS key under the
template's alias, and tables are created with SSE on it. moto does not encrypt anything, but
DescribeTable then reports the same SSE settings as AWS, so verify-deployment checks the
stand-in exactly as it checks a deployment. See docs/local.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.catalogue import SYSTEMS
from config.rules.samples import sample_problems
from tools.assembly import AssemblyError
from tools.local.fusion_entries import daily_summaries, load_json, parse
from tools.local.fusion_import import batch_write
from tools.tables import KmsKey, TableDef, load_environment
from tools.tables import tables as read_tables

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"  # loopback only: nothing outside this machine can reach the stand-in
STATE_DIR = ROOT / ".local"  # git-ignored; holds moto.pid and moto.log
# moto accepts any credentials; fixed ones keep the tools away from real AWS profiles.
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
START_TIMEOUT_S = 20
STOP_TIMEOUT_S = 10  # after SIGTERM, before SIGKILL
KILL_TIMEOUT_S = 5  # after SIGKILL, before giving up (and keeping the pid file)
# Linux: each process's full argv and state. Plain `ps` cuts its output to the terminal width
# (e.g. COLUMNS=80), which behind a long checkout path loses `-m moto.server`.
PROC = Path("/proc")


class LocalError(Exception):
    """Something the person running `make local` has to fix; the message says what."""


# --- tables and samples (used by `up` and by tests/local)


@functools.cache
def clients(endpoint: str, region: str) -> tuple[Any, Any]:
    """DynamoDB and KMS clients for the stand-in, made once per endpoint and region: making a
    botocore client costs tens of milliseconds, and the import and the tests ask often."""
    import boto3

    session = boto3.Session(region_name=region, **CREDENTIALS)
    return session.client("dynamodb", endpoint_url=endpoint), session.client("kms", endpoint_url=endpoint)


def ensure_key(kms, key: KmsKey | None) -> str | None:
    """The ARN of the local stand-in for a template's KMS key, created on first use."""
    if key is None or not key.logical_id:
        return None  # AWS-owned or AWS managed key: DynamoDB (and moto) handle it
    if key.alias:
        try:
            return kms.describe_key(KeyId=key.alias)["KeyMetadata"]["Arn"]
        except kms.exceptions.NotFoundException:
            pass
    arn = kms.create_key(Description=key.description)["KeyMetadata"]["Arn"]
    if key.alias:
        kms.create_alias(AliasName=key.alias, TargetKeyId=arn)
    return arn


def create_table(dynamodb, kms, table: TableDef) -> str:
    """Create one table with everything its template declares; "created" or "exists"."""
    try:
        dynamodb.describe_table(TableName=table.name)
        return "exists"
    except dynamodb.exceptions.ResourceNotFoundException:
        pass
    dynamodb.create_table(**table.create_table_params(ensure_key(kms, table.kms_key)))
    dynamodb.get_waiter("table_exists").wait(TableName=table.name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if table.ttl_attribute:
        dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute})
    if table.pitr_enabled:
        spec: dict[str, bool | int] = {"PointInTimeRecoveryEnabled": True}
        if table.pitr_days:
            spec["RecoveryPeriodInDays"] = table.pitr_days
        dynamodb.update_continuous_backups(TableName=table.name, PointInTimeRecoverySpecification=spec)
    return "created"


def create_tables(endpoint: str, tables: list[TableDef]) -> dict[str, str]:
    """table name -> "created" | "exists"."""
    by_region: dict[str, tuple[Any, Any]] = {}
    result = {}
    for table in tables:
        if table.region not in by_region:
            by_region[table.region] = clients(endpoint, table.region)
        result[table.name] = create_table(*by_region[table.region], table)
    return result


def load_samples(endpoint: str, tables: list[TableDef], samples: Path) -> dict[str, int]:
    """Write every system's sample items; table name -> items written.

    samples/<system>.json is {"tables": {"<catalogue table id>": [item, ...]}} with items in
    plain JSON. Fusion health ships the seed's own entries.json instead, and it is loaded through
    the real importer so that the sample also exercises the derived GSI attributes.
    """
    by_system: dict[str, dict[str, TableDef]] = defaultdict(dict)
    for table in tables:
        by_system[table.system][table.id] = table
    # Every bad item at once, named, before anything is written.
    problems = sample_problems([s for s in SYSTEMS if s.key in by_system], samples)
    if problems:
        raise LocalError("sample items that do not fit the catalogue:\n  " + "\n  ".join(problems))
    counts = {}
    for system, system_tables in sorted(by_system.items()):
        region = next(iter(system_tables.values())).region
        dynamodb, _ = clients(endpoint, region)
        if system == "fusion-health":
            items, rejected = parse(load_json(samples / "fusion-health" / "entries.json"))
            if rejected:
                raise LocalError(f"samples/fusion-health/entries.json has rejected entries: {'; '.join(map(str, rejected))}")
            batches = {"Entries": items, "DailySummaries": daily_summaries(items, rejected)}
        else:
            batches = _sample_file(samples / f"{system}.json", system_tables)
        for table_id, items in batches.items():
            batch_write(dynamodb, system_tables[table_id].name, items)
            counts[system_tables[table_id].name] = len(items)
    return counts


def _sample_file(path: Path, system_tables: dict[str, TableDef]) -> dict[str, list[dict]]:
    if not path.is_file():
        raise LocalError(f"{path} not found: every system with tables ships sample data there")
    data = json.loads(path.read_text(), parse_float=Decimal)
    batches = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(batches, dict):
        raise LocalError(f'{path} must be {{"tables": {{"<table id>": [items]}}}}')
    unknown = sorted(set(batches) - set(system_tables))
    if unknown:
        raise LocalError(f"{path} names tables {unknown}; this system's tables are {sorted(system_tables)}")
    return batches


# --- the server process


def _pid_file(state: Path) -> Path:
    return state / "moto.pid"


def _log_file(state: Path) -> Path:
    return state / "moto.log"


def running_pid(state: Path = STATE_DIR) -> int | None:
    """The pid in <state>/moto.pid if that process is still the moto server we started."""
    try:
        pid = int(_pid_file(state).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if _server_args(pid) else None


def _server_args(pid: int) -> list[str] | None:
    """The full argv of `pid` if it is a live moto server (not a zombie, not a reused pid)."""
    process = _process(pid)
    if process is None:
        return None
    state, argv = process
    return argv if state not in ("Z", "X") and _is_moto_server(argv) else None


def _exiting(pid: int) -> bool:
    """True while `pid` is on its way out: the kernel has already emptied its command line but
    it is not yet a zombie (a pid reused by another program has a command line again)."""
    process = _process(pid)
    return process is not None and process[0] not in ("Z", "X") and not process[1]


def _process(pid: int) -> tuple[str, list[str]] | None:
    """(state letter, argv) of a process, None if there is none: from /proc/<pid>/stat and
    /proc/<pid>/cmdline, or from `ps -ww` (never cut to the terminal width) where /proc is absent."""
    if pid <= 0:
        return None  # the pid file is ours to read, not to trust: 0 and -1 are process groups
    if PROC.is_dir():
        try:
            stat = (PROC / str(pid) / "stat").read_bytes()
            cmdline = (PROC / str(pid) / "cmdline").read_bytes()
        except OSError:  # no such process, or it exited between the two reads
            return None
        # "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ")".
        fields = stat.rpartition(b")")[2].split()
        argv = cmdline.split(b"\0")
        if argv and argv[-1] == b"":
            argv.pop()  # every argument ends in a NUL
        return (fields[0].decode() if fields else "?"), [os.fsdecode(arg) for arg in argv]
    try:
        ps = subprocess.run(["ps", "-ww", "-o", "stat=,args=", "-p", str(pid)], capture_output=True, text=True)
    except FileNotFoundError:
        raise LocalError("cannot tell which processes run here: no /proc and no `ps`") from None
    if ps.returncode != 0 or not ps.stdout.strip():
        return None
    ps_stat, *ps_argv = ps.stdout.split()
    return ps_stat[:1], ps_argv


def _is_moto_server(argv: list[str]) -> bool:
    """argv is `python [options] -m moto.server ...`, as start_server runs it (and not, say, a
    script or `python -c` that merely has those words among its own arguments)."""
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            return next(args, None) == "moto.server"
        if arg in ("-X", "-W"):
            next(args, None)  # an interpreter option with a value
        elif arg in ("-c", "-") or not arg.startswith("-"):
            return False  # a command or script: the interpreter's options are over
    return False


def _server_port(pid: int) -> int | None:
    args = _server_args(pid) or []
    return int(args[args.index("-p") + 1]) if "-p" in args else None


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((HOST, port)) == 0


def start_server(port: int, state: Path = STATE_DIR) -> tuple[int, bool]:
    """(pid, started now): reuse our running server, or start one in the background."""
    pid = running_pid(state)
    if pid:
        running_port = _server_port(pid)
        if running_port != port:
            raise LocalError(
                f"a local stand-in is already running on port {running_port} (pid {pid}): `make local-stop` first, or use LOCAL_PORT={running_port}"
            )
        return pid, False
    if _port_open(port):
        raise LocalError(
            f"port {port} on {HOST} is already in use by another program: choose a free one, e.g. `make local LOCAL_PORT=8010`"
        )
    state.mkdir(parents=True, exist_ok=True)
    with _log_file(state).open("ab") as log:
        # A new session: the server outlives this command and `make`, and is not hit by their Ctrl-C.
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=state,
        )
    _pid_file(state).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(state, quiet=True)
            process.poll()  # our child: reap it
            tail = _log_file(state).read_text(errors="replace").splitlines()[-10:]
            raise LocalError(f"moto server did not start on {HOST}:{port}; end of {_log_file(state)}:\n" + "\n".join(tail))
        time.sleep(0.1)
    return process.pid, True


def stop_server(state: Path = STATE_DIR, quiet: bool = False) -> bool:
    """Stop the process in the pid file if it is still our moto server; True if one was stopped.

    SIGTERM, then SIGKILL if it is still there; the pid file goes only once the process is gone
    (or a zombie). If that cannot be confirmed the pid file stays and LocalError says so."""
    pid = running_pid(state)
    pid_file = _pid_file(state)
    if pid is None:
        if not quiet:
            print("no local stand-in is running" + (f" (stale {pid_file} removed)" if pid_file.exists() else ""))
        pid_file.unlink(missing_ok=True)
        return False
    port = _server_port(pid)
    for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, KILL_TIMEOUT_S)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break  # gone already
        except PermissionError:
            raise LocalError(f"not allowed to stop the local stand-in on {HOST}:{port} (pid {pid}); {pid_file} is kept") from None
        if _gone(pid, timeout):
            break
    else:
        raise LocalError(
            f"the local stand-in on {HOST}:{port} (pid {pid}) is still running after SIGTERM and SIGKILL; "
            f"{pid_file} is kept: stop it by hand, then run `make local-stop` again"
        )
    pid_file.unlink(missing_ok=True)
    if not quiet:
        print(f"stopped the local stand-in on {HOST}:{port} (pid {pid})")
    return True


def _gone(pid: int, timeout: float) -> bool:
    """Wait until `pid` is no longer a live moto server: exited, a zombie (it need not be our
    child, so it cannot always be reaped here), or its pid reused by another program."""
    deadline = time.monotonic() + timeout
    while _server_args(pid) or _exiting(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- command line


def up(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise LocalError(f"port {args.port} is not a TCP port (1-65535)")
    # Read the templates first: a missing cdk.out or unknown environment fails before any server starts.
    tables = read_tables(load_environment(args.assembly, args.env))
    if not tables:
        raise LocalError(f"environment {args.env} in {args.assembly} declares no tables")
    pid, started = start_server(args.port, args.state_dir)
    endpoint = f"http://{HOST}:{args.port}"
    try:
        status = create_tables(endpoint, tables)
        counts = load_samples(endpoint, tables, args.samples)
    except Exception:
        if started:
            stop_server(args.state_dir, quiet=True)  # a half-made stand-in is worse than none
        raise
    regions = sorted({t.region for t in tables})
    print(
        f"Local AWS stand-in (moto) on {endpoint}, pid {pid}, {'started' if started else 'already running'}; log: {_shown(_log_file(args.state_dir))}"
    )
    print(f"Environment {args.env} from {_shown(args.assembly)}: {len(tables)} tables in {', '.join(regions)}\n")
    print(f"  {'':8} {'table':36} {'key':28} {'ttl':10} {'items':>5}  indexes")
    for table in tables:
        key = " + ".join(name for name, _ in table.key_schema)
        indexes = ", ".join(i.name for i in table.indexes) or "-"
        print(
            f"  {status[table.name]:8} {table.name:36} {key:28} {table.ttl_attribute or '-':10} {counts.get(table.name, 0):5d}  {indexes}"
        )
    print(
        f"\nPoint an app, the AWS CLI or boto3 at it (moto takes any credentials; boto3 reads AWS_DEFAULT_REGION, other SDKs AWS_REGION):\n"
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_REGION={regions[0]} AWS_DEFAULT_REGION={regions[0]} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local\n"
        f"Then, e.g., import more Fusion health entries: .venv/bin/python -m tools fusion-import FILE --env {args.env}\n"
        f"Stop it: make local-stop"
    )
    return 0


def _shown(path: Path) -> str:
    """A path as short as it can be said from here."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools local", description="Start or stop the local AWS stand-in (moto on 127.0.0.1).")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the server (or reuse it), create the tables, load the samples")
    start.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (default 8000)")
    start.add_argument("--env", default="dev", help="environment whose tables to create (default dev)")
    start.add_argument("--assembly", type=Path, default=ROOT / "cdk.out", help="synthesized cloud assembly (default cdk.out)")
    start.add_argument("--samples", type=Path, default=ROOT / "samples", help="sample data directory (default samples)")
    stop = commands.add_parser("down", help="stop the server `up` started; a no-op if none is running")
    for command in (start, stop):
        command.add_argument("--state-dir", type=Path, default=STATE_DIR, help="where the pid file and log live (default .local)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args)
        stop_server(args.state_dir)
        return 0
    except (LocalError, AssemblyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

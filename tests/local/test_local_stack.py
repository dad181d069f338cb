"""`tools/local_stack.py up/down`, the commands behind `make local` and `make local-stop`: the
background server on loopback, its pid file, and running each command twice. The server runs
from a cdk.out written from the session's synthesis, with its pid file in a tmp dir, so a
developer's own `make local` is never touched; the fixture stops it whatever happens."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.local.helpers import ROOT, local_stack, write_assembly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stand_in(synthesized, tmp_path):
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    state = tmp_path / "state"
    port = _free_port()

    def run(command: str, *args: str) -> subprocess.CompletedProcess:
        extra = ["--port", str(port), "--assembly", str(assembly)] if command == "up" else []
        return subprocess.run(
            [sys.executable, str(ROOT / "tools" / "local_stack.py"), command, "--state-dir", str(state), *extra, *args],
            capture_output=True, text=True, timeout=120,
        )

    run.port, run.state = port, state
    yield run
    local_stack.stop_server(state, quiet=True)


def test_up_twice_then_down_twice(stand_in):
    first = stand_in("up")
    assert first.returncode == 0, first.stderr
    pid = local_stack.running_pid(stand_in.state)
    assert pid is not None
    assert f"on http://127.0.0.1:{stand_in.port}, pid {pid}, started" in first.stdout
    assert "  created  fusion-health-entries-dev" in first.stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{stand_in.port}" in first.stdout
    # The server listens on loopback only.
    assert local_stack._server_args(pid)[-4:] == ["-H", "127.0.0.1", "-p", str(stand_in.port)]

    second = stand_in("up")
    assert second.returncode == 0, second.stderr
    assert f"pid {pid}, already running" in second.stdout
    assert "  exists   fusion-health-entries-dev" in second.stdout and "  created" not in second.stdout
    assert local_stack.running_pid(stand_in.state) == pid

    stopped = stand_in("down")
    assert stopped.returncode == 0
    assert stopped.stdout.strip() == f"stopped the local stand-in on 127.0.0.1:{stand_in.port} (pid {pid})"
    assert local_stack._server_args(pid) is None and not (stand_in.state / "moto.pid").exists()
    again = stand_in("down")
    assert again.returncode == 0 and again.stdout.strip() == "no local stand-in is running"


def test_up_refuses_a_port_another_program_holds(stand_in):
    with socket.socket() as other:
        other.bind(("127.0.0.1", stand_in.port))
        other.listen()
        result = stand_in("up")
    assert result.returncode == 2
    assert f"error: port {stand_in.port} on 127.0.0.1 is already in use by another program" in result.stderr
    assert local_stack.running_pid(stand_in.state) is None


def test_up_with_an_unknown_environment_fails_before_starting_a_server(stand_in):
    result = stand_in("up", "--env", "qa")
    assert result.returncode == 2
    assert "error: no environment 'qa' in" in result.stderr and "it has dev" in result.stderr
    assert not (stand_in.state / "moto.pid").exists()


def test_a_stale_pid_file_is_not_a_running_server(tmp_path):
    (tmp_path / "moto.pid").write_text("999999999\n")
    assert local_stack.running_pid(tmp_path) is None
    assert local_stack.stop_server(tmp_path, quiet=True) is False
    assert not (tmp_path / "moto.pid").exists()

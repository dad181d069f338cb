"""`python -m tools local up/down` (tools.local.stand_in), the commands behind `make local` and
`make local-stop`: the background server on loopback, its pid file, and running each command
twice. The server runs from a cdk.out written from the session's synthesis, with its pid file in
a tmp dir, so a developer's own `make local` is never touched. The fixtures kill every server a
test started by its pid, pass or fail, without going through `stop_server` (the code under
test); the session's `no_moto_server_left_behind` (conftest.py) catches anything that still
slips through."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.local.helpers import cli_env, kill_moto, local_stack, proc_argv, proc_state, tool, write_assembly


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pid_in(state: Path) -> int | None:
    try:
        return int((state / "moto.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _wait_for_state(pid: int, wanted: str | None, timeout: float = 10) -> str | None:
    deadline = time.monotonic() + timeout
    while proc_state(pid) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc_state(pid)


@pytest.fixture
def stand_ins(synthesized, tmp_path):
    """make(state=, python=, env=) -> a runner of `python -m tools local COMMAND` against a dev cdk.out.
    After every `up` the pid file is read and its pid remembered; teardown kills those servers."""
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    pids: set[int] = set()

    def make(state: Path | None = None, python: Path | str = sys.executable, env: dict[str, str] | None = None):
        state = state or tmp_path / "state"
        port = _free_port()

        def run(command: str, *args: str) -> subprocess.CompletedProcess:
            extra = ["--port", str(port), "--assembly", str(assembly)] if command == "up" else []
            try:
                return subprocess.run(
                    [*tool("local", python), command, "--state-dir", str(state), *extra, *args],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env={**os.environ, **cli_env(**(env or {}))},
                )
            finally:
                if command == "up" and _pid_in(state):
                    pids.add(_pid_in(state))

        run.port, run.state = port, state
        return run

    yield make
    for pid in pids:
        kill_moto(pid)


@pytest.fixture
def stand_in(stand_ins):
    return stand_ins()


@pytest.fixture
def long_dir(tmp_path) -> Path:
    """A directory as deep as a clone under a long path: over 120 characters."""
    path = tmp_path / ("long-checkout-" + "x" * 150)
    path.mkdir()
    assert len(str(path.resolve())) > 120
    return path


@pytest.fixture
def long_python(long_dir) -> Path:
    """This test run's interpreter, reached as <long dir>/venv/bin/python (<long dir>/venv links to
    its venv): its processes then have the long argv[0] of a checkout under a long path."""
    prefix = Path(sys.executable).parent.parent
    (long_dir / "venv").symlink_to(prefix, target_is_directory=True)
    return long_dir / "venv" / "bin" / Path(sys.executable).name


@pytest.fixture
def children():
    """start(argv, **popen) -> Popen of a child process, killed and reaped at teardown."""
    started: list[subprocess.Popen] = []

    def start(argv, **kwargs) -> subprocess.Popen:
        argv = [str(a) for a in argv]
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        started.append(process)
        # Popen returns before the kernel has put the new argv in place: until then cmdline is empty.
        deadline = time.monotonic() + 5
        while proc_argv(process.pid)[1:] != argv[1:] and time.monotonic() < deadline:
            time.sleep(0.01)
        return process

    yield start
    for process in started:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def fake_moto(tmp_path, children):
    """start() -> a child run exactly as `python -m moto.server -H 127.0.0.1 -p PORT`, whose
    `moto.server` (a stand-in package first on PYTHONPATH) ignores SIGTERM and just sleeps."""
    package = tmp_path / "fake" / "moto"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "server.py").write_text(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[-1]).write_text('ready')\n"
        "time.sleep(120)\n"
    )

    def start() -> subprocess.Popen:
        ready = tmp_path / f"ready-{len(list(tmp_path.glob('ready-*')))}"
        env = {**os.environ, "PYTHONPATH": str(tmp_path / "fake")}
        process = children([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", _free_port(), ready], env=env)
        deadline = time.monotonic() + 10
        while not ready.exists() and time.monotonic() < deadline:  # until SIGTERM is ignored
            time.sleep(0.05)
        assert ready.exists(), "the fake moto server did not start"
        return process

    return start


def test_up_twice_then_down_twice_from_a_long_path_with_80_columns(stand_ins, long_dir, long_python):
    """`make local` twice and `make local-stop` twice, as in a checkout under a long path and
    where `ps` would cut its output at 80 columns: the second `up` still finds the server and
    `down` really stops it. (One test for both: each `up` of a real server costs seconds.)"""
    state = long_dir / "state"
    assert len(str(state.resolve())) > 120
    run = stand_ins(state=state, python=long_python, env={"COLUMNS": "80"})

    first = run("up")
    assert first.returncode == 0, first.stderr
    pid = _pid_in(state)
    assert local_stack.running_pid(state) == pid
    assert f"on http://127.0.0.1:{run.port}, pid {pid}, started" in first.stdout
    assert "  created  fusion-health-entries-dev" in first.stdout
    assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{run.port}" in first.stdout
    assert "import more Fusion health entries: .venv/bin/python -m tools fusion-import FILE --env dev\n" in first.stdout
    argv = proc_argv(pid)
    assert argv[0] == str(long_python) and argv[1:3] == ["-m", "moto.server"]
    assert len(" ".join(argv)) > 120  # the command line `ps` would have shown cut
    # The server listens on loopback only.
    assert local_stack._server_args(pid)[-4:] == ["-H", "127.0.0.1", "-p", str(run.port)]

    second = run("up")
    assert second.returncode == 0, second.stderr
    assert f"pid {pid}, already running" in second.stdout
    assert "  exists   fusion-health-entries-dev" in second.stdout and "  created" not in second.stdout
    assert _pid_in(state) == pid

    stopped = run("down")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"stopped the local stand-in on 127.0.0.1:{run.port} (pid {pid})"
    # Gone, or a zombie its new parent has yet to reap: either way no longer running.
    assert proc_state(pid) in (None, "Z")
    assert local_stack._server_args(pid) is None and not (state / "moto.pid").exists()
    again = run("down")
    assert again.returncode == 0 and again.stdout.strip() == "no local stand-in is running"


def test_server_args_is_the_whole_argv_of_a_long_command_line(long_dir, long_python, monkeypatch):
    """A real server from start_server, run by an interpreter behind a long path, with COLUMNS=80:
    _server_args gives back every argument, from /proc and from the `ps -ww` fallback alike."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(sys, "executable", str(long_python))  # what start_server runs the server with
    state = long_dir / "state"
    port = _free_port()
    pid, started = local_stack.start_server(port, state)
    try:
        assert started
        expected = [str(long_python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        assert len(" ".join(expected)) > 200
        assert proc_argv(pid) == expected
        assert local_stack._server_args(pid) == expected
        assert local_stack._server_port(pid) == port
        assert local_stack.running_pid(state) == pid
        with monkeypatch.context() as no_proc:
            no_proc.setattr(local_stack, "PROC", long_dir / "no-proc")
            assert local_stack._server_args(pid) == expected
            assert local_stack.running_pid(state) == pid

        assert local_stack.stop_server(state, quiet=True) is True
        assert proc_state(pid) in (None, "Z")  # our child: a zombie until reaped
        assert not (state / "moto.pid").exists()
    finally:
        kill_moto(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def test_server_args_is_none_for_a_zombie_or_another_program(children, tmp_path, monkeypatch):
    moto = children([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", _free_port()])
    # Another program with the very words among its own arguments, and a plain one.
    lookalike = children([sys.executable, "-c", "import time; time.sleep(60)", "-m", "moto.server", "-p", "1"])
    sleeper = children(["sleep", "60"])
    for inspect_with in ("/proc", "ps -ww"):
        with monkeypatch.context() as patch:
            if inspect_with == "ps -ww":
                patch.setattr(local_stack, "PROC", tmp_path / "no-proc")
            assert local_stack._server_args(moto.pid) == moto.args, inspect_with
            assert local_stack._server_args(lookalike.pid) is None, inspect_with
            assert local_stack._server_args(sleeper.pid) is None, inspect_with
            assert local_stack._server_args(999999999) is None, inspect_with

    os.kill(moto.pid, signal.SIGKILL)  # and not reaped: a zombie that keeps its pid
    assert _wait_for_state(moto.pid, "Z") == "Z"
    for inspect_with in ("/proc", "ps -ww"):
        with monkeypatch.context() as patch:
            if inspect_with == "ps -ww":
                patch.setattr(local_stack, "PROC", tmp_path / "no-proc")
            assert local_stack._server_args(moto.pid) is None, inspect_with
    (tmp_path / "moto.pid").write_text(f"{moto.pid}\n")
    assert local_stack.running_pid(tmp_path) is None


def test_down_kills_a_server_that_ignores_sigterm(fake_moto, tmp_path, monkeypatch, capsys):
    server = fake_moto()
    (tmp_path / "moto.pid").write_text(f"{server.pid}\n")
    monkeypatch.setattr(local_stack, "STOP_TIMEOUT_S", 0.5)
    assert local_stack.stop_server(tmp_path) is True
    assert server.wait(timeout=10) == -signal.SIGKILL
    assert not (tmp_path / "moto.pid").exists()
    assert capsys.readouterr().out.strip() == f"stopped the local stand-in on 127.0.0.1:{server.args[-2]} (pid {server.pid})"


def test_down_keeps_the_pid_file_while_its_server_still_runs(fake_moto, tmp_path, monkeypatch):
    server = fake_moto()
    (tmp_path / "moto.pid").write_text(f"{server.pid}\n")
    monkeypatch.setattr(local_stack, "STOP_TIMEOUT_S", 0.2)
    monkeypatch.setattr(local_stack, "KILL_TIMEOUT_S", 0.2)
    sent = []
    with monkeypatch.context() as patch:
        patch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))  # signals that change nothing
        with pytest.raises(
            local_stack.LocalError, match=rf"\(pid {server.pid}\) is still running after SIGTERM and SIGKILL; .*moto.pid is kept"
        ):
            local_stack.stop_server(tmp_path)
    assert sent == [(server.pid, signal.SIGTERM), (server.pid, signal.SIGKILL)]
    assert server.poll() is None and (tmp_path / "moto.pid").read_text() == f"{server.pid}\n"
    assert local_stack.running_pid(tmp_path) == server.pid


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

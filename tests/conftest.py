"""One synthesis of the whole app per test session, shared by every test that needs it."""

from __future__ import annotations

import pytest

import app as cdk_app
from tests.support import new_app, validate_templates
from tools.assembly import Stack

# cfn-lint over the session's templates, started right after the synth (see `stages`).
_CFN_LINT: list = []


@pytest.fixture(scope="session")
def stages(tmp_path_factory) -> list:
    """The whole app's stages (one per environment), built and synthesized once per session.

    cfn-lint (the template gate that replaces CDK's built-in validation) starts on the written
    templates at once, in a background process: it runs on the second core while the rest of
    the suite runs on the first, and `cfn_lint_findings` collects it."""
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app(outdir=str(outdir))
    built = cdk_app.build(app)
    app.synth()
    _CFN_LINT.extend(validate_templates.start(validate_templates.templates(outdir)))
    yield built
    for process in _CFN_LINT:  # a run that never asked for the findings (-k, -x) leaves none behind
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def cfn_lint_findings(stages) -> dict[str, list[str]]:
    """template path -> cfn-lint errors and warnings, for every template of the session's synth."""
    assert _CFN_LINT, "cfn-lint was not started"
    return validate_templates.results(_CFN_LINT)


@pytest.fixture(scope="session")
def synthesized(stages) -> dict[str, Stack]:
    """Every stack of every environment, by stack name, synthesized once as `cdk synth` would."""
    result = {}
    for stage in stages:
        for artifact in stage.synth().stacks:
            result[artifact.stack_name] = Stack(
                name=artifact.stack_name,
                environment=stage.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                region=artifact.environment.region,
                account=artifact.environment.account,
                source=artifact.template_full_path,
            )
    return result

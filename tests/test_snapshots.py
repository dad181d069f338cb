"""One snapshot per stack per environment: the reviewed, exact record of every template.

A snapshot diff in a pull request is the template diff, and the deploy guard's baseline.
Read the review summary's diff (tests/__snapshots__/test_review/, a few lines per change)
first; update with `make update` only for a change you meant, and say in the commit message what
changed.
"""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from config import ENVIRONMENTS
from stacks.stage import stack_names
from tests.support import normalise

EXPECTED = [name for cfg in ENVIRONMENTS.values() for name in stack_names(cfg)]
UPDATE_HINT = (
    "This stack's template changed. Before updating any snapshot: run `make guard` (is the change "
    "safe to deploy?) and read the review summary's diff in tests/__snapshots__/test_review/ (what "
    "changed, in a few lines). Only for a change you meant: make update (docs/changes.md), and say "
    "in the commit message what changed and why."
)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_every_synthesized_stack_has_a_snapshot(synthesized):
    # A stack added to the app without a snapshot (or a snapshot without a stack) fails here.
    assert sorted(synthesized) == sorted(EXPECTED)


@pytest.mark.parametrize("stack_name", EXPECTED)
def test_template_snapshot(synthesized, snapshot_json, stack_name):
    stack = synthesized[stack_name]
    assert stack.template["Resources"], f"{stack_name} synthesized no resources"
    assert snapshot_json == {
        "stack": {
            "name": stack.name,
            "environment": f"aws://{stack.account}/{stack.region}",
            "terminationProtection": stack.termination_protection,
        },
        "template": normalise(stack.template),
    }, UPDATE_HINT

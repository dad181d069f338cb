"""The stack policy of each stack of a protected environment (tools/stack_policy.py): what it protects,
checked against the session's real synthesis, and `--apply` through botocore's Stubber."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

import botocore.session
import pytest
from botocore.stub import Stubber

import config
from tests.expected import PROTECTED, REBUILDABLE, pinned_ids
from tests.local.helpers import write_assembly
from tools import stack_policy
from tools.guard.model import STATEFUL_TYPES


def stateful(stack) -> set[str]:
    return {lid for lid, resource in stack.template["Resources"].items() if resource["Type"] in STATEFUL_TYPES}


def allowed(policy: dict, action: str, logical_id: str) -> bool:
    """CloudFormation's evaluation of a stack policy: an explicit Deny wins, else an Allow is needed."""
    verdicts = set()
    for statement in policy["Statement"]:
        actions, resources = statement["Action"], statement["Resource"]
        actions, resources = [actions] if isinstance(actions, str) else actions, [resources] if isinstance(resources, str) else resources
        if any(fnmatchcase(action, a) for a in actions) and any(fnmatchcase(f"LogicalResourceId/{logical_id}", r) for r in resources):
            verdicts.add(statement["Effect"])
    return "Deny" not in verdicts and "Allow" in verdicts


def expected_body(stack) -> str:
    deny = [f"LogicalResourceId/{lid}" for lid in sorted(stateful(stack))]
    statements = [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": ["Update:Replace", "Update:Delete"], "Principal": "*", "Resource": deny},
    ]
    return json.dumps({"Statement": statements}, separators=(",", ":"))


@pytest.fixture
def cfn():
    client = botocore.session.get_session().create_client(
        "cloudformation", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_each_protected_policy_names_exactly_its_stateful_resources(synthesized):
    protected = {name: s for name, s in synthesized.items() if s.environment in PROTECTED}
    assert protected, "no protected environment"
    for name, stack in protected.items():
        policy = stack_policy.policy_for(stack)
        if not stateful(stack):
            assert policy is None, name
            continue
        assert policy is not None, name
        (deny,) = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert sorted(deny["Resource"]) == sorted(f"LogicalResourceId/{lid}" for lid in stateful(stack)), name
        for lid, resource in stack.template["Resources"].items():
            is_stateful = resource["Type"] in STATEFUL_TYPES
            assert allowed(policy, "Update:Replace", lid) is not is_stateful, (name, lid)
            assert allowed(policy, "Update:Delete", lid) is not is_stateful, (name, lid)
            assert allowed(policy, "Update:Modify", lid), (name, lid)
    # The pinned ids of two systems' stacks (tests/expected.py, from config), in each protected environment.
    for env in PROTECTED:
        for key in ("madmall", "fusion-health"):
            assert stack_policy.stateful_ids(synthesized[f"{key}-{env}"]) == sorted(pinned_ids(key, config.ENVIRONMENTS[env]))
    assert stack_policy.policy_for(synthesized[f"ci-deploy-{PROTECTED[0]}"]) is None  # nothing stateful in it


def test_rebuildable_environments_stacks_get_no_policy(synthesized):
    dev = [s for s in synthesized.values() if s.environment in REBUILDABLE]
    assert dev and any(stateful(s) for s in dev)
    assert [s.name for s in dev if stack_policy.policy_for(s) is not None] == []


def test_every_policy_fits_set_stack_policy(synthesized):
    bodies = [stack_policy.body(p) for s in synthesized.values() if (p := stack_policy.policy_for(s))]
    assert bodies and max(map(len, bodies)) <= stack_policy.MAX_BODY
    with pytest.raises(ValueError, match="over SetStackPolicy's limit"):
        stack_policy.body({"Statement": [{"Resource": ["LogicalResourceId/" + "X" * stack_policy.MAX_BODY]}]})


def test_exempt_ids_lose_only_their_own_protection(synthesized):
    stack = synthesized["madmall-prod"]
    relaxed = stack_policy.policy_for(stack, exempt=["TableMain"])
    assert relaxed is not None
    assert allowed(relaxed, "Update:Replace", "TableMain") and not allowed(relaxed, "Update:Replace", "KeyData")


def test_apply_sets_each_staging_policy(synthesized, tmp_path, cfn, capsys):
    client, stubber = cfn
    staging = sorted((s for s in synthesized.values() if s.environment == "staging"), key=lambda s: s.name)
    assembly = write_assembly(tmp_path / "cdk.out", staging)
    for stack in staging:
        if stateful(stack):
            stubber.add_response("set_stack_policy", {}, {"StackName": stack.name, "StackPolicyBody": expected_body(stack)})
    assert stack_policy.main(["--assembly", str(assembly), "--env", "staging", "--apply"], client=lambda _: client) == 0
    out = capsys.readouterr().out
    assert "madmall-staging: stack policy set" in out and "ci-deploy-staging: no stateful resources" in out


def test_without_apply_nothing_is_called(synthesized, tmp_path, cfn, capsys):
    client, _ = cfn
    assembly = write_assembly(tmp_path / "cdk.out", [synthesized["madmall-prod"]])
    assert stack_policy.main(["--assembly", str(assembly), "--env", "prod"], client=lambda _: client) == 0
    assert '"LogicalResourceId/TableMain"' in capsys.readouterr().out


def test_apply_in_dev_calls_nothing(synthesized, tmp_path, cfn, capsys):
    client, _ = cfn
    assembly = write_assembly(tmp_path / "cdk.out", [s for s in synthesized.values() if s.environment == "dev"])
    assert stack_policy.main(["--assembly", str(assembly), "--env", "dev", "--apply"], client=lambda _: client) == 0
    assert "madmall-dev: not a protected environment" in capsys.readouterr().out


def test_apply_skips_a_stack_not_deployed_yet_and_fails_on_other_errors(synthesized, tmp_path, cfn, capsys):
    client, stubber = cfn
    assembly = write_assembly(tmp_path / "cdk.out", [synthesized["madmall-prod"], synthesized["fusion-health-prod"]])
    stubber.add_client_error(
        "set_stack_policy", "AccessDenied", "User: arn:aws:sts::333333333333:assumed-role/cdk-deploy-prod/ci is not authorized"
    )
    stubber.add_client_error("set_stack_policy", "ValidationError", "Stack with id madmall-prod does not exist")
    assert stack_policy.main(["--assembly", str(assembly), "--env", "prod", "--apply"], client=lambda _: client) == 1
    captured = capsys.readouterr()
    assert "fusion-health-prod: SetStackPolicy failed: User: arn:aws:sts::333333333333:assumed-role/cdk-deploy-prod/ci" in captured.err
    assert "madmall-prod: not deployed yet" in captured.out

"""stacks/limits.py: every stack stays under its size limits, and app.py stops a synth that
would pass one, naming the stack, before CloudFormation does."""

from __future__ import annotations

import json
from types import SimpleNamespace

from config import ENVIRONMENTS
from stacks import limits
from stacks.stage import stack_names


def artifact(tmp_path, name, resources, pad=0):
    path = tmp_path / f"{name}.template.json"
    path.write_text(json.dumps({"Resources": resources}) + " " * pad)
    return SimpleNamespace(stack_name=name, template_full_path=str(path))


def topic(i):
    return {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"t{i}"}}


def test_every_synthesized_stack_is_within_the_limits(stages):
    artifacts = [a for stage in stages for a in stage.synth().stacks]
    assert len(artifacts) == sum(len(stack_names(cfg)) for cfg in ENVIRONMENTS.values()) > 0
    assert limits.limit_failures(artifacts) == []


def test_a_lower_ceiling_names_the_stacks_over_it(stages):
    artifacts = [a for stage in stages for a in stage.synth().stacks]
    sizes = {a.stack_name: len(a.template["Resources"]) for a in artifacts}
    ceiling = max(sizes.values()) - 1  # one under the largest stack: it, and any as large, pass it
    over = limits.limit_failures(artifacts, max_resources=ceiling)
    largest = sorted(name for name, size in sizes.items() if size > ceiling)
    assert largest and sorted(line.split(" has ")[0].removeprefix("stack ") for line in over) == largest
    assert f"has {ceiling + 1} resources: over this project's ceiling of {ceiling} (CloudFormation refuses 500)" in over[0]


def test_251_resources_are_refused_250_are_not(tmp_path):
    ok = artifact(tmp_path, "ok", {f"T{i}": topic(i) for i in range(250)})
    big = artifact(tmp_path, "big", {f"T{i}": topic(i) for i in range(251)})
    (line,) = limits.limit_failures([ok, big])
    assert line.startswith("stack big has 251 resources: over this project's ceiling of 250")
    assert "cdk refactor" in line


def test_a_template_over_1_mb_is_refused(tmp_path):
    (line,) = limits.limit_failures([artifact(tmp_path, "wide", {"T": topic(0)}, pad=1_000_000)])
    assert line.startswith("stack wide has a 1,000,") and "over CloudFormation's 1,000,000" in line


def test_a_managed_policy_over_6144_characters_is_refused(tmp_path):
    statement = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:1:table/" + "x" * 6200}
    policy = {"Type": "AWS::IAM::ManagedPolicy", "Properties": {"PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}}
    (line,) = limits.limit_failures([artifact(tmp_path, "iam", {"Policy": policy})])
    assert line.startswith("stack iam: managed policy Policy is 6,") and "over IAM's 6,144" in line

"""The GitHub Actions workflows (.github/workflows) and the change summary the pull-request one posts.

actionlint checks each workflow the way GitHub would parse it; the other tests pin what the
delivery depends on: dev -> staging -> prod in order, OIDC only, the PR gates. See docs/ci.md.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.environments import ENVIRONMENTS
from tools import summary as change_summary

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
# requirements-dev.txt installs it into the venv (a wheel that carries the binary).
ACTIONLINT = Path(sys.executable).parent / "actionlint"

ENV_ORDER = ("dev", "staging", "prod")
ROLE = "arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/cdk-deploy-%s"


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as the boolean true.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def step_index(job: dict, predicate, what: str) -> int:
    for index, step in enumerate(steps(job)):
        if predicate(step):
            return index
    raise AssertionError(f"no step {what} in {[s.get('name') or s.get('uses') or s.get('run') for s in steps(job)]}")


def runs(text: str):
    return lambda step: text in step.get("run", "")


def uses(action: str):
    return lambda step: step.get("uses", "").split("@")[0] == action


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: `make setup` installs it from requirements-dev.txt"
    # shellcheck and pyflakes off: whether they are on PATH differs between machines, and the
    # verdict must not.
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)], cwd=ROOT, capture_output=True, text=True
    )


# ---------------------------------------------------------------- actionlint


def test_the_two_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == ["deploy.yml", "pull-request.yml"]


@pytest.mark.parametrize("name", ["deploy.yml", "pull-request.yml"])
def test_actionlint_finds_nothing(name):
    done = actionlint(WORKFLOWS / name)
    assert done.returncode == 0, f"actionlint on {name}:\n{done.stdout}{done.stderr}"


def test_actionlint_does_catch_a_broken_workflow(tmp_path):
    # Proves the linter is live: a job needing a job that does not exist must be reported.
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothere\n    steps:\n      - run: echo hi\n")
    done = actionlint(broken)
    assert done.returncode == 1
    assert 'needs job "nothere" which does not exist' in done.stdout


# ---------------------------------------------------------------- deploy.yml


def test_deploy_runs_on_push_to_main_only():
    assert load("deploy.yml")["on"] == {"push": {"branches": ["main"]}}


def test_deploy_jobs_are_ordered_dev_staging_prod():
    jobs = load("deploy.yml")["jobs"]
    assert list(jobs) == list(ENV_ORDER)
    assert "needs" not in jobs["dev"]
    assert jobs["staging"]["needs"] in ("dev", ["dev"])
    assert jobs["prod"]["needs"] in ("staging", ["staging"])


@pytest.mark.parametrize("env", ENV_ORDER)
def test_deploy_job_uses_its_github_environment_and_oidc(env):
    job = load("deploy.yml")["jobs"][env]
    # The deploy role trusts only tokens whose `sub` names this exact environment (stacks/ci.py).
    assert job["environment"] == env
    assert job["permissions"] == {"id-token": "write", "contents": "read"}
    assert job["concurrency"] == {"group": f"deploy-{env}", "cancel-in-progress": False}

    credentials = steps(job)[step_index(job, uses("aws-actions/configure-aws-credentials"), "assuming the role")]
    assert credentials["with"]["role-to-assume"] == ROLE % env
    assert credentials["with"]["aws-region"] == "${{ env.AWS_REGION }}"
    assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(credentials["with"])


@pytest.mark.parametrize("env", ENV_ORDER)
def test_deploy_job_sets_up_with_make_then_deploys_its_environment(env):
    job = load("deploy.yml")["jobs"][env]
    python = steps(job)[step_index(job, uses("actions/setup-python"), "setting up Python")]
    assert python["with"]["python-version"] == "3.11"
    order = [
        step_index(job, uses("actions/setup-python"), "setup-python"),
        step_index(job, runs("make setup"), "make setup"),
        step_index(job, runs(f"from config.environments import {env.upper()}"), "checking the account id"),
        step_index(job, uses("aws-actions/configure-aws-credentials"), "assuming the role"),
        step_index(job, runs(f"make deploy ENV={env}"), f"make deploy ENV={env}"),
    ]
    assert order == sorted(order)
    assert len([s for s in steps(job) if "make deploy" in s.get("run", "")]) == 1


def test_deploy_region_and_account_comments_match_config():
    text = (WORKFLOWS / "deploy.yml").read_text()
    assert load("deploy.yml")["env"]["AWS_REGION"] == ENVIRONMENTS["dev"].region
    for env in ENV_ORDER:
        assert re.search(rf"#\s+{env}\s+vars\.AWS_ACCOUNT_ID = {ENVIRONMENTS[env].account}\b", text), env


def test_deploy_never_prompts_and_the_makefile_passes_the_flags():
    assert load("deploy.yml")["env"]["CDK_DEPLOY_FLAGS"] == "--require-approval never"
    done = subprocess.run(
        ["make", "-n", "deploy", "ENV=staging", "CDK_DEPLOY_FLAGS=--require-approval never"], cwd=ROOT, capture_output=True, text=True
    )
    out = done.stdout
    # One synth of staging, cfn-lint over it, then that very assembly is deployed.
    assert "synth --quiet -c env=staging" in out and "-m tools validate cdk.out" in out, out + done.stderr
    assert "deploy --app cdk.out 'staging/*' --require-approval never" in out, out + done.stderr
    assert out.index("synth --quiet") < out.index("-m tools validate") < out.index("deploy --app cdk.out")


def test_no_stored_aws_keys_or_secrets_anywhere():
    workflows = sorted(WORKFLOWS.iterdir())
    assert [p.name for p in workflows] == ["deploy.yml", "pull-request.yml"]
    for path in workflows:
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"
        assert not re.search(r"\$\{\{[^}]*\bsecrets\.", text), f"{path.name} reads a secret"
        assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), f"{path.name} holds an AWS access key id"
    # Only the deploy jobs may mint an OIDC token.
    pull_request = load("pull-request.yml")
    assert pull_request["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in pull_request["jobs"].values())
    assert load("deploy.yml")["permissions"] == {"contents": "read"}


# ---------------------------------------------------------------- pull-request.yml


def test_pull_request_gates_run_in_order():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    (job,) = workflow["jobs"].values()
    python = steps(job)[step_index(job, uses("actions/setup-python"), "setting up Python")]
    assert python["with"]["python-version"] == "3.11"
    order = [
        step_index(job, uses("actions/setup-python"), "setup-python"),
        step_index(job, runs("make setup"), "make setup"),
        step_index(job, runs("make lint"), "make lint"),
        step_index(job, runs("make test"), "make test"),
        step_index(job, runs("make synth"), "make synth"),
        step_index(job, runs("git fetch"), "fetching the base branch"),
        step_index(job, runs("-m tools summary"), "the change summary"),
        step_index(job, runs("make guard"), "the deploy guard"),
    ]
    assert order == sorted(order)


def test_pull_request_guards_against_the_base_branch():
    (job,) = load("pull-request.yml")["jobs"].values()
    fetch = steps(job)[step_index(job, runs("git fetch"), "fetching the base branch")]
    guard = steps(job)[step_index(job, runs("make guard"), "the deploy guard")]
    for step in (fetch, guard):
        # Through env, never spliced into the script: a ref name is not shell code.
        assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert "refs/remotes/origin/${BASE_REF}" in fetch["run"]
    assert guard["run"].strip() == 'make guard BASE="origin/${BASE_REF}"'


def test_pull_request_publishes_templates_and_summary():
    (job,) = load("pull-request.yml")["jobs"].values()
    upload = steps(job)[step_index(job, uses("actions/upload-artifact"), "uploading templates")]
    assert upload["with"]["path"] == "cdk.out/**/*.template.json"
    assert upload["with"]["if-no-files-found"] == "error"
    summary = steps(job)[step_index(job, runs("-m tools summary"), "the change summary")]
    assert '>> "$GITHUB_STEP_SUMMARY"' in summary["run"]
    assert "git archive" in summary["run"] and "tests/__snapshots__" in summary["run"]


# ---------------------------------------------------------------- tools/summary.py


def snapshot(directory: Path, name: str, resources: dict) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    doc = {"stack": {"name": name, "terminationProtection": name.endswith("-prod")}, "template": {"Resources": resources}}
    (directory / f"{name}.json").write_text(json.dumps(doc))


def table(name: str, billing: str = "PAY_PER_REQUEST") -> dict:
    return {
        "Type": "AWS::DynamoDB::GlobalTable",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {"TableName": name, "BillingMode": billing, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]},
    }


def alarm(threshold: int) -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Threshold": threshold}}


def summarise(capsys, baseline: Path, candidate: Path) -> str:
    assert change_summary.main(["--base-label", "origin/main", str(baseline), str(candidate)]) == 0
    return capsys.readouterr().out


def test_change_summary_lists_changes_per_stack_with_the_guard_verdict(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no deploy-guard.accept here
    base, head = tmp_path / "base", tmp_path / "head"
    # cdk.out carries construct paths and real asset hashes; the snapshots drop and mask them
    # (tests/support.normalise). Neither is a change.
    snapshotted = {"Type": "AWS::Lambda::Function", "Properties": {"Code": {"S3Key": "<asset-hash>.zip"}}}
    synthesized = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Code": {"S3Key": "a" * 64 + ".zip"}},
        "Metadata": {"aws:cdk:path": "dev/orders/Fn/Resource", "aws:asset:path": "asset.x"},
    }
    snapshot(base, "orders-dev", {"TableOrders": table("orders-dev"), "AlarmOld": alarm(1), "Fn": snapshotted})
    snapshot(base, "orders-prod", {"TableOrders": table("orders-prod")})
    snapshot(head, "orders-dev", {"TableOrders": table("orders-dev", "PROVISIONED"), "AlarmNew": alarm(2), "Fn": synthesized})
    snapshot(head, "orders-prod", {})  # the prod table is gone: the guard must block

    out = summarise(capsys, base, head)
    assert "## Infrastructure changes against origin/main" in out
    assert "| orders-dev | 1 | 1 | 1 |" in out
    assert "| orders-prod | 0 | 1 | 0 |" in out
    assert "| added | AlarmNew | AWS::CloudWatch::Alarm | |" in out
    assert "| removed | AlarmOld | AWS::CloudWatch::Alarm | |" in out
    assert "| modified | TableOrders | AWS::DynamoDB::GlobalTable | Properties.BillingMode |" in out
    assert "| Fn |" not in out
    assert "BLOCKED: deploy-guard: 1 hazard(s) in 1 stack(s)" in out
    assert "| STATEFUL-DELETE | orders-prod/TableOrders |" in out


def test_change_summary_of_no_change_passes(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    snapshots = ROOT / "tests" / "__snapshots__"
    out = summarise(capsys, snapshots, snapshots)
    assert "No resource changes in any stack." in out
    assert "PASS: deploy-guard: OK - no hazards" in out
    assert "Unchanged (" in out and "daylight-prod" in out


def test_change_summary_names_a_missing_input(tmp_path, capsys):
    assert change_summary.main([str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert "nope: no such directory" in capsys.readouterr().err

"""The GitHub Actions workflows (.github/workflows) and the change summary the pull-request one posts.

actionlint checks each workflow the way GitHub would parse it; the other tests pin what the
delivery depends on: one synth per commit, that assembly deployed to every environment of
config in its deploy order, one at a time, through one reusable workflow, the preflight before
each deploy, OIDC only, the PR gates.
See docs/ci.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from config.environments import ENVIRONMENTS
from tools import summary as change_summary

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_FILES = ["deploy-environment.yml", "deploy.yml", "pull-request.yml"]
# requirements-dev.txt installs it into the venv (a wheel that carries the binary).
ACTIONLINT = Path(sys.executable).parent / "actionlint"

# The environments in deploy order, as config declares them (the workflow reads the same list).
ENV_ORDER = tuple(cfg.name for cfg in sorted(ENVIRONMENTS.values(), key=lambda cfg: cfg.deploy_order))
# deploy.yml calls it once per environment; it holds the only job that touches AWS.
REUSABLE = "./.github/workflows/deploy-environment.yml"
ROLE = "arn:aws:iam::${{ vars.AWS_ACCOUNT_ID }}:role/cdk-deploy-${{ inputs.environment }}"
# The build job uploads it; every environment job downloads it. Same run, same commit, same name.
ARTIFACT = "cdk-assembly-${{ github.sha }}"
# The build job's venv and CDK CLI: the deploy jobs install nothing.
TOOLCHAIN = "cdk-toolchain-${{ github.sha }}"
OIDC_PERMISSIONS = {"id-token": "write", "contents": "read"}
# A command of a `make -n` listing that synthesizes: `cdk [--flags] synth`, or a sub-make of synth.
SYNTH_COMMAND = re.compile(r"(^|[;&|]\s*)cdk(\s+--\S+)*\s+synth\b|^\s*(\S*/)?make\s.*\bsynth\b", re.MULTILINE)


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


def deploy_job() -> dict:
    (job,) = load("deploy-environment.yml")["jobs"].values()
    return job


def actionlint(*paths: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    assert ACTIONLINT.is_file(), f"{ACTIONLINT} is missing: `make setup` installs it from requirements-dev.txt"
    # shellcheck and pyflakes off: whether they are on PATH differs between machines, and the
    # verdict must not.
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)], cwd=cwd, capture_output=True, text=True
    )


def cdk_deploy_line(out: str, env: str) -> str:
    """The one `cdk deploy --app cdk.out ... '<env>/*'` line of a `make -n` listing."""
    lines = [line for line in out.splitlines() if re.search(rf"\bcdk\b.* deploy --app cdk\.out .*'{env}/\*'", line)]
    assert len(lines) == 1, out
    return lines[0]


def make_dry_run(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True)
    # deploy-environment.yml calls `make preflight` and `make deploy-assembly`: a missing target fails.
    assert "No rule to make target" not in done.stderr, done.stderr
    return done


# ---------------------------------------------------------------- actionlint


def test_the_three_workflows_exist():
    assert sorted(p.name for p in WORKFLOWS.iterdir()) == WORKFLOW_FILES


@pytest.mark.parametrize("name", WORKFLOW_FILES)
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


def test_actionlint_checks_each_call_against_the_reusable_workflow(tmp_path):
    # actionlint reads the local reusable workflow (it finds the project by its .git), so a call
    # with a misspelt input, or one that withholds the id-token the called job needs, fails here
    # and not on the first push to main.
    (tmp_path / ".git").mkdir()
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(WORKFLOWS / "deploy-environment.yml", workflows)
    broken = load("deploy.yml")
    broken["jobs"]["deploy"]["with"] = {"environmnt": "${{ matrix.environment }}"}
    del broken["jobs"]["deploy"]["permissions"]
    (workflows / "deploy.yml").write_text(yaml.safe_dump(broken, sort_keys=False))
    done = actionlint(workflows / "deploy.yml", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'input "environment" is required by "./.github/workflows/deploy-environment.yml" reusable workflow' in done.stdout
    assert 'requires "id-token: write" but the calling job grants "id-token: none"' in done.stdout


# ---------------------------------------------------------------- deploy.yml


def test_deploy_runs_on_push_to_main_only():
    assert load("deploy.yml")["on"] == {"push": {"branches": ["main"]}}
    # The reusable workflow has no trigger of its own: no push, no manual dispatch.
    on = load("deploy-environment.yml")["on"]
    assert list(on) == ["workflow_call"]
    assert list(on["workflow_call"]) == ["inputs"]  # no `secrets:`, no outputs
    assert list(on["workflow_call"]["inputs"]) == ["environment", "python-version"]
    for spec in on["workflow_call"]["inputs"].values():
        assert (spec["type"], spec["required"]) == ("string", True)


def test_deploy_jobs_are_build_then_one_deploy_per_environment_in_order():
    jobs = load("deploy.yml")["jobs"]
    assert list(jobs) == ["build", "deploy"]
    assert "needs" not in jobs["build"]
    assert jobs["deploy"]["needs"] in ("build", ["build"])
    strategy = jobs["deploy"]["strategy"]
    # GitHub creates a matrix's jobs in the order of its values and runs one at a time; a
    # failure cancels the queued ones, so a later environment never deploys after a failure.
    assert strategy["max-parallel"] == 1 and strategy["fail-fast"] is True
    assert strategy["matrix"] == {"environment": "${{ fromJSON(needs.build.outputs.environments) }}"}
    build = jobs["build"]
    assert build["outputs"] == {
        "environments": "${{ steps.environments.outputs.list }}",
        # The exact Python the venv was made with, for the deploy jobs that unpack it.
        "python-version": "${{ steps.python.outputs.python-version }}",
    }
    listing = steps(build)[step_index(build, runs("-m tools environments --json"), "listing the environments")]
    assert listing["id"] == "environments"
    assert step_index(build, runs("make setup"), "make setup") < step_index(build, runs("-m tools environments"), "the listing")


def test_the_listed_environments_are_configs_in_deploy_order(capsys):
    from tools import environments

    assert environments.main(["--json"]) == 0
    assert json.loads(capsys.readouterr().out) == list(ENV_ORDER)
    assert len(ENV_ORDER) == len(ENVIRONMENTS) >= 2


def test_build_job_synthesizes_once_validates_and_uploads_the_assembly():
    job = load("deploy.yml")["jobs"]["build"]
    python = steps(job)[step_index(job, uses("actions/setup-python"), "setting up Python")]
    assert python["with"]["python-version"] == "3.11"
    order = [
        step_index(job, uses("actions/checkout"), "checkout"),
        step_index(job, uses("actions/setup-python"), "setup-python"),
        step_index(job, runs("make setup"), "make setup"),
        step_index(job, runs("make synth"), "make synth"),
        step_index(job, runs("make validate"), "make validate"),
        step_index(job, runs("tar -cf"), "packing cdk.out"),
        step_index(job, uses("actions/upload-artifact"), "uploading the assembly"),
    ]
    assert order == sorted(order)
    synths = [s for s in steps(job) if "synth" in s.get("run", "")]
    assert [s["run"].strip() for s in synths] == ["make synth"]  # every environment, once

    pack = steps(job)[step_index(job, runs("tar -cf"), "packing cdk.out")]
    assert 'tar -cf "$RUNNER_TEMP/cdk-assembly.tar" cdk.out' in pack["run"]
    (upload,) = [s for s in steps(job) if uses("actions/upload-artifact")(s) and s["with"]["name"] == ARTIFACT]
    assert upload["with"]["path"] == "${{ runner.temp }}/cdk-assembly.tar"
    assert upload["with"]["if-no-files-found"] == "error"
    # No AWS in the build: no token, no environment, no credentials.
    assert not {"permissions", "environment"} & set(job)
    assert not any("aws-actions" in s.get("uses", "") for s in steps(job))


def test_the_deploy_job_calls_the_reusable_workflow_for_its_environment():
    job = load("deploy.yml")["jobs"]["deploy"]
    assert job["uses"] == REUSABLE
    assert job["with"] == {"environment": "${{ matrix.environment }}", "python-version": "${{ needs.build.outputs.python-version }}"}
    # OIDC needs no secret, so none is passed (not even `secrets: inherit`).
    assert "secrets" not in job
    # A called workflow can only keep or lower its caller's permissions: the caller must grant
    # the id-token its job asks for.
    assert job["permissions"] == OIDC_PERMISSIONS
    assert not {"steps", "runs-on", "environment"} & set(job)
    assert all("uses" not in job for job in load("pull-request.yml")["jobs"].values())


def test_deploy_environment_job_uses_its_github_environment_and_oidc():
    job = deploy_job()
    # The deploy role trusts only tokens whose `sub` names this exact environment (stacks/ci.py),
    # and prod's required reviewers guard this job when it runs as prod.
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["permissions"] == OIDC_PERMISSIONS
    assert job["concurrency"] == {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False}

    credentials = steps(job)[step_index(job, uses("aws-actions/configure-aws-credentials"), "assuming the role")]
    assert credentials["with"]["role-to-assume"] == ROLE
    assert credentials["with"]["aws-region"] == "${{ env.AWS_REGION }}"
    assert not {"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} & set(credentials["with"])


def test_deploy_environment_job_downloads_the_assembly_then_preflights_then_deploys():
    job = deploy_job()
    python = steps(job)[step_index(job, uses("actions/setup-python"), "setting up Python")]
    assert python["with"]["python-version"] == "${{ inputs.python-version }}"
    checkout = steps(job)[step_index(job, uses("actions/checkout"), "checkout")]
    assert checkout["with"]["persist-credentials"] is False
    order = [
        step_index(job, uses("actions/checkout"), "checkout"),
        step_index(job, uses("actions/setup-python"), "setup-python"),
        step_index(job, lambda s: uses("actions/download-artifact")(s) and s["with"]["name"] == TOOLCHAIN, "the toolchain"),
        step_index(job, runs("touch .venv/.setup-done"), "unpacking the toolchain"),
        step_index(job, lambda s: uses("actions/download-artifact")(s) and s["with"]["name"] == ARTIFACT, "the assembly"),
        step_index(job, runs('tar -xf "$RUNNER_TEMP/cdk-assembly/'), "unpacking it into cdk.out"),
        step_index(job, runs("from config.environments import ENVIRONMENTS"), "checking the account id"),
        step_index(job, uses("aws-actions/configure-aws-credentials"), "assuming the role"),
        step_index(job, runs("make preflight"), "make preflight"),
        step_index(job, runs("make deploy-assembly"), "make deploy-assembly"),
    ]
    assert order == sorted(order)

    download = steps(job)[step_index(job, lambda s: uses("actions/download-artifact")(s) and s["with"]["name"] == ARTIFACT, "the assembly")]
    assert download["with"] == {"name": ARTIFACT, "path": "${{ runner.temp }}/cdk-assembly"}
    unpack = steps(job)[step_index(job, runs('tar -xf "$RUNNER_TEMP/cdk-assembly/'), "unpacking it into cdk.out")]
    assert 'tar -xf "$RUNNER_TEMP/cdk-assembly/cdk-assembly.tar"' in unpack["run"]
    preflight = steps(job)[step_index(job, runs("make preflight"), "make preflight")]
    # As the bootstrap lookup role: the deploy role itself may only assume the bootstrap roles.
    assert preflight["run"].strip() == (
        'make preflight ENV="$DEPLOY_ENV" '
        'PREFLIGHT_ROLE="arn:aws:iam::${AWS_ACCOUNT_ID}:role/cdk-hnb659fds-lookup-role-${AWS_ACCOUNT_ID}-${AWS_REGION}"'
    )
    assert preflight["env"] == {"AWS_ACCOUNT_ID": "${{ vars.AWS_ACCOUNT_ID }}"}
    deploy = steps(job)[step_index(job, runs("make deploy-assembly"), "make deploy-assembly")]
    assert deploy["run"].strip() == 'make deploy-assembly ENV="$DEPLOY_ENV" CDK_DEPLOY_FLAGS="$CDK_DEPLOY_FLAGS"'


def test_no_environment_job_synthesizes():
    scripts = "\n".join(s.get("run", "") for s in steps(deploy_job()))
    assert "synth" not in scripts
    # `make deploy` would synthesize again; only the assembly deploy is allowed, once.
    assert not re.search(r"\bmake deploy(?![-\w])", scripts)
    assert scripts.count("make deploy-assembly") == 1
    assert scripts.count("make preflight") == 1


def test_inputs_reach_shell_only_through_env():
    # An expression spliced into a script is evaluated before the shell sees it (script
    # injection); values travel through `env:` instead.
    for name in WORKFLOW_FILES:
        for job_name, job in load(name)["jobs"].items():
            for step in steps(job):
                assert "${{" not in step.get("run", ""), f"{name}: {job_name}: {step.get('name') or step['run']}"
    assert deploy_job()["env"]["DEPLOY_ENV"] == "${{ inputs.environment }}"


def test_deploy_region_and_account_comments_match_config():
    (region,) = {cfg.region for cfg in ENVIRONMENTS.values()}  # one region: the workflow names it
    assert deploy_job()["env"]["AWS_REGION"] == region
    text = (WORKFLOWS / "deploy.yml").read_text()
    for env in ENV_ORDER:
        assert re.search(rf"#\s+{env}\s+vars\.AWS_ACCOUNT_ID = {ENVIRONMENTS[env].account}\b", text), env


def test_deploy_never_prompts_and_the_makefile_passes_the_flags():
    assert deploy_job()["env"]["CDK_DEPLOY_FLAGS"] == "--require-approval never"
    done = subprocess.run(
        ["make", "-n", "deploy", "ENV=staging", "CDK_DEPLOY_FLAGS=--require-approval never"], cwd=ROOT, capture_output=True, text=True
    )
    out = done.stdout
    # Locally: one synth of staging, cfn-lint over it, then that very assembly is deployed.
    assert "synth --quiet -c env=staging" in out and "-m tools validate cdk.out" in out, out + done.stderr
    deploy = cdk_deploy_line(out, "staging")
    assert "--require-approval never" in deploy, out
    assert out.index("synth --quiet") < out.index("-m tools validate") < out.index(deploy)


def test_makefile_deploy_assembly_deploys_the_assembly_unchanged():
    done = make_dry_run("deploy-assembly", "ENV=staging", "CDK_DEPLOY_FLAGS=--require-approval never")
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "--require-approval never" in cdk_deploy_line(out, "staging"), out
    # What the build job synthesized is what CloudFormation gets: no synth here.
    assert not SYNTH_COMMAND.search(out), out


def test_makefile_has_the_preflight_the_workflow_runs():
    done = make_dry_run("preflight", "ENV=staging")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deploy --app" not in done.stdout


def test_no_stored_aws_keys_or_secrets_anywhere():
    workflows = sorted(WORKFLOWS.iterdir())
    assert [p.name for p in workflows] == WORKFLOW_FILES
    for path in workflows:
        text = path.read_text()
        for forbidden in ("aws-access-key-id", "aws-secret-access-key", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"
        assert not re.search(r"\$\{\{[^}]*\bsecrets\.", text), f"{path.name} reads a secret"
        assert not re.search(r"^\s*secrets:", text, re.MULTILINE), f"{path.name} passes or declares secrets"
        assert not re.search(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b", text), f"{path.name} holds an AWS access key id"
    # Only the deploy job (and the three calls that grant it) may mint an OIDC token.
    pull_request = load("pull-request.yml")
    assert pull_request["permissions"] == {"contents": "read"}
    assert all("permissions" not in job for job in pull_request["jobs"].values())
    deploy = load("deploy.yml")
    assert deploy["permissions"] == {"contents": "read"}
    assert {name for name, job in deploy["jobs"].items() if "permissions" in job} == {"deploy"}
    assert load("deploy-environment.yml")["permissions"] == {"contents": "read"}


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
        # make scan synthesizes every environment, then runs the scanners over it.
        step_index(job, runs("make scan"), "make scan"),
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


# ---------------------------------------------------------------- supply chain


# An action by full commit SHA, its release in a trailing comment (Dependabot moves both).
PINNED = re.compile(r"^\s*(-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+\s*$")
INSTALLS = re.compile(r"\bmake setup\b|\bpip3? install\b|\bnpm (ci|install)\b|\bpython -m pip\b|\bmake (test|scan|synth|lint)\b")


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_every_action_is_pinned_by_commit_sha_with_its_release(name):
    """A tag can be moved to other code; a SHA cannot. The SHAs cannot be checked against
    GitHub offline: their form is checked here, and Dependabot keeps them current."""
    lines = [line for line in (WORKFLOWS / name).read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert lines
    for line in lines:
        if "./.github/workflows/" in line:
            continue  # a reusable workflow of this repository, at this commit
        assert PINNED.match(line), line
    dependabot = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert any(u["package-ecosystem"] == "github-actions" for u in dependabot["updates"])


def test_no_job_that_may_get_an_oidc_token_installs_or_runs_packages_code_before_it_is_needed():
    """Package installation (and the tests and scanners, which import them) runs only in jobs
    without id-token: write; the deploy job unpacks the build job's toolchain and only then
    assumes the role."""
    jobs = [(f"{name}:{jid}", job) for name in WORKFLOW_FILES for jid, job in load(name)["jobs"].items()]
    oidc = [(where, job) for where, job in jobs if (job.get("permissions") or {}).get("id-token") == "write" and "steps" in job]
    assert [where for where, _ in oidc] == ["deploy-environment.yml:deploy"]
    for where, job in jobs:
        scripts = "\n".join(s.get("run", "") for s in steps(job))
        if (where, job) in oidc:
            assert not INSTALLS.search(scripts), where
    # The workflow-level default grants no token anywhere.
    for name in WORKFLOW_FILES:
        assert load(name)["permissions"] == {"contents": "read"}, name
    build = load("deploy.yml")["jobs"]["build"]
    pack = steps(build)[step_index(build, runs("cdk-toolchain.tar"), "packing the toolchain")]
    assert "--exclude=.venv/scanners .venv node_modules" in pack["run"]
    (upload,) = [s for s in steps(build) if uses("actions/upload-artifact")(s) and s["with"]["name"] == TOOLCHAIN]
    assert step_index(build, runs("make setup"), "make setup") < steps(build).index(upload)

"""The field's scanners (tools/scanners.py): cfn-lint, checkov and AWS Control Tower's proactive
controls. `make scan` runs them over cdk.out (zero unacknowledged findings, every template read,
checkov's canary caught), then these tests: the ones marked `scan` run a real scanner, so they
run there (pytest -m scan) and not in `make test`. Every acknowledgement is pinned, with
cdk-nag's, in tests/test_guardrails.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from tests.support import ROOT, new_app, validate_templates
from tools import scanners


def test_every_control_that_could_apply_is_selected(synthesized):
    """Only the Control Tower rules that report on a resource type of these templates run (for
    time): each rule's header says what it reports on, and every one that names a type here is
    selected."""
    types = {res["Type"] for stack in synthesized.values() for res in stack.template["Resources"].values()}
    assert types, "no resources"
    rules = scanners.control_tower_rules()
    # Every rule says what it reports on, so none can fall through the selection unseen.
    assert len(rules) >= 200 and [rule for rule, text in rules.items() if not scanners.reported_types(text)] == []
    applicable = scanners.applicable_controls(types)
    assert {"keymanagementservice/ct-kms-pr-3", "s3/ct-s3-pr-2", "cloudtrail/ct-cloudtrail-pr-1"} <= applicable
    assert len(applicable) >= 40


def test_scan_refuses_an_unknown_scanner_and_a_missing_assembly(tmp_path, capsys):
    with pytest.raises(SystemExit) as usage:
        scanners.main([str(tmp_path), "--scanners", "checkov,bandit"])
    assert usage.value.code == 2
    assert "'checkov,bandit': a comma-separated list of cfn-lint, checkov, control-tower" in capsys.readouterr().err
    assert scanners.main([str(tmp_path / "nothing")]) == 2
    assert "no cloud assembly at" in capsys.readouterr().err


@pytest.mark.scan
def test_scan_exits_1_and_names_seeded_findings_of_cfn_lint_and_checkov(tmp_path):
    """A seeded assembly: a bucket with none of this project's defaults (checkov: no access
    logs, no versioning) and a property of the wrong type (cfn-lint)."""
    app = new_app(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "Seeded", env=cdk.Environment(account="123456789012", region="us-east-1"))
    s3.CfnBucket(stack, "Plain")
    cdk.CfnResource(stack, "Broken", type="AWS::SQS::Queue", properties={"DelaySeconds": "soon"})
    app.synth()
    done = subprocess.run(
        [sys.executable, "-m", "tools", "scan", str(tmp_path / "cdk.out"), "--scanners", "cfn-lint,checkov"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SCAN_CACHE": "off"},
        timeout=600,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "checkov CKV_AWS_18 on AWS::S3::Bucket.Plain" in done.stdout, done.stdout
    assert "checkov CKV_AWS_21 on AWS::S3::Bucket.Plain" in done.stdout
    assert "cfn-lint E3012 on the template (Seeded.template.json): 'soon' is not of type 'integer'" in done.stdout, done.stdout
    assert "and its canary" in done.stdout  # the canary was read, and caught


@pytest.mark.scan
def test_cfn_lint_harness_reports_a_broken_template(tmp_path):
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"T": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"KeySchema": "nope"}}}}))
    findings = validate_templates.results(validate_templates.start({"us-east-1": [str(broken)]}))
    assert any(f.startswith("E3012 'nope' is not of type 'array'") for f in findings[str(broken)]), findings


@pytest.mark.scan
def test_the_control_tower_plugin_reports_a_key_without_the_grant_deny(tmp_path):
    app = new_app(outdir=str(tmp_path))
    stack = cdk.Stack(app, "Canary", env=cdk.Environment(account="123456789012", region="us-east-1"))
    kms.Key(stack, "Key", enable_key_rotation=True)  # CDK's default policy: no CreateGrant deny
    cdk.Validations.of(app).add_plugins(scanners.control_tower_validator({"AWS::KMS::Key"}))
    with pytest.raises(RuntimeError):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert "kms_create_grant_aws_service_check" in rules or any("CT.KMS.PR.3" in r for r in rules), rules


@pytest.mark.scan
def test_stopping_a_scanner_ends_every_process_it_started(tmp_path, monkeypatch):
    """checkov forks workers: a scan that is interrupted must not leave them behind. The scanner
    runs in a process group of its own, and stop() ends the group."""
    monkeypatch.setenv("SCAN_CACHE", "off")  # a real checkov process, never a cached answer
    process = scanners.checkov_start(scanners.CANARY, tmp_path / "out.json")
    scanners.stop(process)
    assert process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nobody is left in its group

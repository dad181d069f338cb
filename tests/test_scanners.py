"""The field's scanners over every synthesized template: checkov and AWS Control Tower's
proactive controls (cdklabs-cdk-validator-cfnguard), started in the background by conftest.

Zero unacknowledged findings; every acknowledgement is on its own resource with a reason, and
pinned with cdk-nag's in tests/test_guardrails.py. The canary template and the tiny stack
below prove each scanner still reports what it should.
"""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms

from tests.conftest import CANARY
from tests.support import new_app
from tools import scanners


def test_checkov_finds_nothing_unacknowledged_in_any_template(checkov_report):
    failed, _, _ = checkov_report
    ours = [f for f in failed if not f.template.startswith(f"/{CANARY.name}/")]
    assert [str(f) for f in ours] == []


def test_checkov_read_every_template_and_still_fails_the_canary(checkov_report, synthesized):
    failed, checked, outdir = checkov_report
    templates = {"/" + str(p.relative_to(outdir)) for p in outdir.glob("assembly-*/*.template.json")}
    assert len(templates) == len(synthesized) == 25
    assert templates <= set(checked), sorted(templates - set(checked))
    assert all(checked[t] >= 5 for t in templates), {t: checked[t] for t in templates if checked[t] < 5}
    canary = {f.rule for f in failed if f.template.startswith(f"/{CANARY.name}/")}
    assert {"CKV_AWS_18", "CKV_AWS_21"} <= canary  # no access logs, no versioning


def test_control_tower_controls_pass_with_only_acknowledged_findings(control_tower_report):
    findings, report = control_tower_report
    assert [str(f) for f in findings] == []
    # The acknowledged ones were evaluated and suppressed, not skipped.
    assert report["suppressed"] >= 20


def test_every_control_that_could_apply_is_enabled(synthesized, control_tower_report):
    """Only the Control Tower rules that report on a resource type of these templates run (for
    time): each rule's header says what it reports on, and every one that names a type here
    ran."""
    _, report = control_tower_report
    types = {res["Type"] for stack in synthesized.values() for res in stack.template["Resources"].values()}
    rules = scanners.control_tower_rules()
    # Every rule says what it reports on, so none can fall through the selection unseen.
    assert len(rules) >= 200 and [rule for rule, text in rules.items() if not scanners.reported_types(text)] == []
    applicable = scanners.applicable_controls(types)
    assert {"keymanagementservice/ct-kms-pr-3", "s3/ct-s3-pr-2", "cloudtrail/ct-cloudtrail-pr-1"} <= applicable
    assert report["rules"] == len(applicable) >= 40


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


def test_stopping_a_scanner_ends_every_process_it_started(tmp_path, monkeypatch):
    """checkov forks workers: a session that never reads its findings (-k, -x) must not leave
    them behind. The scanner runs in a process group of its own, and stop() ends the group."""
    import os

    monkeypatch.setenv("SCAN_CACHE", "off")  # a real checkov process, never a cached answer
    process = scanners.checkov_start(CANARY, tmp_path / "out.json")
    scanners.stop(process)
    assert process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nobody is left in its group

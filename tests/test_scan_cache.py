"""The scanners' result cache (tools/scan_cache.py): a result is reused only for the very same
input, a changed byte runs the scanner again, and SCAN_CACHE=off bypasses it."""

from __future__ import annotations

import json

import pytest

from tools import scan_cache, scanners
from tools import validate as validate_templates


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setattr(scan_cache, "DIRECTORY", tmp_path / "cache")
    monkeypatch.delenv("SCAN_CACHE", raising=False)
    return tmp_path / "cache"


def test_the_key_covers_every_part_every_byte_and_every_name(tmp_path):
    one = tmp_path / "a.json"
    one.write_text('{"a": 1}')
    base = scan_cache.key("tool", "1.0", files=[one], root=tmp_path)
    assert base == scan_cache.key("tool", "1.0", files=[one], root=tmp_path)
    assert base != scan_cache.key("tool", "1.1", files=[one], root=tmp_path)
    assert scan_cache.key("ab", "c") != scan_cache.key("a", "bc")  # parts are delimited
    one.write_text('{"a": 2}')
    assert base != scan_cache.key("tool", "1.0", files=[one], root=tmp_path)
    one.write_text('{"a": 1}')
    other = one.rename(tmp_path / "b.json")
    assert base != scan_cache.key("tool", "1.0", files=[other], root=tmp_path)


def test_get_and_put_round_trip_and_off_means_off(cache, monkeypatch):
    assert scan_cache.get("kind", "k") is None
    scan_cache.put("kind", "k", {"found": [1]})
    assert scan_cache.get("kind", "k") == {"found": [1]}
    assert not list((cache / "kind").glob("*.tmp"))  # written whole, then renamed
    monkeypatch.setenv("SCAN_CACHE", "off")
    assert scan_cache.get("kind", "k") is None
    scan_cache.put("kind", "other", 1)
    assert not (cache / "kind" / "other.json").exists()


@pytest.mark.scan
def test_cfn_lint_runs_once_per_template_content(cache, tmp_path):
    broken = tmp_path / "broken.template.json"
    broken.write_text(json.dumps({"Resources": {"T": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"KeySchema": "nope"}}}}))
    first = validate_templates.start({"us-east-1": [str(broken)]})
    assert len(first.processes) == 1 and not first.cached
    findings = validate_templates.results(first)[str(broken)]
    assert any(f.startswith("E3012 'nope' is not of type 'array'") for f in findings), findings

    again = validate_templates.start({"us-east-1": [str(broken)]})
    assert not again.processes and again.cached == {str(broken): findings}
    assert validate_templates.results(again) == {str(broken): findings}
    # Another region is another input, and so is one changed byte.
    key = validate_templates.lint_key(str(broken), "us-east-1")
    assert validate_templates.lint_key(str(broken), "us-west-2") != key
    broken.write_text(broken.read_text().replace("nope", "nopf"))
    assert validate_templates.lint_key(str(broken), "us-east-1") != key


def test_a_cached_checkov_report_is_written_where_the_run_would_write_it(cache, tmp_path):
    scanned = tmp_path / "scanned"
    scanned.mkdir()
    (scanned / "x.template.json").write_text("{}")
    output = tmp_path / "checkov.json"
    report = json.dumps([{"results": {"failed_checks": [{"check_id": "CKV_AWS_1", "file_path": "/x.template.json", "resource": "R"}]}}])
    scan_cache.put("checkov", scanners.checkov_key(scanned), report)

    answered = scanners.checkov_start(scanned, output)
    assert isinstance(answered, scanners.Cached) and output.read_text() == report
    failed, checked = scanners.checkov_results(answered, output)
    assert [(f.rule, f.resource) for f in failed] == [("CKV_AWS_1", "R")] and checked == {"/x.template.json": 1}
    scanners.stop(answered)  # nothing to stop, and no error
    key = scanners.checkov_key(scanned)
    (scanned / "x.template.json").write_text('{"Resources": {}}')
    assert scanners.checkov_key(scanned) != key  # a changed file runs checkov again


def test_only_the_run_specific_stack_traces_of_metadata_are_left_out_of_the_key(tmp_path):
    def metadata(kernel: str, reason: str) -> str:
        return json.dumps(
            {
                "/dev/Stack/Table": [
                    {"type": "aws:cdk:logicalId", "data": "Table", "trace": [f"/tmp/jsii-kernel-{kernel}/x.js:1"]},
                    {"type": "aws:cdk:creationStack", "data": [f"/tmp/jsii-kernel-{kernel}/vpc.js:1:291"]},
                    {"type": "aws:cdk:acknowledge", "data": reason},
                ]
            }
        )

    path = tmp_path / "Stack.metadata.json"
    path.write_text(metadata("aaaa", "why"))
    before = scan_cache.key(files=[path], root=tmp_path)
    path.write_text(metadata("bbbb", "why"))
    assert scan_cache.key(files=[path], root=tmp_path) == before
    path.write_text(metadata("bbbb", "another reason"))
    assert scan_cache.key(files=[path], root=tmp_path) != before

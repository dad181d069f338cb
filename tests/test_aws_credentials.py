"""tools/aws_credentials.py: `make diff`/`make deploy` without credentials stop with one message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

TOOL = ROOT / "tools" / "aws_credentials.py"


@pytest.fixture
def no_aws(tmp_path, monkeypatch):
    """An environment where botocore finds no credentials anywhere."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("AWS_")}
    empty = tmp_path / "empty"
    empty.write_text("")
    env.update(AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty),
               AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path))
    return env


def run(env, *args):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, env=env, timeout=60)


def test_no_credentials_one_clear_message_with_the_next_step(no_aws):
    result = run(no_aws, "deploy", "prod")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "make deploy ENV=prod stopped: no AWS credentials were found."
    assert "AWS_PROFILE=prod-admin make deploy ENV=prod" in lines[1]
    assert "placeholders" in lines[2] and "333333333333" in lines[2]
    assert "Traceback" not in result.stderr


def test_a_named_profile_that_does_not_exist_is_named(no_aws):
    result = run({**no_aws, "AWS_PROFILE": "nosuch"}, "diff", "staging")
    assert result.returncode == 2
    assert result.stderr.startswith("make diff ENV=staging stopped: the AWS settings could not be read:")
    assert "nosuch" in result.stderr and "Traceback" not in result.stderr


def test_credentials_present_pass_silently(no_aws):
    result = run({**no_aws, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x"}, "deploy", "dev")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")

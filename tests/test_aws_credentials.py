"""tools/credentials.py (python -m tools credentials): `make diff`/`make deploy` without credentials stop with one message."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

TOOL = ("-m", "tools", "credentials")


@pytest.fixture
def no_aws(tmp_path, monkeypatch):
    """An environment where botocore finds no credentials anywhere."""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("AWS_")}
    empty = tmp_path / "empty"
    empty.write_text("")
    env.update(AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp_path))
    return env


def run(env, *args):
    return subprocess.run([sys.executable, *TOOL, *args], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


def test_no_credentials_one_clear_message_with_the_next_step(no_aws):
    result = run(no_aws, "deploy", "prod")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "make deploy ENV=prod stopped: no AWS credentials were found."
    assert "AWS_PROFILE=prod-admin make deploy ENV=prod" in lines[1]
    assert "placeholders" in lines[2] and "one digit twelve times, such as 111111111111" in lines[2]
    assert "Traceback" not in result.stderr


@pytest.fixture
def here(no_aws, monkeypatch):
    """The same environment for an in-process call of message() (no interpreter start)."""
    for name in [n for n in __import__("os").environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in no_aws.items():
        if name.startswith("AWS_") or name == "HOME":
            monkeypatch.setenv(name, value)
    from tools import credentials

    return credentials


def test_a_named_profile_that_does_not_exist_is_named(here, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nosuch")
    text = here.message("diff", "staging")
    assert text.startswith("make diff ENV=staging stopped: the AWS settings could not be read:")
    assert "nosuch" in text and "(AWS_PROFILE=nosuch)" in text


def test_credentials_present_pass_silently(here, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert here.message("deploy", "dev") is None

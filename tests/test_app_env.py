"""Table names, indexes and retention reach the applications: SSM parameters in the system
stacks, and `make app-env` writing each system's variables from the synthesized templates."""

from __future__ import annotations

import json

import pytest

from config.catalogue import SYSTEMS
from tests.expected import ENVS, table_count
from tests.support import assembly_dir
from tools import app_env
from tools.tables import tables as read_tables


@pytest.mark.parametrize("env", ENVS)
def test_every_table_publishes_its_name_indexes_and_retention_and_the_app_may_read_it(synthesized, env):
    names = {t.name for t in read_tables(s for s in synthesized.values() if s.environment == env)}
    seen = 0
    for system in SYSTEMS:
        stack = synthesized[f"{system.key}-{env}"]
        res = stack.template["Resources"]
        parameters = {
            r["Properties"]["Name"]: json.loads(r["Properties"]["Value"]) for r in res.values() if r["Type"] == "AWS::SSM::Parameter"
        }
        assert sorted(parameters) == sorted(f"/data/{env}/{system.key}/tables/{spec.id}" for spec in system.tables)
        for spec in system.tables:
            value = parameters[f"/data/{env}/{system.key}/tables/{spec.id}"]
            assert value["table"] in names and value["indexes"] == [i.name for i in spec.indexes]
            assert value["ttlAttribute"] == spec.ttl_attribute
            seen += 1
        app = next(
            r
            for r in res.values()
            if r["Type"] == "AWS::IAM::ManagedPolicy" and r["Properties"].get("ManagedPolicyName") == f"{system.key}-{env}-app"
        )
        (read,) = [
            st for st in app["Properties"]["PolicyDocument"]["Statement"] if st["Action"] == ["ssm:GetParameter", "ssm:GetParameters"]
        ]
        # Its own tables' parameters, by their path: nothing else is published under it.
        assert read["Resource"] == f"arn:aws:ssm:us-east-1:{stack.account}:parameter/data/{env}/{system.key}/tables/*"
        assert all(name.startswith(f"/data/{env}/{system.key}/tables/") for name in parameters)
    assert seen == table_count() > 0, "every table of the catalogue, once (config/catalogue.py)"


def test_retention_days_are_the_ones_the_app_must_write(synthesized):
    found = app_env.variables(assembly_dir(synthesized), "prod")
    daylight = found["daylight"]
    # A cold table: its days in the table, then the archive; a hot one: its whole life.
    assert daylight["DYNAMODB_AUDIT_LOGS_EXPIRE_AFTER_DAYS"] == "365"
    assert daylight["DYNAMODB_USER_SESSIONS_EXPIRE_AFTER_DAYS"] == "30"
    assert "DYNAMODB_ROLES_EXPIRE_AFTER_DAYS" not in daylight  # no TTL, no rule
    assert daylight["DYNAMODB_USERS_EMAIL_INDEX"] == "email-index"


def test_app_env_writes_the_seeds_variables(synthesized, tmp_path, capsys):
    assert app_env.main(["--env", "prod", "--assembly", str(assembly_dir(synthesized)), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "prod").iterdir()) == sorted(f"{s.key}.env" for s in SYSTEMS)
    lines = (tmp_path / "prod" / "therapeutic-wave.env").read_text().splitlines()
    # therapeutic-wave.md's own example, for prod.
    for line in (
        "DYNAMODB_USERS_TABLE=therapeutic-wave-users-prod",
        "DYNAMODB_SESSIONS_TABLE=therapeutic-wave-sessions-prod",
        "DYNAMODB_PROGRESS_TABLE=therapeutic-wave-progress-prod",
        "DYNAMODB_SETTINGS_TABLE=therapeutic-wave-settings-prod",
        "AWS_REGION=us-east-1",
    ):
        assert line in lines
    assert "wrote" in capsys.readouterr().out
    assert app_env.main(["--env", "qa", "--assembly", str(assembly_dir(synthesized)), "--out", str(tmp_path)]) == 2
    assert "no stacks of environment 'qa'" in capsys.readouterr().err

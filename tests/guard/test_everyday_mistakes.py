"""End to end: everyday edits of config/ and constructs_lib/, synthesized by the real app for
staging and compared with the committed staging snapshots, as `make guard ENV=staging` does.

This is the path a pull request takes (tests + `make guard`). Each edit looks harmless in
review and would reach CloudFormation as a replacement, a failed update, lost archive records
or a silently weaker protection; the guard must name each one (and nothing else). All edits go
into one synth: a synth costs seconds, the comparison milliseconds.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import replace

import pytest
from aws_cdk import aws_rds as rds

import app as cdk_app
import config
import constructs_lib.database
from config.catalogue import SYSTEMS
from config.environments import ENVIRONMENTS
from constructs_lib.specs import IndexSpec, Key
from stacks import stage
from stacks import system as system_stack
from tests.support import ROOT, new_app
from tools import guard as deploy_guard

SNAPSHOTS = ROOT / "tests" / "__snapshots__" / "test_snapshots"
ENV = "staging"


def edited_systems():
    """config/catalogue.py: MADMall's sort key renamed, and two GSIs added to Fusion's entries
    table in one go."""
    systems = []
    for system in SYSTEMS:
        if system.key == "madmall":
            system = replace(system, tables=tuple(replace(t, sort_key=Key("SortKey")) if t.id == "Main" else t for t in system.tables))
        if system.key == "fusion-health":
            extra = tuple(IndexSpec(name=f"extra-{i}", partition_key=Key(f"extra{i}"), serves="test") for i in (1, 2))
            system = replace(system, tables=tuple(replace(t, indexes=t.indexes + extra) if t.id == "Entries" else t for t in system.tables))
        systems.append(system)
    return tuple(systems)


class RenamedAccessRoles(system_stack.DataAccessRoles):
    """A refactor that renames the roles' construct id ("Access" -> "Roles") in one system."""

    def __init__(self, scope, id, **kwargs):
        super().__init__(scope, "Roles" if kwargs["name_prefix"] == f"madmall-{ENV}" else id, **kwargs)


@pytest.fixture(scope="module")
def findings(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # config/environments.py: staging's protection lowered and PITR switched off "to save
        # cost" (with its protection left as it was, config validation refuses PITR off).
        staging = dataclasses.replace(
            ENVIRONMENTS[ENV], protection="rebuildable", pitr=dataclasses.replace(ENVIRONMENTS[ENV].pitr, enabled=False)
        )
        patch.setattr(config, "ENVIRONMENTS", {**ENVIRONMENTS, ENV: staging})
        patch.setattr(config.load, "__defaults__", (None, {**ENVIRONMENTS, ENV: staging}))
        # constructs_lib/database.py: the engine bumped to the next major version.
        patch.setattr(constructs_lib.database, "ENGINE_VERSION", rds.AuroraPostgresEngineVersion.VER_17_4)
        # config/retention.py: Daylight's users table taken out of archiving.
        archived = system_stack.archived_tables
        patch.setattr(system_stack, "archived_tables", lambda: [a for a in archived() if a[:2] != ("daylight", "Users")])
        patch.setattr(system_stack, "DataAccessRoles", RenamedAccessRoles)
        patch.setattr(stage, "SYSTEMS", edited_systems())
        outdir = tmp_path_factory.mktemp("candidate")
        app = new_app(outdir=str(outdir), env=ENV)
        cdk_app.build(app)
        app.synth()
    baseline = tmp_path_factory.mktemp("baseline")
    for snapshot in SNAPSHOTS.glob(f"*-{ENV}].json"):
        shutil.copy(snapshot, baseline)
    found = deploy_guard.compare(deploy_guard.load_stacks(str(baseline)), deploy_guard.load_stacks(str(outdir)))
    by_rule: dict[str, list] = {}
    for finding in found:
        by_rule.setdefault(finding.rule, []).append(finding)
    return by_rule


def test_a_changed_sort_key_is_reported_as_a_replacement(findings):
    (finding,) = findings.pop("STATEFUL-REPLACE")
    assert (finding.stack, finding.resource) == (f"madmall-{ENV}", "TableMain")
    assert "KeySchema" in finding.property and finding.action in ("replace", "fail")


def test_two_new_gsis_in_one_change_are_reported(findings):
    (finding,) = findings.pop("GSI-MULTI")
    assert (finding.stack, finding.resource, finding.action) == (f"fusion-health-{ENV}", "TableEntries", "fail")
    assert "extra-1" in finding.change and "extra-2" in finding.change


def test_pitr_switched_off_in_staging_is_a_hazard_on_every_staging_table(findings):
    """Lowering staging's protection in the same change does not silence the guard: the
    baseline's templates record staging as protected."""
    weakened = findings.pop("PROTECTION-WEAKENED")
    pitr = [f for f in weakened if f.property.endswith("PointInTimeRecoverySpecification")]
    assert pitr and all(f.change == "point-in-time recovery turned off" for f in pitr)
    assert {f.stack for f in pitr} == {f"{s.key}-{ENV}" for s in SYSTEMS}
    # The lowered protection also drops the keys' break-glass-only deny: weakened too.
    keys = [f for f in weakened if f.property == "KeyPolicy"]
    assert keys and all(f.change == "deny DenyKeyDestructionExceptBreakGlass removed or changed" for f in keys)
    # Users taken out of archiving loses its stream's policy with its stream: weakened as well.
    stream = [f for f in weakened if f.property.endswith("ReplicaStreamSpecification.ResourcePolicy")]
    assert {(f.stack, f.resource) for f in stream} == {(f"daylight-{ENV}", "TableUsers")}
    assert len(pitr) + len(keys) + len(stream) == len(weakened)


def test_engine_major_upgrade_is_stopped(findings):
    (finding,) = findings.pop("ENGINE-VERSION")
    assert (finding.stack, finding.resource, finding.action) == (f"personalpod-database-{ENV}", "DatabaseCluster", "fail")
    assert finding.change == "16.11 -> 17.4 (major)" and "AllowMajorVersionUpgrade" in finding.effect


def test_archiving_removed_from_a_table_is_stopped(findings):
    (finding,) = findings.pop("STREAM-CHANGE")
    assert (finding.stack, finding.resource) == (f"daylight-{ENV}", "TableUsers")
    assert "read by ArchiveUsersPipe" in finding.change and "never archived" in finding.effect


def test_renamed_roles_construct_fails_on_the_taken_names(findings):
    moved = findings.pop("NAME-TAKEN")
    assert {f.stack for f in moved} == {f"madmall-{ENV}"}
    kinds = {f.change.split()[0] for f in moved}
    assert {"AWS::IAM::Role", "AWS::IAM::ManagedPolicy"} <= kinds
    assert all(f.action == "fail" and "is still taken" in f.effect for f in moved)


def test_the_archive_log_group_left_behind_is_reported_as_orphaned(findings):
    (finding,) = findings.pop("STATEFUL-DELETE")
    assert (finding.stack, finding.resource.startswith("ArchiveUsersDeliveryLogs"), finding.action) == (f"daylight-{ENV}", True, "orphan")


def test_nothing_else_is_reported(findings):
    for rule in (
        "STATEFUL-REPLACE",
        "GSI-MULTI",
        "PROTECTION-WEAKENED",
        "ENGINE-VERSION",
        "STREAM-CHANGE",
        "NAME-TAKEN",
        "STATEFUL-DELETE",
    ):
        findings.pop(rule, None)  # each has its own test above; order-independent
    assert findings == {}

"""One fixture app for the tests that prove environments, tables and alarm kinds are data: the
shipped environments plus `qa` (with a replica region, and one table replicated with strong
consistency), the catalogue plus MADMall's `Notifications` table, the alarm
catalogue plus a `ConditionalCheckFailures` kind, all added the way a person would add them to
config, synthesized once per test session (tests/conftest.py, `fixture_app`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from types import MappingProxyType

import pytest

from config import ENVIRONMENTS, SYSTEMS
from config import alarms as alarm_catalogue
from config.model import AccessConfig, DatabasePerson, EnvironmentConfig, KeyConfig, ReplicaConfig, StrongConsistencyConfig
from config.rules import problems
from constructs_lib.props import AlarmKind, MetricSpec, ThresholdSpec
from constructs_lib.specs import IndexSpec, Key, SystemSpec, TableSpec
from stacks import naming, stage
from tests.support import new_app
from tools.assembly import Stack

QA_ACCOUNT = "444444444444"  # a placeholder, like the shipped accounts
QA_REPLICA_REGION = "us-east-2"
# One table with multi-Region strong consistency: the replica plus a witness make its three regions.
QA_WITNESS_REGION = "us-west-2"
QA_STRONG_TABLE = "daylight.ApiKeys"
NOTIFICATIONS = TableSpec(
    id="Notifications",
    name="madmall-{env}-notifications",
    partition_key=Key("userId"),
    sort_key=Key("createdAt"),
    indexes=(IndexSpec(name="unread-index", partition_key=Key("userId"), sort_key=Key("readAt"), serves="a user's unread notifications"),),
    ttl_attribute="expiresAt",
    serves="a user's notifications, newest first",
    holds=("phi",),
)
NEW_KIND = AlarmKind(
    id="ConditionalCheckFailures",
    name="{resource}-conditional-check-failures",
    description="Conditional writes to {subject} fail at or above {threshold} a minute.",
    applies_to=("table", "index"),
    metric=MetricSpec(name="ConditionalCheckFailedRequests", statistic="Sum"),
    threshold="conditional_check_failures",
)
NEW_THRESHOLD = ThresholdSpec(description="ConditionalCheckFailedRequests in one 60 s period", default=25)


@dataclass(frozen=True)
class FixtureApp:
    environments: dict[str, EnvironmentConfig]
    catalogue: tuple[SystemSpec, ...]
    stacks: dict[str, Stack]
    outdir: str


def qa() -> EnvironmentConfig:
    """A copy of the environment that deploys second, as a new `qa` in its own account."""
    second = sorted(ENVIRONMENTS.values(), key=lambda cfg: cfg.deploy_order)[1]
    role = f"arn:aws:iam::{QA_ACCOUNT}:role"
    return dataclasses.replace(
        second,
        name="qa",
        account=QA_ACCOUNT,
        deploy_order=max(cfg.deploy_order for cfg in ENVIRONMENTS.values()) + 1,
        access=AccessConfig(readonly_principal_arns=(f"{role}/DataAnalyst",), migration_principal_arns=(f"{role}/DataMigration",)),
        keys=KeyConfig(administrator_arns=(f"{role}/KeyAdministrator",), break_glass_arn=f"{role}/BreakGlass"),
        backup=dataclasses.replace(second.backup, restore_principal_arns=(f"{role}/DataRestore",)),
        # Principals are per account: a copied environment names its own (validation says so).
        database=dataclasses.replace(
            second.database,
            people=(DatabasePerson(name="dba_oncall", principal_arn=f"{role}/DatabaseOnCall"),),
            bootstrap_principal_arn=f"{role}/DatabaseBootstrap",
        ),
        # A replica region, as an environment grows one: the archive streams moved to
        # NEW_AND_OLD_IMAGES first, as validation requires (docs/first-deploy.md).
        replicas=(
            ReplicaConfig(
                region=QA_REPLICA_REGION,
                kms_key_arn=f"arn:aws:kms:{QA_REPLICA_REGION}:{QA_ACCOUNT}:key/{'0' * 8}-0000-0000-0000-{'0' * 12}",
            ),
        ),
        archive=dataclasses.replace(second.archive, stream_view="NEW_AND_OLD_IMAGES"),
        strong_consistency=StrongConsistencyConfig(tables=(QA_STRONG_TABLE,), witness_region=QA_WITNESS_REGION),
        tags={**second.tags, "CostCenter": "data-platform-qa"},
    )


def with_new_kind(patch: pytest.MonkeyPatch) -> None:
    """The alarm catalogue with NEW_KIND and its threshold, as config/alarms.py would have them."""
    patch.setattr(alarm_catalogue, "ALARM_KINDS", MappingProxyType({**alarm_catalogue.ALARM_KINDS, "conditional_checks": NEW_KIND}))
    patch.setattr(
        alarm_catalogue, "THRESHOLDS", MappingProxyType({**alarm_catalogue.THRESHOLDS, "conditional_check_failures": NEW_THRESHOLD})
    )


def build(outdir: str) -> FixtureApp:
    catalogue = tuple(
        dataclasses.replace(system, tables=(*system.tables, NOTIFICATIONS)) if system.key == "madmall" else system for system in SYSTEMS
    )
    with pytest.MonkeyPatch.context() as patch:
        with_new_kind(patch)
        # Each environment as config/environments.py builds it: the catalogue's defaults under its own thresholds.
        environments = {
            name: dataclasses.replace(
                cfg, alarms=dataclasses.replace(cfg.alarms, thresholds=alarm_catalogue.alarm_thresholds(**cfg.alarms.thresholds))
            )
            for name, cfg in {**ENVIRONMENTS, "qa": qa()}.items()
        }
        found = problems(environments, catalogue)
        assert found == [], f"the fixture config must be valid: {found}"
        for module in (stage, naming):  # the modules that read the catalogue while building
            patch.setattr(module, "SYSTEMS", catalogue)
        app = new_app(outdir=outdir)
        stages = [stage.DataStage(app, config=cfg) for cfg in environments.values()]
        app.synth()
        stacks = {
            artifact.stack_name: Stack(
                name=artifact.stack_name,
                environment=built.stage_name,
                template=artifact.template,
                termination_protection=bool(artifact.termination_protection),
                source=artifact.template_full_path,
            )
            for built in stages
            for artifact in built.synth().stacks
        }
    return FixtureApp(environments, catalogue, stacks, outdir)

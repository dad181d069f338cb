"""One cdk.Stage per environment: the platform stack and one stack per seed system."""

from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from constructs import Construct

from config.model import EnvironmentConfig
from stacks import naming
from config.catalogue import SYSTEMS
from stacks.platform import PlatformStack
from stacks.system import SystemStack


PLATFORM = "data-platform"


def stack_names(config: EnvironmentConfig) -> list[str]:
    """The stacks an environment synthesizes, by CloudFormation stack name."""
    return [naming.stack_name(config, key) for key in (PLATFORM, *(s.key for s in SYSTEMS))]


class DataStage(Stage):
    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, config.name, env=Environment(account=config.account, region=config.region))
        for key, value in {"Environment": config.name, "ManagedBy": "cdk", **config.tags}.items():
            Tags.of(self).add(key, value)
        common = dict(termination_protection=config.termination_protection)
        self.platform = PlatformStack(
            self,
            "platform",
            stack_name=naming.stack_name(config, PLATFORM),
            description=f"Shared data platform for {config.name}: alert topic, access-log bucket, account-level DynamoDB alarms",
            config=config,
            any_provisioned=any(b.mode == "PROVISIONED" for b in (config.billing, *config.billing_overrides.values())),
            **common,
        )
        self.systems = {}
        for system in SYSTEMS:
            stack = SystemStack(
                self,
                system.key,
                stack_name=naming.stack_name(config, system.key),
                description=f"{system.title} data layer ({config.name}), declared from shared/seeds/{system.seed}",
                system=system,
                config=config,
                **common,
            )
            # Alarms address the platform's alert topic by name, so it must exist first.
            stack.add_stack_dependency(self.platform)
            self.systems[system.key] = stack
        self.stacks = [self.platform, *self.systems.values()]


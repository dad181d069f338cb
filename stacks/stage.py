"""One cdk.Stage per environment: the platform stack, one stack per seed system, PersonalPod's
PostgreSQL store and the CI deploy role."""

from __future__ import annotations

from aws_cdk import Environment, Stage, Tags
from aws_cdk import aws_iam as iam
from constructs import Construct

from config.catalogue import SYSTEMS
from config.model import PROTECTION_METADATA, SYSTEM_TAG, EnvironmentConfig
from constructs_lib.arns import partition
from constructs_lib.dashboards import Dashboard, alarm_widgets
from stacks import naming
from stacks.ci import CiDeployStack
from stacks.database import DATABASE, DatabaseStack
from stacks.offsite import OFFSITE, OffsiteStack
from stacks.platform import PlatformStack
from stacks.system import SystemStack

PLATFORM = "data-platform"
CI_DEPLOY = "ci-deploy"


def stack_regions(config: EnvironmentConfig) -> dict[str, str]:
    """The stacks an environment synthesizes, by CloudFormation stack name, with their region."""
    keys = (*([OFFSITE] if config.offsite.region else []), PLATFORM, *(s.key for s in SYSTEMS), DATABASE, CI_DEPLOY)
    return {
        naming.stack_name(config, key): (config.offsite.region if key == OFFSITE and config.offsite.region else config.region)
        for key in keys
    }


def stack_names(config: EnvironmentConfig) -> list[str]:
    """The stacks an environment synthesizes, by CloudFormation stack name."""
    return list(stack_regions(config))


class DataStage(Stage):
    def __init__(self, scope: Construct, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, config.name, env=Environment(account=config.account, region=config.region))
        for key, value in {"Environment": config.name, "ManagedBy": "cdk", **config.tags}.items():
            Tags.of(self).add(key, value)
        common = dict(termination_protection=config.termination_protection)
        self.offsite = None
        if config.offsite.region:
            # In the second region: the platform's audit archive replicates into it, and every
            # backup rule copies into its vault, so it is deployed first.
            self.offsite = OffsiteStack(
                self,
                OFFSITE,
                stack_name=naming.stack_name(config, OFFSITE),
                description=f"Off-site copies for {config.name} in {config.offsite.region}: locked backup vault, audit archive and trail replicas",
                config=config,
                env=Environment(account=config.account, region=config.offsite.region),
                **common,
            )
        self.platform = PlatformStack(
            self,
            "platform",
            stack_name=naming.stack_name(config, PLATFORM),
            description=f"Shared data platform for {config.name}: alert topic, access logs, archive buckets, backup vault, budget, account-level DynamoDB alarms",
            config=config,
            any_provisioned=any(b.mode == "PROVISIONED" for b in (config.billing, *config.billing_overrides.values())),
            **common,
        )
        if self.offsite is not None:
            self.platform.add_stack_dependency(self.offsite)
        self.systems = {}
        for system in SYSTEMS:
            stack = SystemStack(
                self,
                system.key,
                stack_name=naming.stack_name(config, system.key),
                description=f"{system.title} data layer ({config.name}), declared from shared/seeds/{system.seed}",
                system=system,
                config=config,
                archive_targets=self.platform.archive_targets,
                **common,
            )
            # Alarms address the platform's alert topic by name, so it must exist first.
            stack.add_stack_dependency(self.platform)
            # The cost-allocation tag the system budgets filter on (config.system_budgets_usd).
            Tags.of(stack).add(SYSTEM_TAG, system.key)
            self.systems[system.key] = stack
        # PersonalPod's PostgreSQL store. It grants the personalpod stack's app role (by name) and
        # notifies the platform's alert topic (by name), so both must exist first.
        personalpod = self.systems["personalpod"]
        self.database = DatabaseStack(
            self,
            DATABASE,
            stack_name=naming.stack_name(config, DATABASE),
            description=(
                f"PersonalPod PostgreSQL primary store ({config.name}): Aurora PostgreSQL Serverless v2"
                + (" behind RDS Proxy" if config.database.proxy else ", IAM sign-in direct,")
                + " in an isolated VPC"
            ),
            system=personalpod.system,
            config=config,
            **common,
        )
        self.database.add_stack_dependency(personalpod)
        Tags.of(self.database).add(SYSTEM_TAG, personalpod.system.key)
        self.database.add_stack_dependency(self.platform)
        # Deployed once by hand with admin credentials; after that CI deploys everything, itself too.
        self.ci_deploy = CiDeployStack(
            self,
            CI_DEPLOY,
            stack_name=naming.stack_name(config, CI_DEPLOY),
            description=f"GitHub Actions OIDC deploy role cdk-deploy-{config.name}: may only assume the CDK bootstrap roles",
            config=config,
            stack_regions=stack_regions(config),
            **common,
        )
        self.stacks = [*([self.offsite] if self.offsite else []), self.platform, *self.systems.values(), self.database, self.ci_deploy]
        for each in self.stacks:
            # How much the environment's data is worth (config), in the template itself: the deploy
            # guard reads it from what is deployed too, so lowering it in config cannot silence the
            # guard for the same change's weakened protections.
            each.template_options.metadata = {PROTECTION_METADATA: config.protection}
            # Every role the environment deploys carries the boundary: the execution policy
            # refuses to create one without it (tools/bootstrap.py, deploy/).
            boundary = iam.ManagedPolicy.from_managed_policy_name(each, "PermissionsBoundary", naming.boundary_name(config))
            iam.PermissionsBoundary.of(each).apply(boundary)
        # The environment's overview: every alarm's state, in the platform stack (alarms are
        # addressed by name, like the alert topic, so no stack depends on another for it).
        names = [
            *self.platform.alarm_actions.names,
            *(n for s in self.systems.values() for n in s.alarm_actions.names),
            *self.database.alarm_actions.names,
        ]
        Dashboard(
            self.platform,
            "Overview",
            name=f"data-overview-{config.name}",
            widgets=alarm_widgets(
                f"Every data alarm of {config.name}",
                [f"arn:{partition(config.region)}:cloudwatch:{config.region}:{config.account}:alarm:{n}" for n in names],
            ),
        )

"""An environment's own settings: its name, account and region, how much its data is worth
(`protection`) and what that requires, its place in the deploy order, PITR and removal, budgets,
tags, replicas and Contributor Insights. What is checked depends on these fields, never on
the environment's name."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from config.errors import Problems
from config.model import COST_TAG
from config.rules.aws import ACCOUNT, KMS_KEY_ARN, TAG_KEY, region_ok

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

# Every physical name is built from the environment's name, and tools read it back as the last
# "-"-separated part of a stack's name (daylight-prod): lowercase letters and digits only.
# rules/names.py checks the names built from it against each service's own limits.
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9]*$")
PROTECTION_LEVELS = ("rebuildable", "protected", "production")


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    keys = [s.key for s in systems]
    p.check(
        isinstance(cfg.name, str) and bool(ENVIRONMENT_NAME.match(cfg.name)),
        "name",
        cfg.name,
        "lowercase letters and digits, starting with a letter (it is part of every physical name, and ends every stack's name)",
    )
    p.check(bool(ACCOUNT.match(cfg.account)), "account", cfg.account, "a 12-digit AWS account id")
    p.check(region_ok(cfg.region), "region", cfg.region, "an AWS region of the aws partition (botocore's list), e.g. us-east-1")
    p.check(cfg.protection in PROTECTION_LEVELS, "protection", cfg.protection, "one of " + ", ".join(PROTECTION_LEVELS))
    p.check(
        isinstance(cfg.deploy_order, int) and not isinstance(cfg.deploy_order, bool) and cfg.deploy_order >= 0,
        "deploy_order",
        cfg.deploy_order,
        "a whole number >= 0 (lower deploys first)",
    )

    days = cfg.pitr.recovery_period_days
    p.check(isinstance(days, int) and 1 <= days <= 35, "pitr.recovery_period_days", days, "1-35 (DynamoDB's range)")
    p.check(cfg.removal_policy in ("retain", "destroy"), "removal_policy", cfg.removal_policy, "retain or destroy")
    if cfg.protection in ("protected", "production"):
        # Data worth keeping may never be lost by a config slip: these are not choices there.
        where = f"True where protection is {cfg.protection!r}"
        p.check(cfg.pitr.enabled is True, "pitr.enabled", cfg.pitr.enabled, where)
        p.check(cfg.deletion_protection is True, "deletion_protection", cfg.deletion_protection, where)
        p.check(cfg.removal_policy == "retain", "removal_policy", cfg.removal_policy, f"'retain' where protection is {cfg.protection!r}")
        p.check(cfg.termination_protection is True, "termination_protection", cfg.termination_protection, where)

    p.check(cfg.dashboards in ("all", "overview"), "dashboards", cfg.dashboards, "all or overview")
    p.check(
        cfg.contributor_insights in ("off", "THROTTLED_KEYS", "ACCESSED_AND_THROTTLED_KEYS"),
        "contributor_insights",
        cfg.contributor_insights,
        "off, THROTTLED_KEYS or ACCESSED_AND_THROTTLED_KEYS",
    )
    p.positive("monthly_budget_usd", cfg.monthly_budget_usd)
    # The budgets filter on these tags (stacks/stage.py): CostCenter must be set per environment.
    p.check(bool(cfg.tags.get(COST_TAG)), f"tags[{COST_TAG!r}]", cfg.tags.get(COST_TAG), "set: the environment's budget filters on it")
    for system, amount in cfg.system_budgets_usd.items():
        p.check(system in keys, f"system_budgets_usd[{system!r}]", system, "a system key: " + ", ".join(keys))
        p.positive(f"system_budgets_usd[{system!r}]", amount)
    shares = sum(a for a in cfg.system_budgets_usd.values() if isinstance(a, int))
    p.check(
        shares <= cfg.monthly_budget_usd if isinstance(cfg.monthly_budget_usd, int) else True,
        "system_budgets_usd",
        dict(cfg.system_budgets_usd),
        f"shares adding up to at most monthly_budget_usd ({cfg.monthly_budget_usd}), not {shares}",
    )
    p.positive("access_log_retention_days", cfg.access_log_retention_days)
    for key, value in cfg.tags.items():
        p.check(
            bool(TAG_KEY.match(key)) and not key.lower().startswith("aws:"),
            f"tags[{key!r}]",
            key,
            "a tag key of 1-128 characters, not starting with aws:",
        )
        p.check(isinstance(value, str) and len(value) <= 256, f"tags[{key!r}]", value, "a string of at most 256 characters")

    seen_regions = {cfg.region}
    for i, replica in enumerate(cfg.replicas):
        ok_region = region_ok(replica.region)
        p.check(ok_region, f"replicas[{i}].region", replica.region, "an AWS region name such as us-west-2")
        p.check(
            replica.region not in seen_regions,
            f"replicas[{i}].region",
            replica.region,
            "a region other than the primary and the other replicas",
        )
        seen_regions.add(replica.region)
        match = KMS_KEY_ARN.match(replica.kms_key_arn)
        p.check(
            match is not None and (not ok_region or match["region"] == replica.region),
            f"replicas[{i}].kms_key_arn",
            replica.kms_key_arn,
            f"a KMS key ARN in {replica.region}",
        )

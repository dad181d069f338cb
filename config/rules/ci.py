"""GitHub Actions OIDC deploys: the repository, the account's provider, the bootstrap qualifier."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import BOOTSTRAP_QUALIFIER, GITHUB_OIDC_PROVIDER_ARN, GITHUB_OWNER, GITHUB_REPO


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    ci = cfg.ci
    p.check(
        bool(GITHUB_OWNER.match(ci.github_owner)),
        "ci.github_owner",
        ci.github_owner,
        "a GitHub user or organisation: 1-39 letters, digits or inner single hyphens",
    )
    p.check(
        bool(GITHUB_REPO.match(ci.github_repo)),
        "ci.github_repo",
        ci.github_repo,
        "a GitHub repository name: 1-100 letters, digits, '.', '_' or '-'",
    )
    if ci.oidc_provider_arn is not None:
        match = GITHUB_OIDC_PROVIDER_ARN.match(ci.oidc_provider_arn)
        # The deploy role can only trust a provider of its own account.
        p.check(
            match is not None and match["account"] == cfg.account,
            "ci.oidc_provider_arn",
            ci.oidc_provider_arn,
            f"None, or arn:aws:iam::{cfg.account}:oidc-provider/token.actions.githubusercontent.com",
        )
    p.check(
        bool(BOOTSTRAP_QUALIFIER.match(ci.bootstrap_qualifier)),
        "ci.bootstrap_qualifier",
        ci.bootstrap_qualifier,
        "1-10 lowercase letters or digits (cdk bootstrap --qualifier)",
    )

"""Physical names shared between stacks. Stacks address each other's resources by these
names instead of CloudFormation exports, which would lock the exporting resource in place."""

from config.model import EnvironmentConfig


def alert_topic_name(cfg: EnvironmentConfig) -> str:
    return f"data-alerts-{cfg.name}"


def access_log_bucket_name(cfg: EnvironmentConfig) -> str:
    # Bucket names are global: account and region make it unique.
    return f"data-access-logs-{cfg.name}-{cfg.account}-{cfg.region}"


def stack_name(cfg: EnvironmentConfig, system_key: str) -> str:
    return f"{system_key}-{cfg.name}"


def removal_policy(cfg: EnvironmentConfig):
    from aws_cdk import RemovalPolicy

    return RemovalPolicy.RETAIN if cfg.removal_policy == "retain" else RemovalPolicy.DESTROY


def archive_bucket_name(cfg: EnvironmentConfig, *, audit: bool) -> str:
    return f"data-{'audit-' if audit else ''}archive-{cfg.name}-{cfg.account}-{cfg.region}"


def backup_vault_name(cfg: EnvironmentConfig) -> str:
    return f"data-tables-{cfg.name}"

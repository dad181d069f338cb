"""`python -m tools preflight --env ENV [--offline]` (make preflight):
read-only checks before a first deploy, one checklist line each, in this order:

    placeholders   shipped placeholder values still in the config (offline, always first)
    identity       STS account and the session's region against the config's
    bootstrap      the CDKToolkit stack and its BootstrapVersion in every region deployed to
    principals     every IAM principal ARN in config exists
    alert topic    the external alert topic exists
    slack          the Slack workspace is authorized in AWS Chatbot
    engine         the Aurora PostgreSQL engine version is offered in the region
    backup         AWS Backup's advanced DynamoDB features, where a rule uses cold storage
    keys           every KMS key ARN in config (replica regions) exists and is Enabled
    management events  with an organization trail, one logs management write events in the
                   region (the tamper alerts read nothing else)
    copy targets   the air-gapped vault (if it exists: air-gapped and locked) and another
                   account's vault (exists and is locked)
    cost tags      the cost-allocation tags the budgets filter on are active

Lines read `PASS <check>: <what was seen>`, `FAIL <check>: <what is wrong> -> <what to do>` or
`SKIP <check>: <why not>`. Exit 1 on any FAIL, 0 otherwise, 2 on a usage error. AWS settings
are boto3's own (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...). `--offline` runs only the
placeholder check, with no AWS call and no credentials: `make deploy` runs it first.

Nothing is created or changed: every AWS call is a Describe, Get or List.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from config.model import COST_TAG, SYSTEM_TAG
from tools.preflight.lines import Line, failed, passed, skipped
from tools.preflight.offline import count, placeholders

if TYPE_CHECKING:
    from config.model import EnvironmentConfig
    from tools.preflight.aws import Aws

__all__ = ["Line", "main", "placeholders", "run"]

ROOT = Path(__file__).resolve().parents[2]
AWS_CHECKS = (
    "identity",
    "bootstrap",
    "principals",
    "alert topic",
    "slack",
    "engine",
    "backup",
    "keys",
    "management events",
    "copy targets",
    "cost allocation tags",
)


def placeholder_lines(cfg: EnvironmentConfig) -> list[Line]:
    found = placeholders(cfg)
    if not found:
        return [passed("placeholders", f"none in {cfg.name}'s config ({count(cfg)} values looked at)")]
    return [failed("placeholder", f"{key} = {value!r}", todo) for key, value, todo in found]


def run(
    cfg: EnvironmentConfig, *, offline: bool = False, aws: Aws | None = None, assembly: Path = ROOT / "cdk.out", role_arn: str | None = None
) -> Iterator[Line]:
    """The checklist of `cfg`, line by line. Without `aws`, a session from the usual AWS settings."""
    yield from placeholder_lines(cfg)
    if offline:
        return
    from tools.preflight import aws as aws_module
    from tools.preflight import checks, resources

    if aws is None:
        aws, problem = aws_module.connect(role_arn)
        if aws is None:
            yield failed("credentials", problem, aws_module.sign_in(cfg.name))
            yield skipped("aws checks", f"{', '.join(AWS_CHECKS)} not run without credentials")
            return
    try:
        lines, account = checks.identity(cfg, aws)
    except aws_module.AWS_ERRORS as error:
        yield aws_module.identity_failure(cfg.name, error)
        yield skipped("aws checks", f"{', '.join(AWS_CHECKS[1:])} not run: STS did not accept the credentials")
        return
    yield from lines
    context = checks.Context(cfg, aws, account, assembly)
    for check in (
        checks.bootstrap,
        checks.principals,
        checks.alert_topic,
        checks.slack,
        resources.engine,
        resources.backup,
        resources.keys,
        resources.management_events,
        resources.copy_targets,
    ):
        yield from check(context)
    yield from resources.cost_tags(context, (COST_TAG, SYSTEM_TAG) if cfg.system_budgets_usd else (COST_TAG,))


def main(argv: list[str] | None = None) -> int:
    from config import ENVIRONMENTS, ConfigError, load

    parser = argparse.ArgumentParser(
        prog="python -m tools preflight",
        description=(__doc__ or "").split("\n", 1)[-1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, choices=list(ENVIRONMENTS), help="the environment to check")
    parser.add_argument("--offline", action="store_true", help="only the placeholder check: no AWS call, no credentials (make deploy)")
    parser.add_argument(
        "--assembly",
        type=Path,
        default=ROOT / "cdk.out",
        help="synthesized cloud assembly to read required versions from (default cdk.out)",
    )
    parser.add_argument(
        "--role-arn",
        help="run the AWS checks as this role (CI: the CDK bootstrap lookup role, which may read; its deploy role may not)",
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        (cfg,) = load(args.env)
    except ConfigError as error:
        problems = [text.strip() for text in str(error).splitlines() if text.strip()]
        for problem in problems[1:] if len(problems) > 1 and problems[0].endswith(":") else problems:
            print(failed("config", problem, "fix it in config/ (cdk synth stops on it too)"))
        return 1
    failures = 0
    for line in run(cfg, offline=args.offline, assembly=args.assembly, role_arn=args.role_arn):
        print(line, flush=True)
        failures += line.status == "FAIL"
    return 1 if failures else 0

"""The read-only AWS checks of the account: identity, bootstrap, principals, alert topic and
Slack (those of what the resources need are in resources.py). Each yields one line per thing it
looked at; an AWS error on one thing becomes that thing's FAIL line (aws.attempt).

Which ARNs to look at is found by walking the config (offline.strings), so a principal or key
added to a new field is checked without a change here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from config.model import EnvironmentConfig
from tools.preflight import synthesized
from tools.preflight.aws import Aws, attempt, error_code, error_text
from tools.preflight.lines import Line, failed, passed, skipped
from tools.preflight.offline import WHERE, strings

TOOLKIT_STACK = "CDKToolkit"  # `cdk bootstrap`'s default --toolkit-stack-name
DEFAULT_QUALIFIER = "hnb659fds"
# A bootstrap stack in one of these states can be deployed with; any other is failed or busy.
USABLE_STATES = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
# AWS Chatbot's API answers in a few regions only; its console and configuration live in us-east-2.
CHATBOT_REGION = "us-east-2"

IAM_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(?P<account>\d{12}):(?P<kind>role|user|oidc-provider)/(?P<name>.+)$")
SNS_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):.+$")


@dataclass(frozen=True)
class Context:
    cfg: EnvironmentConfig
    aws: Aws
    account: str  # the account the credentials are in (STS), which may not be the config's
    assembly: Path


def identity(cfg: EnvironmentConfig, aws: Aws) -> tuple[list[Line], str]:
    """STS GetCallerIdentity against the config's account, the session's region against the
    config's. Raises when STS refuses or cannot be reached: nothing else can run then."""
    who = aws.client("sts", aws.region or cfg.region).get_caller_identity()
    account, arn = str(who["Account"]), str(who.get("Arn", "?"))
    lines = []
    if account == cfg.account:
        lines.append(passed("identity", f"signed in to account {account} ({arn}), {cfg.name}'s account"))
    else:
        lines.append(
            failed(
                "identity",
                f"signed in to account {account} ({arn}), but {cfg.name}.account = {cfg.account!r}",
                f"sign in to account {cfg.account} (AWS_PROFILE), or set {cfg.name}.account to the real account id in {WHERE}",
            )
        )
    if aws.region == cfg.region:
        lines.append(passed("identity", f"session region {aws.region}, {cfg.name}'s region"))
    else:
        lines.append(
            failed(
                "identity",
                f"session region {aws.region or 'not set'} (AWS_REGION or the profile's region), but {cfg.name}.region = {cfg.region!r}",
                f"export AWS_REGION={cfg.region} (or set region = {cfg.region} in the profile), then run again",
            )
        )
    return lines, account


def deploy_regions(cfg: EnvironmentConfig) -> list[str]:
    """The environment's region, then each replica's and the off-site region."""
    return list(
        dict.fromkeys([cfg.region, *(replica.region for replica in cfg.replicas), *([cfg.offsite.region] if cfg.offsite.region else [])])
    )


def bootstrap(ctx: Context) -> Iterator[Line]:
    stacks = synthesized.stacks_of(ctx.assembly, ctx.cfg.name)
    required = synthesized.required_bootstrap_version(stacks)
    for region in deploy_regions(ctx.cfg):
        check = f"bootstrap aws://{ctx.account}/{region}"
        yield attempt(check, "cloudformation:DescribeStacks", partial(_bootstrap_in, ctx, region, check, required))


def _bootstrap_in(ctx: Context, region: str, check: str, required: synthesized.Fact) -> Line:
    qualifier = ctx.cfg.ci.bootstrap_qualifier
    command = (
        f"`cdk bootstrap aws://{ctx.cfg.account}/{region}" + ("" if qualifier == DEFAULT_QUALIFIER else f" --qualifier {qualifier}") + "`"
    )
    try:
        stack = ctx.aws.client("cloudformation", region).describe_stacks(StackName=TOOLKIT_STACK)["Stacks"][0]
    except ClientError as error:
        code, message = error_text(error)
        if code == "ValidationError" and "does not exist" in message:
            return failed(
                check,
                f"no {TOOLKIT_STACK} stack: the account/region is not bootstrapped",
                f"run {command} once (npx cdk from this repository)",
            )
        raise
    status = str(stack.get("StackStatus", "?"))
    if status not in USABLE_STATES:
        return failed(check, f"{TOOLKIT_STACK} is {status}", f"wait for it, or repair it and run {command} again")
    parameters = {p.get("ParameterKey"): p.get("ParameterValue") for p in stack.get("Parameters", [])}
    if parameters.get("Qualifier") not in (None, qualifier):
        return failed(
            check,
            f"{TOOLKIT_STACK} was bootstrapped with qualifier {parameters['Qualifier']!r}, but {ctx.cfg.name}.ci.bootstrap_qualifier = {qualifier!r}",
            f"set ci.bootstrap_qualifier in {WHERE} to the account's, or run {command}",
        )
    outputs = {o.get("OutputKey"): o.get("OutputValue") for o in stack.get("Outputs", [])}
    version = str(outputs.get("BootstrapVersion", ""))
    if not version.isdigit():
        return failed(
            check, f"{TOOLKIT_STACK} has no BootstrapVersion output (found {version!r})", f"re-bootstrap with a current CDK CLI: {command}"
        )
    if int(version) < required.value:
        return failed(
            check,
            f"{TOOLKIT_STACK} BootstrapVersion {version} < {required.value}, required by {required.source}",
            f"upgrade it with a current CDK CLI: {command}",
        )
    # CDK's default gives CloudFormation AdministratorAccess; this app's deploy path is the
    # generated execution policies (tools/bootstrap.py).
    from tools.bootstrap import execution_policy_arns

    expected = execution_policy_arns(ctx.cfg)
    given = sorted(filter(None, (parameters.get("CloudFormationExecutionPolicies") or "").split(",")))
    if given != sorted(expected):
        return failed(
            check,
            f"its CloudFormation execution role has {', '.join(given) or 'AdministratorAccess (the default)'}, not the app's "
            f"execution policies ({', '.join(expected)})",
            f"run make bootstrap ENV={ctx.cfg.name} (docs/first-deploy.md)",
        )
    return passed(
        check,
        f"{TOOLKIT_STACK} {status}, BootstrapVersion {version} >= {required.value} ({required.source}), "
        f"execution policies {', '.join(p.rsplit('/', 1)[1] for p in expected)}",
    )


def principals(ctx: Context) -> Iterator[Line]:
    found = [(key, value, m) for key, value in strings(ctx.cfg) if (m := IAM_ARN.match(value))]
    if not found:
        yield passed("principals", "no IAM principal ARN in config")
    for key, arn, match in found:
        check = f"principal {key}"
        if match["account"] != ctx.account:
            yield skipped(check, f"{arn} is in account {match['account']}, not the signed-in {ctx.account}: check it from that account")
            continue
        yield attempt(check, _IAM_CALLS[match["kind"]], partial(_principal, ctx, check, arn, match))


# ARN kind -> the IAM call that reads it
_IAM_CALLS = {"role": "iam:GetRole", "user": "iam:GetUser", "oidc-provider": "iam:GetOpenIDConnectProvider"}


def _read_principal(iam: Any, kind: str, name: str, arn: str) -> dict[str, Any]:
    if kind == "role":
        return dict(iam.get_role(RoleName=name)["Role"])
    if kind == "user":
        return dict(iam.get_user(UserName=name)["User"])
    iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    return {"Arn": arn}


def _principal(ctx: Context, check: str, arn: str, match: re.Match[str]) -> Line:
    kind = match["kind"]
    name = match["name"].rsplit("/", 1)[-1]  # a role's or user's path comes before its name
    try:
        found = _read_principal(ctx.aws.client("iam", ctx.aws.region or ctx.cfg.region), kind, name, arn)
    except ClientError as error:
        if error_code(error) != "NoSuchEntity":
            raise
        return failed(check, f"{arn}: no such {kind} in account {ctx.account}", f"create it, or fix {check.split(' ', 1)[1]} in {WHERE}")
    if found.get("Arn") != arn:  # the name exists under another path: a trust policy naming `arn` is refused
        return failed(check, f"{arn}: the {kind} is {found.get('Arn')}", f"use that ARN in {WHERE}")
    return passed(check, f"{kind} {arn} exists")


def alert_topic(ctx: Context) -> Iterator[Line]:
    arn = ctx.cfg.alerts.external_topic_arn
    if arn is None:
        yield passed("alert topic", "no external topic configured")
        return
    match = SNS_ARN.match(arn)
    region = match["region"] if match else ctx.cfg.region
    yield attempt("alert topic", "sns:GetTopicAttributes", partial(_topic, ctx, arn, region))


def _topic(ctx: Context, arn: str, region: str) -> Line:
    try:
        ctx.aws.client("sns", region).get_topic_attributes(TopicArn=arn)
    except ClientError as error:
        if error_code(error) not in ("NotFound", "NotFoundException"):
            raise
        return failed(
            "alert topic",
            f"{ctx.cfg.name}.alerts.external_topic_arn = {arn}: no such topic",
            f"create it (the on-call tool's topic), or fix the ARN in {WHERE}",
        )
    return passed("alert topic", f"{arn} exists")


def slack(ctx: Context) -> Iterator[Line]:
    configured = ctx.cfg.alerts.slack
    if configured is None:
        yield passed("slack", "no Slack channel configured")
        return
    yield attempt("slack", "chatbot:DescribeSlackWorkspaces", partial(_slack, ctx, configured.workspace_id))


def _slack(ctx: Context, workspace_id: str) -> Line:
    pages = ctx.aws.client("chatbot", CHATBOT_REGION).get_paginator("describe_slack_workspaces").paginate()
    workspaces = {w["SlackTeamId"]: w for page in pages for w in page.get("SlackWorkspaces", [])}
    workspace = workspaces.get(workspace_id)
    todo = f"authorize the workspace once in the AWS Chatbot console ({CHATBOT_REGION}: Configure new client > Slack), then run again"
    if workspace is None:
        seen = ", ".join(sorted(workspaces)) or "none"
        return failed(
            "slack", f"workspace {workspace_id} is not authorized in AWS Chatbot in account {ctx.account} (authorized: {seen})", todo
        )
    state = workspace.get("State")
    if state not in (None, "ENABLED"):
        return failed("slack", f"workspace {workspace_id} is {state} in AWS Chatbot: {workspace.get('StateReason', '')}".rstrip(": "), todo)
    return passed("slack", f"workspace {workspace_id} ({workspace.get('SlackTeamName', '?')}) is authorized in AWS Chatbot")

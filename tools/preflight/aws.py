"""The AWS side of the preflight: one boto3 session from the usual settings, which boto3 reads
itself (AWS_PROFILE, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, ~/.aws, SSO, instance role) but for
AWS_REGION, which botocore ignores and the session is given; its clients; and the translation
of an AWS error into a checklist line with a next step.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from tools.preflight.lines import Line, failed

# Errors an AWS call raises: the service said no (ClientError), it could not be asked, or its
# answer was not the service's (an HTML error page from a proxy or a stand-in).
AWS_ERRORS = (BotoCoreError, ClientError, ResponseParserError)
# Error codes of credentials that are stale or not the account's.
SIGNED_OUT = ("ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch")
# Longest error message quoted on a line; an AWS message is short, an HTML page is not.
MESSAGE_LIMIT = 300


def client_config() -> Config:
    """Read-only calls, so the standard retry mode's few quick attempts (3, or AWS_MAX_ATTEMPTS as
    for any AWS tool); a slow or unreachable endpoint must not hang the checklist. A new Config
    per client: botocore writes the attempt count it resolves into the one it is given."""
    return Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard"})


class Aws:
    """A boto3 session and its clients, one per (service, region), made once: a test can put a
    botocore Stubber on the very client a check will use (`aws.client("chatbot", region)`)."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._clients: dict[tuple[str, str], Any] = {}

    @property
    def region(self) -> str | None:
        region = self.session.region_name
        return str(region) if region else None

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = self.session.client(service, region_name=region, config=client_config())
        return self._clients[service, region]


def connect(role_arn: str | None = None) -> tuple[Aws | None, str]:
    """(the session, "") when credentials resolve, else (None, what went wrong). Without
    `role_arn` it is offline: it only asks botocore where credentials would come from (STS is
    the identity check's call). With it, the checks run as that role: CI's deploy role may only
    assume the CDK bootstrap roles, and the bootstrap lookup role can read (ReadOnlyAccess)."""
    try:
        # AWS_REGION first, then AWS_DEFAULT_REGION or the profile's region, as the AWS CLI does.
        session = boto3.Session(region_name=os.environ.get("AWS_REGION") or None)
        credentials = session.get_credentials()
    except BotoCoreError as error:  # a broken profile or config file: name it, no traceback
        return None, f"the AWS settings could not be read: {error}"
    if credentials is None:
        return None, "no AWS credentials were found (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, SSO or an instance role)"
    if role_arn:
        try:
            assumed = session.client("sts", config=client_config()).assume_role(RoleArn=role_arn, RoleSessionName="preflight")
        except AWS_ERRORS as error:
            code, message = error_text(error)
            return None, f"could not assume {role_arn}: {code + ': ' if code else ''}{message}"
        keys = assumed["Credentials"]
        session = boto3.Session(
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys["SessionToken"],
            region_name=session.region_name,
        )
    return Aws(session), ""


def sign_in(env: str) -> str:
    """The next step when the credentials are missing or refused."""
    profile = os.environ.get("AWS_PROFILE") or f"{env}-admin"
    return (
        f"sign in and name the profile, e.g. `aws sso login --profile {profile} && "
        f"AWS_PROFILE={profile} python -m tools preflight --env {env}` (make preflight ENV={env})"
    )


def error_text(error: Exception) -> tuple[str, str]:
    """(code, message) of an AWS error, the message on one line; code is "" when no service answered."""
    code, message = "", str(error)
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code, message = str(details.get("Code", "")), str(details.get("Message", ""))
    message = " ".join(message.split())
    return code, message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def error_code(error: ClientError) -> str:
    return error_text(error)[0]


def as_line(check: str, call: str, error: Exception) -> Line:
    """A FAIL line for an AWS call that raised, with the step that usually fixes it."""
    code, message = error_text(error)
    wrong = f"{call} failed: " + (f"{code}: {message}" if code else message)
    if code.startswith(("AccessDenied", "UnauthorizedOperation", "AuthorizationError")) or code == "UnrecognizedClientException":
        todo = f"use a profile that may call {call} (read-only, e.g. the ReadOnlyAccess policy), then run again"
    elif code in SIGNED_OUT:
        todo = "sign in again (aws sso login, or fresh keys), then run again"
    elif not code:
        todo = "check the network and the AWS settings (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL), then run again"
    else:
        todo = "fix what the error names, then run again"
    return failed(check, wrong, todo)


def identity_failure(env: str, error: Exception) -> Line:
    """The FAIL line when STS itself refuses or cannot be reached: every other check needs it."""
    line = as_line("identity", "sts:GetCallerIdentity", error)
    code, _ = error_text(error)
    if code in SIGNED_OUT or not code:
        todo = sign_in(env) + ("" if code else "; if signed in, check the network and AWS_ENDPOINT_URL")
        return failed(line.check, line.seen, todo)
    return line


def attempt(check: str, call: str, run: Callable[[], Line]) -> Line:
    """run(), or a FAIL line naming `call` if it raised an AWS error: one bad answer never hides
    the other checks."""
    try:
        return run()
    except AWS_ERRORS as error:
        return as_line(check, call, error)

"""Placeholders still in an environment's config: the check `make deploy` runs before any AWS
call (`python -m tools preflight --env ENV --offline`). Standard library and config only.

The config is walked generically (dataclass fields, nested dataclasses, tuples, mappings), so a
field added later is covered without a change here; each value found is named by its dotted
key path, as config/rules/ names them ("prod.alerts.emails[0]").
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import fields, is_dataclass

from tools.credentials import PLACEHOLDER_ACCOUNT

WHERE = "config/environments.py"
# RFC 2606's reserved example domains, and any subdomain of them.
_EXAMPLE_EMAIL = re.compile(r"^[^@\s]+@(?:[^@\s]+\.)?example\.(?:com|net|org)$", re.IGNORECASE)
# The shipped Slack ids: a team (workspace) id T00000000, a channel id C00000000.
_SLACK_WORKSPACE = re.compile(r"^T0{8,}$")
_SLACK_CHANNEL = re.compile(r"^C0{8,}$")
_GITHUB_OWNER = "example-org"


def walk(value: object, path: str = "") -> Iterator[tuple[str, object]]:
    """Every leaf value under `value`, with its key path: "alerts.slack.workspace_id",
    "replicas[0].kms_key_arn", "billing_overrides['fusion-health'].mode"."""
    if is_dataclass(value) and not isinstance(value, type):
        for f in fields(value):
            yield from walk(getattr(value, f.name), f"{path}.{f.name}" if path else f.name)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from walk(item, f"{path}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from walk(item, f"{path}[{i}]")
    elif isinstance(value, (set, frozenset)):
        for i, item in enumerate(sorted(value, key=repr)):
            yield from walk(item, f"{path}[{i}]")
    else:
        yield path, value


def strings(cfg: object) -> Iterator[tuple[str, str]]:
    """Every string value of an environment's config, keyed "ENV.dotted.path"."""
    env = getattr(cfg, "name", "")
    for path, value in walk(cfg):
        if isinstance(value, str):
            yield f"{env}.{path}" if env else path, value


def _what_to_do(key: str, value: str) -> str | None:
    """What to do about `value` if it is a shipped placeholder, else None."""
    if PLACEHOLDER_ACCOUNT.fullmatch(value):
        return f"set the real AWS account id in {WHERE}"
    found = PLACEHOLDER_ACCOUNT.search(value)
    if found:
        return f"put the real ARN in {WHERE}: its account id {found.group(0)} is a placeholder"
    if _EXAMPLE_EMAIL.match(value):
        return f"set a real address that reads {key.split('.', 1)[0]}'s alerts in {WHERE}"
    if _SLACK_WORKSPACE.match(value):
        return (
            f"set the real Slack workspace (team) id in {WHERE}: Slack shows it, and so does AWS Chatbot once the workspace is authorized"
        )
    if _SLACK_CHANNEL.match(value):
        return f"set the real Slack channel id in {WHERE}: Slack shows it at the bottom of the channel's details"
    if value == _GITHUB_OWNER:
        return (
            f"set the repository's real GitHub owner: ci=CiConfig(github_owner=..., github_repo=...) in {WHERE} "
            "(the placeholder is CiConfig's default in config/model.py; docs/ci-deploy-roles.md)"
        )
    return None


def placeholders(cfg: object) -> list[tuple[str, object, str]]:
    """(key, value, what to do) for every placeholder still in `cfg`, in field order."""
    found: list[tuple[str, object, str]] = []
    for key, value in strings(cfg):
        todo = _what_to_do(key, value)
        if todo is not None:
            found.append((key, value, todo))
    return found


def count(cfg: object) -> int:
    """How many leaf values a placeholder search looks at (shown on the PASS line)."""
    return sum(1 for _ in walk(cfg))

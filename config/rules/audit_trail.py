"""The audit trail: this project's own, an organization trail, or none where data is not protected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

import re

from config.rules.aws import check_role_arns

CLOUDTRAIL_ARN = re.compile(r"^arn:aws(-[a-z]+)*:cloudtrail:[a-z0-9-]+:(?P<account>\d{12}):trail/[\w.-]{3,128}$")


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    trail = cfg.audit_trail
    p.check(trail.mode in ("create", "organization", "off"), "audit_trail.mode", trail.mode, "create, organization or off")
    # An environment whose tables are protected holds data worth an audit trail.
    p.check(
        not (trail.mode == "off" and cfg.deletion_protection),
        "audit_trail.mode",
        trail.mode,
        "create or organization where tables are deletion-protected: that data needs a record of who read and wrote it",
    )
    for name in ("read_events", "management_events"):
        p.check(isinstance(getattr(trail, name), bool), f"audit_trail.{name}", getattr(trail, name), "True or False")
    if trail.mode == "organization":
        p.check(
            isinstance(trail.organization_trail_arn, str) and bool(CLOUDTRAIL_ARN.match(trail.organization_trail_arn)),
            "audit_trail.organization_trail_arn",
            trail.organization_trail_arn,
            "the organization trail's ARN, arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME",
        )
        return
    p.check(
        trail.organization_trail_arn is None,
        "audit_trail.organization_trail_arn",
        trail.organization_trail_arn,
        "None unless mode is organization",
    )
    if trail.mode == "off":
        return
    _positive_days = isinstance(trail.retention_days, int) and not isinstance(trail.retention_days, bool) and trail.retention_days > 0
    p.check(_positive_days, "audit_trail.retention_days", trail.retention_days, "a whole number of days > 0")
    p.check(
        trail.object_lock in (None, "COMPLIANCE", "GOVERNANCE"),
        "audit_trail.object_lock",
        trail.object_lock,
        "COMPLIANCE, GOVERNANCE or None",
    )
    check_role_arns(p, "audit_trail.reader_arns", trail.reader_arns)

"""How archived items age in S3: Glacier, then Deep Archive past Glacier's minimum, and the audit archive's Object Lock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.model import GLACIER_MINIMUM_DAYS


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    archive = cfg.archive
    p.check(
        isinstance(archive.glacier_after_days, int) and archive.glacier_after_days >= 0,
        "archive.glacier_after_days",
        archive.glacier_after_days,
        "a whole number >= 0",
    )
    floor = archive.glacier_after_days + GLACIER_MINIMUM_DAYS
    p.check(
        archive.deep_archive_after_days >= floor,
        "archive.deep_archive_after_days",
        archive.deep_archive_after_days,
        f">= glacier_after_days + {GLACIER_MINIMUM_DAYS} ({floor}): Glacier bills 90 days minimum",
    )
    p.check(
        archive.stream_view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"),
        "archive.stream_view",
        archive.stream_view,
        "OLD_IMAGE or NEW_AND_OLD_IMAGES",
    )
    p.check(
        archive.audit_object_lock in (None, "COMPLIANCE", "GOVERNANCE"),
        "archive.audit_object_lock",
        archive.audit_object_lock,
        "COMPLIANCE, GOVERNANCE or None",
    )

"""Retention classes from the daylight seed's hot/warm/cold table, and the other systems' rules.

Hot and warm data lives in DynamoDB for its days and then TTL deletes it for good. Cold data
is "archived but retained": the item leaves the table by TTL (audit entries after a hot year,
users/profiles/locations when the app closes or retires them) and the archive keeps it until
the end of its retention. The archival issue turns `archive=True` rules into infrastructure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Tier = Literal["hot", "warm", "cold"]


@dataclass(frozen=True, kw_only=True)
class RetentionRule:
    tier: Tier
    # The seed's retention, counted from the item's creation: its whole life, table and archive.
    days: int
    # Where the seed gives no number, the rule says so and docs show the decision.
    from_seed: bool = True
    # Audit records go to the audit archive, which Object Lock protects where config says so.
    audit: bool = False
    # Cold tables: days in the table before TTL archives the item (the app writes expiresAt =
    # creation + table_days). The archive keeps it the rest: days - table_days. The seed gives
    # the total only, so the split is a decision (docs/retention.md).
    table_days: int | None = None

    @property
    def archive(self) -> bool:
        return self.tier == "cold"

    @property
    def archive_days(self) -> int:
        """Days the archive keeps an item (lifecycle expiry, and Object Lock where there is one)."""
        return self.days - (self.table_days or 0)

    def archive_prefix(self, system: str, table_id: str) -> str:
        return f"{system}/{table_id}/"


# (system key, table id) -> rule. A table with TTL and no rule keeps items until the app
# sets expiresAt (Therapeutic Wave's configurable retention, PersonalPod's cache).
RETENTION: dict[tuple[str, str], RetentionRule] = {
    ("daylight", "UserSessions"): RetentionRule(tier="hot", days=30),
    ("daylight", "LocationHistory"): RetentionRule(tier="hot", days=90),
    ("daylight", "WeatherCache"): RetentionRule(tier="hot", days=7),
    ("daylight", "TrafficData"): RetentionRule(tier="hot", days=30),
    ("daylight", "EventsCache"): RetentionRule(tier="hot", days=14),
    ("daylight", "PerformanceMetrics"): RetentionRule(tier="hot", days=30),
    ("daylight", "Plans"): RetentionRule(tier="warm", days=365),
    ("daylight", "UsageAnalytics"): RetentionRule(tier="warm", days=365),
    ("daylight", "ErrorLogs"): RetentionRule(tier="warm", days=90),
    ("daylight", "ApiUsage"): RetentionRule(tier="warm", days=365),
    # A hot year in the table for audit queries; the rest of the seven years in the archive.
    ("daylight", "AuditLogs"): RetentionRule(tier="cold", days=2555, audit=True, table_days=365),
    ("daylight", "UserProfiles"): RetentionRule(tier="cold", days=2555, table_days=730),
    ("daylight", "Locations"): RetentionRule(tier="cold", days=1095, table_days=365),
    ("daylight", "Users"): RetentionRule(tier="cold", days=2555, table_days=730),
    ("daylight", "AuthSessions"): RetentionRule(tier="hot", days=30, from_seed=False),
    ("daylight", "RateLimits"): RetentionRule(tier="hot", days=1, from_seed=False),
}


def archived() -> list[tuple[str, str, RetentionRule]]:
    """(system, table id, rule) of every table whose expired items are archived, in a stable order."""
    return [(system, table_id, rule) for (system, table_id), rule in sorted(RETENTION.items()) if rule.archive]

"""Every access pattern the seeds show or imply, run against the local dev tables and samples.

Each pattern is one Query or GetItem on a table key or an index, never a Scan (the session's
boto3 hook fails any Scan). Expected results are the items' primary keys ("PK|SK"), in the
order DynamoDB returns them unless a pattern says the order is not defined.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from boto3.dynamodb.conditions import Key

from config.catalogue import SYSTEMS
from tests.local.helpers import aws_session

# "Now" for the share-token patterns: 2025-05-23T11:33:20Z.
NOW = 1748000000


@dataclass(frozen=True)
class Pattern:
    id: str
    system: str
    table: str  # catalogue table id
    expect: list[str]
    get: dict | None = None  # GetItem key; otherwise a Query with `condition`
    condition: object = None
    index: str | None = None
    newest_first: bool = False
    limit: int | None = None
    ordered: bool = True  # False where items tie on the index key and DynamoDB's order is not defined
    extra: dict = field(default_factory=dict)


def q(id, system, table, condition, expect, **kw) -> Pattern:
    return Pattern(id=id, system=system, table=table, condition=condition, expect=expect, **kw)


def g(id, system, table, key, expect) -> Pattern:
    return Pattern(id=id, system=system, table=table, get=key, expect=expect)


FH, TW, MM, DL, PP = "fusion-health", "therapeutic-wave", "madmall", "daylight", "personalpod"

PATTERNS = [
    # Fusion health: the seed's four queries, with its date-range variants, and the summary.
    q("fusion: all entries of a date", FH, "Entries", Key("date").eq("0523"), ["0523|0730", "0523|1300", "0523|1815"]),
    q(
        "fusion: a date's entries in a time range",
        FH,
        "Entries",
        Key("date").eq("0523") & Key("timestamp").between("1200", "1800"),
        ["0523|1300"],
    ),
    q(
        "fusion: entries with a medication",
        FH,
        "Entries",
        Key("medication_taken").eq("oxycodone"),
        ["0521|0800", "0522|0900", "0523|1300", "0523|1815"],
        index="medication-index",
        ordered=False,
    ),
    q(
        "fusion: a medication in a date range",
        FH,
        "Entries",
        Key("medication_taken").eq("oxycodone") & Key("date").between("0522", "0530"),
        ["0522|0900", "0523|1300", "0523|1815"],
        index="medication-index",
        ordered=False,
    ),
    q(
        "fusion: entries by pain level",
        FH,
        "Entries",
        Key("max_pain_level").eq(8),
        ["0521|0800", "0522|0900", "0523|1300"],
        index="pain-level-index",
    ),
    q(
        "fusion: a pain level in a date range",
        FH,
        "Entries",
        Key("max_pain_level").eq(8) & Key("date").between("0520", "0522"),
        ["0521|0800", "0522|0900"],
        index="pain-level-index",
    ),
    g("fusion: a date's summary", FH, "DailySummaries", {"date": "0523"}, ["0523"]),
    # Therapeutic Wave: GetItem by id on every table, and its three GSIs.
    g("wave: a user profile", TW, "Users", {"userId": "u-auth-1"}, ["u-auth-1"]),
    q(
        "wave: idle anonymous users",
        TW,
        "Users",
        Key("isAnonymous").eq("true") & Key("lastActiveAt").lt("2025-05-01"),
        ["u-anon-2"],
        index="isAnonymous-lastActiveAt-index",
    ),
    q(
        "wave: anonymous users by last activity",
        TW,
        "Users",
        Key("isAnonymous").eq("true"),
        ["u-anon-1", "u-anon-2"],
        index="isAnonymous-lastActiveAt-index",
        newest_first=True,
    ),
    g("wave: a session", TW, "Sessions", {"sessionId": "s-103"}, ["s-103"]),
    q(
        "wave: a user's sessions, newest first",
        TW,
        "Sessions",
        Key("userId").eq("u-auth-1"),
        ["s-103", "s-102", "s-101"],
        index="userId-startTime-index",
        newest_first=True,
    ),
    q(
        "wave: a user's sessions in a time range",
        TW,
        "Sessions",
        Key("userId").eq("u-auth-1") & Key("startTime").between("2025-05-20", "2025-05-24"),
        ["s-102", "s-103"],
        index="userId-startTime-index",
    ),
    g("wave: a progress record", TW, "Progress", {"progressId": "p-u-auth-1-2025-05-19"}, ["p-u-auth-1-2025-05-19"]),
    q(
        "wave: a user's progress over weeks",
        TW,
        "Progress",
        Key("userId").eq("u-auth-1") & Key("weekStartDate").between("2025-05-12", "2025-05-19"),
        ["p-u-auth-1-2025-05-12", "p-u-auth-1-2025-05-19"],
        index="userId-weekStartDate-index",
    ),
    g("wave: a user's settings", TW, "Settings", {"settingsId": "u-auth-1"}, ["u-auth-1"]),
    # MADMall: the seed's key patterns on the base table, and GSI1-GSI4.
    g("madmall: user profile (getById)", MM, "Main", {"PK": "USER#u1", "SK": "PROFILE"}, ["USER#u1|PROFILE"]),
    q(
        "madmall: a user's circles (getUserCircles)",
        MM,
        "Main",
        Key("PK").eq("USER#u1") & Key("SK").begins_with("CIRCLE#"),
        ["USER#u1|CIRCLE#c1", "USER#u1|CIRCLE#c2"],
    ),
    g("madmall: circle metadata", MM, "Main", {"PK": "CIRCLE#c1", "SK": "METADATA"}, ["CIRCLE#c1|METADATA"]),
    q(
        "madmall: a circle's members (getMembers)",
        MM,
        "Main",
        Key("PK").eq("CIRCLE#c1") & Key("SK").begins_with("MEMBER#"),
        ["CIRCLE#c1|MEMBER#u1", "CIRCLE#c1|MEMBER#u2"],
    ),
    g("madmall: story metadata", MM, "Main", {"PK": "STORY#s1", "SK": "METADATA"}, ["STORY#s1|METADATA"]),
    q(
        "madmall: a story's comments",
        MM,
        "Main",
        Key("PK").eq("STORY#s1") & Key("SK").begins_with("COMMENT#"),
        ["STORY#s1|COMMENT#cm1", "STORY#s1|COMMENT#cm2"],
    ),
    g("madmall: business profile", MM, "Main", {"PK": "BUSINESS#b1", "SK": "METADATA"}, ["BUSINESS#b1|METADATA"]),
    g("madmall: resource", MM, "Main", {"PK": "RESOURCE#r1", "SK": "METADATA"}, ["RESOURCE#r1|METADATA"]),
    q(
        "madmall: user by email (GSI1, getByEmail)",
        MM,
        "Main",
        Key("GSI1PK").eq("EMAIL#jane@example.com"),
        ["USER#u1|PROFILE"],
        index="GSI1",
    ),
    q(
        "madmall: circles by type (GSI1, getByType)",
        MM,
        "Main",
        Key("GSI1PK").eq("TYPE#support_group"),
        ["CIRCLE#c1|METADATA", "CIRCLE#c2|METADATA"],
        index="GSI1",
    ),
    q(
        "madmall: feed, newest first (GSI2)",
        MM,
        "Main",
        Key("GSI2PK").eq("FEED#global"),
        ["STORY#s2|METADATA", "STORY#s1|METADATA"],
        index="GSI2",
        newest_first=True,
    ),
    q("madmall: moderation queue (GSI3)", MM, "Main", Key("GSI3PK").eq("STATUS#PENDING_REVIEW"), ["STORY#s3|METADATA"], index="GSI3"),
    q(
        "madmall: a tenant's circles only (GSI4)",
        MM,
        "Main",
        Key("GSI4PK").eq("TENANT#t1") & Key("GSI4SK").begins_with("CIRCLE#"),
        ["CIRCLE#c1|METADATA", "CIRCLE#c3|METADATA"],
        index="GSI4",
    ),
    # Daylight: the seed's services, per user and by date range, on all 19 tables.
    g("daylight: getUserById", DL, "Users", {"userId": "usr-1"}, ["usr-1"]),
    q("daylight: getUserByEmail", DL, "Users", Key("email").eq("maya@example.com"), ["usr-1"], index="email-index"),
    g("daylight: a user's profile", DL, "UserProfiles", {"userId": "usr-1"}, ["usr-1"]),
    g("daylight: an active session", DL, "UserSessions", {"sessionId": "us-1b"}, ["us-1b"]),
    q(
        "daylight: a user's active sessions",
        DL,
        "UserSessions",
        Key("userId").eq("usr-1"),
        ["us-1a", "us-1b"],
        index="userId-createdAt-index",
    ),
    q("daylight: getUserPlans", DL, "Plans", Key("userId").eq("usr-1"), ["usr-1|plan-001", "usr-1|plan-002"]),
    g("daylight: updatePlan(planId, userId) target", DL, "Plans", {"userId": "usr-1", "planId": "plan-002"}, ["usr-1|plan-002"]),
    g("daylight: a location", DL, "Locations", {"locationId": "loc-foz"}, ["loc-foz"]),
    q(
        "daylight: locations in a geohash cell",
        DL,
        "Locations",
        Key("geohash").eq("eycs0"),
        ["loc-alfama", "loc-ribeira"],
        index="geohash-locationId-index",
    ),
    q(
        "daylight: getUserLocationHistory(userId, 2)",
        DL,
        "LocationHistory",
        Key("userId").eq("usr-1"),
        ["usr-1|2025-05-23T09:45:00.000Z#44aa", "usr-1|2025-05-22T12:10:00.000Z#9e0b"],
        newest_first=True,
        limit=2,
    ),
    q(
        "daylight: getLocationHistoryByDateRange",
        DL,
        "LocationHistory",
        Key("userId").eq("usr-1") & Key("recordedAt").between("2025-05-21", "2025-05-23"),
        ["usr-1|2025-05-21T17:30:00.000Z#1c2d", "usr-1|2025-05-22T12:10:00.000Z#9e0b"],
    ),
    g("daylight: getWeatherCache", DL, "WeatherCache", {"locationKey": "eycs0"}, ["eycs0"]),
    g("daylight: getTrafficCache", DL, "TrafficData", {"routeKey": "loc-alfama>loc-ribeira"}, ["loc-alfama>loc-ribeira"]),
    q(
        "daylight: events near a location on a day",
        DL,
        "EventsCache",
        Key("locationKey").eq("eycs0") & Key("eventKey").begins_with("2025-05-24"),
        ["eycs0|2025-05-24T09:00:00Z#ev-market", "eycs0|2025-05-24T18:00:00Z#ev-concert"],
    ),
    q(
        "daylight: getUserAnalytics(userId, days)",
        DL,
        "UsageAnalytics",
        Key("userId").eq("usr-1") & Key("occurredAt").gte("2025-05-22"),
        ["usr-1|2025-05-22T18:02:00Z#e2", "usr-1|2025-05-23T09:46:00Z#e3"],
    ),
    q(
        "daylight: getDailyAnalytics(date)",
        DL,
        "UsageAnalytics",
        Key("eventDate").eq("2025-05-22"),
        ["usr-2|2025-05-22T07:01:00Z#e4", "usr-1|2025-05-22T18:02:00Z#e2"],
        index="eventDate-occurredAt-index",
    ),
    q(
        "daylight: a metric over a time range",
        DL,
        "PerformanceMetrics",
        Key("metricName").eq("api.latency.p95") & Key("timestamp").between("2025-05-23T06:00:00Z", "2025-05-23T06:05:00Z"),
        ["api.latency.p95|2025-05-23T06:00:00Z", "api.latency.p95|2025-05-23T06:05:00Z"],
    ),
    q(
        "daylight: a component's errors since a date",
        DL,
        "ErrorLogs",
        Key("source").eq("weather-sync") & Key("occurredAt").gte("2025-05-23"),
        ["weather-sync|2025-05-23T03:00:00Z#x2"],
    ),
    g("daylight: validate an auth session", DL, "AuthSessions", {"authSessionId": "as-2"}, ["as-2"]),
    q("daylight: a user's auth sessions", DL, "AuthSessions", Key("userId").eq("usr-1"), ["as-1", "as-2"], index="userId-createdAt-index"),
    q(
        "daylight: an actor's audit trail in a range",
        DL,
        "AuditLogs",
        Key("actorId").eq("usr-1") & Key("occurredAt").between("2025-05-22", "2025-05-24"),
        ["usr-1|2025-05-22T18:03:00Z#au1", "usr-1|2025-05-23T09:50:00Z#au2"],
    ),
    q(
        "daylight: who touched a resource",
        DL,
        "AuditLogs",
        Key("resourceId").eq("plan-001"),
        ["usr-1|2025-05-23T09:50:00Z#au2", "admin-1|2025-05-23T10:00:00Z#au3"],
        index="resourceId-occurredAt-index",
    ),
    g("daylight: a role", DL, "Roles", {"roleId": "admin"}, ["admin"]),
    g("daylight: a permission", DL, "Permissions", {"permissionId": "audit.read"}, ["audit.read"]),
    g(
        "daylight: authenticate by API key hash",
        DL,
        "ApiKeys",
        {"apiKeyHash": "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"},
        ["sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"],
    ),
    q(
        "daylight: an owner's API keys",
        DL,
        "ApiKeys",
        Key("ownerId").eq("partner-a"),
        [
            "sha256:5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
            "sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
        ],
        index="ownerId-createdAt-index",
    ),
    q(
        "daylight: one key's usage since a date",
        DL,
        "ApiUsage",
        Key("apiKeyId").eq("key-1") & Key("timestamp").gte("2025-05-23"),
        ["key-1|2025-05-23T00:00:00Z"],
    ),
    g("daylight: a rate-limit window", DL, "RateLimits", {"bucketKey": "key-1#2025-05-23T10:00"}, ["key-1#2025-05-23T10:00"]),
    g("daylight: a missing user is no item", DL, "Users", {"userId": "usr-404"}, []),
    # PersonalPod: cache lookups, sessions, share tokens, activity.
    g("personalpod: a cached item", PP, "Cache", {"userId": "user-1", "cacheKey": "content#c-10"}, ["user-1|content#c-10"]),
    q(
        "personalpod: a user's cached content",
        PP,
        "Cache",
        Key("userId").eq("user-1") & Key("cacheKey").begins_with("content#"),
        ["user-1|content#c-10", "user-1|content#c-11"],
    ),
    q("personalpod: a user's live sessions", PP, "Sessions", Key("userId").eq("user-1"), ["user-1|sess-a", "user-1|sess-b"]),
    g("personalpod: resolve a share token", PP, "ShareTokens", {"token": "tok-live-2"}, ["tok-live-2"]),
    q(
        "personalpod: an owner's unexpired share links",
        PP,
        "ShareTokens",
        Key("ownerId").eq("user-1") & Key("expiresAt").gt(NOW),
        ["tok-live-1", "tok-live-2"],
        index="ownerId-expiresAt-index",
    ),
    q(
        "personalpod: recent activity, newest first",
        PP,
        "Activity",
        Key("userId").eq("user-1"),
        ["user-1|2025-05-23T07:50:00Z#a3", "user-1|2025-05-22T16:30:00Z#a2"],
        newest_first=True,
        limit=2,
    ),
]


@pytest.fixture(scope="module")
def resource(dev_stack, moto_endpoint):
    return aws_session("us-east-1").resource("dynamodb", endpoint_url=moto_endpoint)


@pytest.fixture(scope="module")
def dev_tables(dev_stack):
    """(system, table id) -> TableDef of the dev environment."""
    return {(t.system, t.id): t for t in dev_stack["tables"]}


def _primary_key(item: dict, table) -> str:
    return "|".join(str(item[name]) for name, _ in table.key_schema)


@pytest.mark.parametrize("pattern", PATTERNS, ids=[p.id for p in PATTERNS])
def test_access_pattern(pattern: Pattern, resource, dev_tables):
    table = dev_tables[(pattern.system, pattern.table)]
    handle = resource.Table(table.name)
    if pattern.get is not None:
        item = handle.get_item(Key=pattern.get).get("Item")
        found = [_primary_key(item, table)] if item else []
    else:
        kwargs = {"KeyConditionExpression": pattern.condition, "ScanIndexForward": not pattern.newest_first}
        if pattern.index:
            kwargs["IndexName"] = pattern.index
        if pattern.limit:
            kwargs["Limit"] = pattern.limit
        found = [_primary_key(item, table) for item in handle.query(**kwargs)["Items"]]
    if pattern.ordered:
        assert found == pattern.expect
    else:
        assert sorted(found) == sorted(pattern.expect)


def test_every_table_and_index_has_a_pattern(dev_tables):
    """A table or GSI added to the catalogue without an access-pattern test fails here."""
    assert PATTERNS and dev_tables
    covered_tables = {(p.system, p.table) for p in PATTERNS}
    covered_indexes = {(p.system, p.table, p.index) for p in PATTERNS if p.index}
    every_index = {(system, table_id, index.name) for (system, table_id), t in dev_tables.items() for index in t.indexes}
    assert set(dev_tables) - covered_tables == set()
    assert every_index - covered_indexes == set()
    # ...and the templates hold what the catalogue declares, so coverage is not vacuous.
    assert len(dev_tables) == sum(len(s.tables) for s in SYSTEMS)
    assert len(every_index) == sum(len(t.indexes) for s in SYSTEMS for t in s.tables)


def test_every_dev_table_holds_its_samples(dev_stack, moto_endpoint):
    dynamodb = aws_session("us-east-1").client("dynamodb", endpoint_url=moto_endpoint)
    assert dev_stack["tables"]
    counts = {t.name: dynamodb.describe_table(TableName=t.name)["Table"]["ItemCount"] for t in dev_stack["tables"]}
    assert counts == dev_stack["counts"]
    assert min(counts.values()) >= 1
    assert counts["fusion-health-entries-dev"] == 7 and counts["fusion-daily-summaries-dev"] == 3


def test_imported_sample_entries_carry_the_derived_gsi_attributes(resource):
    item = resource.Table("fusion-health-entries-dev").get_item(Key={"date": "0523", "timestamp": "1300"})["Item"]
    assert item["medication_taken"] == "oxycodone"
    assert item["max_pain_level"] == 8
    assert item["pain"] == {"quads": "6-7-8", "back": "6-7-8", "glutes": "6-7-8"}
    assert item["o2"] == "88" and item["bpr"] == "129/59"


def test_scan_is_refused_by_the_test_session(resource):
    with pytest.raises(AssertionError, match="Scan called"):
        resource.Table("madmall-dev-main").scan()

"""The five seed systems' DynamoDB tables: names, keys, indexes, TTL and access patterns.

This is the single source of truth the stacks, the docs and the local tools read. Names,
keys and indexes the seeds specify are copied exactly; where a seed is silent the design
decision is recorded in `serves`/`description` and in docs/data-model/.

Never change a table's `id` or key schema: the id is its pinned logical id, and a key change
replaces the table (the deploy guard and the pin tests stop both).
"""

from __future__ import annotations

from constructs_lib.specs import Holding, IndexSpec, InsightsMode, Key, KeyType, LeadingKeys, SystemSpec, TableClass, TableSpec

S: KeyType = "S"
N: KeyType = "N"
TTL = "expiresAt"  # epoch seconds (Number); DynamoDB deletes the item within days after it

# What each table holds (constructs_lib/specs.py, Holding). A table marked as holding none of
# them has its reason in docs/data-model/decisions/<system>.md ("What the tables hold").
PHI: tuple[Holding, ...] = ("phi",)
NOTHING: tuple[Holding, ...] = ()
# Contributor Insights: the hot tables' most; sensitive keys get THROTTLED_KEYS at most.
ACCESSED: InsightsMode = "ACCESSED_AND_THROTTLED_KEYS"
THROTTLED: InsightsMode = "THROTTLED_KEYS"


def _gsi(
    pk: str,
    sk: str | None,
    serves: str,
    *,
    pk_type: KeyType = S,
    sk_type: KeyType = S,
    name: str | None = None,
    holds: tuple[Holding, ...] = (),
) -> IndexSpec:
    return IndexSpec(
        name=name or (f"{pk}-{sk}-index" if sk else f"{pk}-index"),
        partition_key=Key(pk, pk_type),
        sort_key=Key(sk, sk_type) if sk else None,
        serves=serves,
        holds=holds,
    )


THERAPEUTIC_WAVE = SystemSpec(
    key="therapeutic-wave",
    title="Therapeutic Wave Interface",
    seed="therapeutic-wave.md",
    migration_role=True,
    field_encryption=True,
    tables=(
        TableSpec(
            id="Users",
            holds=PHI,
            name="therapeutic-wave-users-{env}",
            partition_key=Key("userId"),
            indexes=(
                _gsi(
                    "isAnonymous",
                    "lastActiveAt",
                    "anonymous (or authenticated) users by last activity, e.g. to expire idle anonymous profiles; isAnonymous is stored as the string 'true'/'false' because key attributes cannot be Boolean",
                ),
            ),
            ttl_attribute=TTL,
            serves="get a user profile by userId",
            description="User profiles and preferences; expiresAt implements the configurable retention of anonymous users.",
        ),
        TableSpec(
            id="Sessions",
            holds=("phi", "secret-keys"),
            insights=THROTTLED,
            name="therapeutic-wave-sessions-{env}",
            partition_key=Key("sessionId"),
            indexes=(_gsi("userId", "startTime", "a user's sessions, newest first or in a time range"),),
            ttl_attribute=TTL,
            serves="get a session (wave patterns, metrics, encrypted transcript) by sessionId",
            description="Conversation sessions; expiresAt implements the configurable retention.",
        ),
        TableSpec(
            id="Progress",
            holds=PHI,
            name="therapeutic-wave-progress-{env}",
            partition_key=Key("progressId"),
            indexes=(_gsi("userId", "weekStartDate", "a user's weekly progress, by week or week range"),),
            ttl_attribute=TTL,
            serves="get one weekly progress record by progressId",
            description="Weekly aggregated progress; expiresAt implements the configurable retention.",
        ),
        TableSpec(
            id="Settings",
            holds=PHI,
            name="therapeutic-wave-settings-{env}",
            partition_key=Key("settingsId"),
            ttl_attribute=TTL,
            serves="get a user's settings by settingsId (= userId)",
            description="User customisation settings; expires with its user.",
        ),
    ),
)


def _daylight(
    table_id: str,
    seed_name: str,
    pk: Key,
    serves: str,
    *,
    sk: Key | None = None,
    indexes: tuple[IndexSpec, ...] = (),
    ttl: bool,
    description: str,
    holds: tuple[Holding, ...],
    insights: InsightsMode | None = None,
    table_class: TableClass = "STANDARD",
) -> TableSpec:
    # Daylight keeps the seed's table names verbatim after a per-environment prefix.
    return TableSpec(
        holds=holds,
        insights=insights,
        table_class=table_class,
        id=table_id,
        name=f"daylight-{{env}}-{seed_name}",
        partition_key=pk,
        sort_key=sk,
        indexes=indexes,
        ttl_attribute=TTL if ttl else None,
        serves=serves,
        description=description,
    )


DAYLIGHT = SystemSpec(
    key="daylight",
    title="Daylight",
    seed="daylight.md",
    migration_role=True,
    tables=(
        # Core data
        _daylight(
            "Users",
            "users",
            Key("userId"),
            "userService.getUserById",
            indexes=(_gsi("email", None, "userService.getUserByEmail"),),
            ttl=True,
            holds=PHI,
            description="User accounts (cold, 2555 days). expiresAt is set only when an account is closed; the expired item is archived.",
        ),
        _daylight(
            "UserProfiles",
            "user_profiles",
            Key("userId"),
            "get/update a user's extended profile",
            ttl=True,
            holds=PHI,
            description="Extended profiles (cold, 2555 days); expiresAt set on account closure; archived.",
        ),
        _daylight(
            "UserSessions",
            "user_sessions",
            Key("sessionId"),
            "get an active session by id",
            indexes=(_gsi("userId", "createdAt", "a user's active sessions (sign out everywhere)"),),
            ttl=True,
            holds=("secret-keys",),
            description="Active user sessions (hot, 30 days).",
            insights=THROTTLED,
        ),
        _daylight(
            "Plans",
            "plans",
            Key("userId"),
            "planningService.getUserPlans (Query by userId); updatePlan(planId, userId) (GetItem/UpdateItem)",
            sk=Key("planId"),
            ttl=True,
            holds=PHI,
            description="User planning data (warm, 365 days).",
        ),
        _daylight(
            "Locations",
            "locations",
            Key("locationId"),
            "get a location by id",
            indexes=(_gsi("geohash", "locationId", "locations near a point: Query by geohash prefix cell"),),
            ttl=True,
            holds=PHI,
            description="Location information (cold, 1095 days); expiresAt set when a location is retired; archived.",
        ),
        _daylight(
            "LocationHistory",
            "location_history",
            Key("userId"),
            "getUserLocationHistory(userId, limit) newest first; getLocationHistoryByDateRange(userId, start, end) as BETWEEN on recordedAt",
            sk=Key("recordedAt"),
            ttl=True,
            holds=PHI,
            description="Historical location data (hot, 90 days). recordedAt is ISO-8601 with a unique suffix.",
        ),
        # Caches
        _daylight(
            "WeatherCache",
            "weather_cache",
            Key("locationKey"),
            "cacheService.get/setWeatherCache(locationKey)",
            ttl=True,
            holds=NOTHING,
            description="Weather data (hot, 7 days; the app's ttlMinutes sets expiresAt).",
        ),
        _daylight(
            "TrafficData",
            "traffic_data",
            Key("routeKey"),
            "cacheService.get/setTrafficCache(routeKey)",
            ttl=True,
            holds=NOTHING,
            description="Traffic information (hot, 30 days).",
        ),
        _daylight(
            "EventsCache",
            "events_cache",
            Key("locationKey"),
            "events near a location, by start time range (eventKey = startsAt#eventId)",
            sk=Key("eventKey"),
            ttl=True,
            holds=NOTHING,
            description="Event data (hot, 14 days).",
        ),
        # Analytics
        _daylight(
            "UsageAnalytics",
            "usage_analytics",
            Key("userId"),
            "analyticsService.getUserAnalytics(userId, days) as a range on occurredAt",
            sk=Key("occurredAt"),
            indexes=(_gsi("eventDate", "occurredAt", "analyticsService.getDailyAnalytics(date)"),),
            ttl=True,
            holds=PHI,
            description="User activity tracking (warm, 365 days).",
        ),
        _daylight(
            "PerformanceMetrics",
            "performance_metrics",
            Key("metricName"),
            "one metric's samples over a time range",
            sk=Key("timestamp"),
            ttl=True,
            holds=NOTHING,
            description="System performance data (hot, 30 days).",
        ),
        _daylight(
            "ErrorLogs",
            "error_logs",
            Key("source"),
            "a component's errors over a time range",
            sk=Key("occurredAt"),
            ttl=True,
            holds=PHI,
            description="Error tracking (warm, 90 days).",
        ),
        # Security
        _daylight(
            "AuthSessions",
            "auth_sessions",
            Key("authSessionId"),
            "validate an authentication session",
            indexes=(_gsi("userId", "createdAt", "a user's authentication sessions (revoke all)"),),
            ttl=True,
            holds=("secret-keys",),
            description="Authentication sessions; not in the seed's retention table: hot, 30 days (decision).",
            insights=THROTTLED,
        ),
        _daylight(
            "AuditLogs",
            "audit_logs",
            Key("actorId"),
            "an actor's audit trail over a time range",
            sk=Key("occurredAt"),
            indexes=(_gsi("resourceId", "occurredAt", "who touched a resource, over a time range"),),
            ttl=True,
            holds=("audit",),
            description="Security audit trail (cold, 2555 days): items leave the table after 365 days into the archive.",
            # Seven years of evidence, read only in audits: storage is its cost (decisions/daylight.md).
            table_class="STANDARD_INFREQUENT_ACCESS",
        ),
        _daylight(
            "Roles",
            "roles",
            Key("roleId"),
            "get a role and its permission ids",
            ttl=False,
            holds=NOTHING,
            description="User roles; kept until deleted.",
        ),
        _daylight(
            "Permissions",
            "permissions",
            Key("permissionId"),
            "get a permission definition",
            ttl=False,
            holds=NOTHING,
            description="Permission definitions; kept until deleted.",
        ),
        # API management
        _daylight(
            "ApiKeys",
            "api_keys",
            Key("apiKeyHash"),
            "authenticate a request by the hash of its API key",
            indexes=(_gsi("ownerId", "createdAt", "an owner's API keys"),),
            ttl=False,
            holds=("secret-keys",),
            description="API keys (stored hashed); revoked explicitly, not expired.",
        ),
        _daylight(
            "ApiUsage",
            "api_usage",
            Key("apiKeyId"),
            "one key's usage over a time range",
            sk=Key("timestamp"),
            ttl=True,
            holds=NOTHING,
            description="API usage tracking (warm, 365 days).",
        ),
        _daylight(
            "RateLimits",
            "rate_limits",
            Key("bucketKey"),
            "read/increment one rate-limit window (bucketKey = key#window)",
            ttl=True,
            holds=NOTHING,
            description="Rate-limit counters; not in the seed's retention table: hot, 1 day (decision).",
            insights=ACCESSED,
        ),
    ),
)


MADMALL = SystemSpec(
    key="madmall",
    title="MADMall",
    seed="madmall.md",
    migration_role=True,
    # End users reach only their own USER#<id> partition (profile, circle memberships).
    tenant_isolation=LeadingKeys(patterns=("USER#${aws:PrincipalTag/userId}",), session_tags=("userId",), tables=("Main",)),
    tables=(
        TableSpec(
            id="Main",
            holds=PHI,
            insights=ACCESSED,
            name="madmall-{env}-main",
            partition_key=Key("PK"),
            sort_key=Key("SK"),
            indexes=tuple(
                IndexSpec(name=f"GSI{i}", partition_key=Key(f"GSI{i}PK"), sort_key=Key(f"GSI{i}SK"), serves=serves)
                for i, serves in (
                    (1, "alternate key lookups: EMAIL#<email> -> user; TYPE#<circleType> -> circles (getByEmail, getByType)"),
                    (2, "time-based feeds and activity streams: FEED#<scope> by createdAt"),
                    (3, "status filtering and moderation queues: STATUS#<status> by updatedAt"),
                    (4, "multi-tenant isolation: TENANT#<tenantId> by entity type and id"),
                )
            ),
            ttl_attribute="ttl",
            serves="USER#id|PROFILE, USER#id|CIRCLE#cid, CIRCLE#cid|METADATA, CIRCLE#cid|MEMBER#uid, STORY#sid|METADATA, STORY#sid|COMMENT#cid, BUSINESS#bid|METADATA, RESOURCE#rid|METADATA",
            description="Single-table design; ttl (epoch seconds) for temporary items.",
        ),
    ),
)


FUSION_HEALTH = SystemSpec(
    key="fusion-health",
    title="Fusion health tracking",
    seed="fusion-health.md",
    migration_role=True,
    tables=(
        TableSpec(
            id="Entries",
            holds=PHI,
            # Its indexes are keyed by health values: their accessed keys are PHI.
            insights=THROTTLED,
            name="fusion-health-entries-{env}",
            partition_key=Key("date"),
            sort_key=Key("timestamp"),
            indexes=(
                _gsi(
                    "medication_taken",
                    "date",
                    "all entries with a medication, optionally in a date range",
                    name="medication-index",
                    holds=("phi-keys",),
                ),
                _gsi(
                    "max_pain_level",
                    "date",
                    "entries by pain severity, optionally in a date range",
                    pk_type=N,
                    name="pain-level-index",
                    holds=("phi-keys",),
                ),
            ),
            serves="all entries of a date (MMDD); a date's entries in a time range (HHMM)",
            description="Health entries imported from entries.json; medication_taken and max_pain_level are derived on import. Medical records: no TTL.",
        ),
        TableSpec(
            id="DailySummaries",
            holds=PHI,
            name="fusion-daily-summaries-{env}",
            partition_key=Key("date"),
            serves="a date's aggregated summary",
            description="Daily aggregates and trends; no TTL.",
        ),
    ),
)


PERSONALPOD = SystemSpec(
    key="personalpod",
    title="PersonalPod",
    seed="personalpod.md",
    # Its migrations are SQL against PostgreSQL; nothing is migrated into DynamoDB.
    migration_role=False,
    # The seed promises complete per-user isolation: a user's session reaches only its own partitions.
    tenant_isolation=LeadingKeys(
        patterns=("${aws:PrincipalTag/userId}",), session_tags=("userId",), tables=("Cache", "Sessions", "Activity")
    ),
    tables=(
        TableSpec(
            id="Cache",
            holds=PHI,
            insights=ACCESSED,
            name="personalpod-{env}-cache",
            partition_key=Key("userId"),
            sort_key=Key("cacheKey"),
            ttl_attribute=TTL,
            serves="read-through cache of a user's content, categories and search results (cacheKey = kind#id)",
            description="Performance layer in front of PostgreSQL; every item expires.",
        ),
        TableSpec(
            id="Sessions",
            holds=("phi", "secret-keys"),
            insights=THROTTLED,
            name="personalpod-{env}-sessions",
            partition_key=Key("userId"),
            sort_key=Key("sessionId"),
            ttl_attribute=TTL,
            serves="a user's live sessions and presence (real-time operations)",
            description="Real-time session state; expires with the session.",
        ),
        TableSpec(
            id="ShareTokens",
            holds=("secret-keys",),
            name="personalpod-{env}-share-tokens",
            partition_key=Key("token"),
            indexes=(_gsi("ownerId", "expiresAt", "an owner's share links, soonest expiry first", sk_type=N),),
            ttl_attribute=TTL,
            serves="resolve a share token (GetItem); the app also checks expiresAt because TTL deletion lags",
            description="Token-based sharing with expiry; the token is a random 256-bit value.",
        ),
        TableSpec(
            id="Activity",
            holds=PHI,
            name="personalpod-{env}-activity",
            partition_key=Key("userId"),
            sort_key=Key("activityKey"),
            ttl_attribute=TTL,
            serves="a user's recent activity feed, newest first (activityKey = occurredAt#activityId)",
            description="Recent activity for real-time feeds; the full audit trail stays in PostgreSQL.",
        ),
    ),
)


SYSTEMS: tuple[SystemSpec, ...] = (THERAPEUTIC_WAVE, DAYLIGHT, MADMALL, FUSION_HEALTH, PERSONALPOD)


def name_templates() -> dict[str, dict[str, str]]:
    """system key -> {table id: name template}, for config validation."""
    return {system.key: {t.id: t.name for t in system.tables} for system in SYSTEMS}

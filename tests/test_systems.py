"""The five seed systems, per environment: every name, key, index, TTL, alarm and role.

Expectations are written out literally from shared/seeds/, not read from config/catalogue.py,
so a slip in the catalogue fails here instead of being copied into the test.
"""

from __future__ import annotations

import json

import pytest

from config.catalogue import SYSTEMS as CATALOGUE
from tests.expected import ENVS, PRODUCTION, table_count
from tests.support import resources

H, R = "HASH", "RANGE"

# stack -> logical id -> (table name template, key schema, {index: key schema}, TTL attribute)
SEED_TABLES: dict[str, dict[str, tuple]] = {
    "therapeutic-wave": {
        "TableUsers": (
            "therapeutic-wave-users-{env}",
            [("userId", "S", H)],
            {"isAnonymous-lastActiveAt-index": [("isAnonymous", "S", H), ("lastActiveAt", "S", R)]},
            "expiresAt",
        ),
        "TableSessions": (
            "therapeutic-wave-sessions-{env}",
            [("sessionId", "S", H)],
            {"userId-startTime-index": [("userId", "S", H), ("startTime", "S", R)]},
            "expiresAt",
        ),
        "TableProgress": (
            "therapeutic-wave-progress-{env}",
            [("progressId", "S", H)],
            {"userId-weekStartDate-index": [("userId", "S", H), ("weekStartDate", "S", R)]},
            "expiresAt",
        ),
        "TableSettings": ("therapeutic-wave-settings-{env}", [("settingsId", "S", H)], {}, "expiresAt"),
    },
    "madmall": {
        "TableMain": (
            "madmall-{env}-main",
            [("PK", "S", H), ("SK", "S", R)],
            {f"GSI{i}": [(f"GSI{i}PK", "S", H), (f"GSI{i}SK", "S", R)] for i in range(1, 5)},
            "ttl",
        ),
    },
    "fusion-health": {
        "TableEntries": (
            "fusion-health-entries-{env}",
            [("date", "S", H), ("timestamp", "S", R)],
            {
                "medication-index": [("medication_taken", "S", H), ("date", "S", R)],
                "pain-level-index": [("max_pain_level", "N", H), ("date", "S", R)],
            },
            None,
        ),
        "TableDailySummaries": ("fusion-daily-summaries-{env}", [("date", "S", H)], {}, None),
    },
    "personalpod": {
        "TableCache": ("personalpod-{env}-cache", [("userId", "S", H), ("cacheKey", "S", R)], {}, "expiresAt"),
        "TableSessions": ("personalpod-{env}-sessions", [("userId", "S", H), ("sessionId", "S", R)], {}, "expiresAt"),
        "TableShareTokens": (
            "personalpod-{env}-share-tokens",
            [("token", "S", H)],
            {"ownerId-expiresAt-index": [("ownerId", "S", H), ("expiresAt", "N", R)]},
            "expiresAt",
        ),
        "TableActivity": ("personalpod-{env}-activity", [("userId", "S", H), ("activityKey", "S", R)], {}, "expiresAt"),
    },
}

# Daylight: the seed's 19 tables in five groups. The seed names the tables, the TTL tables
# (hot and warm retention, plus the cold ones that leave the table into the archive) and the
# access patterns; keys and indexes are this project's design (docs/data-model/daylight.md).
DAYLIGHT_TABLES = {
    "users": ("userId", None, {"email-index"}, True),
    "user_profiles": ("userId", None, set(), True),
    "user_sessions": ("sessionId", None, {"userId-createdAt-index"}, True),
    "plans": ("userId", "planId", set(), True),
    "locations": ("locationId", None, {"geohash-locationId-index"}, True),
    "location_history": ("userId", "recordedAt", set(), True),
    "weather_cache": ("locationKey", None, set(), True),
    "traffic_data": ("routeKey", None, set(), True),
    "events_cache": ("locationKey", "eventKey", set(), True),
    "usage_analytics": ("userId", "occurredAt", {"eventDate-occurredAt-index"}, True),
    "performance_metrics": ("metricName", "timestamp", set(), True),
    "error_logs": ("source", "occurredAt", set(), True),
    "auth_sessions": ("authSessionId", None, {"userId-createdAt-index"}, True),
    "audit_logs": ("actorId", "occurredAt", {"resourceId-occurredAt-index"}, True),
    "roles": ("roleId", None, set(), False),
    "permissions": ("permissionId", None, set(), False),
    "api_keys": ("apiKeyHash", None, {"ownerId-createdAt-index"}, False),
    "api_usage": ("apiKeyId", "timestamp", set(), True),
    "rate_limits": ("bucketKey", None, set(), True),
}

SYSTEMS = ["therapeutic-wave", "daylight", "madmall", "fusion-health", "personalpod"]


def tables(synthesized, system, env) -> dict[str, dict]:
    return resources(synthesized[f"{system}-{env}"].template, "AWS::DynamoDB::GlobalTable")


def key_schema(props: dict, schema: list[dict]) -> list[tuple]:
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    return [(k["AttributeName"], types[k["AttributeName"]], k["KeyType"]) for k in schema]


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("system", list(SEED_TABLES))
def test_seed_tables_exactly(synthesized, system, env):
    """Every table a seed names, as it names it. A table the catalogue adds beyond the seed is
    the catalogue's decision (checked from config elsewhere); SEED_TABLES is the seeds' own list
    and changes only when a seed does."""
    found = tables(synthesized, system, env)
    missing = sorted(set(SEED_TABLES[system]) - set(found))
    assert not missing, (
        f"{system}-{env} lacks {missing}: a table of shared/seeds/{system}.md is gone or its pinned logical id changed. "
        "SEED_TABLES in tests/test_systems.py is the seed's list: it changes only with the seed."
    )
    for logical_id, (name, schema, indexes, ttl) in SEED_TABLES[system].items():
        props = found[logical_id]["Properties"]
        assert props["TableName"] == name.format(env=env)
        assert key_schema(props, props["KeySchema"]) == schema
        got_indexes = {i["IndexName"]: key_schema(props, i["KeySchema"]) for i in props.get("GlobalSecondaryIndexes", [])}
        assert got_indexes == indexes
        for index in props.get("GlobalSecondaryIndexes", []):
            assert index["Projection"] == {"ProjectionType": "ALL"}, f"{logical_id} {index['IndexName']}"
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


@pytest.mark.parametrize("env", ENVS)
def test_daylight_has_the_seed_19_tables_with_ttl_where_retention_expires_data(synthesized, env):
    found = {t["Properties"]["TableName"]: t["Properties"] for t in tables(synthesized, "daylight", env).values()}
    assert sorted(found) == sorted(f"daylight-{env}-{name}" for name in DAYLIGHT_TABLES)
    for name, (pk, sk, indexes, ttl) in DAYLIGHT_TABLES.items():
        props = found[f"daylight-{env}-{name}"]
        assert [k["AttributeName"] for k in props["KeySchema"]] == [pk] + ([sk] if sk else []), name
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} == indexes, name
        assert ("TimeToLiveSpecification" in props) is ttl, name
    # The seed's hot and warm lists, by name.
    for name in (
        "user_sessions",
        "location_history",
        "weather_cache",
        "traffic_data",
        "events_cache",
        "performance_metrics",
        "plans",
        "usage_analytics",
        "error_logs",
        "api_usage",
    ):
        assert found[f"daylight-{env}-{name}"]["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


@pytest.mark.parametrize(
    "env, pitr, protected, policy", [("dev", False, False, "Delete"), ("staging", True, True, "Retain"), ("prod", True, True, "Retain")]
)
@pytest.mark.parametrize("system", SYSTEMS)
def test_protection_and_encryption_of_every_table(synthesized, system, env, pitr, protected, policy):
    found = tables(synthesized, system, env)
    assert found
    for logical_id, table in found.items():
        assert table["DeletionPolicy"] == policy and table["UpdateReplacePolicy"] == policy, logical_id
        props = table["Properties"]
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        (replica,) = props["Replicas"]
        assert replica["SSESpecification"] == {"KMSMasterKeyId": {"Fn::GetAtt": ["KeyData", "Arn"]}}
        assert replica["DeletionProtectionEnabled"] is protected
        expected_pitr = {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35} if pitr else {"PointInTimeRecoveryEnabled": False}
        assert replica["PointInTimeRecoverySpecification"] == expected_pitr


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_every_table_and_gsi_has_alarms_with_actions(synthesized, system, env):
    template = synthesized[f"{system}-{env}"].template
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    topic = f"arn:aws:sns:us-east-1:{synthesized[f'{system}-{env}'].account}:data-alerts-{env}"
    found = tables(synthesized, system, env)
    import config

    if not config.ENVIRONMENTS[env].alarms.alarms_on("table"):
        # An environment that alarms on the account only (dev): no table's alarm.
        names = [t["Properties"]["TableName"] for t in found.values()]
        assert found and not [a for a in alarms if any(a.startswith(f"{n}-") and "archive" not in a for n in names)], sorted(alarms)
        return
    assert found and alarms
    for table in found.values():
        name = table["Properties"]["TableName"]
        expected = {f"{name}-{kind}" for kind in ("read-throttles", "write-throttles", "system-errors", "latency")}
        for index in table["Properties"].get("GlobalSecondaryIndexes", []):
            expected |= {f"{name}-{index['IndexName']}-read-throttles", f"{name}-{index['IndexName']}-write-throttles"}
        assert expected <= set(alarms), f"missing alarms for {name}: {sorted(expected - set(alarms))}"
    for alarm_name, props in alarms.items():
        assert topic in json.dumps(props["AlarmActions"]), alarm_name


def test_fusion_health_billing_switch_per_environment(synthesized):
    """The seed's switch: provisioned capacity for production, on demand elsewhere."""
    others = [env for env in ENVS if env not in PRODUCTION]
    assert others
    for env in others:
        found = tables(synthesized, "fusion-health", env)
        assert len(found) == 2
        for table in found.values():
            assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    (production,) = PRODUCTION
    prod = tables(synthesized, "fusion-health", production)
    assert len(prod) == 2
    for table in prod.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PROVISIONED"
        write = props["WriteProvisionedThroughputSettings"]["WriteCapacityAutoScalingSettings"]
        assert (write["MinCapacity"], write["MaxCapacity"]) == (5, 50)
        read = props["Replicas"][0]["ReadProvisionedThroughputSettings"]["ReadCapacityAutoScalingSettings"]
        assert (read["MinCapacity"], read["MaxCapacity"]) == (10, 100)
    # Other systems stay on demand in production.
    assert tables(synthesized, "madmall", production)
    assert all(t["Properties"]["BillingMode"] == "PAY_PER_REQUEST" for t in tables(synthesized, "madmall", production).values())


# --- IAM ----------------------------------------------------------------------------------


def roles(template) -> dict[str, dict]:
    """The system's data-access roles (constructs_lib.roles); archive and backup roles are tested elsewhere."""
    return {r["Properties"]["RoleName"]: r for lid, r in resources(template, "AWS::IAM::Role").items() if lid.startswith("Access")}


def policies(template) -> list[dict]:
    """The data-access roles' policies: each role's permissions live in one customer-managed
    policy (no inline policies anywhere)."""
    assert not resources(template, "AWS::IAM::Policy"), "inline policies are not allowed"
    return [p["Properties"] for lid, p in resources(template, "AWS::IAM::ManagedPolicy").items() if lid.startswith("Access")]


def statements_of(template, role_logical_id) -> list[dict]:
    out = []
    for policy in policies(template):
        if {"Ref": role_logical_id} in policy["Roles"]:
            out += policy["PolicyDocument"]["Statement"]
    return out


def logical_id_of_role(template, role_name) -> str:
    return next(k for k, v in resources(template, "AWS::IAM::Role").items() if v["Properties"].get("RoleName") == role_name)


EXPECTED_ROLES = {
    "therapeutic-wave": {"app", "readonly", "migration"},
    "daylight": {"app", "readonly", "migration"},
    "madmall": {"app", "readonly", "migration", "tenant"},
    "fusion-health": {"app", "readonly", "migration"},
    "personalpod": {"app", "readonly", "tenant"},
}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_roles_exist_with_trust_from_config(synthesized, system, env):
    stack = synthesized[f"{system}-{env}"]
    found = roles(stack.template)
    assert set(found) == {f"{system}-{env}-{kind}" for kind in EXPECTED_ROLES[system]}
    trust = {name.rsplit("-", 1)[1]: role["Properties"]["AssumeRolePolicyDocument"]["Statement"] for name, role in found.items()}
    assert trust["app"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert trust["readonly"][0]["Principal"] == {"AWS": f"arn:aws:iam::{stack.account}:role/DataAnalyst"}
    if "migration" in trust:
        assert trust["migration"][0]["Principal"] == {"AWS": f"arn:aws:iam::{stack.account}:role/DataMigration"}
    if "tenant" in trust:
        (statement,) = trust["tenant"]
        assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
        assert statement["Principal"] == {"AWS": {"Fn::GetAtt": [logical_id_of_role(stack.template, f"{system}-{env}-app"), "Arn"]}}
        assert statement["Condition"] == {"StringLike": {"aws:RequestTag/userId": "?*"}}


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_role_policies_are_least_privilege(synthesized, system, env):
    template = synthesized[f"{system}-{env}"].template
    own = set(tables(synthesized, system, env)) | {"KeyData", "KeyFieldEncryption"}
    parameter_names = {r["Properties"]["Name"] for r in template["Resources"].values() if r["Type"] == "AWS::SSM::Parameter"}
    assert policies(template)
    for policy in policies(template):
        for statement in policy["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in a for a in actions), statement
            assert "dynamodb:Scan" not in actions
            for resource in statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]:
                assert resource != "*", statement
                if isinstance(resource, str) and ":parameter/" in resource:
                    # This stack's own SSM parameters, by their path: it matches them all, and nothing else.
                    path = resource.split(":parameter", 1)[1]
                    assert path.endswith("/*") and path.count("*") == 1, resource
                    matched = {n for n in parameter_names if n.startswith(path[:-1])}
                    assert matched == parameter_names and path == f"/data/{env}/{system}/tables/*", resource
                    continue
                # Every resource is one of this stack's own tables, indexes, keys or roles.
                refs = {r for r in json.dumps(resource).replace('"', " ").split() if r[:1].isupper()}
                assert refs & (own | {logical_id_of_role(template, n) for n in roles(template)}), resource


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("system", SYSTEMS)
def test_readonly_role_cannot_write(synthesized, system, env):
    template = synthesized[f"{system}-{env}"].template
    statements = statements_of(template, logical_id_of_role(template, f"{system}-{env}-readonly"))
    actions = {a for s in statements for a in s["Action"]}
    assert actions == {
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "kms:Decrypt",
        "kms:DescribeKey",
    }


@pytest.mark.parametrize("env", ENVS)
def test_readonly_role_reaches_no_table_keyed_by_secrets(synthesized, env):
    """Analysts read PHI where their job needs it, never sessions or tokens: a session id or a
    share token read is a way in (issue 26)."""
    secret, reached = 0, 0
    for system in CATALOGUE:
        template = synthesized[f"{system.key}-{env}"].template
        statements = statements_of(template, logical_id_of_role(template, f"{system.key}-{env}-readonly"))
        text = json.dumps([s["Resource"] for s in statements])
        for spec in system.tables:
            if "secret-keys" in spec.all_holdings:
                secret += 1
                assert f'"{spec.logical_id}"' not in text, (system.key, spec.id)
            else:
                reached += 1
                assert f'"{spec.logical_id}"' in text, (system.key, spec.id)
    # Sessions (3 systems), auth sessions, API keys, share tokens; the rest stays readable.
    assert secret == 6 and reached == table_count() - 6


@pytest.mark.parametrize("env", ENVS)
def test_audit_records_are_insert_only_for_every_role(synthesized, env):
    """No role of the stacks may update or delete audit evidence (break-glass is outside them):
    PutItem only, and the app writes with attribute_not_exists (docs/security.md)."""
    audited = 0
    for system in CATALOGUE:
        template = synthesized[f"{system.key}-{env}"].template
        for spec in system.tables:
            if "audit" not in spec.holds:
                continue
            for name in roles(template):
                for statement in statements_of(template, logical_id_of_role(template, name)):
                    if f'"{spec.logical_id}"' not in json.dumps(statement["Resource"]):
                        continue
                    actions = set(statement["Action"]) if isinstance(statement["Action"], list) else {statement["Action"]}
                    assert not actions & {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, (name, statement)
                    audited += "dynamodb:PutItem" in actions
    assert audited == 2  # daylight's app and migration roles still append


@pytest.mark.parametrize(
    "system, pattern, tables_reached",
    [
        ("madmall", "USER#${aws:PrincipalTag/userId}", {"TableMain"}),
        ("personalpod", "${aws:PrincipalTag/userId}", {"TableCache", "TableSessions", "TableActivity"}),
    ],
)
@pytest.mark.parametrize("env", ENVS)
def test_tenant_role_is_confined_to_its_leading_keys(synthesized, system, pattern, tables_reached, env):
    template = synthesized[f"{system}-{env}"].template
    statements = statements_of(template, logical_id_of_role(template, f"{system}-{env}-tenant"))
    dynamo = [s for s in statements if s["Action"][0].startswith("dynamodb:")]
    assert dynamo
    reached = set()
    for statement in dynamo:
        assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [pattern]}}
        reached |= {
            r["Fn::GetAtt"][0]
            for r in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
            if "Fn::GetAtt" in r
        }
    assert reached == tables_reached


@pytest.mark.parametrize("env", ENVS)
def test_therapeutic_wave_field_key_for_envelope_encryption_only(synthesized, env):
    template = synthesized[f"therapeutic-wave-{env}"].template
    key = resources(template, "AWS::KMS::Key")["KeyFieldEncryption"]
    assert key["Properties"]["EnableKeyRotation"] is True
    field_statements = [
        s
        for policy in policies(template)
        for s in policy["PolicyDocument"]["Statement"]
        if s["Resource"] == {"Fn::GetAtt": ["KeyFieldEncryption", "Arn"]}
    ]
    (statement,) = field_statements
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    app_policy = statements_of(template, logical_id_of_role(template, f"therapeutic-wave-{env}-app"))
    assert statement in app_policy


@pytest.mark.parametrize("env", ENVS)
def test_managed_policies_fit_iams_size_limit(synthesized, env):
    # IAM allows 6,144 characters per managed policy; a 19-table system must fit with room to grow.
    for system in SYSTEMS:
        found = policies(synthesized[f"{system}-{env}"].template)
        assert found, system
        for policy in found:
            size = len(json.dumps(policy["PolicyDocument"], separators=(",", ":")))
            assert size < 6_144 * 0.75, f"{policy['ManagedPolicyName']}: {size} characters, too close to IAM's 6,144 limit"


@pytest.mark.parametrize("env", ENVS)
def test_people_assume_their_roles_only_with_a_source_identity(synthesized, env):
    """The roles people assume (read-only, migration) require a source identity, which then
    names the person in every data event; services' roles (app, tenant) do not."""
    import config

    access = config.ENVIRONMENTS[env].access
    people = {"readonly": list(access.readonly_principal_arns), "migration": list(access.migration_principal_arns)}
    checked = 0
    for system in CATALOGUE:
        template = synthesized[f"{system.key}-{env}"].template
        for name, role in roles(template).items():
            kind = name.rsplit("-", 1)[1]
            trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            if kind in people:
                (statement,) = trust
                assert statement["Action"] == ["sts:AssumeRole", "sts:SetSourceIdentity"], name
                assert statement["Condition"] == {"StringLike": {"sts:SourceIdentity": "?*"}}, name
                arns = statement["Principal"]["AWS"]
                assert sorted(arns if isinstance(arns, list) else [arns]) == sorted(people[kind]), name
                checked += 1
            else:
                assert "sts:SourceIdentity" not in json.dumps(trust), name
    assert checked == sum(1 + system.migration_role for system in CATALOGUE)


@pytest.mark.parametrize("env", ENVS)
def test_the_field_key_binds_each_ciphertext_to_its_record(synthesized, env):
    """Every use of the field-encryption key names a table of the system and the record in its
    encryption context, both in the key policy and in the app role's policy: each key must be
    present (a ForAllValues condition on the context keys alone passes an empty context)."""
    import config

    cfg = config.ENVIRONMENTS[env]
    systems = [s for s in CATALOGUE if s.field_encryption]
    assert systems
    for system in systems:
        template = synthesized[f"{system.key}-{env}"].template
        names = sorted(cfg.table_name(system.key, t.id, t.name) for t in system.tables)
        expected = {"StringEquals": {"kms:EncryptionContext:table": names}, "Null": {"kms:EncryptionContext:record": "false"}}
        (key_statement,) = [
            s
            for s in template["Resources"]["KeyFieldEncryption"]["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Sid") == "AppEnvelopeEncryption"
        ]
        conditions = key_statement["Condition"]
        assert conditions["StringEquals"]["kms:EncryptionContext:table"] == names
        assert conditions["Null"] == expected["Null"]
        app = logical_id_of_role(template, f"{system.key}-{env}-app")
        (statement,) = [s for s in statements_of(template, app) if "KeyFieldEncryption" in json.dumps(s["Resource"])]
        assert statement["Condition"] == expected
        # Nothing else of the key is open to a role of the stack.
        assert not [s for s in statements_of(template, app) if "KeyFieldEncryption" in json.dumps(s) and s is not statement]

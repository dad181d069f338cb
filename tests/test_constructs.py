"""The building blocks' defaults, each on a small stack of its own (fast: no whole-app synth)."""

from __future__ import annotations

import ast
import json
from dataclasses import replace

import pytest
from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from config.alarms import alarm_thresholds, kinds_for
from constructs_lib.alerts import AlarmActions, AlertTopic
from constructs_lib.buckets import AccessLogBucket, SecureBucket
from constructs_lib.kms import DataKey, allow_use
from constructs_lib.props import AlarmSettings, Governance, Replica, TableBilling
from constructs_lib.specs import IndexSpec, Key, TableSpec
from constructs_lib.table import DataTable, TableSettings, statements
from tests.support import ROOT, region_stack, resources

SPEC = TableSpec(
    id="Orders",
    name="orders-{env}",
    partition_key=Key("customerId"),
    sort_key=Key("orderedAt"),
    indexes=(
        IndexSpec(name="status-index", partition_key=Key("status"), sort_key=Key("orderedAt"), serves="orders by status"),
        IndexSpec(name="total-index", partition_key=Key("total", "N"), projection="KEYS_ONLY", serves="orders by total"),
    ),
    ttl_attribute="expiresAt",
    serves="a customer's orders",
    holds=("phi",),
)
ALARMS = AlarmSettings(
    thresholds=alarm_thresholds(throttle_events=3, system_errors=2, latency_ms=40, user_errors=1, replication_latency_ms=90_000),
    evaluation_periods=4,
    datapoints_to_alarm=2,
)
TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
ADMIN = "arn:aws:iam::123456789012:role/KeyAdministrator"
BREAK_GLASS = "arn:aws:iam::123456789012:role/BreakGlass"
DEPLOYER = "arn:aws:iam::123456789012:role/cdk-hnb659fds-cfn-exec-role-123456789012-us-east-1"
GOVERNANCE = Governance(account="123456789012", administrator_arns=(ADMIN,), break_glass_arn=BREAK_GLASS, deployer_arn=DEPLOYER)


def build_table(billing=None, replicas=(), pitr=True, protect=True, removal=RemovalPolicy.RETAIN, spec=None, stream_readers=()):
    stack = region_stack()
    key = DataKey(
        stack, "Key", alias="alias/test", description="test", removal_policy=removal, logical_id="KeyData", governance=GOVERNANCE
    ).key
    settings = TableSettings(
        billing=billing or TableBilling(),
        pitr_enabled=pitr,
        pitr_days=35,
        deletion_protection=protect,
        removal_policy=removal,
        alarm_kinds=kinds_for("table", "index", "replica"),
        alarms=ALARMS,
        governance=GOVERNANCE,
        replicas=replicas,
    )
    table = DataTable(
        stack,
        "Orders",
        spec=spec or SPEC,
        table_name="orders-test",
        key=key,
        settings=settings,
        alarm_actions=AlarmActions(stack, topic_arns=[TOPIC]),
        stream_readers=stream_readers,
    )
    return stack, table


@pytest.fixture(scope="module")
def table_template():
    stack, _ = build_table()
    return Template.from_stack(stack)


def test_table_is_a_global_table_with_pinned_logical_id_and_retained(table_template):
    tables = table_template.find_resources("AWS::DynamoDB::GlobalTable")
    assert list(tables) == ["TableOrders"]
    assert tables["TableOrders"]["DeletionPolicy"] == "Retain"
    assert tables["TableOrders"]["UpdateReplacePolicy"] == "Retain"


def test_table_keys_indexes_ttl_and_billing(table_template):
    props = table_template.find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]
    assert props["TableName"] == "orders-test"
    assert props["KeySchema"] == [{"AttributeName": "customerId", "KeyType": "HASH"}, {"AttributeName": "orderedAt", "KeyType": "RANGE"}]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        "customerId": "S",
        "orderedAt": "S",
        "status": "S",
        "total": "N",
    }
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert indexes["status-index"]["Projection"] == {"ProjectionType": "ALL"}
    assert indexes["total-index"]["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert indexes["total-index"]["KeySchema"] == [{"AttributeName": "total", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_table_encryption_pitr_and_deletion_protection(table_template):
    props = table_template.find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = props["Replicas"]
    assert replica["Region"] == "us-east-1"
    assert replica["SSESpecification"] == {"KMSMasterKeyId": {"Fn::GetAtt": ["KeyData", "Arn"]}}
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35}
    assert replica["DeletionProtectionEnabled"] is True


def test_table_alarms_cover_table_and_every_gsi_with_actions(table_template):
    alarms = table_template.find_resources("AWS::CloudWatch::Alarm")
    names = sorted(a["Properties"]["AlarmName"] for a in alarms.values())
    assert names == sorted(
        [
            "orders-test-read-throttles",
            "orders-test-write-throttles",
            "orders-test-status-index-read-throttles",
            "orders-test-status-index-write-throttles",
            "orders-test-total-index-read-throttles",
            "orders-test-total-index-write-throttles",
            "orders-test-system-errors",
            "orders-test-latency",
        ]
    )
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [TOPIC] and props["OKActions"] == [TOPIC]
        assert props["EvaluationPeriods"] == 4 and props["DatapointsToAlarm"] == 2
        assert props["TreatMissingData"] == "notBreaching"


def test_gsi_throttle_alarm_uses_the_index_dimension(table_template):
    table_template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "orders-test-status-index-write-throttles",
            "MetricName": "WriteThrottleEvents",
            "Statistic": "Sum",
            "Period": 60,
            "Threshold": 3,
            "Dimensions": Match.array_equals(
                [{"Name": "GlobalSecondaryIndexName", "Value": "status-index"}, {"Name": "TableName", "Value": "orders-test"}]
            ),
        },
    )


def test_system_errors_alarm_sums_every_operation(table_template):
    (alarm,) = [
        a
        for a in table_template.find_resources("AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == "orders-test-system-errors"
    ]
    metrics = alarm["Properties"]["Metrics"]
    expression = [m for m in metrics if "Expression" in m]
    assert expression[0]["Expression"] == "SUM(METRICS())"
    operations = sorted(
        d["Value"] for m in metrics if "MetricStat" in m for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "Operation"
    )
    assert "GetItem" in operations and "TransactWriteItems" in operations and len(operations) == 9
    assert alarm["Properties"]["Threshold"] == 2


def test_provisioned_billing_autoscales_table_and_indexes():
    stack, _ = build_table(
        billing=TableBilling(
            mode="PROVISIONED",
            read_capacity=5,
            write_capacity=2,
            max_read_capacity=50,
            max_write_capacity=20,
            target_utilization_percent=60,
        )
    )
    props = Template.from_stack(stack).find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]
    assert props["BillingMode"] == "PROVISIONED"
    write = props["WriteProvisionedThroughputSettings"]["WriteCapacityAutoScalingSettings"]
    assert (write["MinCapacity"], write["MaxCapacity"], write["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) == (2, 20, 60)
    read = props["Replicas"][0]["ReadProvisionedThroughputSettings"]["ReadCapacityAutoScalingSettings"]
    assert (read["MinCapacity"], read["MaxCapacity"]) == (5, 50)
    assert len(props["GlobalSecondaryIndexes"]) == 2
    for index in props["GlobalSecondaryIndexes"]:
        assert index["WriteProvisionedThroughputSettings"]["WriteCapacityAutoScalingSettings"]["MaxCapacity"] == 20


def test_dev_settings_pitr_off_unprotected_and_destroyed():
    stack, _ = build_table(pitr=False, protect=False, removal=RemovalPolicy.DESTROY)
    table = Template.from_stack(stack).find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]
    assert table["DeletionPolicy"] == "Delete"
    replica = table["Properties"]["Replicas"][0]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": False}
    assert replica["DeletionProtectionEnabled"] is False


def test_replicas_get_their_region_key_and_a_replication_alarm():
    key_arn = "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"
    stack, _ = build_table(replicas=(Replica(region="us-west-2", kms_key_arn=key_arn),))
    template = Template.from_stack(stack)
    replicas = {r["Region"]: r for r in template.find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]["Replicas"]}
    assert replicas["us-west-2"]["SSESpecification"] == {"KMSMasterKeyId": key_arn}
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"AlarmName": "orders-test-replication-latency-us-west-2", "MetricName": "ReplicationLatency", "Threshold": 90_000},
    )


def _policy_statements(stack) -> list[dict]:
    policies = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    return [s for p in policies.values() for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _policy(stack, id: str, grants) -> iam.ManagedPolicy:
    """A role's managed policy written from `grants`, as constructs_lib/roles.py writes them."""
    role = iam.Role(stack, f"{id}Role", assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"))
    return iam.ManagedPolicy(stack, id, roles=[role], document=iam.PolicyDocument.from_json({"Statement": statements(grants)}))


def test_grants_are_narrow_explicit_and_scan_free():
    stack, table = build_table()
    _policy(stack, "Reader", table.read_grants(indexes=["status-index"]))
    statements = _policy_statements(stack)
    dynamo = [s for s in statements if any(a.startswith("dynamodb:") for a in s["Action"])]
    assert len(dynamo) == 1
    assert sorted(dynamo[0]["Action"]) == [
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
    ]
    rendered = json.dumps(dynamo[0]["Resource"])
    assert "status-index" in rendered and "total-index" not in rendered and "*" not in rendered
    (kms,) = [s for s in statements if s["Action"][0].startswith("kms:")]
    assert kms["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}


def test_write_grant_covers_the_table_only_and_read_write_merges():
    stack, table = build_table()
    _policy(stack, "Writer", table.read_write_grants(leading_keys=["${aws:PrincipalTag/userId}"]))
    statements = _policy_statements(stack)
    write = [s for s in statements if "dynamodb:PutItem" in s["Action"]]
    assert write and write[0]["Resource"] == {"Fn::GetAtt": ["TableOrders", "Arn"]}
    for statement in statements:
        assert "*" not in json.dumps(statement["Action"])
        if any(a.startswith("dynamodb:") for a in statement["Action"]):
            assert statement["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["${aws:PrincipalTag/userId}"]}}


def test_granting_an_unknown_index_fails_loudly():
    stack, table = build_table()
    with pytest.raises(ValueError, match="orders-test has no index \\['nope'\\]"):
        table.read_grants(indexes=["nope"])


def test_data_key_rotates_has_alias_and_pinned_id():
    stack = region_stack()
    DataKey(
        stack,
        "Key",
        alias="alias/x-data",
        description="d",
        removal_policy=RemovalPolicy.RETAIN,
        logical_id="KeyData",
        governance=GOVERNANCE,
    )
    template = Template.from_stack(stack)
    key = template.find_resources("AWS::KMS::Key")["KeyData"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["Properties"]["PendingWindowInDays"] == 30
    assert key["DeletionPolicy"] == "Retain"
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": "alias/x-data"})


def key_statements(removal=RemovalPolicy.RETAIN, deployer_services=("dynamodb",), governance=GOVERNANCE) -> dict[str, dict]:
    stack = region_stack()
    key = DataKey(
        stack,
        "Key",
        alias="alias/g",
        description="d",
        removal_policy=removal,
        logical_id="KeyData",
        governance=governance,
        deployer_services=deployer_services,
    ).key
    allow_use(
        key,
        stack,
        sid="AppReads",
        principal_arns=["arn:aws:iam::123456789012:role/app"],
        actions=["kms:Decrypt"],
        via_services=["dynamodb"],
    )
    statements = Template.from_stack(stack).find_resources("AWS::KMS::Key")["KeyData"]["Properties"]["KeyPolicy"]["Statement"]
    return {s["Sid"]: s for s in statements}


def test_key_policy_separates_administration_from_use():
    statements = key_statements()
    assert list(statements) == [
        "KeyAdministration",
        "BreakGlass",
        "DenyKeyDestructionExceptAdministrators",
        "DenyShortKeyDeletionWindow",
        "DenyKeyPolicyChangesExceptAdministrators",
        "DenyGrantsExceptForAwsResources",
        "DeployerAttachesKeyToResources",
        "DeployerCreatesEncryptedResources",
        "AppReads",
    ]
    # Nobody gets kms:* but the break-glass role; the account root gets nothing unconditioned.
    assert [sid for sid, s in statements.items() if s["Action"] == "kms:*"] == ["BreakGlass"]
    assert statements["BreakGlass"]["Principal"] == {"AWS": BREAK_GLASS}
    admin = statements["KeyAdministration"]
    assert admin["Principal"] == {"AWS": [ADMIN, DEPLOYER]}
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:CreateGrant"} & set(admin["Action"])
    assert {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:EnableKeyRotation"} <= set(admin["Action"])
    for sid, s in statements.items():
        if s["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}:
            assert s["Condition"]["ArnEquals"]["aws:PrincipalArn"], sid
    # A use statement names the role, the account and the service in between.
    assert statements["AppReads"]["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/app"]},
        "StringEquals": {"kms:CallerAccount": "123456789012", "kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]},
    }


def test_only_administrators_destroy_a_retained_key_and_grants_are_for_aws_resources():
    statements = key_statements()
    destroy = statements["DenyKeyDestructionExceptAdministrators"]
    assert destroy["Effect"] == "Deny" and destroy["Principal"] == {"AWS": "*"}
    assert destroy["Action"] == ["kms:DeleteAlias", "kms:DisableKey", "kms:ScheduleKeyDeletion"]
    # The deployer (and so any CloudFormation stack) cannot delete or disable a retained key.
    assert destroy["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [BREAK_GLASS, ADMIN]}}
    rewrite = statements["DenyKeyPolicyChangesExceptAdministrators"]
    # KMS refuses a policy that would lock its author out, so the deployer may rewrite it.
    assert rewrite["Action"] == "kms:PutKeyPolicy" and rewrite["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        BREAK_GLASS,
        ADMIN,
        DEPLOYER,
    ]
    grants = statements["DenyGrantsExceptForAwsResources"]
    assert grants["Effect"] == "Deny" and grants["Condition"] == {
        "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
    }
    deployer = statements["DeployerAttachesKeyToResources"]
    assert deployer["Principal"] == {"AWS": DEPLOYER} and deployer["Action"] == "kms:CreateGrant"
    assert deployer["Condition"] == {
        "Bool": {"kms:GrantIsForAWSResource": "true"},
        "StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]},
    }
    # The deployer uses the key only through the service it creates resources in, never directly.
    creates = statements["DeployerCreatesEncryptedResources"]
    assert creates["Principal"] == {"AWS": DEPLOYER} and "kms:Decrypt" in creates["Action"]
    assert creates["Condition"] == {"StringEquals": {"kms:ViaService": ["dynamodb.us-east-1.amazonaws.com"]}}


def test_a_key_deleted_with_its_stack_lets_the_deployer_delete_it_and_no_grants_without_a_service():
    statements = key_statements(removal=RemovalPolicy.DESTROY, deployer_services=())
    assert statements["DenyKeyDestructionExceptAdministrators"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == [
        BREAK_GLASS,
        ADMIN,
        DEPLOYER,
    ]
    assert "DeployerAttachesKeyToResources" not in statements and "DeployerCreatesEncryptedResources" not in statements


def test_alert_topic_encrypted_tls_only_with_email_and_slack():
    stack = region_stack()
    key = DataKey(
        stack, "Key", alias="alias/a", description="d", removal_policy=RemovalPolicy.RETAIN, logical_id="KeyAlerts", governance=GOVERNANCE
    ).key
    AlertTopic(
        stack,
        "Alerts",
        topic_name="alerts-test",
        key=key,
        emails=["a@example.com", "b@example.com"],
        slack_workspace_id="T01234567",
        slack_channel_id="C01234567",
    )
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SNS::Topic", {"TopicName": "alerts-test", "KmsMasterKeyId": {"Fn::GetAtt": ["KeyAlerts", "Arn"]}}
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )
    assert sorted(s["Properties"]["Endpoint"] for s in resources(template.to_json(), "AWS::SNS::Subscription").values()) == [
        "a@example.com",
        "b@example.com",
    ]
    slack = template.find_resources("AWS::Chatbot::SlackChannelConfiguration")
    (props,) = [s["Properties"] for s in slack.values()]
    assert props["SlackWorkspaceId"] == "T01234567" and props["SlackChannelId"] == "C01234567"
    assert "CloudWatchReadOnlyAccess" in json.dumps(props["GuardrailPolicies"])
    # Alarms, Budgets and Backup can publish to the encrypted topic only if the key policy lets them.
    key_policy = template.find_resources("AWS::KMS::Key")["KeyAlerts"]["Properties"]["KeyPolicy"]["Statement"]
    (publishers,) = [s for s in key_policy if s.get("Sid") == "AllowAlertPublishersToUseTheKey"]
    assert "cloudwatch.amazonaws.com" in publishers["Principal"]["Service"]
    assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_secure_bucket_defaults():
    stack = region_stack()
    key = DataKey(
        stack, "Key", alias="alias/b", description="d", removal_policy=RemovalPolicy.RETAIN, logical_id="KeyArchive", governance=GOVERNANCE
    ).key
    logs = AccessLogBucket(stack, "Logs", retention_days=30, removal_policy=RemovalPolicy.RETAIN).bucket
    SecureBucket(stack, "Archive", key=key, access_logs=logs, access_log_prefix="archive/", removal_policy=RemovalPolicy.RETAIN)
    template = Template.from_json(Template.from_stack(stack).to_json())
    buckets = template.find_resources("AWS::S3::Bucket")
    (archive,) = [b for b in buckets.values() if "LoggingConfiguration" in b["Properties"]]
    props = archive["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0] == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"KMSMasterKeyID": {"Fn::GetAtt": ["KeyArchive", "Arn"]}, "SSEAlgorithm": "aws:kms"},
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "archive/"
    assert archive["DeletionPolicy"] == "Retain"
    policies = [json.dumps(p["Properties"]["PolicyDocument"]) for p in template.find_resources("AWS::S3::BucketPolicy").values()]
    assert all('"aws:SecureTransport": "false"' in p for p in policies) and len(policies) == 2
    assert all('"s3:TlsVersion": 1.2' in p for p in policies)


def test_access_log_bucket_is_sse_s3_and_expires_logs():
    stack = region_stack()
    AccessLogBucket(stack, "Logs", retention_days=30, removal_policy=RemovalPolicy.RETAIN)
    (bucket,) = Template.from_stack(stack).find_resources("AWS::S3::Bucket").values()
    props = bucket["Properties"]
    # S3 server access logging cannot deliver to an SSE-KMS bucket.
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 30
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}


def test_constructs_import_neither_config_nor_stacks():
    # One direction only: config and stacks build on constructs_lib, which takes its own props.
    modules = sorted((ROOT / "constructs_lib").glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        tree = ast.parse(path.read_text())
        imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        imported += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        assert not [m for m in imported if m.split(".")[0] in ("config", "stacks")], f"{path.name} imports {imported}"


def test_a_table_may_override_one_threshold_of_the_environment():
    stack, _ = build_table(spec=replace(SPEC, alarm_thresholds={"latency_ms": 500}))
    template = Template.from_stack(stack)
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert alarms, "no alarms"
    assert alarms["orders-test-latency"]["Threshold"] == 500
    assert "above 500 ms" in alarms["orders-test-latency"]["AlarmDescription"]
    # Only that one: the environment's other thresholds still hold for this table.
    assert alarms["orders-test-read-throttles"]["Threshold"] == ALARMS.thresholds["throttle_events"] == 3


def test_a_protected_governance_leaves_key_destruction_to_break_glass_alone():
    statements = key_statements(governance=replace(GOVERNANCE, protected=True))
    alone = statements["DenyKeyDestructionExceptBreakGlass"]
    assert alone["Effect"] == "Deny" and alone["Principal"] == {"AWS": "*"}
    assert alone["Action"] == ["kms:DeleteAlias", "kms:DisableKey", "kms:ScheduleKeyDeletion"]
    assert alone["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": BREAK_GLASS}}
    # ...and not where the data is rebuildable.
    assert "DenyKeyDestructionExceptBreakGlass" not in key_statements()


def test_every_replica_gets_the_tables_policy_and_a_streamed_table_its_stream_policy():
    eu = Replica(region="eu-west-1", kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000")
    stack, _ = build_table(replicas=[eu], stream_readers=["arn:aws:iam::123456789012:role/pipe"])
    props = Template.from_stack(stack).find_resources("AWS::DynamoDB::GlobalTable")["TableOrders"]["Properties"]
    replicas = {r["Region"]: r for r in props["Replicas"]}
    assert set(replicas) == {"us-east-1", "eu-west-1"}
    policies = [r["ResourcePolicy"]["PolicyDocument"] for r in replicas.values()]
    assert policies[0] == policies[1] and any(s["Sid"] == "DenyTableDeletionExceptBreakGlass" for s in policies[0]["Statement"])
    streams = [r["ReplicaStreamSpecification"]["ResourcePolicy"]["PolicyDocument"] for r in replicas.values()]
    assert streams[0] == streams[1]
    (records,) = [s for s in streams[0]["Statement"] if s["Sid"] == "DenyStreamRecordsExceptItsReaders"]
    assert records["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] == sorted([BREAK_GLASS, "arn:aws:iam::123456789012:role/pipe"])

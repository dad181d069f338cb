"""Retention and archival: TTL deletions archived to S3/Glacier, AWS Backup, cost budgets.

The seed numbers are written out here (daylight.md: audit_logs, users, user_profiles 2555
days; locations 1095 days), not read from config/retention.py.
"""

from __future__ import annotations

import json

import pytest

from tests.support import resources

ENVS = ["dev", "staging", "prod"]
ARCHIVED = {"AuditLogs": 2555, "Users": 2555, "UserProfiles": 2555, "Locations": 1095}
SYSTEMS = ["therapeutic-wave", "daylight", "madmall", "fusion-health", "personalpod"]


def template(synthesized, name):
    return synthesized[name].template


@pytest.mark.parametrize("env", ENVS)
def test_only_archived_tables_stream_old_images(synthesized, env):
    for system in SYSTEMS:
        found = resources(template(synthesized, f"{system}-{env}"), "AWS::DynamoDB::GlobalTable")
        assert found, system
        for logical_id, table in found.items():
            stream = table["Properties"].get("StreamSpecification")
            if system == "daylight" and logical_id.removeprefix("Table") in ARCHIVED:
                assert stream == {"StreamViewType": "OLD_IMAGE"}, logical_id
            else:
                assert stream is None, f"{system}/{logical_id}"


@pytest.mark.parametrize("env", ENVS)
def test_pipes_archive_ttl_deletes_only(synthesized, env):
    daylight = template(synthesized, f"daylight-{env}")
    found = {p["Properties"]["Name"]: p["Properties"] for p in resources(daylight, "AWS::Pipes::Pipe").values()}
    assert sorted(found) == sorted(f"daylight-{env}-{name}-archive" for name in ("audit_logs", "users", "user_profiles", "locations"))
    queue = next(iter(resources(daylight, "AWS::SQS::Queue")))
    for pipe in found.values():
        (filter_,) = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
        # TTL deletions carry DynamoDB's own principal; a user's DeleteItem does not.
        assert json.loads(filter_["Pattern"]) == {
            "eventName": ["REMOVE"],
            "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
        }
        stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
        assert stream["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue, "Arn"]}}
        assert stream["StartingPosition"] == "TRIM_HORIZON"
        assert pipe["Source"]["Fn::GetAtt"][1] == "StreamArn"
        assert pipe["Target"]["Fn::GetAtt"][0] in resources(daylight, "AWS::KinesisFirehose::DeliveryStream")


@pytest.mark.parametrize("env", ENVS)
def test_firehose_writes_compressed_kms_encrypted_under_the_table_prefix(synthesized, env):
    daylight = template(synthesized, f"daylight-{env}")
    account = synthesized[f"daylight-{env}"].account
    streams = {
        s["Properties"]["DeliveryStreamName"]: s["Properties"]["ExtendedS3DestinationConfiguration"]
        for s in resources(daylight, "AWS::KinesisFirehose::DeliveryStream").values()
    }
    for table_id, seed_name in (
        ("AuditLogs", "audit_logs"),
        ("Users", "users"),
        ("UserProfiles", "user_profiles"),
        ("Locations", "locations"),
    ):
        destination = streams[f"daylight-{env}-{seed_name}-archive"]
        bucket = f"data-{'audit-' if table_id == 'AuditLogs' else ''}archive-{env}-{account}-us-east-1"
        assert destination["BucketARN"] == f"arn:aws:s3:::{bucket}"
        assert destination["CompressionFormat"] == "GZIP"
        # Newline-delimited JSON, so the archive is queryable as JSON lines.
        assert destination["ProcessingConfiguration"] == {
            "Enabled": True,
            "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": []}],
        }
        assert destination["Prefix"].startswith(f"daylight/{table_id}/data/")
        assert destination["ErrorOutputPrefix"].startswith(f"daylight/{table_id}/errors/")
        assert "PublishOutputFnGetAttKeyArchiveArn" in json.dumps(destination["EncryptionConfiguration"]["KMSEncryptionConfig"])


@pytest.mark.parametrize("env", ENVS)
def test_archive_failures_alarm(synthesized, env):
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in resources(template(synthesized, f"daylight-{env}"), "AWS::CloudWatch::Alarm").values()
    }
    assert alarms[f"daylight-{env}-archive-dead-letters"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    for name in ("audit_logs", "users", "user_profiles", "locations"):
        assert alarms[f"daylight-{env}-{name}-archive-pipe-failures"]["Namespace"] == "AWS/EventBridge/Pipes"
        assert alarms[f"daylight-{env}-{name}-archive-delivery-freshness"]["MetricName"] == "DeliveryToS3.DataFreshness"
    for props in alarms.values():
        assert props["AlarmActions"], props["AlarmName"]


def lifecycle(synthesized, env) -> dict[str, dict]:
    platform = template(synthesized, f"data-platform-{env}")
    rules = {}
    for logical_id in ("ArchiveBucket", "AuditArchiveBucket"):
        for rule in resources(platform, "AWS::S3::Bucket")[logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]:
            rules[rule["Prefix"]] = {**rule, "bucket": logical_id}
    return rules


@pytest.mark.parametrize("env", ENVS)
def test_archive_lifecycle_follows_the_seed_and_s3_minimums(synthesized, env):
    rules = lifecycle(synthesized, env)
    assert sorted(rules) == sorted(f"daylight/{t}/" for t in ARCHIVED)
    for table_id, days in ARCHIVED.items():
        rule = rules[f"daylight/{table_id}/"]
        assert rule["ExpirationInDays"] == days
        transitions = {t["StorageClass"]: t["TransitionInDays"] for t in rule["Transitions"]}
        assert set(transitions) == {"GLACIER", "DEEP_ARCHIVE"}
        # Glacier bills 90 days at least, Deep Archive 180: no early-deletion charges.
        assert transitions["DEEP_ARCHIVE"] - transitions["GLACIER"] >= 90
        assert days - transitions["DEEP_ARCHIVE"] >= 180
        assert rule["bucket"] == ("AuditArchiveBucket" if table_id == "AuditLogs" else "ArchiveBucket")


@pytest.mark.parametrize("env, mode", [("dev", None), ("staging", "GOVERNANCE"), ("prod", "COMPLIANCE")])
def test_audit_archive_is_object_locked_for_its_retention(synthesized, env, mode):
    bucket = resources(template(synthesized, f"data-platform-{env}"), "AWS::S3::Bucket")["AuditArchiveBucket"]["Properties"]
    if mode is None:
        assert "ObjectLockConfiguration" not in bucket
    else:
        assert bucket["ObjectLockConfiguration"] == {
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Days": 2555, "Mode": mode}},
        }


def test_dev_has_no_backups(synthesized):
    dev = {name: stack for name, stack in synthesized.items() if stack.environment == "dev"}
    assert len(dev) == 8
    for name, stack in dev.items():
        assert not resources(stack.template, "AWS::Backup::BackupPlan"), name
        assert not resources(stack.template, "AWS::Backup::BackupVault"), name


@pytest.mark.parametrize("env, locked", [("staging", False), ("prod", True)])
def test_backup_vault_encrypted_locked_in_prod_and_notifying_failures(synthesized, env, locked):
    platform = template(synthesized, f"data-platform-{env}")
    vault = resources(platform, "AWS::Backup::BackupVault")["BackupVault"]
    props = vault["Properties"]
    assert props["BackupVaultName"] == f"data-tables-{env}"
    assert props["EncryptionKeyArn"] == {"Fn::GetAtt": ["KeyBackup", "Arn"]}
    assert vault["DeletionPolicy"] == "Retain"
    assert sorted(props["Notifications"]["BackupVaultEvents"]) == [
        "BACKUP_JOB_EXPIRED",
        "BACKUP_JOB_FAILED",
        "COPY_JOB_FAILED",
        "RESTORE_JOB_FAILED",
    ]
    assert props["Notifications"]["SNSTopicArn"] == {"Ref": "AlertsTopicCF7C81C9"}
    if locked:
        assert props["LockConfiguration"] == {"MinRetentionDays": 35, "ChangeableForDays": 3}
    else:
        assert "LockConfiguration" not in props


@pytest.mark.parametrize("env", ["staging", "prod"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_backup_plan_rules_and_a_selection_naming_every_table(synthesized, system, env):
    stack = template(synthesized, f"{system}-{env}")
    (plan,) = resources(stack, "AWS::Backup::BackupPlan").values()
    rules = {r["RuleName"]: r for r in plan["Properties"]["BackupPlan"]["BackupPlanRule"]}
    assert rules["daily"]["Lifecycle"] == {"DeleteAfterDays": 35}
    assert rules["monthly"]["Lifecycle"] == {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365}
    for rule in rules.values():
        assert rule["TargetBackupVault"] == f"data-tables-{env}"
        lifecycle_ = rule["Lifecycle"]
        assert lifecycle_["DeleteAfterDays"] >= lifecycle_.get("MoveToColdStorageAfterDays", -90) + 90
    (selection,) = resources(stack, "AWS::Backup::BackupSelection").values()
    selected = {r["Fn::GetAtt"][0] for r in selection["Properties"]["BackupSelection"]["Resources"]}
    assert selected and selected == set(resources(stack, "AWS::DynamoDB::GlobalTable"))


@pytest.mark.parametrize(
    "env, amount, emails",
    [("dev", 200, ["dev-alerts@example.com"]), ("staging", 1000, ["data-alerts@example.com"]), ("prod", 5000, ["data-oncall@example.com"])],
)
def test_cost_budget_notifies_at_80_actual_and_100_forecast(synthesized, env, amount, emails):
    (budget,) = resources(template(synthesized, f"data-platform-{env}"), "AWS::Budgets::Budget").values()
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": amount, "Unit": "USD"}
    assert props["Budget"]["TimeUnit"] == "MONTHLY" and props["Budget"]["BudgetType"] == "COST"
    notes = {
        (n["Notification"]["NotificationType"], n["Notification"]["Threshold"]): n["Subscribers"]
        for n in props["NotificationsWithSubscribers"]
    }
    assert set(notes) == {("ACTUAL", 80), ("FORECASTED", 100)}
    for subscribers in notes.values():
        assert {"SubscriptionType": "SNS", "Address": {"Ref": "AlertsTopicCF7C81C9"}} in subscribers
        assert sorted(s["Address"] for s in subscribers if s["SubscriptionType"] == "EMAIL") == emails


@pytest.mark.parametrize("env", ENVS)
def test_alert_topic_lets_budgets_backup_and_alarms_publish(synthesized, env):
    platform = template(synthesized, f"data-platform-{env}")
    (policy,) = resources(platform, "AWS::SNS::TopicPolicy").values()
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    publishers = statements["AllowAlertPublishers"]["Principal"]["Service"]
    assert sorted(publishers) == ["backup.amazonaws.com", "budgets.amazonaws.com", "cloudwatch.amazonaws.com"]
    key_policy = resources(platform, "AWS::KMS::Key")["KeyAlerts"]["Properties"]["KeyPolicy"]["Statement"]
    (key_statement,) = [s for s in key_policy if s.get("Sid") == "AllowAlertPublishersToUseTheKey"]
    assert sorted(key_statement["Principal"]["Service"]) == sorted(publishers)

"""Retention and archival: TTL deletions archived to S3/Glacier, AWS Backup, cost budgets.

The seed numbers are written out here (daylight.md: audit_logs, users, user_profiles 2555
days; locations 1095 days), not read from config/retention.py.
"""

from __future__ import annotations

import json

import pytest

import config
from config.retention import RETENTION
from stacks import naming
from tests.expected import AUDITED, ENVS, PRODUCTION, PROTECTED
from tests.support import resources

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


SEED_NAMES = {"AuditLogs": "audit_logs", "Users": "users", "UserProfiles": "user_profiles", "Locations": "locations"}


def pipes_of(synthesized, env) -> dict[str, dict]:
    daylight = template(synthesized, f"daylight-{env}")
    return {p["Properties"]["Name"]: p["Properties"] for p in resources(daylight, "AWS::Pipes::Pipe").values()}


def queues_of(synthesized, env) -> dict[str, tuple[str, dict]]:
    """queue name -> (logical id, properties)"""
    daylight = template(synthesized, f"daylight-{env}")
    return {q["Properties"]["QueueName"]: (lid, q["Properties"]) for lid, q in resources(daylight, "AWS::SQS::Queue").items()}


@pytest.mark.parametrize("env", ENVS)
def test_pipes_buffer_ttl_deletes_only(synthesized, env):
    found = pipes_of(synthesized, env)
    names = [f"daylight-{env}-{name}-archive" for name in SEED_NAMES.values()]
    assert sorted(found) == sorted([*names, *(f"{n}-drain" for n in names)])
    queues = queues_of(synthesized, env)
    dead_letters = queues[f"daylight-{env}-archive-dlq"][0]
    for name in names:
        pipe = found[name]
        (filter_,) = pipe["SourceParameters"]["FilterCriteria"]["Filters"]
        # TTL deletions carry DynamoDB's own principal; a user's DeleteItem does not.
        assert json.loads(filter_["Pattern"]) == {
            "eventName": ["REMOVE"],
            "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]},
        }
        stream = pipe["SourceParameters"]["DynamoDBStreamParameters"]
        assert stream["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dead_letters, "Arn"]}}
        assert stream["StartingPosition"] == "TRIM_HORIZON"
        assert pipe["Source"]["Fn::GetAtt"][1] == "StreamArn"
        # Straight into the table's buffer queue; the drain takes it on to Firehose.
        assert pipe["Target"] == {"Fn::GetAtt": [queues[f"{name}-buffer"][0], "Arn"]}
        drain = found[f"{name}-drain"]
        assert drain["Source"] == pipe["Target"] and "FilterCriteria" not in drain["SourceParameters"]
        assert drain["Target"]["Fn::GetAtt"][0] in resources(
            template(synthesized, f"daylight-{env}"), "AWS::KinesisFirehose::DeliveryStream"
        )
        assert drain["TargetParameters"] == {"InputTemplate": "<$.body>"}


@pytest.mark.parametrize("env", ENVS)
def test_every_failure_after_the_stream_keeps_the_records_at_least_seven_days(synthesized, env):
    """A TTL deletion is in its table's buffer within a minute; from there every failure path
    (Firehose, the bucket, its key or policy, the drain) leaves the record itself in SQS, in the
    buffer or, after the drain's retries, in the held queue, for 14 days from its arrival."""
    queues = queues_of(synthesized, env)
    for name in SEED_NAMES.values():
        buffer_id, buffer = queues[f"daylight-{env}-{name}-archive-buffer"]
        held_id, held = queues[f"daylight-{env}-{name}-archive-held"]
        for props in (buffer, held):
            assert props["MessageRetentionPeriod"] >= 7 * 86400 and props["MessageRetentionPeriod"] == 14 * 86400
            assert props["KmsMasterKeyId"] == {"Fn::GetAtt": ["KeyData", "Arn"]}
        assert buffer["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [held_id, "Arn"]}
        # Retried for an hour (12 deliveries, 5 minutes apart) before it is held.
        assert buffer["RedrivePolicy"]["maxReceiveCount"] == 12 and buffer["VisibilityTimeout"] == 300
        assert "RedrivePolicy" not in held


@pytest.mark.parametrize("env", ENVS)
def test_firehose_buffers_under_the_archive_key(synthesized, env):
    daylight = template(synthesized, f"daylight-{env}")
    for stream in resources(daylight, "AWS::KinesisFirehose::DeliveryStream").values():
        sse = stream["Properties"]["DeliveryStreamEncryptionConfigurationInput"]
        assert sse["KeyType"] == "CUSTOMER_MANAGED_CMK" and "KeyArchiveArn" in json.dumps(sse["KeyARN"])


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
    for name in SEED_NAMES.values():
        archive = f"daylight-{env}-{name}-archive"
        expected = {
            f"{archive}-pipe-failures": ("ExecutionFailed", 1),
            f"{archive}-drain-failures": ("ExecutionFailed", 1),
            f"{archive}-behind": ("ApproximateAgeOfOldestMessage", 600),
            f"{archive}-held": ("ApproximateNumberOfMessagesVisible", 1),
            f"{archive}-delivery-freshness": ("DeliveryToS3.DataFreshness", 600),
        }
        for alarm, (metric, threshold) in expected.items():
            props = alarms[alarm]
            assert (props["MetricName"], props["Threshold"]) == (metric, threshold), alarm
            # Within 15 minutes: one breaching 5-minute period is enough.
            assert props["Period"] == 300 and props["EvaluationPeriods"] == props["DatapointsToAlarm"] == 1, alarm
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
    for table_id, total in ARCHIVED.items():
        rule = rules[f"daylight/{table_id}/"]
        # Retention counts from the item's creation: the table's days, then the archive's, make the seed's.
        in_table = RETENTION[("daylight", table_id)].table_days
        assert in_table and rule["ExpirationInDays"] + in_table == total, (table_id, in_table, rule["ExpirationInDays"])
        days = rule["ExpirationInDays"]
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
            # The audit log's archive days: with its year in the table, the seed's 2555 exactly.
            "Rule": {"DefaultRetention": {"Days": 2555 - 365, "Mode": mode}},
        }


def test_dev_has_no_backups(synthesized):
    dev = {name: stack for name, stack in synthesized.items() if stack.environment == "dev"}
    assert len(dev) == 8
    for name, stack in dev.items():
        assert not resources(stack.template, "AWS::Backup::BackupPlan"), name
        assert not resources(stack.template, "AWS::Backup::BackupVault"), name


@pytest.mark.parametrize("env", PROTECTED)
def test_backup_vault_encrypted_locked_guarded_and_notifying(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    platform = template(synthesized, f"data-platform-{env}")
    vault = resources(platform, "AWS::Backup::BackupVault")["BackupVault"]
    props = vault["Properties"]
    assert props["BackupVaultName"] == f"data-tables-{env}"
    assert props["EncryptionKeyArn"] == {"Fn::GetAtt": ["KeyBackup", "Arn"]}
    assert vault["DeletionPolicy"] == "Retain"
    # Failures and changed recovery points; restores too, unless EventBridge rules report them
    # (where a trail feeds the tamper alerts: they leave out the restore tests' own restores).
    restores = [] if naming.tamper_alerts_on(cfg) else ["RESTORE_JOB_COMPLETED", "RESTORE_JOB_FAILED"]
    assert sorted(props["Notifications"]["BackupVaultEvents"]) == sorted(
        ["BACKUP_JOB_EXPIRED", "BACKUP_JOB_FAILED", "COPY_JOB_FAILED", "RECOVERY_POINT_MODIFIED", *restores]
    )
    assert props["Notifications"]["SNSTopicArn"] == {"Ref": "AlertsTopicCF7C81C9"}
    # Every protected vault is locked with a minimum and a maximum; production's in compliance mode.
    lock = props["LockConfiguration"]
    assert lock["MinRetentionDays"] == 35 and lock["MaxRetentionDays"] >= 365
    assert ("ChangeableForDays" in lock) is (env in PRODUCTION)
    assert_vault_policy(props["AccessPolicy"], cfg, copy_targets=naming.all_copy_vaults(cfg))


def assert_vault_policy(policy: dict, cfg, *, copy_targets: list[str], offsite: bool = False) -> None:
    """The vault keeps its recovery points: deletions and lifecycle changes are break-glass's
    alone, the policy itself break-glass's and CloudFormation's, restores and copies
    break-glass's, the restore roles' and AWS Backup's plan roles', copies only to `copy_targets`."""
    glass = cfg.keys.break_glass_arn
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert all(s["Effect"] == "Deny" and s["Principal"] == {"AWS": "*"} and "*" not in str(s["Action"]) for s in by_sid.values())
    points = by_sid["DenyRecoveryPointChangesExceptBreakGlass"]
    assert points["Action"] == ["backup:DeleteRecoveryPoint", "backup:UpdateRecoveryPointLifecycle"]
    assert points["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [glass]}}
    own = by_sid["DenyVaultPolicyChangesExceptBreakGlassAndDeployer"]
    assert own["Action"] == ["backup:DeleteBackupVaultAccessPolicy", "backup:PutBackupVaultAccessPolicy"]
    restores = by_sid["DenyRestoresAndCopiesExceptNamedRoles"]
    assert restores["Action"] == ["backup:StartCopyJob", "backup:StartRestoreJob"]
    exempt = set(restores["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
    # The restore tests restore from the primary vault only.
    tests = [] if offsite else naming.restore_tests_role_arns(cfg)
    assert exempt == {glass, *cfg.backup.restore_principal_arns, *naming.backup_role_arns(cfg), *tests}
    copies = by_sid["DenyCopiesOutsideTheEnvironment"]
    assert copies["Action"] == "backup:CopyFromBackupVault"
    if copy_targets:
        assert copies["Condition"] == {"ForAnyValue:ArnNotLike": {"backup:CopyTargets": sorted(copy_targets)}}
    else:
        assert copies["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [glass]}}


@pytest.mark.parametrize("env", PROTECTED)
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
    [("dev", 100, ["dev-alerts@example.com"]), ("staging", 1000, ["data-alerts@example.com"]), ("prod", 5000, ["data-oncall@example.com"])],
)
def test_cost_budget_notifies_at_80_actual_and_100_forecast(synthesized, env, amount, emails):
    budget = resources(template(synthesized, f"data-platform-{env}"), "AWS::Budgets::Budget")["Budget"]
    props = budget["Properties"]
    assert props["Budget"]["BudgetLimit"] == {"Amount": amount, "Unit": "USD"}
    # Only what carries the environment's cost-allocation tag, not the whole account.
    assert props["Budget"]["CostFilters"] == {"TagKeyValue": [f"user:CostCenter$data-platform-{env}"]}
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


@pytest.mark.parametrize("env", PROTECTED)
def test_the_database_cluster_is_backed_up_into_the_locked_vault(synthesized, env):
    database = template(synthesized, f"personalpod-database-{env}")
    (plan,) = resources(database, "AWS::Backup::BackupPlan").values()
    rules = plan["Properties"]["BackupPlan"]["BackupPlanRule"]
    assert {r["RuleName"]: r["Lifecycle"] for r in rules} == {"daily": {"DeleteAfterDays": 35}, "monthly": {"DeleteAfterDays": 365}}
    assert {r["TargetBackupVault"] for r in rules} == {f"data-tables-{env}"}
    (selection,) = resources(database, "AWS::Backup::BackupSelection").values()
    chosen = selection["Properties"]["BackupSelection"]
    account = synthesized[f"personalpod-database-{env}"].account
    assert chosen["Resources"] == [{"Fn::Join": ["", [f"arn:aws:rds:us-east-1:{account}:cluster:", {"Ref": "DatabaseCluster"}]]}]
    role = resources(database, "AWS::IAM::Role")[chosen["IamRoleArn"]["Fn::GetAtt"][0]]["Properties"]
    assert role["RoleName"] == f"personalpod-database-{env}-backup"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": account}}


def test_dev_backs_up_no_database(synthesized):
    assert not resources(template(synthesized, "personalpod-database-dev"), "AWS::Backup::BackupPlan")


# --- off-site copies (prod: us-west-2)

AIR_GAPPED_VAULT = "arn:aws:backup:us-west-2:333333333333:backup-vault:data-tables-prod-airgapped"
OFFSITE_VAULT = "arn:aws:backup:us-west-2:333333333333:backup-vault:data-tables-prod-offsite"


@pytest.mark.parametrize("env", ENVS)
def test_prod_backup_rules_copy_to_the_offsite_vault_and_only_prod_has_one(synthesized, env):
    plans = [
        (name, plan)
        for name, stack in synthesized.items()
        if stack.environment == env
        for plan in resources(stack.template, "AWS::Backup::BackupPlan").values()
    ]
    assert len(plans) == (0 if env == "dev" else 6)  # five systems and the database
    for name, plan in plans:
        for rule in plan["Properties"]["BackupPlan"]["BackupPlanRule"]:
            copies = rule.get("CopyActions", [])
            if env != "prod":
                assert copies == [], (name, rule["RuleName"])
                continue
            # Kept as long as the original, cold storage included: the tables' in the air-gapped
            # vault, the database's in the standard one (AWS Backup copies no Aurora backup
            # across regions into an air-gapped vault).
            database = name.startswith("personalpod-database")
            target = OFFSITE_VAULT if database else AIR_GAPPED_VAULT
            # The tables' copies of a rule live offsite.table_copy_days (prod: a week of dailies),
            # the database's as long as the originals.
            days = None if database else config.ENVIRONMENTS[env].offsite.table_copy_days.get(rule["RuleName"])
            lifecycle = rule["Lifecycle"] if days is None else {"DeleteAfterDays": days}
            assert copies == [{"DestinationBackupVaultArn": target, "Lifecycle": lifecycle}], (name, rule["RuleName"])
    if env == "prod":
        assert config.ENVIRONMENTS[env].offsite.table_copy_days == {"daily": 7}


def test_the_offsite_stack_holds_a_locked_vault_and_the_audit_archive_replica(synthesized):
    stack = synthesized["data-offsite-prod"]
    assert (stack.account, stack.region, stack.termination_protection) == ("333333333333", "us-west-2", True)
    res = stack.template["Resources"]
    (vault,) = resources(stack.template, "AWS::Backup::BackupVault").values()
    assert vault["Properties"]["BackupVaultName"] == "data-tables-prod-offsite"
    assert vault["Properties"]["EncryptionKeyArn"] == {"Fn::GetAtt": ["KeyOffsite", "Arn"]}
    # Locked like the primary vault: nobody deletes a copy before 35 days; guarded like it, and
    # nothing copies out of it but break-glass.
    assert vault["Properties"]["LockConfiguration"]["MinRetentionDays"] == 35
    assert vault["Properties"]["LockConfiguration"]["MaxRetentionDays"] >= 365
    assert_vault_policy(vault["Properties"]["AccessPolicy"], config.ENVIRONMENTS["prod"], copy_targets=[], offsite=True)
    replica = res["AuditArchiveReplicaBucket"]["Properties"]
    assert replica["BucketName"] == "data-audit-archive-prod-offsite-333333333333-us-west-2"
    assert replica["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": 2190}
    assert replica["VersioningConfiguration"] == {"Status": "Enabled"}
    primary = lifecycle(synthesized, "prod")["daylight/AuditLogs/"]
    (rule,) = replica["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == primary["ExpirationInDays"] and rule["Prefix"] == "daylight/AuditLogs/"
    assert res["KeyOffsite"]["Properties"]["EnableKeyRotation"] is True


def test_the_prod_audit_archive_replicates_to_the_offsite_bucket_first_deployed(synthesized, stages):
    platform = template(synthesized, "data-platform-prod")
    replication = resources(platform, "AWS::S3::Bucket")["AuditArchiveBucket"]["Properties"]["ReplicationConfiguration"]
    (rule,) = replication["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": "daylight/AuditLogs/"}
    assert rule["Destination"] == {
        "Bucket": "arn:aws:s3:::data-audit-archive-prod-offsite-333333333333-us-west-2",
        "EncryptionConfiguration": {"ReplicaKmsKeyID": "arn:aws:kms:us-west-2:333333333333:alias/data-offsite-prod"},
    }
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    role = resources(platform, "AWS::IAM::Role")[replication["Role"]["Fn::GetAtt"][0]]["Properties"]
    assert role["RoleName"] == "data-audit-archive-prod-replication"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "333333333333"}}
    # The replica exists before the archive that replicates into it.
    (prod,) = [stage for stage in stages if stage.stage_name == "prod"]
    assert [d.stack_name for d in prod.platform.dependencies] == ["data-offsite-prod"]
    unreplicated = [env for env, cfg in config.ENVIRONMENTS.items() if cfg.offsite.region is None]
    assert unreplicated, "every environment has off-site copies: nothing to check here"
    for env in unreplicated:
        assert (
            "ReplicationConfiguration"
            not in resources(template(synthesized, f"data-platform-{env}"), "AWS::S3::Bucket")["AuditArchiveBucket"]["Properties"]
        )


def test_the_prod_trail_logs_replicate_locked_to_the_offsite_region(synthesized):
    """The audit trail's log files are evidence like the audit archive: a second copy in the
    off-site region, with the same Object Lock mode and retention, under that region's key."""
    cfg = config.ENVIRONMENTS["prod"]
    offsite = synthesized["data-offsite-prod"].template
    replica = offsite["Resources"]["AuditTrailReplicaBucket"]["Properties"]
    primary = template(synthesized, "data-platform-prod")["Resources"]["AuditTrailBucket"]["Properties"]
    assert replica["BucketName"] == "data-audit-trail-prod-offsite-333333333333-us-west-2"
    assert replica["ObjectLockConfiguration"] == primary["ObjectLockConfiguration"]
    assert primary["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": cfg.audit_trail.retention_days}
    assert replica["VersioningConfiguration"] == {"Status": "Enabled"}
    assert [r["ExpirationInDays"] for r in replica["LifecycleConfiguration"]["Rules"]] == [cfg.audit_trail.retention_days]
    assert replica["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": ["KeyOffsite", "Arn"]
    }
    (rule,) = primary["ReplicationConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": "cloudtrail/"}
    assert rule["Destination"] == {
        "Bucket": "arn:aws:s3:::data-audit-trail-prod-offsite-333333333333-us-west-2",
        "EncryptionConfiguration": {"ReplicaKmsKeyID": "arn:aws:kms:us-west-2:333333333333:alias/data-offsite-prod"},
    }
    role_arn = "arn:aws:iam::333333333333:role/data-audit-trail-prod-replication"
    # Each key lets the replication role do its half, through S3 only.
    for key, sid, actions in (
        (template(synthesized, "data-platform-prod")["Resources"]["KeyAuditTrail"], "ReplicationReadsTrailLogs", "kms:Decrypt"),
        (offsite["Resources"]["KeyOffsite"], "ReplicationWritesTrailLogs", ["kms:Encrypt", "kms:GenerateDataKey"]),
    ):
        (statement,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
        assert statement["Action"] == actions and statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [role_arn]}, sid
    trailed = [env for env in AUDITED if config.ENVIRONMENTS[env].offsite.region is None]
    assert trailed, "no environment keeps a trail without off-site copies: nothing to check here"
    for env in trailed:
        assert (
            "ReplicationConfiguration" not in template(synthesized, f"data-platform-{env}")["Resources"]["AuditTrailBucket"]["Properties"]
        )


@pytest.mark.parametrize("env", ENVS)
def test_system_budgets_filter_on_the_system_tag_every_system_resource_carries(synthesized, env):
    budgets = resources(template(synthesized, f"data-platform-{env}"), "AWS::Budgets::Budget")
    systems = {b["Properties"]["Budget"]["BudgetName"]: b["Properties"]["Budget"] for lid, b in budgets.items() if lid != "Budget"}
    expected = (
        {"daylight": 1500, "personalpod": 1500, "madmall": 800, "fusion-health": 500, "therapeutic-wave": 500} if env == "prod" else {}
    )
    assert {name: b["BudgetLimit"]["Amount"] for name, b in systems.items()} == {f"data-{k}-{env}": v for k, v in expected.items()}
    for name, budget in systems.items():
        system = name.removeprefix("data-").removesuffix(f"-{env}")
        assert budget["CostFilters"] == {"TagKeyValue": [f"user:System${system}"]}
    # The tag is on every table (and so on what the system stacks bill), the database's too.
    for stack_name, system in [*((f"{k}-{env}", k) for k in expected or ("daylight",)), (f"personalpod-database-{env}", "personalpod")]:
        tables = resources(template(synthesized, stack_name), "AWS::DynamoDB::GlobalTable").values()
        clusters = resources(template(synthesized, stack_name), "AWS::RDS::DBCluster").values()
        for res in [*tables, *clusters]:
            tags = res["Properties"].get("Tags") or res["Properties"]["Replicas"][0]["Tags"]
            assert {"Key": "System", "Value": system} in tags, stack_name


@pytest.mark.parametrize("env", ENVS)
def test_archives_refuse_uploads_not_under_their_own_key(synthesized, env):
    """An upload with SSE-S3, or under another key, would escape the archive key's policy:
    every archive bucket (and the off-site replica) denies it. Without the headers an upload
    gets the bucket's default, that key; Firehose names it by ARN (checked above)."""
    stacks = [f"data-platform-{env}", *([f"data-offsite-{env}"] if config.ENVIRONMENTS[env].offsite.region else [])]
    checked = 0
    for name in stacks:
        tpl = template(synthesized, name)
        for policy in resources(tpl, "AWS::S3::BucketPolicy").values():
            bucket_id = policy["Properties"]["Bucket"]["Ref"]
            if "Archive" not in bucket_id:
                continue
            bucket = tpl["Resources"][bucket_id]["Properties"]
            key = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
            denies = {
                s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid", "").startswith("DenyUploads")
            }
            objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}
            assert denies == {
                "DenyUploadsNotUnderKms": {
                    "Sid": "DenyUploadsNotUnderKms",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                },
                "DenyUploadsUnderAnotherKey": {
                    "Sid": "DenyUploadsUnderAnotherKey",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:PutObject",
                    "Resource": objects,
                    "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key}},
                },
            }, (name, bucket_id)
            checked += 1
    # The general and the audit archive, and in prod the audit archive's off-site replica.
    assert checked == 2 + (1 if config.ENVIRONMENTS[env].offsite.region else 0)


def test_the_tables_off_site_copies_are_out_of_the_accounts_reach(synthesized):
    """Prod's tables copy into a logically air-gapped vault in the off-site region: under the
    off-site key, compliance-locked by construction for the lock's retention, guarded by the
    same access policy, retained; no multi-party approval team until config names a real one."""
    cfg = config.ENVIRONMENTS["prod"]
    assert cfg.offsite.air_gapped and AIR_GAPPED_VAULT.endswith(naming.air_gapped_vault_name(cfg))
    stack = synthesized["data-offsite-prod"]
    (vault,) = resources(stack.template, "AWS::Backup::LogicallyAirGappedBackupVault").values()
    props = vault["Properties"]
    assert props["BackupVaultName"] == naming.air_gapped_vault_name(cfg)
    assert props["EncryptionKeyArn"] == {"Fn::GetAtt": ["KeyOffsite", "Arn"]}
    # Locked from the shortest life of a copy it takes (a week of dailies) to the lock's maximum.
    assert (props["MinRetentionDays"], props["MaxRetentionDays"]) == (
        min([cfg.backup.vault_lock_min_retention_days, *cfg.offsite.table_copy_days.values()]),
        cfg.backup.vault_lock_max_retention_days,
    )
    assert props["MinRetentionDays"] >= 7
    assert vault["DeletionPolicy"] == vault["UpdateReplacePolicy"] == "Retain"
    assert "MpaApprovalTeamArn" not in props
    assert_vault_policy(props["AccessPolicy"], cfg, copy_targets=[], offsite=True)
    # The primary vault lets copies go to both off-site vaults, nowhere else.
    primary = resources(template(synthesized, "data-platform-prod"), "AWS::Backup::BackupVault")["BackupVault"]
    (copies,) = [s for s in primary["Properties"]["AccessPolicy"]["Statement"] if s["Sid"] == "DenyCopiesOutsideTheEnvironment"]
    assert copies["Condition"]["ForAnyValue:ArnNotLike"]["backup:CopyTargets"] == sorted([AIR_GAPPED_VAULT, OFFSITE_VAULT])


def test_an_air_gapped_vault_needs_its_region_and_lock_and_refuses_a_placeholder_approval_team():
    from dataclasses import replace

    from tests.test_config import assert_rejected

    staging = config.ENVIRONMENTS["staging"]
    prod = config.ENVIRONMENTS["prod"]
    assert_rejected(
        ["staging.offsite.air_gapped = True is not allowed: False unless offsite.region is set"],
        staging=replace(staging, offsite=replace(staging.offsite, air_gapped=True)),
    )
    placeholder = "arn:aws:mpa::333333333333:approval-team/abc123"
    assert_rejected(
        [f"prod.offsite.mpa_approval_team_arn = {placeholder!r} is not allowed: a real multi-party approval team's ARN"],
        prod=replace(prod, offsite=replace(prod.offsite, mpa_approval_team_arn=placeholder)),
    )


def test_table_copy_days_name_a_rule_and_stay_within_the_locks_and_the_originals():
    from dataclasses import replace

    from tests.test_config import assert_rejected

    prod = config.ENVIRONMENTS["prod"]
    offsite = replace(prod.offsite, table_copy_days={"hourly": 7, "daily": 3, "monthly": 400})
    assert_rejected(
        [
            "prod.offsite.table_copy_days['hourly'] = 7 is not allowed: a backup rule's name: one of daily, monthly",
            "prod.offsite.table_copy_days['daily'] = 3 is not allowed: a whole number from 7 (the off-site vault's lock) to 35",
            "prod.offsite.table_copy_days['monthly'] = 400 is not allowed: a whole number from 7 (the off-site vault's lock) to 365",
        ],
        prod=replace(prod, offsite=offsite),
    )
    # Into a standard off-site vault the copies live at least its lock's minimum.
    standard = replace(prod.offsite, air_gapped=False, table_copy_days={"daily": 7})
    assert_rejected(
        ["prod.offsite.table_copy_days['daily'] = 7 is not allowed: a whole number from 35"], prod=replace(prod, offsite=standard)
    )

"""Guardrails over every stack of every environment: compliance packs, cfn-lint, the project's
own data-safety policy where cdk-nag is blind (it ignores AWS::DynamoDB::GlobalTable), and
pinned logical ids of every stateful resource."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import config
from app import nag_packs
from config.catalogue import SYSTEMS
from stacks.stage import stack_regions
from tests.expected import ENVS, PROTECTED, pinned_ids
from tests.support import resources

STATEFUL = (
    "AWS::DynamoDB::GlobalTable",
    "AWS::DynamoDB::Table",
    "AWS::KMS::Key",
    "AWS::S3::Bucket",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::Backup::BackupVault",
    # The audit trail: its deletion stops the record of who read PHI.
    "AWS::CloudTrail::Trail",
)
DATA_SERVICES = ("dynamodb:", "kms:", "s3:", "rds:", "rds-db:", "secretsmanager:")


def stacks_of(synthesized, env):
    stacks = [s for s in synthesized.values() if s.environment == env]
    # Prod has one more: its off-site copies in the second region (stacks/offsite.py).
    assert len(stacks) == (9 if env == "prod" else 8), f"{env}: {sorted(s.name for s in stacks)}"
    return stacks


def of_type(stacks, type_: str) -> list[tuple]:
    """(stack, logical id, resource) of every resource of `type_`, asserted to be some."""
    found = [(stack, logical_id, resource) for stack in stacks for logical_id, resource in resources(stack.template, type_).items()]
    assert found, f"no {type_} in {[s.name for s in stacks]}"
    return found


# --- cdk-nag -------------------------------------------------------------------------------


@pytest.mark.parametrize("pack", nag_packs(), ids=lambda p: p.__name__)
@pytest.mark.parametrize("env", ENVS)
def test_compliance_pack_has_no_findings(stages, env, pack):
    (stage,) = [s for s in stages if s.stage_name == env]
    report = pack().validate_scope(stage)
    findings = [f"{v.rule_name} at {r.construct_path}: {v.description[:120]}" for v in report.violations for r in v.violating_resources]
    assert not findings, "cdk-nag findings (fix them; acknowledge only with a specific reason):\n  " + "\n  ".join(findings)


# Every acknowledgement in the app, pinned: adding one is a reviewed change to this list.
EXPECTED_ACKNOWLEDGEMENTS = (
    {
        ("platform/AccessLogs/Bucket/Resource", rule)
        for rule in (
            "AwsSolutions-S1",
            "HIPAA.Security-S3DefaultEncryptionKMS",
            "HIPAA.Security-S3BucketLoggingEnabled",
            "HIPAA.Security-S3BucketReplicationEnabled",
            "NIST.800.53.R5-S3DefaultEncryptionKMS",
            "NIST.800.53.R5-S3BucketLoggingEnabled",
            "NIST.800.53.R5-S3BucketReplicationEnabled",
        )
    }
    | {
        (f"platform/{bucket}/Secure/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled")
        for bucket in ("Archive", "AuditArchive")
        for pack in ("HIPAA.Security", "NIST.800.53.R5")
    }
    | {
        ("daylight/Archive/DeadLetters/Resource", "AwsSolutions-SQS3"),
        ("daylight/Archive/DeadLetters/Resource", "cdk-validator-cfnguard::sqs_dlq_check"),
    }
    # Each archived table's held queue is its buffer's dead-letter queue (docs/retention.md).
    | {
        (f"daylight/Archive/{table}/HeldQueue/Resource", rule)
        for table in ("AuditLogs", "Locations", "UserProfiles", "Users")
        for rule in ("AwsSolutions-SQS3", "cdk-validator-cfnguard::sqs_dlq_check")
    }
    # The scanners' share (tests/test_scanners.py): S3's own rules for the access-log bucket,
    # the general archive's per-table lifecycle, and CDK's deploy-time custom-resource handler.
    | {("data-platform:AccessLogsBucket", "checkov::CKV_AWS_18")}
    | {
        ("platform/AccessLogs/Bucket/Resource", f"cdk-validator-cfnguard::{rule}")
        for rule in ("s3_bucket_default_encryption_kms_check", "s3_bucket_logging_enabled_check", "s3_bucket_object_lock_enabled_check")
    }
    | {("platform/Archive/Secure/Bucket/Resource", "cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check")}
    | {
        (
            "personalpod-database/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler",
            "cdk-validator-cfnguard::lambda_inside_vpc_check",
        ),
        *(
            ("personalpod-database:CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E", f"checkov::{check}")
            for check in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")
        ),
    }
)
RETENTION = "cdk-validator-cfnguard::cloudwatch_log_group_retention_period_check"
ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}


def expected_acknowledgements(env: str) -> set[tuple[str, str]]:
    expected = set(EXPECTED_ACKNOWLEDGEMENTS)
    # Dev's deliberate choices, skipped in dev only: PITR off on every table, no lock on its
    # audit archive, database logs kept 30 days.
    if env == "dev":
        expected |= {(f"{system.key}:{spec.logical_id}", "checkov::CKV_AWS_165") for system in SYSTEMS for spec in system.tables}
        expected.add(("platform/AuditArchive/Secure/Bucket/Resource", "cdk-validator-cfnguard::s3_bucket_object_lock_enabled_check"))
    # Log groups kept less than a year by config: the database's outside prod.
    if env != "prod":
        expected |= {(f"personalpod-database/{group}/Resource", RETENTION) for group in ("Database/PostgresqlLogs", "Network/FlowLogs")}
    # The app roles read their system's table parameters by path (the policy stays small).
    for system in SYSTEMS:
        parameters = f"arn:aws:ssm:us-east-1:{ACCOUNTS[env]}:parameter/data/{env}/{system.key}/tables/*"
        expected.add((f"{system.key}/Access/AppPolicy/Resource", f"AwsSolutions-IAM5[Resource::{parameters}]"))
    # Firehose writes under one table's prefix each: the object wildcard is that prefix only.
    for table in ("AuditLogs", "Locations", "UserProfiles", "Users"):
        bucket = f"data-{'audit-' if table == 'AuditLogs' else ''}archive-{env}-{ACCOUNTS[env]}-us-east-1"
        expected.add(("daylight/Archive/DeliveryPolicy/Resource", f"AwsSolutions-IAM5[Resource::arn:aws:s3:::{bucket}/daylight/{table}/*]"))
    if env != "dev":
        for system in ("therapeutic-wave", "daylight", "madmall", "fusion-health", "personalpod", "personalpod-database"):
            for policy in ("AWSBackupServiceRolePolicyForBackup", "AWSBackupServiceRolePolicyForRestores"):
                expected.add(
                    (
                        f"{system}/Backup/Role/Resource",
                        f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/{policy}]",
                    )
                )
        # The audit trail (staging, prod): evidence kept in place under Object Lock; its events
        # watched on EventBridge, not in a CloudWatch Logs copy (constructs_lib/trail.py).
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            expected.add(("platform/AuditTrail/Logs/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled"))
            expected.add(("platform/AuditTrail/Trail", f"{pack}-CloudTrailCloudWatchLogsEnabled"))
        expected.add(("platform/AuditTrail/Trail", "cdk-validator-cfnguard::cloud_trail_cloud_watch_logs_enabled_check"))
        # The restore tests' role: AWS Backup's own restore policy, like the plans' roles.
        expected.add(
            (
                "platform/RestoreTests/Role/Resource",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores]",
            )
        )
        # The denied-calls queue is read by people: no consumer whose failures a DLQ would catch.
        for rule in ("AwsSolutions-SQS3", "cdk-validator-cfnguard::sqs_dlq_check"):
            expected.add(("platform/TamperAlerts/DeniedDataCallsQueue/Resource", rule))
        # The restore tests' validator calls only AWS APIs (no VPC) and pages on failure (no
        # DLQ); its policy names restore jobs (no ARN), recovery points and AWS Backup's copies
        # (ids made at run time).
        validator = "platform/RestoreTests/Validator/Resource"
        expected |= {
            (validator, f"{pack}-{rule}") for pack in ("HIPAA.Security", "NIST.800.53.R5") for rule in ("LambdaInsideVPC", "LambdaDLQ")
        }
        expected |= {(validator, "cdk-validator-cfnguard::lambda_inside_vpc_check")}
        expected |= {("data-platform:RestoreTestsValidator1F1D0CA6", f"checkov::{check}") for check in ("CKV_AWS_116", "CKV_AWS_117")}
        expected |= {
            ("platform/RestoreTests/ValidatorPolicy/Resource", f"AwsSolutions-IAM5[Resource::{resource}]")
            for resource in (
                "*",
                f"arn:aws:backup:us-east-1:{ACCOUNTS[env]}:recovery-point:*",
                f"arn:aws:dynamodb:us-east-1:{ACCOUNTS[env]}:table/awsbackup-restore-test-*",
            )
        }
    # PersonalPod's database (docs/database.md): Aurora backs up per cluster, not per instance;
    # log streams are named after run-time ids (network interfaces, RDS instance resource ids).
    for instance in ("Writer",) if env == "dev" else ("Writer", "Reader1"):
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            expected.add((f"personalpod-database/Database/Cluster/{instance}/Resource", f"{pack}-RDSInBackupPlan"))
    # The CI role sets its environment's stack policies: a stack ARN ends in an id made at creation.
    for name, region in stack_regions(config.ENVIRONMENTS[env]).items():
        expected.add(
            (
                "ci-deploy/DeployPolicy/Resource",
                f"AwsSolutions-IAM5[Resource::arn:aws:cloudformation:{region}:{ACCOUNTS[env]}:stack/{name}/*]",
            )
        )
    if env == "prod":
        # Off-site copies (stacks/offsite.py): the audit archive replicates (no acknowledgement
        # needed any more); its replica and that region's access-log bucket are acknowledged
        # like their originals; the replication role writes only the archived prefixes.
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            expected.discard(("platform/AuditArchive/Secure/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled"))
            expected.add(("data-offsite/AuditArchive/Secure/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled"))
        expected |= {
            (
                path.replace("platform/", "data-offsite/", 1)
                if path.startswith("platform/AccessLogs/")
                else "data-offsite:AccessLogsBucket",
                rule,
            )
            for path, rule in EXPECTED_ACKNOWLEDGEMENTS
            if path.startswith("platform/AccessLogs/") or path == "data-platform:AccessLogsBucket"
        }
        offsite_bucket = f"data-audit-archive-prod-offsite-{ACCOUNTS[env]}-us-west-2"
        expected |= {
            ("platform/AuditArchive/ReplicationPolicy/Resource", f"AwsSolutions-IAM5[Resource::{resource}]")
            for resource in (
                "<AuditArchiveBucket.Arn>/daylight/AuditLogs/*",
                f"arn:aws:s3:::{offsite_bucket}/daylight/AuditLogs/*",
                f"arn:aws:kms:us-west-2:{ACCOUNTS[env]}:key/*",
            )
        }
        # The audit trail's log files replicate too, under the same narrow role (cloudtrail/ only).
        trail_replica = f"data-audit-trail-prod-offsite-{ACCOUNTS[env]}-us-west-2"
        for pack in ("HIPAA.Security", "NIST.800.53.R5"):
            expected.discard(("platform/AuditTrail/Logs/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled"))
            expected.add(("data-offsite/AuditTrail/Bucket/Resource", f"{pack}-S3BucketReplicationEnabled"))
        expected |= {
            ("platform/AuditTrail/ReplicationPolicy/Resource", f"AwsSolutions-IAM5[Resource::{resource}]")
            for resource in (
                "<AuditTrailBucket.Arn>/cloudtrail/*",
                f"arn:aws:s3:::{trail_replica}/cloudtrail/*",
                f"arn:aws:kms:us-west-2:{ACCOUNTS[env]}:key/*",
            )
        }
    log_groups = f"arn:aws:logs:us-east-1:{ACCOUNTS[env]}:log-group"
    expected.add(
        (
            "personalpod-database/Network/FlowLogsPolicy/Resource",
            f"AwsSolutions-IAM5[Resource::{log_groups}:/vpc/personalpod-{env}-database/flow-logs:log-stream:*]",
        )
    )
    expected.add(
        ("personalpod-database/Database/MonitoringPolicy/Resource", f"AwsSolutions-IAM5[Resource::{log_groups}:RDSOSMetrics:log-stream:*]")
    )
    return expected


@pytest.mark.parametrize("env", ENVS)
def test_acknowledgements_are_few_narrow_and_reasoned(synthesized, env):
    # Read from the assembly's metadata files, where CDK writes every construct's metadata by
    # path: the same entries as walking the construct tree, without thousands of jsii calls.
    found = set()
    stacks = stacks_of(synthesized, env)
    for stack in stacks:
        metadata = json.loads(Path(stack.source.removesuffix(".template.json") + ".metadata.json").read_text())
        # CloudFormation resources' construct paths: those CDK gave a logical id.
        paths = {path for path, entries in metadata.items() if any(e["type"] == "aws:cdk:logicalId" for e in entries)}
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] != "aws:cdk:acknowledged-rules":
                    continue
                for rule, reason in entry["data"].items():
                    # On one CloudFormation resource, never on a stack or a whole subtree.
                    assert path in paths or path.endswith("/Handler"), path
                    assert len(reason) >= 60, f"{rule} on {path}: the reason is too thin: {reason!r}"
                    found.add((path.split("/", 2)[2], rule.removeprefix("Annotation::")))
        # checkov's skips live in the resource's own Metadata.
        for lid, res in stack.template["Resources"].items():
            for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
                where = f"{stack.name.removesuffix('-' + env)}:{lid}"
                assert len(skip["comment"]) >= 60, f"{skip['id']} on {where}: the reason is too thin: {skip['comment']!r}"
                found.add((where, f"checkov::{skip['id']}"))
    assert found == expected_acknowledgements(env)


# --- data-safety policy (what cdk-nag cannot see) ------------------------------------------


def table_replicas(table: dict) -> list[dict]:
    return table["Properties"].get("Replicas", [])


@pytest.mark.parametrize("env", ENVS)
def test_every_table_is_encrypted_with_a_customer_managed_key_of_its_stack(synthesized, env):
    for stack, logical_id, table in of_type(stacks_of(synthesized, env), "AWS::DynamoDB::GlobalTable"):
        keys = resources(stack.template, "AWS::KMS::Key")
        assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}, logical_id
        assert table_replicas(table), logical_id
        for replica in table_replicas(table):
            key = replica["SSESpecification"]["KMSMasterKeyId"]
            assert isinstance(key, dict) and key["Fn::GetAtt"][0] in keys, f"{stack.name}/{logical_id} uses {key}"


@pytest.mark.parametrize("env", PROTECTED)
def test_protected_tables_have_35_days_of_pitr(synthesized, env):
    for stack, logical_id, table in of_type(stacks_of(synthesized, env), "AWS::DynamoDB::GlobalTable"):
        assert table_replicas(table), logical_id
        for replica in table_replicas(table):
            assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35}, (
                f"{stack.name}/{logical_id}"
            )


@pytest.mark.parametrize("env", PROTECTED)
def test_protected_stateful_resources_are_retained_and_protected(synthesized, env):
    checked = 0
    for stack in stacks_of(synthesized, env):
        for logical_id, resource in stack.template["Resources"].items():
            if resource["Type"] not in STATEFUL:
                continue
            if resource["Type"] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" in resource["Properties"]:
                # An Aurora instance holds no data: the cluster's policy and protection cover it.
                continue
            checked += 1
            allowed = ("Retain", "Snapshot") if resource["Type"].startswith("AWS::RDS::") else ("Retain",)
            where = f"{stack.name}/{logical_id}"
            assert resource.get("DeletionPolicy") in allowed, f"{where}: DeletionPolicy {resource.get('DeletionPolicy')}"
            assert resource.get("UpdateReplacePolicy") in allowed, f"{where}: UpdateReplacePolicy {resource.get('UpdateReplacePolicy')}"
            if resource["Type"] == "AWS::DynamoDB::GlobalTable":
                assert table_replicas(resource) and all(r["DeletionProtectionEnabled"] is True for r in table_replicas(resource)), where
            if resource["Type"].startswith("AWS::RDS::"):
                assert resource["Properties"].get("DeletionProtection") is True, where
    # Tables, keys, buckets, the vault and the cluster: far more than a handful.
    assert checked > 30, checked


def test_prod_stacks_have_termination_protection(synthesized):
    assert all(s.termination_protection for s in stacks_of(synthesized, "prod"))


def is_access_log_bucket(logical_id: str) -> bool:
    return logical_id == "AccessLogsBucket"


@pytest.mark.parametrize("env", ENVS)
def test_every_bucket_is_private_versioned_tls_only_encrypted_and_logged(synthesized, env):
    for stack, logical_id, bucket in of_type(stacks_of(synthesized, env), "AWS::S3::Bucket"):
        policies = [p["Properties"] for p in resources(stack.template, "AWS::S3::BucketPolicy").values()]
        where, props = f"{stack.name}/{logical_id}", bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, where
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, where
        tls_only = [
            p
            for p in policies
            if p["Bucket"] == {"Ref": logical_id} and '"aws:SecureTransport": "false"' in json.dumps(p["PolicyDocument"])
        ]
        assert tls_only, f"{where} has no TLS-only bucket policy"
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        if is_access_log_bucket(logical_id):
            # S3 access-log delivery needs SSE-S3 on its destination (acknowledged above).
            assert encryption == {"SSEAlgorithm": "AES256"}, where
        else:
            assert encryption["SSEAlgorithm"] == "aws:kms" and "KMSMasterKeyID" in encryption, where
            assert "LoggingConfiguration" in props, f"{where} is not access-logged"


def policy_documents(template: dict):
    """Every identity policy document of a template (inline, managed and role policies)."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, props["PolicyDocument"]
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield logical_id, policy["PolicyDocument"]


def render(resource) -> str:
    """A resource as text: Fn::Join parts concatenated, any other token shown as <token>."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Join" in resource:
        separator, parts = resource["Fn::Join"]
        return separator.join(render(p) for p in parts)
    return "<token>"


# Wildcards that reach a whole service, every table/key/index/stream, or a whole bucket. A
# wildcard under a named S3 prefix (one table's archive) is the narrowest S3 allows.
WILDCARD = re.compile(r"^\*$|:table/\*|:key/\*|/index/\*$|/stream/\*$|:s3:::[^/]+/\*$|:secret:\*$|:(db|cluster|dbuser):\*$")


def is_wildcard(resource: str) -> bool:
    return bool(WILDCARD.search(resource))


def test_wildcard_detection():
    assert is_wildcard("*") and is_wildcard("arn:aws:dynamodb:us-east-1:1:table/*") and is_wildcard("arn:aws:s3:::b/*")
    assert is_wildcard("<token>/index/*") and is_wildcard("arn:aws:kms:us-east-1:1:key/*")
    assert not is_wildcard("arn:aws:s3:::b/daylight/Users/*") and not is_wildcard("<token>/index/email-index")


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("env", ENVS)
def test_no_wildcard_action_and_no_wildcard_resource_on_data_services(synthesized, env):
    checked = 0
    for stack in stacks_of(synthesized, env):
        for logical_id, document in policy_documents(stack.template):
            for statement in document["Statement"]:
                checked += 1
                where = f"{stack.name}/{logical_id}: {json.dumps(statement)[:200]}"
                actions = as_list(statement.get("Action", []))
                assert all("*" not in a for a in actions), where
                # A key named by its alias (kms:ResourceAliases) where its id is not known yet.
                by_alias = "kms:ResourceAliases" in json.dumps(statement.get("Condition", {}))
                if any(a.startswith(DATA_SERVICES) for a in actions) and not by_alias:
                    for resource in as_list(statement["Resource"]):
                        assert not is_wildcard(render(resource)), where
    assert checked > 50, checked


@pytest.mark.parametrize("env", ENVS)
def test_every_alarm_notifies(synthesized, env):
    for stack, logical_id, alarm in of_type(stacks_of(synthesized, env), "AWS::CloudWatch::Alarm"):
        assert alarm["Properties"].get("AlarmActions"), f"{stack.name}/{logical_id} has no alarm action"


@pytest.mark.parametrize("env", ENVS)
def test_every_kms_key_rotates(synthesized, env):
    for stack, logical_id, key in of_type(stacks_of(synthesized, env), "AWS::KMS::Key"):
        assert key["Properties"].get("EnableKeyRotation") is True, f"{stack.name}/{logical_id}"


# --- logical-id pins -----------------------------------------------------------------------

# The stacks whose stateful resources are pinned; which ids each holds comes from config
# (tests/expected.py: the catalogue's tables and keys, the shared stacks' by what config turns on).
PINNED_STACKS = ["data-platform", *(system.key for system in SYSTEMS), "personalpod-database"]

PIN_HELP = """
The logical id of a stateful resource is its identity to CloudFormation. A changed id means
CloudFormation creates a new, empty resource and deletes (or orphans) the old one: for a table,
a key or a bucket that is data loss. If you renamed a construct, pin the old id back with
CfnResource.override_logical_id. If the move is deliberate, use `cdk refactor`, or retain the
resource, remove it from the stack, and `cdk import` it under the new id, in the same reviewed
change. A new kind of stateful resource is added to tests/expected.py (pinned_ids) with its pin.
`make guard` explains the same hazard.
"""


@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("stack_key", PINNED_STACKS)
def test_stateful_logical_ids_are_pinned(synthesized, stack_key, env):
    template = synthesized[f"{stack_key}-{env}"].template
    stateful = {lid for lid, r in template["Resources"].items() if r["Type"] in STATEFUL}
    pinned = pinned_ids(stack_key, config.ENVIRONMENTS[env])
    assert pinned, stack_key
    missing, unexpected = pinned - stateful, stateful - pinned
    assert not missing and not unexpected, f"{stack_key}-{env}: missing {sorted(missing)}, new {sorted(unexpected)}\n{PIN_HELP}"


def test_the_offsite_stacks_stateful_resources_are_pinned(synthesized):
    """data-offsite exists where config has offsite.region (prod), so it is not in PINNED_STACKS."""
    template = synthesized["data-offsite-prod"].template
    stateful = {lid for lid, r in template["Resources"].items() if r["Type"] in STATEFUL}
    expected = {"KeyOffsite", "BackupVault", "AccessLogsBucket", "AuditArchiveReplicaBucket"}
    if config.ENVIRONMENTS["prod"].audit_trail.mode == "create":
        expected.add("AuditTrailReplicaBucket")
    assert stateful == expected, f"{sorted(stateful)}\n{PIN_HELP}"
    for lid in stateful:
        assert template["Resources"][lid]["DeletionPolicy"] == "Retain", lid

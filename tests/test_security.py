"""Key governance and table policies, read from the synthesized templates (docs/security.md).

No single admin may destroy or read the data: every key separates administration from use,
denies destruction and foreign grants to all but the configured administrators, and names
each role that may use it; every table denies its items to the deployer and its deletion to
all but the break-glass role.
"""

from __future__ import annotations

import pytest

import config
from config import retention
from config.catalogue import SYSTEMS
from stacks import naming
from tests.expected import PROTECTED, REBUILDABLE, table_count
from tests.test_guardrails import ENVS, stacks_of

KMS_ADMIN_ONLY = {"kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteAlias"}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def keys_of(stacks) -> dict[tuple[str, str], list[dict]]:
    """(stack name, key logical id) -> key policy statements, for every key of an environment."""
    return {
        (stack.name, lid): res["Properties"]["KeyPolicy"]["Statement"]
        for stack in stacks
        for lid, res in stack.template["Resources"].items()
        if res["Type"] == "AWS::KMS::Key"
    }


def key_ref(stack, value, by_name) -> tuple[str, str] | None:
    """The key an IAM statement's resource names: a GetAtt in its own stack, or another stack's
    output (Fn::GetStackOutput) that is a GetAtt of a key there."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        lid = value["Fn::GetAtt"][0]
        if stack.template["Resources"].get(lid, {}).get("Type") == "AWS::KMS::Key":
            return stack.name, lid
    if isinstance(value, dict) and "Fn::GetStackOutput" in value:
        out = value["Fn::GetStackOutput"]
        other = by_name[out["StackName"]]
        return key_ref(other, other.template["Outputs"][out["OutputName"]]["Value"], by_name)
    return None


def iam_key_uses(stacks, account: str) -> list[tuple[str, tuple[str, str], str, str | None]]:
    """Every (role ARN, key, kms action, via service or None) the environment's IAM policies allow."""
    by_name = {s.name: s for s in stacks}
    uses = []
    for stack in stacks:
        res = stack.template["Resources"]
        for policy in (r for r in res.values() if r["Type"] == "AWS::IAM::ManagedPolicy"):
            roles = []
            for role in policy["Properties"].get("Roles", []):
                # An unnamed role cannot be named by a key policy: it fails the match below if it uses a key.
                name = res[role["Ref"]]["Properties"].get("RoleName", f"(unnamed {role['Ref']})") if isinstance(role, dict) else role
                roles.append(f"arn:aws:iam::{account}:role/{name}")
            for st in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = [a for a in as_list(st["Action"]) if a.startswith("kms:")]
                via = st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
                for resource in as_list(st["Resource"]):
                    key = key_ref(stack, resource, by_name)
                    if key is None:
                        continue
                    uses += [(role, key, action, via) for role in roles for action in actions]
    return uses


def allows(statements: list[dict], role: str, action: str, via: str | None, account: str) -> bool:
    for st in statements:
        if st["Effect"] != "Allow" or not ({action, "kms:*"} & set(as_list(st["Action"]))):
            continue
        principal = as_list(st["Principal"].get("AWS", []))
        named = st.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])
        if role not in principal and not (principal == [f"arn:aws:iam::{account}:root"] and role in named):
            continue
        required = st.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        if required is None or via in as_list(required):
            return True
    return False


@pytest.mark.parametrize("env", ENVS)
def test_only_the_break_glass_role_holds_every_key_permission(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    keys = keys_of(stacks_of(synthesized, env))
    assert len(keys) >= 8, sorted(keys)
    for key, statements in keys.items():
        everything = [st for st in statements if st["Effect"] == "Allow" and "kms:*" in as_list(st["Action"])]
        assert [st["Principal"] for st in everything] == [{"AWS": cfg.keys.break_glass_arn}], key
        for st in statements:
            if st["Effect"] != "Allow":
                continue
            # The account root only ever appears narrowed to named roles (aws:PrincipalArn).
            if st["Principal"].get("AWS") == f"arn:aws:iam::{cfg.account}:root":
                assert st["Condition"]["ArnEquals"]["aws:PrincipalArn"], (key, st["Sid"])
                assert st["Condition"]["StringEquals"]["kms:CallerAccount"] == cfg.account, (key, st["Sid"])
            # Administration never comes with use, use never with administration.
            if st.get("Sid") == "KeyAdministration":
                assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"} & set(st["Action"]), key
            elif st.get("Sid") != "BreakGlass":
                assert not KMS_ADMIN_ONLY & set(as_list(st["Action"])), (key, st.get("Sid"))


@pytest.mark.parametrize("env", ENVS)
def test_every_key_denies_destruction_policy_changes_and_foreign_grants(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    admins, glass = list(cfg.keys.administrator_arns), cfg.keys.break_glass_arn
    regions = {s.name: s.region for s in stacks_of(synthesized, env)}
    for key, statements in keys_of(stacks_of(synthesized, env)).items():
        deployer = naming.deployer_arn(cfg, regions[key[0]])  # the CloudFormation role of the key's own region
        deny = {st["Sid"]: st for st in statements if st["Effect"] == "Deny"}
        assert set(deny) == {
            "DenyKeyDestructionExceptAdministrators",
            "DenyShortKeyDeletionWindow",
            *(["DenyKeyDestructionExceptBreakGlass"] if env in PROTECTED else []),
            "DenyKeyPolicyChangesExceptAdministrators",
            "DenyGrantsExceptForAwsResources",
        }, key
        # Nobody, break-glass included, schedules a deletion in under 30 days.
        window = deny["DenyShortKeyDeletionWindow"]
        assert window["Action"] == "kms:ScheduleKeyDeletion"
        assert window["Condition"] == {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}}
        if env in PROTECTED:
            # Where data is protected, disabling or deleting a key is break-glass alone.
            alone = deny["DenyKeyDestructionExceptBreakGlass"]
            assert set(alone["Action"]) == {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteAlias"}
            assert alone["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": glass}}, key
        assert all(st["Principal"] == {"AWS": "*"} for st in deny.values()), key
        destroy = deny["DenyKeyDestructionExceptAdministrators"]
        assert set(destroy["Action"]) == {"kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:DeleteAlias"}
        exempt = set(destroy["Condition"]["ArnNotEquals"]["aws:PrincipalArn"])
        # Only a rebuildable environment deletes its keys with their stacks; elsewhere CloudFormation cannot touch them.
        assert exempt == {*admins, glass, *([deployer] if env in REBUILDABLE else [])}, key
        rewrite = deny["DenyKeyPolicyChangesExceptAdministrators"]
        assert set(rewrite["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == {*admins, glass, deployer}, key
        # Control Tower's form (CT.KMS.PR.3): an AWS service acting for itself is not refused.
        assert deny["DenyGrantsExceptForAwsResources"]["Condition"] == {
            "BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}
        }


@pytest.mark.parametrize("env", ENVS)
def test_the_deployer_never_uses_a_key_directly(synthesized, env):
    regions = {s.name: s.region for s in stacks_of(synthesized, env)}
    seen = 0
    for key, statements in keys_of(stacks_of(synthesized, env)).items():
        deployer = naming.deployer_arn(config.ENVIRONMENTS[env], regions[key[0]])
        for st in statements:
            if st["Effect"] == "Allow" and deployer in as_list(st["Principal"].get("AWS", [])) and st["Sid"] != "KeyAdministration":
                seen += 1
                vias = as_list(st["Condition"]["StringEquals"]["kms:ViaService"])
                assert vias and not {f"s3.{regions[key[0]]}.amazonaws.com", f"sqs.{regions[key[0]]}.amazonaws.com"} & set(vias), (
                    key,
                    st["Sid"],
                )
    assert seen >= 6  # tables' keys, the backup key (staging, prod) and the database key


@pytest.mark.parametrize("env", ENVS)
def test_every_kms_grant_in_iam_is_matched_by_its_key_policy(synthesized, env):
    """A role whose IAM policy uses a key must be named by that key's policy for the same action
    and service, or the call fails at run time: the key no longer defers to IAM."""
    cfg = config.ENVIRONMENTS[env]
    stacks = stacks_of(synthesized, env)
    keys = keys_of(stacks)
    uses = iam_key_uses(stacks, cfg.account)
    assert len({key for _, key, _, _ in uses}) >= 6, uses
    missing = [use for use in uses if not allows(keys[use[1]], use[0], use[2], use[3], cfg.account)]
    assert missing == []


@pytest.mark.parametrize("env", ENVS)
def test_every_role_a_key_names_exists(synthesized, env):
    """A key policy naming a role by a stale name would grant nothing (and a stranger's role
    created under that name later would inherit it)."""
    cfg = config.ENVIRONMENTS[env]
    stacks = stacks_of(synthesized, env)
    created = {
        f"arn:aws:iam::{cfg.account}:role/{res['Properties']['RoleName']}"
        for stack in stacks
        for res in stack.template["Resources"].values()
        if res["Type"] == "AWS::IAM::Role" and "RoleName" in res["Properties"]
    }
    known = created | set(cfg.access.migration_principal_arns) | ({cfg.database.bootstrap_principal_arn} - {None})
    named = {
        arn
        for statements in keys_of(stacks).values()
        for st in statements
        if st["Effect"] == "Allow"
        for arn in st.get("Condition", {}).get("ArnEquals", {}).get("aws:PrincipalArn", [])
    }
    assert len(named) >= 10
    assert named - known == set()


def table_policies(stacks) -> dict[tuple[str, str], list[dict]]:
    found = {}
    for stack in stacks:
        for lid, res in stack.template["Resources"].items():
            if res["Type"] == "AWS::DynamoDB::GlobalTable":
                (home,) = [r for r in res["Properties"]["Replicas"] if r["Region"] == stack.region]
                found[(stack.name, lid)] = home.get("ResourcePolicy", {}).get("PolicyDocument", {}).get("Statement", [])
    return found


@pytest.mark.parametrize("env", ENVS)
def test_every_table_denies_strangers_the_deployer_its_items_and_deletion(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    deployer = naming.deployer_arn(cfg)
    policies = table_policies(stacks_of(synthesized, env))
    assert len(policies) == table_count() > 0, "one resource policy per table of config/catalogue.py"
    for table, statements in policies.items():
        by_sid = {st["Sid"]: st for st in statements}
        assert set(by_sid) == {
            "DenyAccessFromOutsideTheAccount",
            "DenyTheDeployerTheItems",
            "DenyTableDeletionExceptBreakGlass",
            "DenyPolicyAndRecoveryChangesExceptBreakGlassAndDeployer",
        }, table
        assert all(st["Effect"] == "Deny" for st in statements), table
        outside = by_sid["DenyAccessFromOutsideTheAccount"]
        assert outside["Condition"]["StringNotEquals"] == {"aws:PrincipalAccount": cfg.account}
        items = by_sid["DenyTheDeployerTheItems"]
        assert {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:ExportTableToPointInTime"} <= set(items["Action"])
        assert items["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [deployer]}}
        delete = by_sid["DenyTableDeletionExceptBreakGlass"]
        exempt = {cfg.keys.break_glass_arn, *([deployer] if env in REBUILDABLE else [])}
        assert set(delete["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == exempt, table
        # The policy protects itself and the PITR window: only break-glass and CloudFormation
        # (whose GlobalTable handler makes these calls on a deploy) may.
        own = by_sid["DenyPolicyAndRecoveryChangesExceptBreakGlassAndDeployer"]
        assert set(own["Action"]) == {"dynamodb:DeleteResourcePolicy", "dynamodb:PutResourcePolicy", "dynamodb:UpdateContinuousBackups"}
        assert own["Principal"] == {"AWS": "*"} and own["Resource"] == "*"
        assert set(own["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == {cfg.keys.break_glass_arn, deployer}, table


@pytest.mark.parametrize("env", ENVS)
def test_an_archived_tables_stream_admits_only_its_archive_pipe_and_break_glass(synthesized, env):
    """A stream carries full old images of the items it archives (PHI): its records are denied to
    everyone but the archive pipe's role and break-glass; CloudFormation may only describe it."""
    cfg = config.ENVIRONMENTS[env]
    deployer, glass = naming.deployer_arn(cfg), cfg.keys.break_glass_arn
    archived = {(system, table_id) for system, table_id, _ in retention.archived()}
    assert archived, "no archived table: nothing to check"
    checked = 0
    for system in SYSTEMS:
        template = synthesized[f"{system.key}-{env}"].template
        pipe = f"arn:aws:iam::{cfg.account}:role/{system.key}-{env}-archive-pipe"
        for spec in system.tables:
            (replica,) = template["Resources"][spec.logical_id]["Properties"]["Replicas"]
            stream = (replica.get("ReplicaStreamSpecification") or {}).get("ResourcePolicy")
            if (system.key, spec.id) not in archived:
                assert stream is None, spec.id
                continue
            checked += 1
            by_sid = {st["Sid"]: st for st in stream["PolicyDocument"]["Statement"]}
            records = by_sid["DenyStreamRecordsExceptItsReaders"]
            assert records["Effect"] == "Deny" and set(records["Action"]) == {"dynamodb:GetRecords", "dynamodb:GetShardIterator"}
            assert set(records["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == {pipe, glass}
            described = by_sid["DenyStreamDescriptionExceptItsReadersAndDeployer"]
            assert set(described["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == {pipe, glass, deployer}
    assert checked == len(archived)


# --- confused-deputy conditions: a service acts only for this account ---------------------

# Roles trusted by a service that documents no confused-deputy condition key for them. Both are
# assumed only by a service this account configured with iam:PassRole, so no other account can
# make the service act with them; an undocumented condition could stop the service instead.
NO_SOURCE_CONDITION = {
    "personalpod-database": {
        "CustomVpcRestrictDefaultSGCustomResourceProviderRole26592FE0": "CDK's own custom-resource provider (restrict the VPC's "
        "default security group); Lambda documents no aws:Source* keys for execution-role trust",
    },
    "data-platform": {
        "AlertsSlackConfigurationRole772FDCFB": "AWS Chatbot's channel role (Slack alerts); Chatbot documents no aws:Source* "
        "keys for its role's trust",
    },
}


def service_statements(stack):
    """(where, statement) of every Allow for a service principal: role trust, key, topic, bucket
    and queue policies."""
    for lid, res in stack.template["Resources"].items():
        p = res.get("Properties", {})
        documents = {
            "AWS::IAM::Role": p.get("AssumeRolePolicyDocument"),
            "AWS::KMS::Key": p.get("KeyPolicy"),
            "AWS::SNS::TopicPolicy": p.get("PolicyDocument"),
            "AWS::S3::BucketPolicy": p.get("PolicyDocument"),
            "AWS::SQS::QueuePolicy": p.get("PolicyDocument"),
        }
        for st in (documents.get(res["Type"]) or {}).get("Statement", []):
            if st["Effect"] == "Allow" and isinstance(st.get("Principal"), dict) and "Service" in st["Principal"]:
                yield lid, res["Type"], st


@pytest.mark.parametrize("env", ENVS)
def test_every_service_acts_only_for_this_account(synthesized, env):
    account = config.ENVIRONMENTS[env].account
    checked, unguarded = 0, {}
    for stack in stacks_of(synthesized, env):
        for lid, rtype, st in service_statements(stack):
            checked += 1
            condition = st.get("Condition", {})
            source_account = condition.get("StringEquals", {}).get("aws:SourceAccount")
            source_arn = {
                op: v
                for op, c in condition.items()
                if op in ("ArnLike", "ArnEquals", "StringEquals")
                for k, v in c.items()
                if k == "aws:SourceArn"
            }
            # CloudWatch Logs' documented guard in a key policy: the log groups' ARNs, in this account.
            log_groups = condition.get("ArnEquals", {}).get("kms:EncryptionContext:aws:logs:arn", [])
            if source_account == account or source_arn:
                continue
            if rtype == "AWS::KMS::Key" and log_groups and all(f":{account}:log-group:" in arn for arn in log_groups):
                continue
            unguarded.setdefault(stack.name.removesuffix(f"-{env}"), set()).add(lid)
    assert checked >= 15
    expected = {stack: set(roles) for stack, roles in NO_SOURCE_CONDITION.items()}
    if env != "prod":
        expected.pop("data-platform")  # Slack alerts are prod's only
    assert unguarded == expected


@pytest.mark.parametrize("env", ENVS)
def test_the_app_role_trusts_its_service_for_this_account_only(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    roles = [
        res["Properties"]
        for stack in stacks_of(synthesized, env)
        for res in stack.template["Resources"].values()
        if res["Type"] == "AWS::IAM::Role" and res["Properties"].get("RoleName", "").endswith(f"-{env}-app")
    ]
    assert len(roles) == len(SYSTEMS)
    for role in roles:
        (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        assert trust["Condition"] == {
            "StringEquals": {"aws:SourceAccount": cfg.account},
            "ArnLike": {"aws:SourceArn": f"arn:aws:ecs:us-east-1:{cfg.account}:*"},
        }


# --- the audit trail ------------------------------------------------------------------------


def platform_of(synthesized, env):
    (platform,) = [s for s in stacks_of(synthesized, env) if s.name == f"data-platform-{env}"]
    return platform.template["Resources"]


def of_type(resources: dict, rtype: str) -> dict[str, dict]:
    return {lid: res for lid, res in resources.items() if res["Type"] == rtype}


@pytest.mark.parametrize("env, reads, lock", [("staging", False, "GOVERNANCE"), ("prod", True, "COMPLIANCE")])
def test_the_audit_trail_records_every_table_into_locked_encrypted_logged_storage(synthesized, env, reads, lock):
    cfg = config.ENVIRONMENTS[env]
    res = platform_of(synthesized, env)
    (trail,) = of_type(res, "AWS::CloudTrail::Trail").values()
    p = trail["Properties"]
    assert p["IsLogging"] is True and p["EnableLogFileValidation"] is True
    assert p["KMSKeyId"] == {"Fn::GetAtt": ["KeyAuditTrail", "Arn"]}
    # Where the data is protected, the trail stays when its stack goes or the trail is replaced.
    assert trail["DeletionPolicy"] == trail["UpdateReplacePolicy"] == "Retain"
    selectors = {
        s["Name"]: {f["Field"]: f.get("Equals") or f.get("StartsWith") for f in s["FieldSelectors"]} for s in p["AdvancedEventSelectors"]
    }
    tables = selectors["DynamoDB table writes"]
    assert tables["eventCategory"] == ["Data"] and tables["resources.type"] == ["AWS::DynamoDB::Table"]
    # By prefix (StartsWith), so a table restored under a name that begins with its original's is logged too.
    assert tables["resources.ARN"] == sorted(naming.table_arns(cfg))
    assert len(tables["resources.ARN"]) == table_count() * (1 + len(cfg.replicas))
    # Writes of every table always; reads only where config pays for them, and only of the
    # tables whose items are PHI or audit evidence (the catalogue's `holds`).
    assert tables["readOnly"] == ["false"]
    if reads:
        read = selectors["DynamoDB table reads"]
        assert "readOnly" not in read and read["resources.type"] == ["AWS::DynamoDB::Table"]
        sensitive = [(s.key, t.id) for s in SYSTEMS for t in s.tables if {"phi", "audit"} & set(t.holds)]
        assert read["resources.ARN"] == sorted(naming.table_arns(cfg, only=sensitive))
        assert 0 < len(sensitive) < table_count()
        # A table that holds none of them, or only secret keys, has its writes logged, not its reads.
        unread = naming.table_arns(cfg, only=[("daylight", "WeatherCache"), ("daylight", "AuthSessions")])
        assert unread and not set(unread) & set(read["resources.ARN"]) and set(unread) <= set(tables["resources.ARN"])
    else:
        assert "DynamoDB table reads" not in selectors
    # Who read the archived tables' streams (old images) and the archives' objects: every read.
    archived = sorted(naming.table_arns(cfg, only=retention.archived()))
    assert archived
    streams = selectors["DynamoDB stream reads"]
    assert streams["resources.type"] == ["AWS::DynamoDB::Stream"] and streams["resources.ARN"] == [f"{a}/stream/" for a in archived]
    assert "readOnly" not in streams
    objects = selectors["Archive object reads"]
    assert objects["resources.type"] == ["AWS::S3::Object"] and "readOnly" not in objects
    assert objects["resources.ARN"] == sorted(f"arn:aws:s3:::{naming.archive_bucket_name(cfg, audit=audit)}/" for audit in (False, True))
    bucket = res["AuditTrailBucket"]["Properties"]
    assert p["S3BucketName"] == {"Ref": "AuditTrailBucket"}
    assert bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": lock, "Days": cfg.audit_trail.retention_days}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"] == {
        "Fn::GetAtt": ["KeyAuditTrail", "Arn"]
    }
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}
    # CloudTrail may write and encrypt for this trail only.
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{cfg.account}:trail/data-audit-{env}"
    (policy,) = [r for r in of_type(res, "AWS::S3::BucketPolicy").values() if r["Properties"]["Bucket"] == {"Ref": "AuditTrailBucket"}]
    service = [
        st for st in policy["Properties"]["PolicyDocument"]["Statement"] if st.get("Principal") == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert len(service) == 2 and all(st["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn for st in service)
    key = {st.get("Sid"): st for st in res["KeyAuditTrail"]["Properties"]["KeyPolicy"]["Statement"]}
    assert key["CloudTrailEncryptsLogFiles"]["Condition"]["StringEquals"] == {"aws:SourceArn": trail_arn}


def test_dev_has_no_trail_and_an_organization_trail_creates_nothing(synthesized):
    from dataclasses import replace

    from config.model import AuditTrailConfig
    from stacks.platform import PlatformStack
    from tests.support import new_app

    assert not of_type(platform_of(synthesized, "dev"), "AWS::CloudTrail::Trail")
    organization = replace(
        config.ENVIRONMENTS["staging"],
        audit_trail=AuditTrailConfig(mode="organization", organization_trail_arn="arn:aws:cloudtrail:us-east-1:222222222222:trail/org"),
    )
    app = new_app()
    stack = PlatformStack(
        app, "Platform", config=organization, any_provisioned=False, env={"account": "222222222222", "region": "us-east-1"}
    )
    resources = app.synth().get_stack_artifact(stack.artifact_id).template["Resources"]
    assert not of_type(resources, "AWS::CloudTrail::Trail") and "KeyAuditTrail" not in resources
    assert of_type(resources, "AWS::KMS::Key")  # the rest of the platform is still there

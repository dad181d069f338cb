"""Tamper alerts (constructs_lib/tamper.py): every control-plane call that would undo a
protection pages on-call, unless the one role allowed to make it (the deployer, AWS Backup's
plan roles) made it.

The sample events follow the shape of CloudTrail's "AWS API Call via CloudTrail" events as
EventBridge delivers them (EventBridge user guide, "Events from AWS services"; CloudTrail user
guide, "CloudTrail userIdentity element"), and are matched by moto's EventBridge pattern
engine, which implements EventBridge's documented matching ($or, anything-but).
"""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

import config
from config.alarms import TAMPER_WATCH
from stacks import naming
from tests.expected import ENVS
from tests.support import resources

# Environments whose trail logs management events: the rules' only source of events.
WATCHED = [name for name, cfg in config.ENVIRONMENTS.items() if cfg.audit_trail.mode in ("create", "organization")]
assert WATCHED and set(WATCHED) != set(ENVS), "the tests need an environment with tamper alerts and one without"
ADMIN = "KeyAdministrator"  # a role allowed to administer, but never unannounced


def platform(synthesized, env: str) -> dict:
    return synthesized[f"data-platform-{env}"].template


def rules(synthesized, env: str) -> dict[str, dict]:
    return {lid: res["Properties"] for lid, res in resources(platform(synthesized, env), "AWS::Events::Rule").items()}


def rule_for(synthesized, env: str, rule_id: str) -> dict:
    (props,) = [props for lid, props in rules(synthesized, env).items() if lid.startswith(f"TamperAlerts{rule_id}")]
    return props


def cloudtrail_event(
    cfg, service: str, name: str, *, role: str | None, bucket: str | None = None, endpoint: str | None = None, **detail: object
) -> dict:
    """An "AWS API Call via CloudTrail" event: `role` is the assumed role's name, or None for an
    IAM user's call (no session issuer); `detail` replaces fields of a management event's."""
    if role:
        identity = {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:session",
            "arn": f"arn:aws:sts::{cfg.account}:assumed-role/{role}/session",
            "accountId": cfg.account,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": naming.role_arn(cfg, role),
                    "accountId": cfg.account,
                    "userName": role,
                },
                "attributes": {"creationDate": "2026-12-07T04:00:00Z", "mfaAuthenticated": "false"},
            },
        }
    else:
        identity = {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": f"arn:aws:iam::{cfg.account}:user/someone",
            "accountId": cfg.account,
        }
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{service}",
        "account": cfg.account,
        "time": "2026-12-07T04:00:00Z",
        "region": cfg.region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": "2026-12-07T04:00:00Z",
            "eventSource": f"{endpoint or service}.amazonaws.com",
            "eventName": name,
            "awsRegion": cfg.region,
            "sourceIPAddress": "203.0.113.10",
            "requestParameters": {"bucketName": bucket} if bucket else {},
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "eventCategory": "Management",
            **detail,
        },
    }


def matches(props: dict, event: dict) -> bool:
    return EventPattern.load(json.dumps(props["EventPattern"])).matches_event(event)


def exempt_roles(cfg, group) -> list[str]:
    names = naming.tamper_exempt(cfg)
    return [arn.rsplit("/", 1)[1] for who in group.exempt for arn in names[who]]


def test_only_environments_with_a_trail_have_tamper_alerts(synthesized):
    for env in ENVS:
        found = [lid for lid in rules(synthesized, env) if lid.startswith("TamperAlerts")]
        if env in WATCHED:
            assert len(found) == len(TAMPER_WATCH) + 4, env  # one per group, break-glass, denied calls, two for restores
        else:
            assert found == [], env


@pytest.mark.parametrize("env", [e for e in ENVS if config.ENVIRONMENTS[e].audit_trail.mode == "create" and e in WATCHED])
def test_the_trail_logs_the_management_events_the_rules_read(synthesized, env):
    (trail,) = resources(platform(synthesized, env), "AWS::CloudTrail::Trail").values()
    selectors = trail["Properties"]["AdvancedEventSelectors"]
    management = [
        s for s in selectors if any(f["Field"] == "eventCategory" and f.get("Equals") == ["Management"] for f in s["FieldSelectors"])
    ]
    assert management, "no management-event selector: EventBridge would receive no API calls"
    # Reads are not needed for the rules, but a write-only selector must not drop the writes.
    for selector in management:
        assert not any(f["Field"] == "readOnly" and f.get("Equals") == ["true"] for f in selector["FieldSelectors"])


@pytest.mark.parametrize("env", WATCHED)
def test_every_rule_pages_the_alert_topic_as_its_own_role_with_what_who_and_where(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    template = platform(synthesized, env)
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    (role_id,) = [lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith("TamperAlertsPublishRole")]
    role = template["Resources"][role_id]["Properties"]
    assert role["RoleName"] == naming.tamper_alerts_role_name(cfg)
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}
    found = [
        props
        for lid, props in rules(synthesized, env).items()
        if lid.startswith("TamperAlerts") and not any(other in lid for other in ("DeniedDataCalls", "RestoreFailed", "RestoreCompleted"))
    ]
    assert len(found) == len(TAMPER_WATCH) + 1
    for props in found:
        assert props["State"] in ("ENABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
        (target,) = props["Targets"]
        assert target["Arn"] == {"Ref": topic_id}
        assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
        paths = target["InputTransformer"]["InputPathsMap"]
        assert set(paths.values()) >= {"$.detail.eventName", "$.detail.userIdentity.arn", "$.detail.awsRegion", "$.account"}
        assert f"in {env}" in target["InputTransformer"]["InputTemplate"]


@pytest.mark.parametrize("env", WATCHED)
def test_the_publish_role_may_use_the_topic_key_through_sns_only(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    template = platform(synthesized, env)
    (statement,) = [
        s
        for s in template["Resources"]["KeyAlerts"]["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "AllowTamperAlertsToPublish"
    ]
    assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [naming.role_arn(cfg, naming.tamper_alerts_role_name(cfg))]}
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [f"sns.{cfg.region}.amazonaws.com"]
    # No statement lets EventBridge itself publish to the topic, nor use the key for another
    # account's rules; the one direct grant is the denied-calls queue's (SQS targets take no role).
    direct = []
    for lid, res in template["Resources"].items():
        document = res["Properties"].get("PolicyDocument") or res["Properties"].get("KeyPolicy") or {}
        for s in document.get("Statement", []):
            if "events.amazonaws.com" in json.dumps(s.get("Principal", {})):
                assert s["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}, (
                    f"{lid} grants EventBridge for any account: {s}"
                )
                assert "sns:Publish" not in json.dumps(s), f"{lid} lets EventBridge publish without the role: {s}"
                direct.append(lid)
    assert sorted(lid.rstrip("0123456789ABCDEF") for lid in direct) == ["KeyAlerts", "TamperAlertsDeniedDataCallsQueuePolicy"]


@pytest.mark.parametrize("group", TAMPER_WATCH, ids=lambda g: g.id)
@pytest.mark.parametrize("env", WATCHED)
def test_each_watched_call_pages_unless_its_one_allowed_role_made_it(synthesized, env, group):
    cfg = config.ENVIRONMENTS[env]
    props = rule_for(synthesized, env, group.id)
    bucket = naming.archive_bucket_name(cfg, audit=True) if group.buckets else None
    for name in group.names:
        for caller in (ADMIN, "BreakGlass", None):
            event = cloudtrail_event(cfg, group.service, name, role=caller, bucket=bucket, endpoint=group.endpoint)
            assert matches(props, event), (name, caller)
        for exempt in exempt_roles(cfg, group):
            event = cloudtrail_event(cfg, group.service, name, role=exempt, bucket=bucket, endpoint=group.endpoint)
            assert not matches(props, event), (name, exempt)
    # Near misses: a read of the same service, the same name from another service.
    assert not matches(props, cloudtrail_event(cfg, group.service, "ListTags", role=ADMIN, bucket=bucket, endpoint=group.endpoint))
    other = "sqs" if group.service != "sqs" else "sns"
    assert not matches(props, cloudtrail_event(cfg, other, group.names[0], role=ADMIN, bucket=bucket))


@pytest.mark.parametrize("env", WATCHED)
def test_the_deployer_is_exempt_only_where_a_deploy_makes_the_call(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    deployer = naming.deployer_arn(cfg).rsplit("/", 1)[1]
    # Destroying a key, stopping the trail, deleting recovery points: no deploy of this app does
    # these, so they page whoever makes them, the deployer included.
    for group in TAMPER_WATCH:
        props = rule_for(synthesized, env, group.id)
        bucket = naming.archive_bucket_name(cfg, audit=False)
        event = cloudtrail_event(cfg, group.service, group.names[0], role=deployer, bucket=bucket, endpoint=group.endpoint)
        assert matches(props, event) == ("deployer" not in group.exempt), group.id
    assert {g.id for g in TAMPER_WATCH if "deployer" not in g.exempt} >= {"KeyDestruction", "TrailStopped", "RecoveryPoints"}


@pytest.mark.parametrize("env", WATCHED)
def test_bucket_calls_page_only_for_this_environments_protected_buckets(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    (group,) = [g for g in TAMPER_WATCH if g.buckets]
    props = rule_for(synthesized, env, group.id)
    watched = [naming.archive_bucket_name(cfg, audit=False), naming.archive_bucket_name(cfg, audit=True)]
    if cfg.audit_trail.mode == "create":
        watched.append(naming.audit_trail_bucket_name(cfg))
    if cfg.offsite.region:
        watched.append(naming.offsite_bucket_name(cfg))
        if cfg.audit_trail.mode == "create":
            watched.append(naming.offsite_trail_bucket_name(cfg))
    for bucket in watched:
        assert matches(props, cloudtrail_event(cfg, "s3", "PutBucketPolicy", role=ADMIN, bucket=bucket)), bucket
    assert not matches(props, cloudtrail_event(cfg, "s3", "PutBucketPolicy", role=ADMIN, bucket="someone-elses-bucket"))


@pytest.mark.parametrize("env", WATCHED)
def test_any_call_by_the_break_glass_role_pages(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    props = rule_for(synthesized, env, "BreakGlass")
    # Read-only calls (Get, List, Describe) reach only a rule in this state.
    assert props["State"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    break_glass = cfg.keys.break_glass_arn.rsplit("/", 1)[1]
    for service, name in (("kms", "Decrypt"), ("dynamodb", "DescribeTable"), ("s3", "ListBuckets"), ("iam", "AttachRolePolicy")):
        assert matches(props, cloudtrail_event(cfg, service, name, role=break_glass)), name
        assert not matches(props, cloudtrail_event(cfg, service, name, role=ADMIN)), name


OFFSITE = [env for env in WATCHED if config.ENVIRONMENTS[env].offsite.region]
assert OFFSITE, "no watched environment has an off-site region: the forwarding is untested"


@pytest.mark.parametrize("env", OFFSITE)
def test_the_offsite_region_forwards_the_same_calls_to_the_primary_bus(synthesized, env):
    """EventBridge sees a call only in its own region: the off-site key, vault and replicas'
    calls are forwarded, unchanged, to the primary region's default bus, whose rules page."""
    cfg = config.ENVIRONMENTS[env]
    template = synthesized[f"data-offsite-{env}"].template
    forwarded = {lid: res["Properties"] for lid, res in resources(template, "AWS::Events::Rule").items()}
    primary = rules(synthesized, env)
    assert len(forwarded) == len(TAMPER_WATCH) + 4
    (role_id,) = [lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith("TamperAlertsPublishRole")]
    role = template["Resources"][role_id]["Properties"]
    assert role["RoleName"] == naming.tamper_alerts_role_name(cfg, cfg.offsite.region)
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": cfg.account}}
    bus = f"arn:aws:events:{cfg.region}:{cfg.account}:event-bus/default"
    (policy,) = [res["Properties"] for lid, res in resources(template, "AWS::IAM::ManagedPolicy").items() if lid.startswith("TamperAlerts")]
    assert policy["PolicyDocument"]["Statement"] == [{"Action": "events:PutEvents", "Effect": "Allow", "Resource": bus}]
    for lid, props in forwarded.items():
        (twin,) = [p for plid, p in primary.items() if plid.startswith(lid[: -len("ABCDEF12")])]
        assert props["EventPattern"] == twin["EventPattern"] and props["State"] == twin["State"], lid
        (target,) = props["Targets"]
        assert target["Arn"] == bus and target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}, lid
        assert "InputTransformer" not in target, "forwarded unchanged: the primary rule writes the message"


@pytest.mark.parametrize("env", OFFSITE)
def test_the_offsite_regions_deploys_do_not_page(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    props = rule_for(synthesized, env, "KeyPolicy")
    offsite_deployer = naming.deployer_arn(cfg, cfg.offsite.region).rsplit("/", 1)[1]
    assert not matches(props, cloudtrail_event(cfg, "kms", "PutKeyPolicy", role=offsite_deployer))
    assert matches(props, cloudtrail_event(cfg, "kms", "PutKeyPolicy", role=ADMIN))


def data_event(cfg, service: str, name: str, *, role: str | None, **detail: object) -> dict:
    """A data event as CloudTrail delivers it (CloudTrail user guide, "Logging data events":
    `eventCategory` Data, `managementEvent` false; a refused call carries `errorCode`)."""
    return cloudtrail_event(cfg, service, name, role=role, managementEvent=False, eventCategory="Data", readOnly=True, **detail)


@pytest.mark.parametrize("env", WATCHED)
def test_any_data_call_by_the_break_glass_role_pages(synthesized, env):
    """The trail's data events reach the same rule: reading a table or an archived item as
    break-glass pages, as the trail's metric-filter alarm did before."""
    cfg = config.ENVIRONMENTS[env]
    props = rule_for(synthesized, env, "BreakGlass")
    break_glass = cfg.keys.break_glass_arn.rsplit("/", 1)[1]
    for service, name in (("dynamodb", "GetItem"), ("dynamodb", "GetRecords"), ("s3", "GetObject")):
        assert matches(props, data_event(cfg, service, name, role=break_glass)), name
        assert not matches(props, data_event(cfg, service, name, role=ADMIN)), name


@pytest.mark.parametrize("env", WATCHED)
def test_denied_data_calls_queue_for_on_call_and_one_alarm_pages_until_the_queue_is_read(synthesized, env):
    cfg = config.ENVIRONMENTS[env]
    template = platform(synthesized, env)
    props = rule_for(synthesized, env, "DeniedDataCalls")
    denied = "User: arn:aws:sts::...:assumed-role/x/y is not authorized to perform: dynamodb:GetItem"
    for code in ("AccessDenied", "AccessDeniedException", "Client.UnauthorizedOperation"):
        for caller in (ADMIN, None):
            event = data_event(cfg, "dynamodb", "GetItem", role=caller, errorCode=code, errorMessage=denied)
            assert matches(props, event), (code, caller)
    assert matches(props, data_event(cfg, "s3", "GetObject", role=ADMIN, errorCode="AccessDenied"))
    # Near misses: a call that succeeded, one that failed otherwise, a denied management call.
    assert not matches(props, data_event(cfg, "dynamodb", "GetItem", role=ADMIN))
    assert not matches(props, data_event(cfg, "dynamodb", "GetItem", role=ADMIN, errorCode="ProvisionedThroughputExceededException"))
    assert not matches(props, cloudtrail_event(cfg, "dynamodb", "DescribeTable", role=ADMIN, errorCode="AccessDenied"))
    # One target: the queue, kept 14 days under the alerts key, reachable only over TLS.
    (target,) = props["Targets"]
    (queue_id,) = resources(template, "AWS::SQS::Queue")
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["QueueName"] == naming.denied_calls_queue_name(cfg)
    assert queue["KmsMasterKeyId"] == {"Fn::GetAtt": ["KeyAlerts", "Arn"]} and queue["MessageRetentionPeriod"] == 14 * 86400
    (policy,) = resources(template, "AWS::SQS::QueuePolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in statements)
    # One page while it holds anything, and one when it has been read and purged.
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["AlarmName"] == queue["QueueName"]
    ]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": queue["QueueName"]}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert {"Ref": next(iter(resources(template, "AWS::SNS::Topic")))} in alarm["AlarmActions"] == alarm["OKActions"]
    # The auditors may read it (decrypt through SQS), as they read the trail.
    key = {s.get("Sid"): s for s in template["Resources"]["KeyAlerts"]["Properties"]["KeyPolicy"]["Statement"]}
    if cfg.audit_trail.reader_arns:
        readers = key["DeniedCallsReadersDecrypt"]
        assert readers["Condition"]["ArnEquals"]["aws:PrincipalArn"] == list(cfg.audit_trail.reader_arns)
        assert readers["Condition"]["StringEquals"]["kms:ViaService"] == [f"sqs.{cfg.region}.amazonaws.com"]
    else:
        assert "DeniedCallsReadersDecrypt" not in key


def test_the_trail_keeps_no_cloudwatch_logs_copy(synthesized):
    """EventBridge rules replaced the copy and its metric filters (constructs_lib/trail.py)."""
    trails = 0
    for env in ENVS:
        template = platform(synthesized, env)
        for trail in resources(template, "AWS::CloudTrail::Trail").values():
            trails += 1
            assert "CloudWatchLogsLogGroupArn" not in trail["Properties"], env
        assert not resources(template, "AWS::Logs::MetricFilter"), env
    assert trails


def test_the_auditors_may_read_the_denied_calls_and_an_organization_trail_gets_the_rules_too():
    """Who was denied what is evidence: `audit_trail.reader_arns` may decrypt the queue, through
    SQS only. An organization trail feeds the same rules (nothing of the trail is created)."""
    from dataclasses import replace

    from stacks.platform import PlatformStack
    from tests.support import new_app

    staging = config.ENVIRONMENTS["staging"]
    auditor = f"arn:aws:iam::{staging.account}:role/Auditor"
    organization = replace(
        staging,
        audit_trail=replace(
            staging.audit_trail,
            mode="organization",
            organization_trail_arn=f"arn:aws:cloudtrail:us-east-1:{staging.account}:trail/org",
            reader_arns=(auditor,),
        ),
    )
    app = new_app()
    stack = PlatformStack(
        app, "Platform", config=organization, any_provisioned=False, env={"account": staging.account, "region": staging.region}
    )
    template = app.synth().get_stack_artifact(stack.artifact_id).template
    assert not resources(template, "AWS::CloudTrail::Trail")
    rule_ids = [lid for lid in resources(template, "AWS::Events::Rule") if lid.startswith("TamperAlerts")]
    assert len(rule_ids) == len(TAMPER_WATCH) + 4 and any(lid.startswith("TamperAlertsDeniedDataCalls") for lid in rule_ids)
    (readers,) = [
        s for s in template["Resources"]["KeyAlerts"]["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == "DeniedCallsReadersDecrypt"
    ]
    assert readers["Action"] == "kms:Decrypt"
    assert readers["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [auditor]
    assert readers["Condition"]["StringEquals"]["kms:ViaService"] == [f"sqs.{staging.region}.amazonaws.com"]

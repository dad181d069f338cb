"""PersonalPod's PostgreSQL store (stack personalpod-database-{env}), per environment: engine,
encryption, isolation, authentication, TLS, proxy, security groups, endpoints, sizes,
retention, protection and alarms.

Per-environment expectations are written out literally, not read from config, so a slip in
config/environments.py fails here instead of being copied into the test.
"""

from __future__ import annotations

import json
from dataclasses import replace

import aws_cdk as cdk
import pytest

from config.catalogue import PERSONALPOD
from config.environments import PROD
from stacks.database import DatabaseStack
from tests.expected import ENVS
from tests.support import new_app, resources

ACCOUNTS = {"dev": "111111111111", "staging": "222222222222", "prod": "333333333333"}
KEY = {"Fn::GetAtt": ["KeyDatabase", "Arn"]}

# env -> the values config/environments.py is meant to hold.
EXPECTED = {
    "dev": dict(
        cidr="10.40.0.0/16",
        zones=2,
        # Dev declines the proxy and pauses its writer after 30 idle minutes (docs/cost.md).
        acu=(0, 4),
        pause_seconds=1800,
        proxy=False,
        readers=0,
        backup_days=1,
        policy="Delete",
        kept="Delete",
        pi_days=7,
        log_days=30,
        monitoring=60,
        alarms=dict(cpu=90, memory_mib=256, connections=300, acu=95, lag_ms=2000, periods=5, datapoints=3),
    ),
    "staging": dict(
        cidr="10.41.0.0/16",
        zones=3,
        acu=(0.5, 16),
        pause_seconds=None,
        proxy=True,
        readers=1,
        backup_days=7,
        policy="Snapshot",
        kept="Retain",
        pi_days=7,
        log_days=90,
        monitoring=60,
        alarms=dict(cpu=80, memory_mib=512, connections=1000, acu=90, lag_ms=2000, periods=5, datapoints=3),
    ),
    "prod": dict(
        cidr="10.42.0.0/16",
        zones=3,
        acu=(2, 64),
        pause_seconds=None,
        proxy=True,
        readers=1,
        backup_days=35,
        policy="Snapshot",
        kept="Retain",
        pi_days=93,
        log_days=365,
        monitoring=15,
        alarms=dict(cpu=75, memory_mib=1024, connections=2000, acu=85, lag_ms=1000, periods=3, datapoints=2),
    ),
}
TABLES = ("personalpod-{env}-cache", "personalpod-{env}-sessions", "personalpod-{env}-share-tokens", "personalpod-{env}-activity")


def template(synthesized, env: str) -> dict:
    return synthesized[f"personalpod-database-{env}"].template


def one(tpl: dict, type_: str) -> tuple[str, dict]:
    found = resources(tpl, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def group_id(tpl: dict, name: str) -> dict:
    (logical_id,) = [k for k, r in resources(tpl, "AWS::EC2::SecurityGroup").items() if r["Properties"].get("GroupName") == name]
    return {"Fn::GetAtt": [logical_id, "GroupId"]}


PROXIED = [env for env in ENVS if EXPECTED[env]["proxy"]]
DIRECT = [env for env in ENVS if not EXPECTED[env]["proxy"]]


def test_some_environments_have_a_proxy_and_some_connect_directly():
    # Otherwise half of the parametrized tests below would run on nothing.
    assert PROXIED and DIRECT


def instance_names(env: str) -> list[str]:
    return [f"personalpod-{env}-writer", *(f"personalpod-{env}-reader-{i}" for i in range(1, EXPECTED[env]["readers"] + 1))]


# --- engine, size, encryption --------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_aurora_postgresql_serverless_v2_sized_from_config(synthesized, env):
    tpl, want = template(synthesized, env), EXPECTED[env]
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["EngineVersion"].startswith("16.")
    scaling = {"MinCapacity": want["acu"][0], "MaxCapacity": want["acu"][1]}
    if want["pause_seconds"] is not None:
        scaling["SecondsUntilAutoPause"] = want["pause_seconds"]
    assert props["ServerlessV2ScalingConfiguration"] == scaling
    assert props["DBClusterIdentifier"] == f"personalpod-{env}"
    assert props["DatabaseName"] == "personalpod"
    assert props["Port"] == 5433
    instances = resources(tpl, "AWS::RDS::DBInstance")
    assert sorted(i["Properties"]["DBInstanceIdentifier"] for i in instances.values()) == sorted(instance_names(env))
    for instance in instances.values():
        p = instance["Properties"]
        assert p["DBInstanceClass"] == "db.serverless"
        assert p["DBClusterIdentifier"] == {"Ref": "DatabaseCluster"}
        assert p["PubliclyAccessible"] is False
        assert p["AutoMinorVersionUpgrade"] is True
        assert p["MonitoringInterval"] == want["monitoring"]
        assert (
            p["EnablePerformanceInsights"] is True
            and p["PerformanceInsightsKMSKeyId"] == KEY
            and p["PerformanceInsightsRetentionPeriod"] == want["pi_days"]
        )


@pytest.mark.parametrize("env", ENVS)
def test_everything_is_encrypted_with_the_stacks_own_rotating_key(synthesized, env):
    tpl = template(synthesized, env)
    key_id, key = one(tpl, "AWS::KMS::Key")
    assert key_id == "KeyDatabase" and key["Properties"]["EnableKeyRotation"] is True
    (alias,) = resources(tpl, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == f"alias/personalpod-{env}-database"
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["StorageEncrypted"] is True and props["KmsKeyId"] == KEY
    assert props["PerformanceInsightsEnabled"] is True and props["PerformanceInsightsKmsKeyId"] == KEY
    assert props["MasterUserSecret"] == {"KmsKeyId": KEY}
    groups = resources(tpl, "AWS::Logs::LogGroup")
    assert groups and all(g["Properties"]["KmsKeyId"] == KEY for g in groups.values())
    # CloudWatch Logs may use the key for exactly these log groups.
    statements = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "logs.us-east-1.amazonaws.com"}
    ]
    allowed = {arn for s in statements for arn in s["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]}
    assert allowed == {f"arn:aws:logs:us-east-1:{ACCOUNTS[env]}:log-group:{g['Properties']['LogGroupName']}" for g in groups.values()}


# --- network isolation ---------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_network_has_isolated_subnets_and_no_internet_path(synthesized, env):
    tpl, want = template(synthesized, env), EXPECTED[env]
    _, vpc = one(tpl, "AWS::EC2::VPC")
    assert vpc["Properties"]["CidrBlock"] == want["cidr"]
    for absent in (
        "AWS::EC2::InternetGateway",
        "AWS::EC2::VPCGatewayAttachment",
        "AWS::EC2::NatGateway",
        "AWS::EC2::EIP",
        "AWS::EC2::EgressOnlyInternetGateway",
        "AWS::EC2::Route",
    ):
        assert not resources(tpl, absent), f"{absent} found: the VPC must have no route out"
    subnets = resources(tpl, "AWS::EC2::Subnet")
    assert len(subnets) == want["zones"]
    for i, subnet in enumerate(subnets.values()):
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
        assert subnet["Properties"]["AvailabilityZone"] == {"Fn::Select": [i, {"Fn::GetAZs": ""}]}
    subnet_refs = [{"Ref": s} for s in subnets]
    _, subnet_group = one(tpl, "AWS::RDS::DBSubnetGroup")
    assert subnet_group["Properties"]["SubnetIds"] == subnet_refs
    for proxy in resources(tpl, "AWS::RDS::DBProxy").values():
        assert proxy["Properties"]["VpcSubnetIds"] == subnet_refs
    # Every connection is recorded, to a log group of this stack.
    _, flow_log = one(tpl, "AWS::EC2::FlowLog")
    assert flow_log["Properties"]["ResourceId"] == {"Ref": next(iter(resources(tpl, "AWS::EC2::VPC")))}
    assert flow_log["Properties"]["TrafficType"] == "ALL"
    assert flow_log["Properties"]["LogGroupName"] == {"Ref": "LogGroupVpcFlowLogs"}
    # The default security group is stripped of its rules.
    assert resources(tpl, "Custom::VpcRestrictDefaultSG")


NO_EGRESS = [{"CidrIp": "255.255.255.255/32", "Description": "Disallow all traffic", "FromPort": 252, "IpProtocol": "icmp", "ToPort": 86}]


def admitted(tpl: dict) -> dict[str, set]:
    """Group (as json) -> {(source group as json, protocol, from, to)}; no address ranges anywhere."""
    ingress = [r["Properties"] for r in resources(tpl, "AWS::EC2::SecurityGroupIngress").values()]
    assert ingress and all("CidrIp" not in r and "CidrIpv6" not in r for r in ingress)
    result: dict[str, set] = {}
    for r in ingress:
        result.setdefault(json.dumps(r["GroupId"]), set()).add(
            (json.dumps(r["SourceSecurityGroupId"]), r["IpProtocol"], r["FromPort"], r["ToPort"])
        )
    return result


@pytest.mark.parametrize("env", ENVS)
def test_security_groups_admit_only_the_proxy_and_the_application(synthesized, env):
    tpl = template(synthesized, env)
    cluster_sg, clients_sg = (group_id(tpl, f"personalpod-{env}-{n}") for n in ("db", "db-clients"))
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["VpcSecurityGroupIds"] == [cluster_sg]
    to = admitted(tpl)
    clients = (json.dumps(clients_sg), "tcp", 5433, 5433)
    groups = resources(tpl, "AWS::EC2::SecurityGroup")
    assert groups
    for group in groups.values():
        assert not group["Properties"].get("SecurityGroupIngress"), group
    # The cluster sends nothing.
    assert groups[cluster_sg["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"] == NO_EGRESS
    egress = [r["Properties"] for r in resources(tpl, "AWS::EC2::SecurityGroupEgress").values()]
    if not EXPECTED[env]["proxy"]:
        # No proxy: the application clients alone reach the cluster, and nothing sends anywhere.
        assert to[json.dumps(cluster_sg)] == {clients}
        assert f"personalpod-{env}-db-proxy" not in {g["Properties"].get("GroupName") for g in groups.values()}
        assert egress == []
        return
    proxy_sg = group_id(tpl, f"personalpod-{env}-db-proxy")
    _, proxy = one(tpl, "AWS::RDS::DBProxy")
    assert proxy["Properties"]["VpcSecurityGroupIds"] == [proxy_sg]
    assert to[json.dumps(cluster_sg)] == {(json.dumps(proxy_sg), "tcp", 5433, 5433), clients}
    assert to[json.dumps(proxy_sg)] == {(json.dumps(clients_sg), "tcp", 5432, 5432)}
    # On the group itself: no allow-all egress (EC2 adds one to a group created without an
    # inline egress rule); its one way out is the separate rule to the cluster.
    assert groups[proxy_sg["Fn::GetAtt"][0]]["Properties"]["SecurityGroupEgress"] == NO_EGRESS
    assert [(r["GroupId"], r["DestinationSecurityGroupId"], r["FromPort"]) for r in egress] == [(proxy_sg, cluster_sg, 5433)]


# --- authentication, TLS, credentials ------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_iam_authentication_and_tls_are_required_by_the_cluster(synthesized, env):
    tpl = template(synthesized, env)
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    params_id, params = one(tpl, "AWS::RDS::DBClusterParameterGroup")
    assert cluster["Properties"]["EnableIAMDatabaseAuthentication"] is True
    assert cluster["Properties"]["DBClusterParameterGroupName"] == {"Ref": params_id}
    assert params["Properties"]["Family"] == "aurora-postgresql16"
    assert params["Properties"]["Parameters"]["rds.force_ssl"] == "1"


@pytest.mark.parametrize("env", ENVS)
def test_the_cluster_audits_writes_ddl_roles_connections_and_reads_per_object(synthesized, env):
    """pgaudit through the parameter group: writes, DDL and role changes as statements; reads
    only per object (SELECTs on what rds_pgaudit may read, which db-bootstrap grants); no bound
    parameter values (the PHI itself); every connection and disconnection."""
    _, params = one(template(synthesized, env), "AWS::RDS::DBClusterParameterGroup")
    parameters = params["Properties"]["Parameters"]
    assert "pgaudit" in parameters["shared_preload_libraries"].split(",")
    assert "pg_stat_statements" in parameters["shared_preload_libraries"].split(",")  # Aurora's default, kept
    assert set(parameters["pgaudit.log"].split(",")) == {"write", "ddl", "role"}  # not "read": per object only
    assert parameters["pgaudit.role"] == "rds_pgaudit"
    assert parameters["pgaudit.log_parameter"] == "0"
    assert parameters["log_connections"] == parameters["log_disconnections"] == "1"
    # Changing the description would replace the group (and with it the cluster's reboot story).
    assert params["Properties"]["Description"] == f"personalpod-{env}: TLS required on every connection"


@pytest.mark.parametrize("env", ENVS)
def test_only_the_bootstrap_identity_may_read_the_master_secret_and_people_sign_in_as_themselves(synthesized, env):
    import config

    cfg = config.ENVIRONMENTS[env]
    tpl = template(synthesized, env)
    statements = {s.get("Sid"): s for s in tpl["Resources"]["KeyDatabase"]["Properties"]["KeyPolicy"]["Statement"]}
    assert "MigrationReadsMasterSecret" not in statements  # no person's role decrypts the master secret
    assert cfg.database.bootstrap_principal_arn
    reader = statements["BootstrapReadsMasterSecret"]
    assert reader["Action"] == "kms:Decrypt"
    assert reader["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [cfg.database.bootstrap_principal_arn]
    assert reader["Condition"]["StringEquals"]["kms:ViaService"] == [f"secretsmanager.{cfg.region}.amazonaws.com"]
    # Each person: a policy of their own, for their own database user, on their own role.
    policies = {
        r["Properties"]["ManagedPolicyName"]: r["Properties"]
        for r in resources(tpl, "AWS::IAM::ManagedPolicy").values()
        if r["Properties"].get("ManagedPolicyName", "").startswith(f"personalpod-{env}-db-person-")
    }
    assert cfg.database.people and len(policies) == len(cfg.database.people)
    for person in cfg.database.people:
        policy = policies[f"personalpod-{env}-db-person-{person.name}"]
        assert policy["Roles"] == [person.principal_arn.rsplit("/", 1)[1]]
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement["Action"] == "rds-db:connect"
        assert statement["Resource"] == {
            "Fn::Join": [
                "",
                [
                    f"arn:aws:rds-db:{cfg.region}:{cfg.account}:dbuser:",
                    {"Fn::GetAtt": ["DatabaseCluster", "DBClusterResourceId"]},
                    f"/{person.name}",
                ],
            ]
        }


@pytest.mark.parametrize("env", ENVS)
def test_master_password_is_generated_into_secrets_manager_and_rotated_by_rds(synthesized, env):
    tpl = template(synthesized, env)
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    # RDS generates the password, keeps it in Secrets Manager and rotates it (managed rotation);
    # no password, and no secret of our own, ever appears in the template.
    assert props["ManageMasterUserPassword"] is True
    assert props["MasterUsername"] == "personalpod_admin"
    assert "MasterUserPassword" not in props
    assert not resources(tpl, "AWS::SecretsManager::Secret")
    assert "{{resolve:secretsmanager" not in json.dumps(tpl)


@pytest.mark.parametrize("env", PROXIED)
def test_proxy_requires_tls_and_iam_end_to_end(synthesized, env):
    tpl = template(synthesized, env)
    proxy_id, proxy = one(tpl, "AWS::RDS::DBProxy")
    props = proxy["Properties"]
    assert props["DBProxyName"] == f"personalpod-{env}"
    assert props["EngineFamily"] == "POSTGRESQL"
    assert props["RequireTLS"] is True
    # IAM tokens from clients, IAM from the proxy to the cluster: no password path at all.
    assert props["DefaultAuthScheme"] == "IAM_AUTH"
    assert "Auth" not in props
    assert props["DebugLogging"] is False
    _, target_group = one(tpl, "AWS::RDS::DBProxyTargetGroup")
    assert target_group["Properties"]["DBClusterIdentifiers"] == [{"Ref": "DatabaseCluster"}]
    assert target_group["Properties"]["DBProxyName"] == {"Ref": proxy_id}
    # The proxy's role may sign in to the cluster as the application user, nothing else.
    role_id = props["RoleArn"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"] for p in resources(tpl, "AWS::IAM::ManagedPolicy").values() if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "rds-db:connect",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": [
                    "",
                    [
                        f"arn:aws:rds-db:us-east-1:{ACCOUNTS[env]}:dbuser:",
                        {"Fn::GetAtt": ["DatabaseCluster", "DBClusterResourceId"]},
                        "/personalpod_app",
                    ],
                ]
            },
        }
    ]


@pytest.mark.parametrize("env", ENVS)
def test_app_role_may_connect_through_the_proxy_or_to_the_cluster_as_the_app_user_only(synthesized, env):
    tpl = template(synthesized, env)
    attached = [
        p["Properties"]
        for p in resources(tpl, "AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["Roles"] == [f"personalpod-{env}-app"]
    ]
    assert len(attached) == 1
    if EXPECTED[env]["proxy"]:
        proxy_id, _ = one(tpl, "AWS::RDS::DBProxy")
        name, resource_id = "db-connect", {"Fn::Select": [6, {"Fn::Split": [":", {"Fn::GetAtt": [proxy_id, "DBProxyArn"]}]}]}
    else:
        # Another name than the proxy's policy: a named policy cannot be replaced under its name.
        name, resource_id = "db-connect-cluster", {"Fn::GetAtt": ["DatabaseCluster", "DBClusterResourceId"]}
    assert attached[0]["ManagedPolicyName"] == f"personalpod-{env}-{name}"
    assert attached[0]["PolicyDocument"]["Statement"] == [
        {
            "Action": "rds-db:connect",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [f"arn:aws:rds-db:us-east-1:{ACCOUNTS[env]}:dbuser:", resource_id, "/personalpod_app"]]},
        }
    ]
    # The role itself is the personalpod stack's: this stack never creates or changes it.
    assert f"personalpod-{env}-app" not in {r["Properties"].get("RoleName") for r in resources(tpl, "AWS::IAM::Role").values()}
    assert not resources(tpl, "AWS::IAM::Policy")


# --- endpoints -----------------------------------------------------------------------------


def endpoint(tpl: dict, service: str) -> dict:
    """The VPC endpoint of com.amazonaws.<region>.<service> (a literal, or joined with the region)."""
    (found,) = [
        r["Properties"]
        for r in resources(tpl, "AWS::EC2::VPCEndpoint").values()
        if f'.{service}"' in json.dumps(r["Properties"]["ServiceName"])
    ]
    return found


@pytest.mark.parametrize("env", ENVS)
def test_dynamodb_endpoint_reaches_personalpods_tables_only(synthesized, env):
    tpl, account = template(synthesized, env), ACCOUNTS[env]
    props = endpoint(tpl, "dynamodb")
    assert props["VpcEndpointType"] == "Gateway"
    assert len(props["RouteTableIds"]) == EXPECTED[env]["zones"]
    (statement,) = props["PolicyDocument"]["Statement"]
    tables = [f"arn:aws:dynamodb:us-east-1:{account}:table/{t.format(env=env)}" for t in TABLES]
    share_index = f"arn:aws:dynamodb:us-east-1:{account}:table/personalpod-{env}-share-tokens/index/ownerId-expiresAt-index"
    assert sorted(statement["Resource"]) == sorted([*tables, share_index])
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalAccount": account}}
    assert statement["Action"] and all("*" not in action for action in statement["Action"])
    # Everything PersonalPod's own roles may do to its tables passes the endpoint.
    app = synthesized[f"personalpod-{env}"].template
    granted = {
        action
        for policy in resources(app, "AWS::IAM::ManagedPolicy").values()
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        if action.startswith("dynamodb:")
    }
    assert granted and granted <= set(statement["Action"])


@pytest.mark.parametrize("env", ENVS)
def test_s3_endpoint_reaches_personalpods_content_bucket_only(synthesized, env):
    tpl, account = template(synthesized, env), ACCOUNTS[env]
    props = endpoint(tpl, "s3")
    assert props["VpcEndpointType"] == "Gateway"
    bucket = f"arn:aws:s3:::personalpod-{env}-content-{account}-us-east-1"
    statements = props["PolicyDocument"]["Statement"]
    assert {json.dumps(s["Resource"]) for s in statements} == {json.dumps(bucket), json.dumps(f"{bucket}/*")}
    for s in statements:
        # The bucket must be this account's: bucket names are global.
        assert s["Condition"] == {"StringEquals": {"aws:PrincipalAccount": account, "s3:ResourceAccount": account}}
        assert s["Action"] and all("*" not in action for action in s["Action"])


@pytest.mark.parametrize("env", ENVS)
def test_secrets_manager_endpoint_serves_the_master_secret_to_the_application_only(synthesized, env):
    tpl = template(synthesized, env)
    props = endpoint(tpl, "secretsmanager")
    assert props["VpcEndpointType"] == "Interface" and props["PrivateDnsEnabled"] is True
    (statement,) = props["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    assert statement["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    (group,) = props["SecurityGroupIds"]
    ingress = [r["Properties"] for r in resources(tpl, "AWS::EC2::SecurityGroupIngress").values() if r["Properties"]["GroupId"] == group]
    assert [(r["SourceSecurityGroupId"], r["FromPort"]) for r in ingress] == [(group_id(tpl, f"personalpod-{env}-db-clients"), 443)]


# --- per-environment protection and retention ----------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_backups_protection_and_removal_follow_config(synthesized, env):
    tpl, want = template(synthesized, env), EXPECTED[env]
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    props = cluster["Properties"]
    assert props["BackupRetentionPeriod"] == want["backup_days"]
    # On everywhere (the compliance packs require it); prod could not turn it off anyway.
    assert props["DeletionProtection"] is True
    assert cluster["DeletionPolicy"] == want["policy"] and cluster["UpdateReplacePolicy"] == want["policy"]
    assert props["DeleteAutomatedBackups"] is (want["policy"] == "Delete")
    assert props["CopyTagsToSnapshot"] is True
    # A final snapshot is encrypted with the key: wherever the cluster is snapshotted, the key stays.
    for logical_id in ("KeyDatabase", "LogGroupPostgresql", "LogGroupVpcFlowLogs"):
        assert tpl["Resources"][logical_id]["DeletionPolicy"] == want["kept"], logical_id


def test_prod_takes_a_final_snapshot_and_keeps_35_days_of_backups(synthesized):
    _, cluster = one(template(synthesized, "prod"), "AWS::RDS::DBCluster")
    assert cluster["DeletionPolicy"] == "Snapshot"
    assert cluster["Properties"]["BackupRetentionPeriod"] == 35
    assert synthesized["personalpod-database-prod"].termination_protection is True


@pytest.mark.parametrize("env", ENVS)
def test_logs_are_exported_and_retained(synthesized, env):
    tpl, want = template(synthesized, env), EXPECTED[env]
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["EnableCloudwatchLogsExports"] == ["postgresql"]
    # The export's log group exists before the cluster, so RDS never creates it unencrypted.
    assert "LogGroupPostgresql" in cluster["DependsOn"]
    groups = resources(tpl, "AWS::Logs::LogGroup")
    for logical_id, name in (
        ("LogGroupPostgresql", f"/aws/rds/cluster/personalpod-{env}/postgresql"),
        ("LogGroupVpcFlowLogs", f"/vpc/personalpod-{env}-database/flow-logs"),
    ):
        props = groups[logical_id]["Properties"]
        assert (props["LogGroupName"], props["RetentionInDays"], props["KmsKeyId"]) == (name, want["log_days"], KEY), logical_id
    assert cluster["Properties"]["PerformanceInsightsRetentionPeriod"] == want["pi_days"]


@pytest.mark.parametrize("env", ENVS)
def test_stateful_logical_ids_are_pinned(synthesized, env):
    stateful = ("AWS::KMS::Key", "AWS::RDS::DBCluster", "AWS::RDS::DBInstance", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret")
    found = {k for k, r in template(synthesized, env)["Resources"].items() if r["Type"] in stateful}
    readers = {f"DatabaseReader{i}" for i in range(1, EXPECTED[env]["readers"] + 1)}
    assert found == {"KeyDatabase", "DatabaseCluster", "DatabaseWriter", "LogGroupPostgresql", "LogGroupVpcFlowLogs", *readers}


# --- alarms --------------------------------------------------------------------------------


def alarms_by_name(tpl: dict) -> dict[str, dict]:
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in resources(tpl, "AWS::CloudWatch::Alarm").values()}


@pytest.mark.parametrize("env", ENVS)
def test_alarms_per_instance_with_config_thresholds_wired_to_the_alert_topic(synthesized, env):
    tpl, want = template(synthesized, env), EXPECTED[env]["alarms"]
    alarms = alarms_by_name(tpl)
    import config

    if not config.ENVIRONMENTS[env].alarms.alarms_on("database_instance"):
        # An environment that alarms on the account only (dev): no instance alarm at all.
        assert not [n for n in alarms if n.startswith(f"personalpod-{env}-writer") or "-reader-" in n], sorted(alarms)
        return
    topics = [f"arn:aws:sns:us-east-1:{ACCOUNTS[env]}:data-alerts-{env}"] + (
        ["arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall"] if env == "prod" else []
    )
    expected = {}
    for instance in instance_names(env):
        expected[f"{instance}-cpu"] = (instance, "CPUUtilization", "Average", "GreaterThanOrEqualToThreshold", want["cpu"])
        expected[f"{instance}-acu-utilization"] = (instance, "ACUUtilization", "Average", "GreaterThanOrEqualToThreshold", want["acu"])
        expected[f"{instance}-connections"] = (
            instance,
            "DatabaseConnections",
            "Maximum",
            "GreaterThanOrEqualToThreshold",
            want["connections"],
        )
        expected[f"{instance}-freeable-memory"] = (
            instance,
            "FreeableMemory",
            "Minimum",
            "LessThanOrEqualToThreshold",
            want["memory_mib"] * 1024 * 1024,
        )
        if "reader" in instance:
            expected[f"{instance}-replica-lag"] = (instance, "AuroraReplicaLag", "Maximum", "GreaterThanOrEqualToThreshold", want["lag_ms"])
    assert set(alarms) == set(expected)
    for name, (instance, metric, statistic, operator, threshold) in expected.items():
        a = alarms[name]
        assert (a["Namespace"], a["MetricName"], a["Statistic"], a["ComparisonOperator"], a["Threshold"]) == (
            "AWS/RDS",
            metric,
            statistic,
            operator,
            threshold,
        ), name
        assert a["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": instance}], name
        assert (a["Period"], a["EvaluationPeriods"], a["DatapointsToAlarm"]) == (60, want["periods"], want["datapoints"]), name
        assert sorted(a["AlarmActions"]) == sorted(topics) and sorted(a["OKActions"]) == sorted(topics), name


# --- wiring and outputs --------------------------------------------------------------------


@pytest.mark.parametrize("env", ENVS)
def test_stack_follows_personalpod_and_the_platform(stages, env):
    (stage,) = [s for s in stages if s.stage_name == env]
    assert stage.database.stack_name == f"personalpod-database-{env}"
    assert set(stage.database.dependencies) >= {stage.systems["personalpod"], stage.platform}


@pytest.mark.parametrize("env", ENVS)
def test_outputs_tell_an_application_how_to_connect(synthesized, env):
    outputs = template(synthesized, env)["Outputs"]
    if EXPECTED[env]["proxy"]:
        proxy_id, _ = one(template(synthesized, env), "AWS::RDS::DBProxy")
        assert outputs["ProxyEndpoint"]["Value"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}
        assert "port 5432 " in outputs["ProxyEndpoint"]["Description"] and "WriterEndpoint" not in outputs
    else:
        assert outputs["WriterEndpoint"]["Value"] == {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
        assert "port 5433 " in outputs["WriterEndpoint"]["Description"] and "ProxyEndpoint" not in outputs
    assert (outputs["DatabaseName"]["Value"], outputs["DatabaseUser"]["Value"]) == ("personalpod", "personalpod_app")
    assert outputs["MasterSecretArn"]["Value"] == {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    assert all("Export" not in o for o in outputs.values()), "exports would pin the resources they name"


@pytest.mark.parametrize("env", DIRECT)
def test_an_environment_that_declines_the_proxy_has_none_of_its_parts(synthesized, env):
    tpl = template(synthesized, env)
    for absent in ("AWS::RDS::DBProxy", "AWS::RDS::DBProxyTargetGroup", "AWS::RDS::DBProxyEndpoint"):
        assert not resources(tpl, absent), absent
    roles = resources(tpl, "AWS::IAM::Role")
    services = [s["Principal"].get("Service") for r in roles.values() for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    assert "monitoring.rds.amazonaws.com" in services and "rds.amazonaws.com" not in services  # the proxy's role
    assert "RDS Proxy" not in json.dumps(resources(tpl, "AWS::IAM::ManagedPolicy"))


# --- config variations the shipped environments do not use ---------------------------------


def synth_database(**changed) -> dict:
    cfg = replace(PROD, database=replace(PROD.database, **changed))
    stack = DatabaseStack(new_app(), "db", env=cdk.Environment(account=cfg.account, region=cfg.region), system=PERSONALPOD, config=cfg)
    return cdk.assertions.Template.from_stack(stack).to_json()


def test_retain_policy_and_more_readers():
    tpl = synth_database(removal_policy="retain", readers=2, min_capacity_acu=0)
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    assert (cluster["DeletionPolicy"], cluster["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    readers = sorted(
        i["Properties"]["DBInstanceIdentifier"]
        for i in resources(tpl, "AWS::RDS::DBInstance").values()
        if i["Properties"]["PromotionTier"] > 0
    )
    assert readers == ["personalpod-prod-reader-1", "personalpod-prod-reader-2"]
    assert {"personalpod-prod-reader-1-replica-lag", "personalpod-prod-reader-2-replica-lag"} <= set(alarms_by_name(tpl))


def test_long_term_performance_insights_retention():
    tpl = synth_database(performance_insights_retention_days=731)
    _, cluster = one(tpl, "AWS::RDS::DBCluster")
    assert cluster["Properties"]["PerformanceInsightsRetentionPeriod"] == 731

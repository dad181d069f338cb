"""What the constructs read once instead of asking the jsii runtime each time (stack facts,
construct paths, default children), and the literal ARNs written from them, must say
exactly what CDK itself would."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import ArnFormat
from constructs import Construct

from constructs_lib.facts import facts, node_path, remember_path


def _stack(env: cdk.Environment | None, *, partition_literals: bool = True) -> cdk.Stack:
    # The app's cdk.json turns partition literals on; CDK's default is a Ref to AWS::Partition.
    return cdk.Stack(cdk.App(context={"@aws-cdk/core:enablePartitionLiterals": partition_literals}), "Facts", env=env)


@pytest.mark.parametrize(
    ("service", "resource", "name", "colon", "arn_format"),
    [
        ("logs", "log-group", "/aws/kinesisfirehose/x:log-stream:S3Destination", True, ArnFormat.COLON_RESOURCE_NAME),
        ("sns", "data-alerts-prod", None, False, ArnFormat.SLASH_RESOURCE_NAME),
        ("dynamodb", "table", "users", False, ArnFormat.SLASH_RESOURCE_NAME),
    ],
)
@pytest.mark.parametrize("partition_literals", [True, False])
@pytest.mark.parametrize(
    "env", [cdk.Environment(account="333333333333", region="us-east-1"), cdk.Environment(account="444444444444", region="cn-north-1"), None]
)
def test_arns_read_as_cdks_own(env, partition_literals, service, resource, name, colon, arn_format):
    stack = _stack(env, partition_literals=partition_literals)
    ours = facts(Construct(stack, "Scope")).arn(service, resource, name, colon=colon)
    theirs = stack.format_arn(service=service, resource=resource, resource_name=name, arn_format=arn_format)
    assert stack.resolve(ours) == stack.resolve(theirs)
    # Literal where CDK's is literal; a token where the environment or the partition is unknown.
    assert ("${Token[" in ours) == (env is None or not partition_literals)


def test_facts_are_read_once_per_stack_and_scope():
    stack = _stack(cdk.Environment(account="333333333333", region="eu-west-1"))
    first, second = Construct(stack, "A"), Construct(stack, "B")
    assert facts(first) is facts(second) is facts(first)
    found = facts(first)
    assert (found.region, found.account, found.partition, found.path) == ("eu-west-1", "333333333333", "aws", "Facts")
    assert found.literal and found.via("dynamodb") == "dynamodb.eu-west-1.amazonaws.com"
    assert found.role_arn("r") == "arn:aws:iam::333333333333:role/r"
    # A role name is a literal whatever the flag says: the partition comes from the region.
    china = _stack(cdk.Environment(account="1", region="cn-north-1"), partition_literals=False)
    assert facts(Construct(china, "D")).role_arn("r") == "arn:aws-cn:iam::1:role/r"
    assert not facts(Construct(_stack(None), "C")).literal


def test_remembered_paths_are_the_real_ones():
    stack = _stack(None)
    parent = Construct(stack, "Tables")
    child = Construct(parent, "Users")
    remember_path(child, parent, "Users")
    grandchild = Construct(child, "Alarms")
    remember_path(grandchild, child, "Alarms")
    assert node_path(grandchild) == grandchild.node.path == "Facts/Tables/Users/Alarms"
    assert node_path(child) == child.node.path


@pytest.mark.parametrize("partition_literals", [True, False])
def test_key_statements_as_json_render_as_the_objects_did(partition_literals):
    # allow_use and log_service_may_use write their statements as JSON (one round trip); the
    # key policy must read as it did with AccountRootPrincipal/ServicePrincipal objects.
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_kms as kms

    from constructs_lib.kms import LOG_ACTIONS, allow_use, log_service_may_use

    stack = _stack(cdk.Environment(account="333333333333", region="us-east-1"), partition_literals=partition_literals)
    ours, theirs = kms.Key(stack, "Ours"), kms.Key(stack, "Theirs")
    allow_use(
        ours,
        stack,
        sid="Use",
        principal_arns=["arn:aws:iam::333333333333:role/b", "arn:aws:iam::333333333333:role/a"],
        actions=("kms:Encrypt", "kms:Decrypt"),
        via_services=("sqs", "dynamodb"),
    )
    log_service_may_use(ours, stack, sid="Logs", log_group_names=["/aws/x"])
    theirs.add_to_resource_policy(
        iam.PolicyStatement(
            sid="Use",
            principals=[iam.AccountRootPrincipal()],
            actions=["kms:Decrypt", "kms:Encrypt"],
            resources=["*"],
            conditions={
                "ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::333333333333:role/a", "arn:aws:iam::333333333333:role/b"]},
                "StringEquals": {
                    "kms:CallerAccount": stack.account,
                    "kms:ViaService": ["dynamodb.us-east-1.amazonaws.com", "sqs.us-east-1.amazonaws.com"],
                },
            },
        )
    )
    log_group = stack.format_arn(service="logs", resource="log-group", resource_name="/aws/x", arn_format=ArnFormat.COLON_RESOURCE_NAME)
    theirs.add_to_resource_policy(
        iam.PolicyStatement(
            sid="Logs",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(LOG_ACTIONS),
            resources=["*"],
            conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group]}},
        )
    )
    template = cdk.assertions.Template.from_stack(stack).to_json()["Resources"]
    statements_ours, statements_theirs = (r["Properties"]["KeyPolicy"]["Statement"] for r in template.values())
    assert statements_ours == statements_theirs
    assert [s.get("Sid") for s in statements_ours][-2:] == ["Use", "Logs"]


def test_default_children_are_read_once_and_are_cdks_own():
    from aws_cdk import aws_sqs as sqs

    from constructs_lib.identity import default_child

    stack = _stack(None)
    queue = sqs.Queue(stack, "Queue")
    child = default_child(queue)
    assert isinstance(child, sqs.CfnQueue) and child.node.path == queue.node.default_child.node.path == "Facts/Queue/Resource"
    assert default_child(queue) is child  # remembered, not read again
    assert default_child(child) is None  # an L1 has no default child


def test_cached_facts_hold_their_stack_only_weakly():
    # The facts are the value of a weak-keyed entry: a strong reference from them back to the
    # stack (the key) would keep entry and stack alive for as long as the process runs.
    stack = _stack(None)
    found = facts(Construct(stack, "Scope"))
    assert found.stack_ref() is stack
    assert not any(value is stack for value in vars(found).values())
    # And the token fallback still reaches the stack through it.
    assert "${Token[" in found.arn("sns", "topic")

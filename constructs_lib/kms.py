"""Customer-managed KMS keys with this project's defaults and key policy (docs/security.md).

The key policy never gives the account root `kms:*`, so an IAM administrator cannot decrypt
data or destroy a key by granting themselves permissions. Instead:

- key administrators (config) manage the key but cannot use it;
- the break-glass principal (config) may do anything;
- the CDK deployer may change the policy, and use the key only through the services whose
  resources it creates with it (`deployer_services`): DynamoDB, for one, checks that the
  creator of a table may use its key. It cannot decrypt anything directly, and the tables'
  resource policies deny it their items (constructs_lib/table.py);
- an explicit deny keeps everybody else from deleting or disabling the key, deleting its
  alias, rewriting its policy, or creating a grant for anything but an AWS resource;
- each use is a statement of its own (`allow_use`), naming the roles and the services they
  must call through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from constructs_lib.identity import pin
from constructs_lib.props import Governance

# Managing a key; none of these reads or writes data.
ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
# Each of these makes everything the key encrypted unreadable, or its name point elsewhere.
DESTRUCTIVE_ACTIONS = ("kms:DeleteAlias", "kms:DisableKey", "kms:ScheduleKeyDeletion")
# The shortest deletion window anyone may schedule (KMS allows 7 to 30 days).
MIN_DELETION_WINDOW_DAYS = 30
# Encrypting and decrypting: what the data's own roles need, through the data's service.
USE_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


class DataKey(Construct):
    """A symmetric customer-managed key: rotation on, an alias, a 30-day deletion window, and
    the governed key policy described in this module.

    The key is stateful: deleting it makes everything it encrypted unreadable, so its
    removal policy comes from its props (the stacks pass retain outside dev) and its logical id is pinned.
    `deployer_services` names the services (short names such as "dynamodb") through which the
    deployer creates resources encrypted with the key: tables, clusters, vaults. Through them
    (and only them) it may create grants for AWS resources and use the key, as each service's
    documentation requires of the principal creating the resource.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        alias: str,
        description: str,
        removal_policy: RemovalPolicy,
        logical_id: str,
        governance: Governance,
        deployer_services: Sequence[str] = (),
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=description,
            enable_key_rotation=True,
            pending_window=Duration.days(MIN_DELETION_WINDOW_DAYS),
            removal_policy=removal_policy,
            policy=iam.PolicyDocument.from_json(
                {
                    "Version": "2012-10-17",
                    "Statement": governance_statements(
                        governance,
                        deployer_services=[via(self, s) for s in deployer_services],
                        # Where CloudFormation deletes the key with its stack (dev), it must be allowed to.
                        deployer_may_delete=removal_policy == RemovalPolicy.DESTROY,
                    ),
                }
            ),
        )
        pin(self.key, logical_id)


def governance_statements(g: Governance, *, deployer_services: Sequence[str], deployer_may_delete: bool) -> list[dict]:
    """The statements every key starts with (module docstring), as policy JSON: the key takes
    them in one call (PolicyDocument.from_json), not an object per statement and principal."""
    admins = sorted(g.administrator_arns)
    may_destroy = g.may_destroy(deletable=deployer_may_delete, administrators=True)
    may_rewrite = sorted({*admins, g.break_glass_arn, g.deployer_arn})
    anyone = {"AWS": "*"}
    statements: list[dict] = [
        # In a key policy, "Resource": "*" means this key.
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": sorted({*admins, g.deployer_arn})},
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        },
        {"Sid": "BreakGlass", "Effect": "Allow", "Principal": {"AWS": g.break_glass_arn}, "Action": "kms:*", "Resource": "*"},
        {
            "Sid": "DenyKeyDestructionExceptAdministrators",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": list(DESTRUCTIVE_ACTIONS),
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": may_destroy}},
        },
        {
            # Even CloudFormation's own deletion waits 30 days; nobody may schedule a shorter window
            # (KMS's minimum is 7), so a destroyed key can still be rescued for a month.
            "Sid": "DenyShortKeyDeletionWindow",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": "kms:ScheduleKeyDeletion",
            "Resource": "*",
            "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": MIN_DELETION_WINDOW_DAYS}},
        },
        *(
            [
                {
                    # Where the data is protected, the administrators' exemption above does not
                    # reach disabling or deleting the key: that is break-glass alone.
                    "Sid": "DenyKeyDestructionExceptBreakGlass",
                    "Effect": "Deny",
                    "Principal": anyone,
                    "Action": list(DESTRUCTIVE_ACTIONS),
                    "Resource": "*",
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": g.break_glass_arn}},
                }
            ]
            if g.protected
            else []
        ),
        {
            "Sid": "DenyKeyPolicyChangesExceptAdministrators",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": may_rewrite}},
        },
        {
            "Sid": "DenyGrantsExceptForAwsResources",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": "kms:CreateGrant",
            "Resource": "*",
            # The Control Tower form (CT.KMS.PR.3): an AWS service acting for itself may still.
            "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}},
        },
    ]
    if deployer_services:
        services = sorted(deployer_services)
        statements += [
            {
                "Sid": "DeployerAttachesKeyToResources",
                "Effect": "Allow",
                "Principal": {"AWS": g.deployer_arn},
                "Action": "kms:CreateGrant",
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}, "StringEquals": {"kms:ViaService": services}},
            },
            {
                "Sid": "DeployerCreatesEncryptedResources",
                "Effect": "Allow",
                "Principal": {"AWS": g.deployer_arn},
                "Action": [a for a in USE_ACTIONS if a != "kms:DescribeKey"],  # DescribeKey is an administration action
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": services}},
            },
        ]
    return statements


def allow_use(
    key: kms.IKey,
    scope: Construct,
    *,
    sid: str,
    principal_arns: Sequence[str],
    actions: Sequence[str],
    via_services: Sequence[str] = (),
    context: Mapping[str, Mapping[str, object]] | None = None,
) -> None:
    """Let exactly `principal_arns` use `key` for `actions`, only through `via_services` (short
    names such as "dynamodb") when given, and only with the encryption-context conditions
    `context` (operator -> {condition key: value}) when given.

    The principal is the account, narrowed by aws:PrincipalArn: the roles' own IAM policies must
    grant the same, and a role in another stack, deployed later, needs no CloudFormation
    dependency (a key policy naming a role that does not exist yet fails to deploy).
    """
    stack = Stack.of(scope)
    conditions: dict[str, dict[str, object]] = {
        "ArnEquals": {"aws:PrincipalArn": sorted(principal_arns)},
        "StringEquals": {"kms:CallerAccount": stack.account},
    }
    if via_services:
        conditions["StringEquals"]["kms:ViaService"] = sorted(via(scope, s) for s in via_services)
    for operator, values in (context or {}).items():
        conditions.setdefault(operator, {}).update(values)
    key.add_to_resource_policy(
        iam.PolicyStatement.from_json(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{stack.partition}:iam::{stack.account}:root"},
                "Action": sorted(actions),
                "Resource": "*",
                "Condition": conditions,
            }
        )
    )


# What CloudWatch Logs needs of a key to encrypt a log group, in the order its documentation lists.
LOG_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
)


def log_group_arn(scope: Construct, name: str) -> str:
    # The log group's GetAtt Arn ends in ":*"; policies name the group itself.
    return Stack.of(scope).format_arn(service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME)


def log_service_may_use(key: kms.IKey, scope: Construct, *, sid: str, log_group_names: Sequence[str]) -> None:
    """Let CloudWatch Logs encrypt exactly these log groups with `key` (and nothing else).

    The encryption-context condition names this account's own log groups: that is CloudWatch
    Logs' documented confused-deputy guard for key policies."""
    key.add_to_resource_policy(
        iam.PolicyStatement.from_json(
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{Stack.of(scope).region}.amazonaws.com"},
                "Action": list(LOG_ACTIONS),
                "Resource": "*",  # in a key policy, "*" means this key
                "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [log_group_arn(scope, n) for n in log_group_names]}},
            }
        )
    )


def role_arn(scope: Construct, role_name: str) -> str:
    """The literal ARN of role `role_name` in `scope`'s account, for `allow_use`: a key policy
    naming a role by reference would make the key wait for the role."""
    return Stack.of(scope).format_arn(service="iam", region="", resource="role", resource_name=role_name)


def via(scope: Construct, service: str) -> str:
    """The kms:ViaService value of `service` ("dynamodb") in `scope`'s region."""
    return f"{service}.{Stack.of(scope).region}.amazonaws.com"

"""A deploy path that is not an administrator (docs/first-deploy.md, "Bootstrap"; issue 26).

    python -m tools bootstrap policy [--check]          write (or check) deploy/*.json from the templates
    python -m tools bootstrap --env ENV [--dry-run]     create the policies, then `cdk bootstrap`

CDK's bootstrap gives CloudFormation's execution role AdministratorAccess: whoever may assume
the bootstrap deploy role could deploy a role and a key statement that reads any table, or read
the database master secret, around review. Instead the execution role gets:

- `deploy/execution-policy-N.json`: what CloudFormation's handlers need for exactly the
  resource types the templates use (the handler permissions in the resource schemas cfn-lint
  bundles), split into managed policies under IAM's 6,144 characters. KMS's data actions only
  through the services that need them (kms:ViaService); no secretsmanager:GetSecretValue; no
  role created or given a policy without the permissions boundary.
- `deploy/permissions-boundary.json`: the boundary every role of the app carries (a stage-level
  PermissionsBoundary): no role it deploys may change IAM, key policies, the trail, the vaults
  or the account.

The files are generated, committed and reviewed: a new resource type fails the tests until
`make execution-policy` regenerates them and the diff is read. No maintained tool derives a
least-privilege CloudFormation execution policy from templates (IAM Access Analyzer's policy
generation needs a month of CloudTrail in a live account), hence this one.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TYPES_FILE = DEPLOY / "resource-types.json"
BOUNDARY_FILE = DEPLOY / "permissions-boundary.json"
POLICY_LIMIT = 6144  # characters of a managed policy document, whitespace excluded

# KMS data actions: the services using a key on CloudFormation's behalf (a table's, a bucket's,
# a cluster's, a secret's, a log group's, a queue's, a topic's, a stream's, a vault's key).
KMS_DATA = ("kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncrypt*")
KMS_VIA = ("backup", "dynamodb", "firehose", "logs", "rds", "s3", "secretsmanager", "sns", "sqs")
# Never CloudFormation's: reading a secret's value (the master password).
NEVER = ("secretsmanager:GetSecretValue",)
# What would create a role, or give one a policy, without the boundary; or remove it.
BOUNDED = ("iam:AttachRolePolicy", "iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy")
# Custom resources (CDK's restrict-default-security-group provider): CloudFormation invokes them.
CUSTOM = ("lambda:InvokeFunction",)


def execution_policy_name(env: str, index: int) -> str:
    return f"data-cfn-exec-{env}-{index}"


@cache
def _schemas() -> tuple[dict, Path]:
    # Found, not imported: importing cfnlint loads its whole rule engine (sympy, networkx).
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bootstrap policy: cfn-lint is not installed (make setup installs it)")
    data = Path(spec.submodule_search_locations[0]) / "data" / "schemas"
    return json.loads((data / "providers" / "us-east-1.json").read_text()), data / "resources"


def handler_actions(resource_type: str) -> list[str]:
    """CloudFormation's create, read, update and delete handlers' permissions for the type."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CloudFormation::CustomResource":
        return list(CUSTOM)
    providers, resources = _schemas()
    if resource_type not in providers:
        raise SystemExit(f"bootstrap policy: {resource_type} has no schema in cfn-lint's bundle: add its permissions by hand")
    schema = json.loads((resources / f"{providers[resource_type]}.json").read_text())
    handlers = schema.get("handlers", {})
    return sorted({a for name in ("create", "read", "update", "delete") for a in handlers.get(name, {}).get("permissions", [])})


def resource_types(assembly: Path) -> list[str]:
    from tools.assembly import load_stacks

    return sorted({res["Type"] for stack in load_stacks(assembly).values() for res in stack.template.get("Resources", {}).values()})


def statements(types: Iterable[str], boundary_arn: str) -> list[dict]:
    """The execution policy's statements, before splitting: one Allow per service (readable in a
    diff), the KMS data actions through services only, and the boundary's Deny."""
    actions = {a for t in types for a in handler_actions(t)}
    actions -= set(NEVER)
    kms_data = {a for a in actions if a.startswith("kms:") and any(a == k or (k.endswith("*") and a.startswith(k[:-1])) for k in KMS_DATA)}
    actions -= kms_data
    # No service-wide wildcard from a handler's list (kms:* above all): its named actions only.
    actions = {a for a in actions if not a.endswith(":*")}
    by_service: dict[str, list[str]] = {}
    for action in sorted(actions):
        by_service.setdefault(action.split(":")[0].lower(), []).append(action)
    found: list[dict] = [
        {"Sid": _sid(service), "Effect": "Allow", "Action": names, "Resource": "*"} for service, names in sorted(by_service.items())
    ]
    found.append(
        {
            "Sid": "KmsThroughServices",
            "Effect": "Allow",
            "Action": list(KMS_DATA),
            "Resource": "*",
            "Condition": {"StringLike": {"kms:ViaService": [f"{s}.*.amazonaws.com" for s in KMS_VIA]}},
        }
    )
    found.append(
        {
            "Sid": "RolesOnlyWithTheBoundary",
            "Effect": "Deny",
            "Action": list(BOUNDED),
            "Resource": "*",
            "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}},
        }
    )
    found.append(
        {"Sid": "NeverRemoveTheBoundary", "Effect": "Deny", "Action": ["iam:DeleteRolePermissionsBoundary", *NEVER], "Resource": "*"}
    )
    return found


def _sid(service: str) -> str:
    return "".join(part.title() for part in service.replace("_", "-").split("-"))


def split(found: Sequence[dict], limit: int = POLICY_LIMIT) -> list[dict]:
    """Managed policy documents under IAM's size limit, statements in order (a large one split by actions)."""
    pieces: list[dict] = []
    for statement in found:
        if _size(_doc([statement])) <= limit:
            pieces.append(statement)
            continue
        actions: list[str] = statement["Action"]
        part: list[str] = []
        for action in actions:
            trial = {**statement, "Sid": f"{statement['Sid']}{len(pieces)}", "Action": [*part, action]}
            if part and _size(_doc([trial])) > limit:
                pieces.append({**statement, "Sid": f"{statement['Sid']}{len(pieces)}", "Action": part})
                part = []
            part.append(action)
        pieces.append({**statement, "Sid": f"{statement['Sid']}{len(pieces)}", "Action": part})
    documents: list[list[dict]] = [[]]
    for statement in pieces:
        if documents[-1] and _size(_doc([*documents[-1], statement])) > limit:
            documents.append([])
        documents[-1].append(statement)
    return [_doc(d) for d in documents]


def _doc(found: Sequence[dict]) -> dict:
    return {"Version": "2012-10-17", "Statement": list(found)}


def _size(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


# The boundary: what any role this app deploys may ever do. Everything its roles need (tables,
# keys through services, buckets, queues, streams, logs, backups) and nothing that changes IAM,
# a key's policy or life, the audit trail, a vault's protections, or the account.
BOUNDARY_DENIED = (
    "account:*",
    "backup:DeleteBackupVault",
    "backup:DeleteBackupVaultAccessPolicy",
    "backup:DeleteBackupVaultLockConfiguration",
    "backup:PutBackupVaultAccessPolicy",
    "backup:PutBackupVaultLockConfiguration",
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
    "iam:Add*",
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Put*",
    "iam:Remove*",
    "iam:Update*",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "organizations:*",
    "secretsmanager:GetSecretValue",
)


def boundary_document() -> dict:
    return _doc(
        [
            {"Sid": "WhatTheAppsRolesDo", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "NeverUndoAProtection", "Effect": "Deny", "Action": list(BOUNDARY_DENIED), "Resource": "*"},
        ]
    )


PLACEHOLDER_BOUNDARY = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/data-platform-boundary-${Environment}"


def generate(assembly: Path) -> dict[str, str]:
    """deploy/ file name -> content, from the templates of every environment in `assembly`."""
    types = resource_types(assembly)
    documents = split(statements(types, PLACEHOLDER_BOUNDARY))
    files = {f"execution-policy-{i}.json": json.dumps(d, indent=2) + "\n" for i, d in enumerate(documents, start=1)}
    files[TYPES_FILE.name] = json.dumps(types, indent=2) + "\n"
    files[BOUNDARY_FILE.name] = json.dumps(boundary_document(), indent=2) + "\n"
    return files


def committed() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(DEPLOY.glob("*.json"))}


def for_environment(text: str, *, partition: str, account: str, env: str) -> str:
    """A committed document with its placeholders filled in for one environment."""
    return text.replace("${AWS::Partition}", partition).replace("${AWS::AccountId}", account).replace("${Environment}", env)


def execution_policies() -> list[str]:
    return [name for name in committed() if name.startswith("execution-policy-")]


def _partition(region: str) -> str:
    return "aws-us-gov" if region.startswith("us-gov-") else "aws-cn" if region.startswith("cn-") else "aws"


def execution_policy_arns(cfg: object) -> list[str]:
    """The managed policies `make bootstrap` gives the environment's CloudFormation execution
    role, one per committed execution-policy file (what preflight expects to find)."""
    account, region, env = cfg.account, cfg.region, cfg.name  # type: ignore[attr-defined]
    return [
        f"arn:{_partition(region)}:iam::{account}:policy/{execution_policy_name(env, i)}" for i in range(1, len(execution_policies()) + 1)
    ]


def _policy_command(args: argparse.Namespace) -> int:
    files = generate(Path(args.assembly))
    if args.check:
        if files != committed():
            changed = sorted(set(files) ^ set(committed()) | {n for n in files if committed().get(n) != files[n]})
            print(
                f"bootstrap policy: deploy/ is not what the templates need ({', '.join(changed)}): "
                "run make execution-policy and review the diff",
                file=sys.stderr,
            )
            return 1
        print(f"bootstrap policy: deploy/ covers the {len(json.loads(files[TYPES_FILE.name]))} resource types of the templates")
        return 0
    DEPLOY.mkdir(exist_ok=True)
    for stale in set(committed()) - set(files):
        (DEPLOY / stale).unlink()
    for name, content in files.items():
        (DEPLOY / name).write_text(content)
    print(f"bootstrap policy: wrote {len(files)} files in deploy/ for {len(json.loads(files[TYPES_FILE.name]))} resource types")
    return 0


def _bootstrap_command(args: argparse.Namespace) -> int:
    from config.environments import ENVIRONMENTS
    from stacks.naming import boundary_name
    from tools.preflight.checks import deploy_regions

    if args.env not in ENVIRONMENTS:
        print(f"bootstrap: unknown environment {args.env!r}: one of {', '.join(ENVIRONMENTS)}", file=sys.stderr)
        return 2
    cfg = ENVIRONMENTS[args.env]
    partition = _partition(cfg.region)
    arn = f"arn:{partition}:iam::{cfg.account}:policy/"
    policies = {boundary_name(cfg): BOUNDARY_FILE.name}
    policies |= {execution_policy_name(cfg.name, i): name for i, name in enumerate(execution_policies(), start=1)}
    qualifier = cfg.ci.bootstrap_qualifier
    commands = [
        [
            "cdk",
            "bootstrap",
            f"aws://{cfg.account}/{region}",
            "--cloudformation-execution-policies",
            ",".join(execution_policy_arns(cfg)),
            "--qualifier",
            qualifier,
        ]
        for region in deploy_regions(cfg)
    ]
    if args.dry_run:
        for name, file in policies.items():
            print(f"policy {arn}{name} <- deploy/{file}")
        for command in commands:
            print(" ".join(command))
        return 0
    import boto3

    iam = boto3.client("iam")
    for name, file in policies.items():
        document = for_environment((DEPLOY / file).read_text(), partition=partition, account=cfg.account, env=cfg.name)
        _put_policy(iam, arn + name, name, document)
    for command in commands:
        if subprocess.run(command, check=False).returncode != 0:
            print(f"bootstrap: {' '.join(command)} failed", file=sys.stderr)
            return 1
    return 0


def _put_policy(iam: object, arn: str, name: str, document: str) -> None:
    """Create the managed policy, or make this document its default version (IAM keeps five)."""
    try:
        iam.create_policy(PolicyName=name, PolicyDocument=document, Description="CDK deploy path (tools/bootstrap.py)")  # type: ignore[attr-defined]
        print(f"created {arn}")
        return
    except iam.exceptions.EntityAlreadyExistsException:  # type: ignore[attr-defined]
        pass
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]  # type: ignore[attr-defined]
    if len(versions) >= 5:
        oldest = min((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])  # type: ignore[attr-defined]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)  # type: ignore[attr-defined]
    print(f"updated {arn}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["policy"]:
        parser = argparse.ArgumentParser(prog="python -m tools bootstrap policy")
        parser.add_argument(
            "--assembly",
            default=str(ROOT / "tests" / "__snapshots__" / "test_snapshots"),
            help="a cloud assembly, or the template snapshots (default: the committed ones, as make update leaves them)",
        )
        parser.add_argument("--check", action="store_true", help="exit 1 if deploy/ is not what the templates need")
        return _policy_command(parser.parse_args(argv[1:]))
    parser = argparse.ArgumentParser(prog="python -m tools bootstrap", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="the environment whose accounts and regions to bootstrap")
    parser.add_argument("--dry-run", action="store_true", help="print the policies and the cdk commands; change nothing")
    return _bootstrap_command(parser.parse_args(argv))

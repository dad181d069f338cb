"""The CloudFormation stack policy of each stack of a protected environment: the second line of defence,
which holds even when someone deploys around the Makefile (a bare `cdk deploy`, the console).

Usage: python -m tools stack-policy [--assembly cdk.out] --env ENV [--apply]

The policy allows every update (`Update:*` on `*`) and denies `Update:Replace` and
`Update:Delete` on `LogicalResourceId/<id>` of every stateful resource of the template
(tools.guard.model.STATEFUL_TYPES). Only protected environments (config: `protection` other than "rebuildable") get one. The
command prints each protected stack's policy; `--apply` sets it with SetStackPolicy, so running
it after each deploy (`make deploy-assembly` does) keeps the policy in sync with the template.
A stack not deployed yet is skipped with a note.

Credentials: SetStackPolicy runs with the current credentials, not the CDK deploy role: the
bootstrap template's deploy role has no cloudformation:SetStackPolicy. The caller needs
`cloudformation:SetStackPolicy` on the environment's stacks.

A stack policy cannot be removed, only replaced, and it does not guard DeleteStack
(termination protection does). CloudFormation refuses a denied update with "Action denied by
stack policy" and rolls the stack back.

Overriding it for one deliberate change
---------------------------------------
`cdk deploy` has no flag for a stack policy during an update (CloudFormation's
`--stack-policy-during-update-body` exists only on `aws cloudformation update-stack`, which a
CDK deployment does not use). Two routes:

1. Through the gate (preferred): accept the change in deploy-guard.accept
   (`STATEFUL-REPLACE:stack/LogicalId  # reason` or `STATEFUL-DELETE:...`, reviewed like any
   change). `python -m tools changeset --execute` then relaxes the policy for exactly the
   accepted logical ids, executes, and puts the full policy back (also when the update fails).
2. By hand, when deploying around the gate:
       aws cloudformation set-stack-policy --stack-name STACK --stack-policy-body \\
         '{"Statement":[{"Effect":"Allow","Action":"Update:*","Principal":"*","Resource":"*"}]}'
       cdk deploy ...                                    # the deliberate change
       python -m tools stack-policy --env ENV --apply    # the protection back, in sync
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from typing import Any

from tools.assembly import AssemblyError, Stack, load_stacks
from tools.guard.model import STATEFUL_TYPES, protected

MAX_BODY = 16384  # SetStackPolicy's StackPolicyBody limit, in characters
ALLOW_ALL: dict = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"}]}
DENIED = ["Update:Replace", "Update:Delete"]


def stateful_ids(stack: Stack) -> list[str]:
    return sorted(lid for lid, resource in stack.resources.items() if resource.get("Type") in STATEFUL_TYPES)


def policy_for(stack: Stack, exempt: Iterable[str] = ()) -> dict | None:
    """The stack policy protecting `stack`'s stateful resources; None when it has none, or is
    not a stack of a protected environment. `exempt` (logical ids) are left unprotected: the change gate's
    temporary policy while an accepted replacement or removal executes."""
    ids = stateful_ids(stack)
    if not ids or not protected(stack):
        return None
    denied = [f"LogicalResourceId/{lid}" for lid in ids if lid not in set(exempt)]
    statements = list(ALLOW_ALL["Statement"])
    if denied:
        statements.append({"Effect": "Deny", "Action": DENIED, "Principal": "*", "Resource": denied})
    return {"Statement": statements}


def body(policy: dict) -> str:
    text = json.dumps(policy, separators=(",", ":"))
    if len(text) > MAX_BODY:
        raise ValueError(f"stack policy of {len(text)} characters is over SetStackPolicy's limit of {MAX_BODY}")
    return text


def set_policy(cfn: Any, stack_name: str, policy: dict) -> None:
    cfn.set_stack_policy(StackName=stack_name, StackPolicyBody=body(policy))


def client_for(stack: Stack) -> Any:
    import boto3

    region = stack.region if stack.region and not stack.region.startswith("unknown") else None
    return boto3.Session(region_name=region).client("cloudformation")


def main(argv: list[str] | None = None, *, client: Callable[[Stack], Any] = client_for) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools stack-policy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assembly", default="cdk.out", help="the cloud assembly (default: cdk.out)")
    parser.add_argument("--env", required=True, help="the environment whose stacks to protect, e.g. prod")
    parser.add_argument("--apply", action="store_true", help="set each policy with SetStackPolicy")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        stacks = load_stacks(args.assembly, [args.env])
    except AssemblyError as error:
        print(f"stack-policy: error: {error}", file=sys.stderr)
        return 2
    failed = 0
    for name, stack in sorted(stacks.items()):
        if not protected(stack):
            print(f"{name}: not a protected environment (its config's protection is rebuildable): no stack policy")
            continue
        policy = policy_for(stack)
        if policy is None:
            print(f"{name}: no stateful resources: no stack policy")
            continue
        try:
            print(f"{name}: protects {', '.join(stateful_ids(stack))}\n  {body(policy)}")
        except ValueError as error:
            print(f"stack-policy: error: {name}: {error}", file=sys.stderr)
            failed += 1
            continue
        if args.apply:
            failed += apply(client(stack), name, policy)
    return 1 if failed else 0


def apply(cfn: Any, name: str, policy: dict) -> int:
    """SetStackPolicy; 0 when set (or the stack is not deployed yet), 1 on an error."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        set_policy(cfn, name, policy)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        if "does not exist" in message:
            print(f"{name}: not deployed yet: no stack policy set")
            return 0
        print(f"stack-policy: error: {name}: SetStackPolicy failed: {message}", file=sys.stderr)
        return 1
    except (BotoCoreError, ValueError) as error:
        print(f"stack-policy: error: {name}: {error}", file=sys.stderr)
        return 1
    print(f"{name}: stack policy set")
    return 0


if __name__ == "__main__":
    sys.exit(main())

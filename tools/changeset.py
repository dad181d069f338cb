"""The change-set gate: judge what CloudFormation would really do, not only the snapshots.

Usage: python -m tools changeset [--assembly cdk.out] --env ENV [--change-set-name cdk-gate]
                                 [--execute] [--accept-file PATH] [--no-deploy-role]

Run after `cdk deploy --app cdk.out --method=prepare-change-set --change-set-name cdk-gate
'ENV/*'` (assets published, one change set per stack, none executed). Per stack of ENV, in
dependency order: wait for the change set, read every page, print one line per change, and
refuse each stateful resource (STATEFUL_TYPES) it would remove (STATEFUL-DELETE) or replace,
Replacement True or Conditional, naming the properties that cause it (STATEFUL-REPLACE). A
change set sees what the snapshot guard cannot: drift, a failed earlier deploy, a hand edit.

The guard's reason-carrying acceptances (./deploy-guard.accept or --accept-file) accept a
refusal. Any refusal not accepted: exit 1, nothing executed. Otherwise --execute executes
each change set by its id (exactly what was judged), in dependency order, waiting for each
stack; a rollback fails the run. A staging or prod stack with an accepted refusal has its
stack policy (tools.stack_policy) relaxed for exactly those ids while it executes, then
restored, also when the update fails.

CloudFormation is called as the assembly's CDK deploy role, like `cdk deploy` (the current
credentials when it cannot be assumed, or with --no-deploy-role); SetStackPolicy with the
current credentials. Exit: 0 nothing refused (and executed, with --execute), 1 refused or
the deployment failed, 2 usage error or a change set that cannot be judged.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from constructs_lib.arns import partition  # no CDK import: plain ARN arithmetic
from tools import stack_policy
from tools.assembly import AssemblyError, Stack, load_stacks
from tools.guard.cli import accept, read_acceptances, render
from tools.guard.model import ACCEPT_FILE, FATE, ORPHAN_ROUTE, RULES, STATEFUL_TYPES, Acceptance, Finding, UsageError, protected

NO_CHANGES = ("The submitted information didn't contain changes.", "No updates are to be performed.")
DONE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
CHANGE_SET_WAIT, STACK_WAIT, POLL = 15 * 60, 3 * 60 * 60, 5.0  # seconds


class GateError(Exception):
    """A change set that cannot be judged or executed; the message says why."""


class DeployFailed(GateError):
    """An executed change set that did not reach *_COMPLETE."""


@dataclass(frozen=True)
class Artifact:
    """The deploy-order view of a stack (its dependencies and deploy role, read by tools.assembly)."""

    stack: str
    dependencies: tuple[str, ...] = ()  # stack names
    role_arn: str = ""  # the CDK deploy role (assumeRoleArn), ${AWS::Partition} unresolved


# A refusal is the guard's Finding (rule STATEFUL-DELETE or STATEFUL-REPLACE; `property` names
# what causes a replacement), so the guard's acceptances and its rendering apply unchanged.
Refusal = Finding


@dataclass
class Plan:
    stack: Stack
    artifact: Artifact
    change_set_id: str
    refusals: list[Refusal] = field(default_factory=list)


def deploy_order(assembly: Path, stacks: dict[str, Stack]) -> list[tuple[Stack, Artifact]]:
    """The stacks, each after the stacks it depends on (ties by name)."""
    # tools.assembly read each stack's dependencies and deploy role with the stack itself.
    known = {name: Artifact(name, stack.dependencies, stack.assume_role_arn) for name, stack in stacks.items()}
    order: list[str] = []
    waiting = sorted(stacks)
    while waiting:
        ready = [n for n in waiting if all(d in order or d not in stacks for d in known[n].dependencies)]
        if not ready:
            raise AssemblyError(f"{assembly}: dependency cycle between {', '.join(waiting)}")
        order += ready[:1]
        waiting.remove(ready[0])
    return [(stacks[n], known[n]) for n in order]


def judge(stack_name: str, changes: Iterable[dict], stateful_types: Iterable[str], acceptances: Iterable[Acceptance]) -> list[Refusal]:
    """A refusal for each stateful resource a change set would remove or replace, each marked
    accepted when an acceptance names its rule, stack and logical id."""
    stateful, refusals = set(stateful_types), []
    for change in changes:
        rc = change.get("ResourceChange") or {}
        if rc.get("ResourceType") == "AWS::CloudFormation::Stack" and rc.get("ChangeSetId"):
            raise GateError(f"{stack_name}/{rc.get('LogicalResourceId')}: nested stack change sets are not judged")
        refusal = refuse(stack_name, rc) if rc.get("ResourceType") in stateful else None
        if refusal:
            refusals.append(refusal)
    accept(refusals, list(acceptances))  # marks each covered refusal; acceptances of other rules are the guard's
    return refusals


def refuse(stack_name: str, rc: dict) -> Refusal | None:
    """The refusal of one stateful ResourceChange, or None when it neither removes nor replaces."""
    lid, rtype, policy = rc.get("LogicalResourceId", ""), rc.get("ResourceType", ""), str(rc.get("PolicyAction") or "")
    if rc.get("Action") == "Remove":
        fate = policy if policy in FATE else "Delete"
        orphan = fate.startswith("Retain")
        route = ORPHAN_ROUTE if orphan else RULES["STATEFUL-DELETE"].route
        effect = f"it is {FATE[fate]}."
        return Refusal("STATEFUL-DELETE", stack_name, lid, "(resource)", f"Remove {rtype}", "orphan" if orphan else "delete", effect, route)
    replacement = rc.get("Replacement")
    if rc.get("Action") != "Modify" or replacement not in ("True", "Conditional"):
        return None
    causes, names = [], []
    for detail in rc.get("Details") or []:
        target = detail.get("Target") or {}
        if target.get("RequiresRecreation") in ("Always", "Conditionally"):
            names.append(str(target.get("Name") or target.get("Path") or target.get("Attribute")))
            via = f" via {detail['CausingEntity']}" if detail.get("CausingEntity") else ""
            causes.append(f"{names[-1]} RequiresRecreation {target['RequiresRecreation']}{via}")
    change = f"Modify {rtype}, Replacement {replacement}" + (f" ({'; '.join(causes)})" if causes else "")
    fate = FATE.get(policy.removeprefix("ReplaceAnd"), FATE["Delete"])
    maybe = "if CloudFormation finds during the update that it must (Conditional), " if replacement == "Conditional" else ""
    effect = f"{maybe}a new, empty resource is created and the old one is {fate}."
    prop = ", ".join(dict.fromkeys(names)) or "(resource)"
    return Refusal("STATEFUL-REPLACE", stack_name, lid, prop, change, "replace", effect, RULES["STATEFUL-REPLACE"].route)


def describe(cfn: Any, stack_name: str, change_set: str, sleep: Callable[[float], None]) -> tuple[str, list[dict]] | None:
    """(change set id, every change) once the change set is created; None when it has no changes."""
    deadline = time.monotonic() + CHANGE_SET_WAIT
    while True:
        page = cfn.describe_change_set(StackName=stack_name, ChangeSetName=change_set)
        status, reason = page.get("Status"), page.get("StatusReason") or ""
        if status not in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise GateError(f"{stack_name}: change set {change_set} still {status} after {CHANGE_SET_WAIT}s")
        sleep(POLL)
    if status == "FAILED" and reason.startswith(NO_CHANGES):
        return None
    if status != "CREATE_COMPLETE":
        raise GateError(f"{stack_name}: change set {change_set} is {status}: {reason or 'no reason given'}")
    if page.get("ExecutionStatus") != "AVAILABLE":
        raise GateError(
            f"{stack_name}: change set {change_set} is {page.get('ExecutionStatus')}, not AVAILABLE (the stack changed "
            "since it was created, or it ran already): prepare the change sets again"
        )
    changes = list(page.get("Changes") or [])
    while page.get("NextToken"):
        page = cfn.describe_change_set(StackName=stack_name, ChangeSetName=change_set, NextToken=page["NextToken"])
        changes += page.get("Changes") or []
    return page.get("ChangeSetId") or change_set, changes


def change_line(change: dict) -> str:
    rc = change.get("ResourceChange") or {}
    replacement = f"  replacement: {rc.get('Replacement')}" if rc.get("Action") == "Modify" else ""
    return f"  {rc.get('Action', '?'):6} {rc.get('LogicalResourceId', '?')}  {rc.get('ResourceType', '?')}{replacement}"


def wait_for_stack(cfn: Any, stack_name: str, sleep: Callable[[float], None]) -> None:
    deadline = time.monotonic() + STACK_WAIT
    while True:
        found = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = found["StackStatus"]
        if not status.endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise DeployFailed(f"{stack_name}: still {status} after {STACK_WAIT}s")
        sleep(POLL)
    if status in DONE:
        return
    events = cfn.describe_stack_events(StackName=stack_name).get("StackEvents") or []
    failures = []
    for event in events:  # newest first, back to the start of this operation
        if event.get("ResourceType") == "AWS::CloudFormation::Stack" and event.get("ResourceStatus") in (
            "UPDATE_IN_PROGRESS",
            "CREATE_IN_PROGRESS",
        ):
            break
        if str(event.get("ResourceStatus", "")).endswith("_FAILED") and event.get("ResourceStatusReason"):
            failures.append(f"    {event.get('LogicalResourceId')}: {event['ResourceStatusReason']}")
    kind = "ROLLED BACK" if "ROLLBACK" in status else "FAILED"
    reason = f" ({found['StackStatusReason']})" if found.get("StackStatusReason") else ""
    raise DeployFailed("\n".join([f"{stack_name}: deployment {kind}: {status}{reason}", *failures[-5:][::-1]]))


def execute(plan: Plan, clients: Callable[[Artifact], tuple[Any, Any]], sleep: Callable[[float], None]) -> None:
    """Execute one judged change set; around it, relax the stack policy for accepted refusals."""
    cfn, own = clients(plan.artifact)
    name = plan.stack.name
    exempt = [r.resource for r in plan.refusals if r.accepted]
    relax = protected(plan.stack) and bool(exempt)
    if relax:
        print(f"{name}: stack policy relaxed for the accepted {', '.join(exempt)} while the change set executes")
        stack_policy.set_policy(own, name, stack_policy.policy_for(plan.stack, exempt) or stack_policy.ALLOW_ALL)
    deployed = False
    try:
        print(f"{name}: executing change set {plan.change_set_id}")
        cfn.execute_change_set(StackName=name, ChangeSetName=plan.change_set_id)
        wait_for_stack(cfn, name, sleep)
        deployed = True
        print(f"{name}: deployed")
    finally:
        if relax and not restore(own, plan.stack) and deployed:
            raise DeployFailed(f"{name}: deployed, but its stack policy is not restored")


def restore(own: Any, stack: Stack) -> bool:
    try:
        stack_policy.set_policy(own, stack.name, stack_policy.policy_for(stack) or stack_policy.ALLOW_ALL)
    except Exception as error:  # any failure here must be loud, and must not hide the deploy's own error
        env = stack.environment
        print(
            f"changeset: error: {stack.name}: stack policy NOT restored ({error}): run `python -m tools stack-policy --env {env} --apply`",
            file=sys.stderr,
        )
        return False
    print(f"{stack.name}: stack policy restored")
    return True


def boto_clients(stacks: dict[str, Stack], deploy_role: bool) -> Callable[[Artifact], tuple[Any, Any]]:
    """(CloudFormation as the deploy role, CloudFormation as the caller) per stack artifact."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    cache: dict[tuple[str, str], tuple[Any, Any]] = {}

    def clients(artifact: Artifact) -> tuple[Any, Any]:
        region = stacks[artifact.stack].region
        region = "" if region.startswith("unknown") else region
        arn = artifact.role_arn.replace("${AWS::Partition}", partition(region)) if deploy_role else ""
        if (region, arn) not in cache:
            session = boto3.Session(region_name=region or None)
            own = session.client("cloudformation")
            cfn = own
            if arn:
                try:
                    creds = session.client("sts").assume_role(RoleArn=arn, RoleSessionName="changeset-gate")["Credentials"]
                    cfn = boto3.Session(
                        aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        region_name=region or None,
                    ).client("cloudformation")
                except (BotoCoreError, ClientError) as error:
                    print(f"changeset: note: cannot assume {arn} ({error}); using the current credentials", file=sys.stderr)
            cache[(region, arn)] = (cfn, own)
        return cache[(region, arn)]

    return clients


def main(
    argv: list[str] | None = None,
    *,
    clients: Callable[[Artifact], tuple[Any, Any]] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools changeset", description=__doc__.split("\n\n")[0])
    parser.add_argument("--assembly", default="cdk.out", help="the cloud assembly the change sets were prepared from")
    parser.add_argument("--env", required=True, help="the environment whose stacks to judge, e.g. prod")
    parser.add_argument("--change-set-name", default="cdk-gate", help="as given to cdk deploy (default: cdk-gate)")
    parser.add_argument("--execute", action="store_true", help="execute the change sets when nothing is refused")
    parser.add_argument("--accept-file", metavar="PATH", help=f"acceptances (default: ./{ACCEPT_FILE} if present)")
    parser.add_argument("--no-deploy-role", action="store_true", help="call CloudFormation with the current credentials")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    try:
        accept_file = Path(args.accept_file or ACCEPT_FILE)
        acceptances = read_acceptances(accept_file) if args.accept_file or accept_file.is_file() else []
        stacks = load_stacks(args.assembly, [args.env])
        order = deploy_order(Path(args.assembly), stacks)
    except (UsageError, AssemblyError) as error:
        print(f"changeset: error: {error}", file=sys.stderr)
        return 2
    clients = clients or boto_clients(stacks, deploy_role=not args.no_deploy_role)
    from botocore.exceptions import BotoCoreError, ClientError

    plans: list[Plan] = []
    try:
        for stack, artifact in order:
            described = describe(clients(artifact)[0], stack.name, args.change_set_name, sleep)
            if described is None:
                print(f"{stack.name}: no changes")
                continue
            change_set_id, changes = described
            print(f"{stack.name}: {len(changes)} change(s)")
            print("\n".join(change_line(change) for change in changes))
            plans.append(Plan(stack, artifact, change_set_id, judge(stack.name, changes, STATEFUL_TYPES, acceptances)))
        refusals = [r for plan in plans for r in plan.refusals]
        for refusal in refusals:
            hint = "" if refusal.accepted else f"\n    To accept it deliberately: '{refusal.target}  # <why>' in {ACCEPT_FILE}"
            print("\n" + render([refusal]) + hint)
        open_ = [r for r in refusals if not r.accepted]
        if open_:
            print(f"\nchangeset: {len(open_)} refusal(s) not accepted in {len({r.stack for r in open_})} stack(s): nothing executed.")
            return 1
        accepted = f", {len(refusals)} accepted refusal(s)" if refusals else ""
        print(f"\nchangeset: OK - {len(plans)} change set(s) to execute{accepted}.")
        if args.execute:
            for plan in plans:
                execute(plan, clients, sleep)
    except DeployFailed as error:
        print(f"changeset: error: {error}", file=sys.stderr)
        return 1
    except GateError as error:
        print(f"changeset: error: {error}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError, ValueError) as error:
        print(f"changeset: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

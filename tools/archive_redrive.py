"""archive-redrive --env NAME: move held TTL deletions back into their archive buffers.

    python -m tools archive-redrive --env prod [--table daylight-prod-users] [--dry-run]
                                    [--assembly cdk.out] [--profile P] [--endpoint-url URL]

When an archive's delivery fails for longer than the buffer pipe retries (an hour), its
records move from `<table>-archive-buffer` to `<table>-archive-held` (docs/retention.md). Once
the fault is fixed, this moves every held record back into its buffer, where the drain pipe
delivers it to Firehose and the archive. Run it within 14 days of the records' expiry: SQS
keeps a message 14 days from its first arrival, in the held queue too.

The queues come from the synthesized templates (every queue whose RedrivePolicy names a
dead-letter queue of the same stack), never from a list kept here. A record is deleted from
the held queue only after its buffer accepted it, so an interrupted run can be run again: at
worst a record is archived twice, never lost. SQS's own "start DLQ redrive" (console, or
StartMessageMoveTask) does the same asynchronously; this command is the scripted, counted way.

Exit code: 0 every held record moved (or none held), 1 some could not be moved, 2 could not
run (no cdk.out, unknown environment or table, no credentials, access denied).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.assembly import AssemblyError, read_assembly

ROOT = Path(__file__).resolve().parent.parent
BATCH = 10  # SQS's most messages per receive and per batch
# A short-polled receive may come back empty from a queue that is not (SQS samples its servers);
# a long poll of a second asks them all before the held queue is taken as drained.
DRAINED_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Redrive:
    region: str
    held: str  # queue names
    buffer: str


def redrives(assembly: Path, env: str) -> list[Redrive]:
    """Every (held queue, buffer queue) pair of an environment's templates."""
    stacks = [s for s in read_assembly(assembly) if s.environment == env]
    if not stacks:
        raise AssemblyError(f"no stacks of environment {env!r} in {assembly}")
    found = []
    for stack in stacks:
        resources = stack.template.get("Resources", {})
        queues = {lid: res.get("Properties", {}) for lid, res in resources.items() if res.get("Type") == "AWS::SQS::Queue"}
        for props in queues.values():
            target = (props.get("RedrivePolicy") or {}).get("deadLetterTargetArn")
            if isinstance(target, dict) and "Fn::GetAtt" in target and target["Fn::GetAtt"][0] in queues:
                held = queues[target["Fn::GetAtt"][0]].get("QueueName")
                if isinstance(held, str) and isinstance(props.get("QueueName"), str):
                    found.append(Redrive(stack.region, held, props["QueueName"]))
    return sorted(found, key=lambda r: r.buffer)


def move(sqs: Any, redrive: Redrive, *, dry_run: bool = False, wait_seconds: int = DRAINED_AFTER_SECONDS) -> tuple[int, int]:
    """(records moved, records that could not be moved) from `redrive.held` to its buffer; the
    held queue is drained when a receive waiting `wait_seconds` finds nothing."""
    held_url = sqs.get_queue_url(QueueName=redrive.held)["QueueUrl"]
    buffer_url = sqs.get_queue_url(QueueName=redrive.buffer)["QueueUrl"]
    if dry_run:
        attributes = sqs.get_queue_attributes(QueueUrl=held_url, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)), 0
    moved = failed = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=held_url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=wait_seconds, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            return moved, failed
        entries = [
            {
                "Id": str(i),
                "MessageBody": m["Body"],
                **({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {}),
            }
            for i, m in enumerate(messages)
        ]
        sent = sqs.send_message_batch(QueueUrl=buffer_url, Entries=entries)
        accepted = {entry["Id"] for entry in sent.get("Successful", [])}
        failed += len(messages) - len(accepted)
        # Only what the buffer accepted leaves the held queue; the rest reappears there.
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if str(i) in accepted]
        if done:
            sqs.delete_message_batch(QueueUrl=held_url, Entries=done)
        moved += len(done)
        if not done:
            return moved, failed  # the buffer refuses everything: stop rather than spin


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools archive-redrive", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--env", required=True, help="environment: one of config/environments.py (a Stage in cdk.out)")
    parser.add_argument("--table", help="only this table's archive (its table name, e.g. daylight-prod-users)")
    parser.add_argument("--dry-run", action="store_true", help="count the held records, move nothing")
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out", help="synthesized cloud assembly (default cdk.out)")
    parser.add_argument("--profile", help="AWS profile (default: AWS settings)")
    parser.add_argument("--endpoint-url", help="SQS endpoint (default: AWS settings, e.g. AWS_ENDPOINT_URL)")
    args = parser.parse_args(argv)
    import boto3
    import botocore.exceptions

    try:
        pairs = redrives(args.assembly, args.env)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.table:
        pairs = [p for p in pairs if p.buffer == f"{args.table}-archive-buffer"]
        if not pairs:
            print(f"error: {args.table} has no archive buffer in {args.env}'s templates", file=sys.stderr)
            return 2
    session = boto3.Session(profile_name=args.profile)
    total_failed = 0
    try:
        for pair in pairs:
            sqs = session.client("sqs", region_name=pair.region, endpoint_url=args.endpoint_url)
            moved, failed = move(sqs, pair, dry_run=args.dry_run)
            total_failed += failed
            verb = "held (dry run, nothing moved)" if args.dry_run else f"moved to {pair.buffer}"
            print(f"{pair.held}: {moved} record{'s' if moved != 1 else ''} {verb}" + (f", {failed} could not be moved" if failed else ""))
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        print(f"error: could not redrive: {error}", file=sys.stderr)
        return 2
    return 1 if total_failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Checks each table the restore tests restored holds data, and tells AWS Backup.

EventBridge invokes it on every completed restore job (docs/restore.md, "Restore tests"). A
job of the restore tests' plan that restored a DynamoDB table is checked: the copy must hold
at least one item when its source table holds any (the source's ItemCount, which DynamoDB
refreshes about every six hours; an empty source passes). The copy is read with a Scan of
one item and Select=COUNT: DynamoDB returns a count, never an item, so no data reaches this
function. The verdict goes back with PutRestoreValidationResult; a failed one also raises, so
the function's error alarm pages on-call. Other jobs (a person's restore, the cluster) pass
through untouched: a cluster's restore completing is its own check.
"""

from __future__ import annotations

import os
from typing import Any

import boto3


class RestoreValidationFailed(Exception):
    """The copy is empty though its source is not: the verdict FAILED was sent."""


def _job_id(event: dict) -> str:
    detail = event.get("detail") or {}
    job_id = detail.get("restoreJobId") or detail.get("RestoreJobId")
    if not job_id:
        raise ValueError(f"no restoreJobId in the event's detail: {sorted(detail)}")
    return str(job_id)


def _source_arn(job: dict, backup: Any, vault: str) -> str:
    # Newer API versions name the source in the job; older ones through its recovery point.
    if job.get("SourceResourceArn"):
        return str(job["SourceResourceArn"])
    point = backup.describe_recovery_point(BackupVaultName=vault, RecoveryPointArn=job["RecoveryPointArn"])
    return str(point["ResourceArn"])


def validate(event: dict, backup: Any, dynamodb: Any, *, plan_arn: str, vault: str) -> str:
    """The verdict sent ("SUCCESSFUL" or "FAILED"), or "skipped" for a job that is not ours."""
    job_id = _job_id(event)
    job = backup.describe_restore_job(RestoreJobId=job_id)
    if (job.get("CreatedBy") or {}).get("RestoreTestingPlanArn") != plan_arn or job.get("ResourceType") != "DynamoDB":
        return "skipped"
    if job.get("Status") != "COMPLETED":
        return "skipped"
    copy = job["CreatedResourceArn"].split("/", 1)[1]
    source_arn = _source_arn(job, backup, vault)
    source_items = dynamodb.describe_table(TableName=source_arn.split("/", 1)[1])["Table"].get("ItemCount", 0)
    copy_items = dynamodb.scan(TableName=copy, Limit=1, Select="COUNT")["Count"]
    if copy_items > 0 or source_items == 0:
        status = "SUCCESSFUL"
        message = f"{copy} holds items" if copy_items else f"{copy} is empty, as its source was ({source_arn}, ItemCount 0)"
    else:
        status = "FAILED"
        message = f"{copy} is empty, but its source {source_arn} holds about {source_items} items"
    backup.put_restore_validation_result(RestoreJobId=job_id, ValidationStatus=status, ValidationStatusMessage=message[:1000])
    if status == "FAILED":
        raise RestoreValidationFailed(f"restore job {job_id}: {message}")
    return status


def handler(event: dict, context: object) -> str:
    return validate(
        event,
        boto3.client("backup"),
        boto3.client("dynamodb"),
        plan_arn=os.environ["RESTORE_TESTING_PLAN_ARN"],
        vault=os.environ["BACKUP_VAULT_NAME"],
    )

"""The read-only AWS checks of what the app's resources need: the Aurora engine version, AWS
Backup's advanced DynamoDB features, the KMS keys of replica (and copy) regions, a trail that
feeds the tamper alerts, and the cost-allocation tags the budgets filter on. Each
yields one line per thing it looked at; an AWS error becomes that thing's FAIL line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import partial

from botocore.exceptions import ClientError

from tools.preflight import synthesized
from tools.preflight.aws import attempt, error_code
from tools.preflight.checks import Context
from tools.preflight.lines import Line, failed, passed
from tools.preflight.offline import WHERE, strings

KMS_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):(?:key|alias)/.+$")


def engine(ctx: Context) -> Iterator[Line]:
    versions = synthesized.engine_versions(synthesized.stacks_of(ctx.assembly, ctx.cfg.name))
    for version in versions.value:
        check = f"engine aurora-postgresql {version}"
        yield attempt(check, "rds:DescribeDBEngineVersions", partial(_engine, ctx, check, version, versions.source))


def _engine(ctx: Context, check: str, version: str, source: str) -> Line:
    region = ctx.cfg.region
    offered = ctx.aws.client("rds", region).describe_db_engine_versions(Engine="aurora-postgresql", EngineVersion=version)[
        "DBEngineVersions"
    ]
    todo = f"choose a version `aws rds describe-db-engine-versions --engine aurora-postgresql --region {region}` lists as available (ENGINE_VERSION in constructs_lib/database.py)"
    if not offered:
        return failed(check, f"not offered in {region} (version from {source})", todo)
    status = offered[0].get("Status", "available")
    if status != "available":
        return failed(check, f"{status} in {region} (version from {source})", todo)
    return passed(check, f"available in {region} (version from {source})")


def backup(ctx: Context) -> Iterator[Line]:
    plan = ctx.cfg.backup
    cold = [rule.name for rule in plan.rules if rule.move_to_cold_storage_after_days is not None] if plan.enabled else []
    if not cold:
        yield passed("backup", "no backup rule moves backups to cold storage")
        return
    yield attempt("backup", "backup:DescribeRegionSettings", partial(_backup, ctx, cold))


def _backup(ctx: Context, cold: list[str]) -> Line:
    region = ctx.cfg.region
    settings = ctx.aws.client("backup", region).describe_region_settings()
    rules = ", ".join(cold)
    if settings.get("ResourceTypeManagementPreference", {}).get("DynamoDB") is True:
        return passed("backup", f"AWS Backup's advanced DynamoDB features are on in {region} (cold storage: rules {rules})")
    return failed(
        "backup",
        f"rules {rules} move DynamoDB backups to cold storage, but AWS Backup's advanced DynamoDB features are off in {region}",
        "turn them on once: AWS Backup console > Settings > Advanced features for Amazon DynamoDB backups, or "
        f"`aws backup update-region-settings --region {region} --resource-type-management-preference DynamoDB=true`",
    )


def keys(ctx: Context) -> Iterator[Line]:
    found = [(key, value, m) for key, value in strings(ctx.cfg) if (m := KMS_ARN.match(value))]
    if not found:
        yield passed("keys", "no replica-region or copy-region KMS key in config")
    for key, arn, match in found:
        check = f"key {key}"
        yield attempt(check, "kms:DescribeKey", partial(_key, ctx, check, arn, match["region"]))


def _key(ctx: Context, check: str, arn: str, region: str) -> Line:
    try:
        metadata = ctx.aws.client("kms", region).describe_key(KeyId=arn)["KeyMetadata"]
    except ClientError as error:
        if error_code(error) != "NotFoundException":
            raise
        return failed(
            check,
            f"{arn}: no such key in {region}",
            f"create a customer-managed key in {region}, or fix {check.split(' ', 1)[1]} in {WHERE}",
        )
    state = metadata.get("KeyState", "?")
    if state != "Enabled":
        fix = (
            "cancel its deletion (aws kms cancel-key-deletion) and enable it"
            if state == "PendingDeletion"
            else "enable it (aws kms enable-key)"
        )
        return failed(check, f"{arn} is {state}", f"{fix}, or use another key in {WHERE}")
    return passed(check, f"{arn} is Enabled")


def management_events(ctx: Context) -> Iterator[Line]:
    """The tamper alerts (constructs_lib/tamper.py) see a call only if a trail logs management
    write events in the rules' region: this app's own trail, or the organization's."""
    trail = ctx.cfg.audit_trail
    if trail.mode == "create" and trail.management_events:
        yield passed("management events", "this app's trail logs them in every region (audit_trail.management_events)")
        return
    if trail.mode == "off":
        yield passed("management events", "no tamper alerts here (audit_trail.mode off): nothing needs them")
        return
    # The organization's trail, or (management_events off) another trail of the account.
    yield attempt("management events", "cloudtrail:DescribeTrails", partial(_management_events, ctx))


def _management_events(ctx: Context) -> Line:
    region = ctx.cfg.region
    client = ctx.aws.client("cloudtrail", region)
    others: list[str] = []
    for trail in client.describe_trails(includeShadowTrails=True).get("trailList", []):
        if not (trail.get("IsMultiRegionTrail") or trail.get("HomeRegion") == region):
            continue
        arn, name = trail["TrailARN"], trail["Name"]
        if not client.get_trail_status(Name=arn).get("IsLogging"):
            others.append(f"{name} (not logging)")
        elif logs_management_writes(client.get_event_selectors(TrailName=arn)):
            return passed("management events", f"trail {name} logs management write events in {region}: the tamper alerts see them")
        else:
            others.append(f"{name} (no management write events)")
    return failed(
        "management events",
        f"no trail logs management write events in {region}" + (f": {', '.join(others)}" if others else ""),
        "have the organization's (or the account's) trail log management events (read and write, or write-only) "
        f"in every region, or set audit_trail.mode = 'create' with management_events = True in {WHERE}",
    )


def logs_management_writes(selectors: dict) -> bool:
    """Whether GetEventSelectors' answer includes management write events, basic or advanced."""
    for basic in selectors.get("EventSelectors", []):
        if basic.get("IncludeManagementEvents", True) and basic.get("ReadWriteType", "All") in ("All", "WriteOnly"):
            return True
    for advanced in selectors.get("AdvancedEventSelectors", []):
        fields = {f["Field"]: f for f in advanced.get("FieldSelectors", [])}
        if fields.get("eventCategory", {}).get("Equals") == ["Management"] and fields.get("readOnly", {}).get("Equals") != ["true"]:
            return True
    return False


# Cost Explorer's API lives in us-east-1 whatever the environment's region.
COST_EXPLORER_REGION = "us-east-1"


def cost_tags(ctx: Context, tags: tuple[str, ...]) -> Iterator[Line]:
    """The budgets count only what carries these tags, once each is an active cost-allocation tag."""
    yield attempt("cost allocation tags", "ce:ListCostAllocationTags", partial(_cost_tags, ctx, tags))


def _cost_tags(ctx: Context, tags: tuple[str, ...]) -> Line:
    found = ctx.aws.client("ce", COST_EXPLORER_REGION).list_cost_allocation_tags(TagKeys=list(tags), Type="UserDefined")
    status = {t["TagKey"]: t.get("Status") for t in found.get("CostAllocationTags", [])}
    inactive = [tag for tag in tags if status.get(tag) != "Active"]
    if not inactive:
        return passed("cost allocation tags", f"{', '.join(tags)} active: the budgets count what carries them")
    shown = ", ".join(f"{tag} ({status.get(tag) or 'never seen on a resource'})" for tag in inactive)
    return failed(
        "cost allocation tags",
        f"{shown}: the budgets filter on them and would count nothing",
        "activate them once in the payer account: Billing console > Cost allocation tags > User-defined "
        f"(`aws ce update-cost-allocation-tags-status --cost-allocation-tags-status {' '.join(f'TagKey={t},Status=Active' for t in inactive)}`); "
        "a tag appears there a day after a deployed resource first carries it",
    )


def copy_targets(ctx: Context) -> Iterator[Line]:
    """The vaults off-site copies go to outside the primary vault: the air-gapped vault (made by
    the off-site stack: it must be an air-gapped, locked vault if it exists) and another
    account's vault (it must exist, shared with this account, and be locked)."""
    offsite = ctx.cfg.offsite
    if not (offsite.air_gapped or offsite.account_vault_arn):
        yield passed("copy targets", "no vault outside this environment's own stacks")
        return
    if offsite.air_gapped and offsite.region:
        yield attempt("air-gapped vault", "backup:DescribeBackupVault", partial(_air_gapped, ctx))
    if offsite.account_vault_arn:
        yield attempt("account vault", "backup:DescribeBackupVault", partial(_account_vault, ctx, offsite.account_vault_arn))


def _air_gapped(ctx: Context, *, name: str | None = None) -> Line:
    from stacks.naming import air_gapped_vault_name

    region = ctx.cfg.offsite.region or ctx.cfg.region
    name = name or air_gapped_vault_name(ctx.cfg)
    check = "air-gapped vault"
    try:
        vault = ctx.aws.client("backup", region).describe_backup_vault(BackupVaultName=name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return passed(check, f"{name} does not exist in {region} yet: the first deploy of the off-site stack creates it")
        raise
    if vault.get("VaultType") != "LOGICALLY_AIR_GAPPED_BACKUP_VAULT" or not vault.get("Locked"):
        return failed(
            check,
            f"{name} in {region} is a {vault.get('VaultType', 'BACKUP_VAULT')}, locked: {bool(vault.get('Locked'))}",
            "the name is taken by another vault: remove it (break-glass, once empty) or rename the air-gapped vault in stacks/naming.py",
        )
    return passed(check, f"{name} in {region}: air-gapped, locked {vault.get('MinRetentionDays')}-{vault.get('MaxRetentionDays')} days")


def _account_vault(ctx: Context, arn: str) -> Line:
    check = "account vault"
    _, _, _, region, account, _, name = arn.split(":", 6)
    vault = ctx.aws.client("backup", region).describe_backup_vault(BackupVaultName=name, BackupVaultAccountId=account)
    if not vault.get("Locked"):
        return failed(
            check,
            f"{arn} is not locked: whoever administers that account can delete the copies",
            "lock it in its account (compliance mode) before copies go there",
        )
    return passed(check, f"{arn}: locked {vault.get('MinRetentionDays')}-{vault.get('MaxRetentionDays')} days")

"""docs/data-model.md and docs/data-model/*.md: committed copies are current, and say the right things.

The docs are generated from the session's one synthesis (the `synthesized` fixture), so a
change to a table, index, alarm, role or config value that is not followed by `make docs`
fails here.
"""

from __future__ import annotations

import difflib

import pytest

from config.environments import ENVIRONMENTS
from tools import docs as gen
from tools.assembly import Stack

SYSTEM_KEYS = ["therapeutic-wave", "daylight", "madmall", "fusion-health", "personalpod"]


def _stacks(synthesized) -> dict[str, Stack]:
    """The session's synthesis as tools.assembly reads stacks (what `python -m tools docs` sees)."""
    assert synthesized, "the session synthesized no stacks"
    return {
        name: Stack(s.name, s.environment, s.template, s.termination_protection, s.account, s.region, dependencies=s.dependencies)
        for name, s in synthesized.items()
    }


@pytest.fixture(scope="module")
def docs(synthesized) -> dict[str, str]:
    return gen.generate(_stacks(synthesized))


def _first_diff(path: str, text: str) -> str:
    committed = (gen.ROOT / path).read_text().splitlines() if (gen.ROOT / path).is_file() else []
    diff = difflib.unified_diff(committed, text.splitlines(), f"committed {path}", f"generated {path}", lineterm="", n=1)
    return "\n".join(list(diff)[:30])


def test_committed_docs_are_current(docs):
    stale = gen.stale(docs)
    detail = _first_diff(stale[0], docs[stale[0]]) if stale and stale[0] in docs else ""
    assert not stale, "stale data-model docs: " + ", ".join(stale) + "\nRun `make docs` and commit the result.\n" + detail


def test_one_page_per_system_linked_from_the_index(docs):
    assert sorted(docs) == sorted(["docs/architecture.md", "docs/data-model.md", *(f"docs/data-model/{key}.md" for key in SYSTEM_KEYS)])
    for key in SYSTEM_KEYS:
        assert f"[data-model/{key}.md](data-model/{key}.md)" in docs["docs/data-model.md"]


def test_fusion_page_has_per_env_names_and_the_seed_indexes(docs):
    page = docs["docs/data-model/fusion-health.md"]
    assert "prod: `fusion-health-entries-prod`" in page
    assert "| partition key | `date (S)` |\n| sort key | `timestamp (S)` |" in page
    assert (
        "| `medication-index` | `medication_taken (S)` | `date (S)` | ALL | all entries with a medication, optionally in a date range |"
        in page
    )
    assert "| `pain-level-index` | `max_pain_level (N)` | `date (S)` | ALL |" in page
    assert "| billing | dev, staging: PAY_PER_REQUEST<br>prod: PROVISIONED (read 10-100 at 70%, write 5-50 at 70%) |" in page
    # Each environment's latency threshold and evaluation window, as config sets them, read
    # back from the alarms themselves (a changed threshold changes the page, not this test).
    windows = " | ".join(
        f">= {cfg.alarms.thresholds['latency_ms']} in {cfg.alarms.datapoints_to_alarm} of {cfg.alarms.evaluation_periods} × 1 min"
        if cfg.alarms.alarms_on("table")
        else "—"  # an environment that alarms on the account only
        for cfg in ENVIRONMENTS.values()
    )
    assert (
        f"| `{{table}}-latency` | MAX of SuccessfulRequestLatency (Average) over GetItem, Query, PutItem, UpdateItem | {windows} |" in page
    )
    # Metric math over named metrics says what each name is.
    assert (
        "| `{table}-read-capacity` | 100 * (consumed / 300) / provisioned, where consumed = ConsumedReadCapacityUnits (Sum), "
        "provisioned = ProvisionedReadCapacityUnits (Average) |" in page
    )


def test_retention_table_rows(docs):
    index = docs["docs/data-model.md"]
    assert (
        # A year in the table and the rest archived: the seed's 2555 days from the item's creation.
        "| daylight | [AuditLogs](data-model/daylight.md#auditlogs) | `daylight-{env}-audit_logs` | `expiresAt` | cold | 365 | 2190 | 2555 | yes |"
        in index
    )
    assert (
        "| daylight | [RateLimits](data-model/daylight.md#ratelimits) | `daylight-{env}-rate_limits` | `expiresAt` | hot | 1 | — | 1 | no (decision) |"
        in index
    )
    assert (
        "| madmall | [Main](data-model/madmall.md#main) | `madmall-{env}-main` | `ttl` | — | set per item by the app | — | — | — |" in index
    )
    # Tables without TTL have no retention row.
    assert "[Roles](data-model/daylight.md#roles) | `daylight-{env}-roles`" in index
    assert "| daylight | [Roles]" not in index


def test_archive_lifecycle_rows(docs):
    index = docs["docs/data-model.md"]
    assert (
        "| prod | `daylight/AuditLogs/` | `data-audit-archive-prod-333333333333-us-east-1` | 30 | 120 | 2190 | COMPLIANCE 2190 days |"
        in index
    )
    assert "| staging | `daylight/Locations/` | `data-archive-staging-222222222222-us-east-1` | 30 | 120 | 730 | — |" in index


def test_personalpod_page_describes_the_postgresql_store(docs):
    page = docs["docs/data-model/personalpod.md"]
    assert "## PostgreSQL primary store" in page
    assert "| on stack deletion | Delete | Snapshot | Snapshot |" in page
    assert "`personalpod-prod`: TLS required True, auth IAM_AUTH" in page
    assert "## PostgreSQL primary store" not in docs["docs/data-model/daylight.md"]


def test_environment_differences(docs):
    index = docs["docs/data-model.md"]
    assert "| account | 111111111111 | 222222222222 | 333333333333 |" in index
    assert "| point-in-time recovery | off | 35 days | 35 days |" in index
    assert "| removal policy (tables) | Delete | Retain | Retain |" in index
    assert "| termination protection (stacks) | off | on | on |" in index
    assert "| alerts: external SNS topic | — | — | `arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall` |" in index
    assert (
        "| `dynamodb-account-provisioned-read-utilization-{env}` | AccountProvisionedReadCapacityUtilization (Maximum) | — | — | >= 80 in 1 of 1 × 5 min |"
        in index
    )


def test_roles_and_keys_from_the_templates(docs):
    madmall = docs["docs/data-model/madmall.md"]
    assert "- **dynamodb:LeadingKeys:** `USER#${aws:PrincipalTag/userId}`" in madmall
    assert "- **assumed by:** the `app` role with session tag `userId`" in madmall
    wave = docs["docs/data-model/therapeutic-wave.md"]
    assert "| `KeyFieldEncryption` | `alias/therapeutic-wave-{env}-field-encryption` |" in wave
    assert "`KeyFieldEncryption` direct: Decrypt, GenerateDataKey" in wave
    # Only the app role may unwrap field keys; the read-only role sees ciphertext.
    readonly = wave.split("### readonly")[1].split("###")[0]
    assert "KeyFieldEncryption" not in readonly


def test_design_decisions_are_included_verbatim(docs):
    assert SYSTEM_KEYS
    for key in SYSTEM_KEYS:
        decisions = (gen.ROOT / gen.DECISIONS / f"{key}.md").read_text().strip()
        assert "## Design decisions\n\n" + decisions in docs[f"docs/data-model/{key}.md"]


def test_stale_names_changed_missing_and_orphaned_files(docs, tmp_path):
    assert gen.write(docs, tmp_path) == sorted(docs)  # nothing there yet: everything is written
    assert gen.stale(docs, tmp_path) == []
    (tmp_path / "docs/data-model/madmall.md").write_text("edited by hand\n")
    (tmp_path / "docs/data-model.md").unlink()
    (tmp_path / "docs/data-model/retired-system.md").write_text("old\n")
    expected = ["docs/data-model.md", "docs/data-model/madmall.md", "docs/data-model/retired-system.md"]
    assert gen.stale(docs, tmp_path) == expected
    assert gen.write(docs, tmp_path) == expected
    assert gen.stale(docs, tmp_path) == []
    assert not (tmp_path / "docs/data-model/retired-system.md").exists()


def test_missing_stack_or_decisions_is_a_clear_error(synthesized, tmp_path):
    stacks = _stacks(synthesized)
    partial = {name: s for name, s in stacks.items() if not name.endswith("-staging")}
    with pytest.raises(gen.DataModelError, match=r"stack 'therapeutic-wave-staging' is not among the templates"):
        gen.generate(partial)
    with pytest.raises(gen.DataModelError, match=r"docs/data-model/decisions/therapeutic-wave.md is missing"):
        gen.generate(stacks, root=tmp_path)


def test_a_table_without_a_replica_in_its_region_is_a_clear_error(synthesized):
    # Tables are read by tools.tables.table_def; its refusal reaches the docs as a DataModelError.
    stacks = _stacks(synthesized)
    name = "daylight-prod"
    moved = Stack(name, "prod", stacks[name].template, stacks[name].termination_protection, stacks[name].account, "eu-west-1")
    with pytest.raises(gen.DataModelError, match=r"daylight-prod/Table\w+: expected one replica in the stack's region eu-west-1"):
        gen.generate({**stacks, name: moved})


def test_check_reads_a_cloud_assembly_through_tools_assembly(stages, capsys):
    # The session's synth wrote a cloud assembly; `--assembly` reads it as it reads cdk.out.
    outdir = stages[0].node.root.outdir
    assert gen.main(["--assembly", outdir, "--check"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert gen.main(["--assembly", str(gen.ROOT / "no-such-dir"), "--check"]) == 2
    err = capsys.readouterr().err
    assert "docs: --assembly" in err and "no manifest.json there" in err


def test_roles_without_a_name_are_listed_by_logical_id():
    # CDK-made service roles (e.g. AWS Backup's) have no RoleName and attach AWS-managed policies.
    template = {
        "Resources": {
            "AccessApp0C164F05": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "madmall-prod-app",
                    "AssumeRolePolicyDocument": {"Statement": [{"Principal": {"Service": "ecs-tasks.amazonaws.com"}}]},
                },
            },
            "BackupPlanTablesRole1E450ACC": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {"Statement": [{"Principal": {"Service": "backup.amazonaws.com"}}]},
                    "ManagedPolicyArns": [
                        {
                            "Fn::Join": [
                                "",
                                ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup"],
                            ]
                        }
                    ],
                },
            },
            "AppPolicy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Roles": [{"Ref": "AccessApp0C164F05"}],
                    "PolicyDocument": {
                        "Statement": [
                            {"Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": [{"Fn::GetAtt": ["TableMain", "Arn"]}]}
                        ]
                    },
                },
            },
        }
    }
    found = gen.roles(template, "madmall-prod")
    assert sorted(found) == ["BackupPlanTablesRole", "app"]
    assert found["app"].tables == {"Main": "read-write"}
    assert found["BackupPlanTablesRole"].name == "(named by CloudFormation)"
    assert found["BackupPlanTablesRole"].managed == {"AWSBackupServiceRolePolicyForBackup"}
    assert found["BackupPlanTablesRole"].trust == "service `backup.amazonaws.com`"
    # A role that only some environments have says so once instead of "dev: —" in every line.
    section = gen.roles_section({"prod": found, "staging": found, "dev": {"app": found["app"]}})
    assert "### BackupPlanTablesRole (only in staging, prod)\n\n- **name:** `(named by CloudFormation)`" in section
    assert "- **AWS-managed policies:** `AWSBackupServiceRolePolicyForBackup`" in section
    assert "—" not in section

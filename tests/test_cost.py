"""`make cost` (tools/cost/): a small fixture priced by hand, the real templates counted, the
workload validated, and the change summary's cost delta."""

from __future__ import annotations

import dataclasses

import pytest

import config
from config import ConfigError
from config.environments import ENVIRONMENTS
from config.model import WorkloadConfig
from tests.support import assembly_dir
from tools import cost, summary
from tools.assembly import Stack, load_stacks


def trail_with(*selectors: dict) -> dict:
    """A trail logging table writes and `selectors`."""
    table_writes = {
        "FieldSelectors": [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
            {"Field": "readOnly", "Equals": ["false"]},
        ]
    }
    return {
        "Type": "AWS::CloudTrail::Trail",
        "Properties": {
            "AdvancedEventSelectors": [table_writes, *selectors],
        },
    }


def _metric(name: str, period: int = 60) -> dict:
    return {"Metric": {"MetricName": name, "Namespace": "AWS/DynamoDB"}, "Period": period, "Stat": "Sum"}


KEYS = [{"AttributeName": "pk", "KeyType": "HASH"}]
KEYS_WITH_SORT = [*KEYS, {"AttributeName": "sk", "KeyType": "RANGE"}]
INSIGHTS = {"Enabled": True, "Mode": "ACCESSED_AND_THROTTLED_KEYS"}


def fixture_stacks() -> dict[str, Stack]:
    data = {
        "KeyA": {"Type": "AWS::KMS::Key"},
        "KeyB": {"Type": "AWS::KMS::Key"},
        "OneMetric": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "ThrottledRequests", "Period": 60}},
        "MathAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Metrics": [
                    {"Id": "e", "Expression": "SUM(METRICS())"},
                    {"Id": "a", "MetricStat": _metric("SystemErrors")},
                    {"Id": "b", "MetricStat": _metric("SystemErrors")},
                    {"Id": "c", "MetricStat": _metric("SystemErrors")},
                ]
            },
        },
        "FastAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "X", "Period": 10}},
        "Board": {"Type": "AWS::CloudWatch::Dashboard"},
        # On-demand Standard, PITR, Contributor Insights on the table (partition key only: 2
        # rules) and on its index (with a sort key: 4 rules).
        "Hot": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": KEYS,
                "GlobalSecondaryIndexes": [{"IndexName": "byTime", "KeySchema": KEYS_WITH_SORT}],
                "Replicas": [
                    {
                        "Region": "us-east-1",
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "ContributorInsightsSpecification": INSIGHTS,
                        "GlobalSecondaryIndexes": [{"IndexName": "byTime", "ContributorInsightsSpecification": INSIGHTS}],
                    }
                ],
            },
        },
        # On-demand Standard-IA, no PITR.
        "Cold": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "KeySchema": KEYS,
                "Replicas": [{"Region": "us-east-1", "TableClass": "STANDARD_INFREQUENT_ACCESS"}],
            },
        },
        # Provisioned, autoscaled: floors of 10 RCU and 5 WCU on the table and on its index.
        "Steady": {
            "Type": "AWS::DynamoDB::GlobalTable",
            "Properties": {
                "BillingMode": "PROVISIONED",
                "KeySchema": KEYS,
                "WriteProvisionedThroughputSettings": {"WriteCapacityAutoScalingSettings": {"MinCapacity": 5, "MaxCapacity": 50}},
                "GlobalSecondaryIndexes": [
                    {
                        "IndexName": "g",
                        "KeySchema": KEYS,
                        "WriteProvisionedThroughputSettings": {"WriteCapacityAutoScalingSettings": {"MinCapacity": 5, "MaxCapacity": 50}},
                    }
                ],
                "Replicas": [
                    {
                        "Region": "us-east-1",
                        "ReadProvisionedThroughputSettings": {"ReadCapacityAutoScalingSettings": {"MinCapacity": 10, "MaxCapacity": 100}},
                        "GlobalSecondaryIndexes": [
                            {
                                "IndexName": "g",
                                "ReadProvisionedThroughputSettings": {
                                    "ReadCapacityAutoScalingSettings": {"MinCapacity": 10, "MaxCapacity": 100}
                                },
                            }
                        ],
                    }
                ],
            },
        },
        "Plan": {
            "Type": "AWS::Backup::BackupPlan",
            "Properties": {
                "BackupPlan": {
                    "BackupPlanRule": [
                        {"RuleName": "daily", "ScheduleExpression": "cron(0 5 * * ? *)", "Lifecycle": {"DeleteAfterDays": 35}},
                        {
                            "RuleName": "monthly",
                            "ScheduleExpression": "cron(0 6 1 * ? *)",
                            "Lifecycle": {"MoveToColdStorageAfterDays": 30, "DeleteAfterDays": 365},
                        },
                    ]
                }
            },
        },
        "Selection": {
            "Type": "AWS::Backup::BackupSelection",
            "Properties": {"BackupSelection": {"Resources": [{"Fn::GetAtt": ["Hot", "Arn"]}, {"Fn::GetAtt": ["Cold", "Arn"]}]}},
        },
        "Delivery": {
            "Type": "AWS::KinesisFirehose::DeliveryStream",
            "Properties": {
                "ExtendedS3DestinationConfiguration": {"BucketARN": "arn:aws:s3:::archive", "Prefix": "sys/Hot/data/!{timestamp:yyyy}/"}
            },
        },
        "Archive": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "BucketName": "archive",
                "LifecycleConfiguration": {
                    "Rules": [
                        {
                            "Status": "Enabled",
                            "Prefix": "sys/Hot/",
                            "ExpirationInDays": 400,
                            "Transitions": [
                                {"StorageClass": "GLACIER", "TransitionInDays": 30},
                                {"StorageClass": "DEEP_ARCHIVE", "TransitionInDays": 120},
                            ],
                        }
                    ]
                },
            },
        },
        "Trail": trail_with(),
        "Budget": {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "fx", "BudgetLimit": {"Amount": 200}}}},
        "SystemBudget": {
            "Type": "AWS::Budgets::Budget",
            "Properties": {
                "Budget": {"BudgetName": "fx-sys", "BudgetLimit": {"Amount": 50}, "CostFilters": {"TagKeyValue": ["user:System$sys"]}}
            },
        },
    }
    database = {
        "Cluster": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {"ManageMasterUserPassword": True, "ServerlessV2ScalingConfiguration": {"MinCapacity": 0.5, "MaxCapacity": 4}},
        },
        "Writer": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"}, "DBInstanceClass": "db.serverless"},
        },
        "Reader": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"}, "DBInstanceClass": "db.serverless"},
        },
        "Proxy": {"Type": "AWS::RDS::DBProxy"},
        "Secrets": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Interface", "SubnetIds": ["a", "b"]}},
        "Dynamo": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}},
    }
    return {
        "fx-data-dev": Stack("fx-data-dev", "dev", {"Resources": data}, region="us-east-1"),
        "fx-database-dev": Stack("fx-database-dev", "dev", {"Resources": database}, region="us-east-1"),
    }


WORKLOAD = WorkloadConfig(read_million=30, write_million=6, table_gb=30, expired_million=1, item_kb=1, database_gb=10)

# Every figure worked out by hand from tools/prices.py (730 hours and 30.4 days a month).
EXPECTED = {
    ("fixed", "KMS customer-managed keys"): 2.00,  # 2 keys x 1.00
    ("fixed", "CloudWatch alarm metrics"): 0.40,  # 1 + 3 metrics (the expression is free) x 0.10
    ("fixed", "CloudWatch alarm metrics, high resolution"): 0.30,  # 1 x 0.30
    ("fixed", "CloudWatch dashboards"): 3.00,
    # The account's free tier, once (the fixture's budget stack is here): 1 dashboard of 3 free,
    # 4 standard alarm metrics of 10 free.
    ("fixed", "CloudWatch dashboards, free tier"): -3.00,
    ("fixed", "CloudWatch alarm metrics, free tier"): -0.40,
    ("fixed", "Contributor Insights rules"): 0.12,  # (2 table + 4 index) x 0.02
    ("fixed", "DynamoDB provisioned reads (floor)"): 1.898,  # 20 RCU x 730 h x 0.00013
    ("fixed", "DynamoDB provisioned writes (floor)"): 4.745,  # 10 WCU x 730 h x 0.00065
    ("fixed", "Aurora Serverless v2 minimum capacity"): 87.60,  # 0.5 ACU x 2 instances x 730 h x 0.12
    ("fixed", "RDS Proxy (at least 8 ACUs)"): 87.60,  # max(8, 1) ACU x 730 h x 0.015
    ("fixed", "VPC interface endpoints (per zone)"): 14.60,  # 1 endpoint x 2 zones x 730 h x 0.01
    ("fixed", "Secrets Manager secrets"): 0.40,  # the cluster's managed master secret
    # 30 M reads and 6 M writes over the 2 on-demand tables; 30 GB over all 3 tables.
    ("variable", "DynamoDB on-demand reads, Standard"): 1.875,  # 15 x 0.125
    ("variable", "DynamoDB on-demand reads, Standard-IA"): 2.34375,  # 15 x 0.15625
    ("variable", "DynamoDB on-demand writes, Standard"): 1.875,  # 3 x 0.625
    ("variable", "DynamoDB on-demand writes, Standard-IA"): 2.34375,  # 3 x 0.78125
    ("variable", "DynamoDB storage, Standard"): 5.00,  # 20 GB (Hot, Steady) x 0.25
    ("variable", "DynamoDB storage, Standard-IA"): 1.00,  # 10 GB x 0.10
    ("variable", "DynamoDB point-in-time recovery"): 2.00,  # 10 GB (Hot) x 0.20
    ("variable", "Contributor Insights events"): 3.24,  # 18 M requests of Hot x 6 rules x 0.03
    ("variable", "Aurora storage"): 1.00,  # 10 GB x 0.10
    ("variable", "CloudTrail data events (writes)"): 6.00,  # 6 M writes = 60 x 100,000 x 0.10
    ("variable", "Archive pipes (stream to buffer, buffer to Firehose)"): 0.44,  # 1 M x 1.1 x 0.40
    ("variable", "Archive buffer queue (send; receive and delete in batches)"): 0.48,  # 1 M x 1.2 x 0.40
    ("variable", "Firehose ingestion of expired items"): 0.1383,  # 1e6 x 5 KB / 1024^2 = 4.768 GB x 0.029
    # 1e6 x 1 KB / 1024^2 = 0.9537 GB a month, kept 30 days Standard, 90 Glacier, 280 Deep Archive.
    ("variable", "Archive storage at full retention, Standard"): 0.02165,  # 0.9537 x 30/30.4 x 0.023
    ("variable", "Archive storage at full retention, Glacier Flexible Retrieval"): 0.01017,  # 0.9537 x 90/30.4 x 0.0036
    ("variable", "Archive storage at full retention, Glacier Deep Archive"): 0.00870,  # 0.9537 x 280/30.4 x 0.00099
    # Hot and Cold (10 GB each) backed up: 35 daily + 30/30.4 of a monthly warm, 11.02 monthly cold.
    ("variable", "Table backups, warm"): 71.974,  # (35 + 0.9868) x 20 GB x 0.10
    ("variable", "Table backups, cold"): 6.612,  # (365 - 30) / 30.4 x 20 GB x 0.03
}


def test_fixture_is_priced_as_worked_out_by_hand():
    result = cost.estimate("dev", fixture_stacks().values(), WORKLOAD)
    got = {(line.group, line.item): line.usd for line in result.lines}
    assert got.keys() == EXPECTED.keys()
    for key, usd in EXPECTED.items():
        assert got[key] == pytest.approx(usd, abs=0.001), key
    assert result.total("fixed") == pytest.approx(199.263, abs=0.001)
    assert (result.budget_name, result.budget_usd) == ("fx", 200)  # the system budget is not the environment's
    assert result.fixed_over_half


def test_render_prints_every_line_the_total_the_budget_and_the_warning():
    text = cost.render(cost.estimate("dev", fixture_stacks().values(), WORKLOAD))
    for _, item in EXPECTED:
        assert item in text
    assert "  total " in text and "budget fx" in text
    assert "warning: dev: fixed cost alone (199.26 USD) is more than half of the budget (200.00 USD)" in text


def test_no_warning_when_fixed_cost_is_under_half_the_budget():
    stacks = fixture_stacks()
    data = stacks["fx-data-dev"]
    resources = dict(data.resources)
    resources["Budget"] = {"Type": "AWS::Budgets::Budget", "Properties": {"Budget": {"BudgetName": "fx", "BudgetLimit": {"Amount": 1000}}}}
    stacks["fx-data-dev"] = dataclasses.replace(data, template={"Resources": resources})
    result = cost.estimate("dev", stacks.values(), WORKLOAD)
    assert not result.fixed_over_half
    assert "warning" not in cost.render(result)


@pytest.mark.parametrize(
    ("schedule", "days"),
    [("cron(0 5 * * ? *)", 1), ("cron(0 6 1 * ? *)", 30.4), ("cron(0 6 ? * SUN *)", 7), ("rate(1 day)", 1)],
)
def test_backup_rule_intervals(schedule, days):
    assert cost.interval_days(schedule) == days


def test_every_environment_counts_what_its_templates_declare(synthesized):
    results = cost.estimates(synthesized)
    assert set(results) == set(ENVIRONMENTS)
    for env, result in results.items():
        stacks = [s for s in synthesized.values() if s.environment == env]
        quantity = {line.item: line.quantity for line in result.lines}
        kinds = [r["Type"] for s in stacks for r in s.resources.values()]
        assert quantity["KMS customer-managed keys"] == kinds.count("AWS::KMS::Key") > 0, env
        assert quantity["CloudWatch dashboards"] == kinds.count("AWS::CloudWatch::Dashboard") > 0, env
        assert quantity["CloudWatch alarm metrics"] >= kinds.count("AWS::CloudWatch::Alarm") > 0, env
        database = ENVIRONMENTS[env].database
        # The floors each environment declares: none where the writer pauses, no proxy where declined.
        assert quantity.get("Aurora Serverless v2 minimum capacity", 0) == database.min_capacity_acu * (1 + database.readers) * 730, env
        assert quantity.get("RDS Proxy (at least 8 ACUs)", 0) == (8 * 730 if database.proxy else 0), env
        assert ("RDS Proxy (at least 8 ACUs)" in quantity) == (kinds.count("AWS::RDS::DBProxy") == 1), env
        assert quantity["VPC interface endpoints (per zone)"] == ENVIRONMENTS[env].database.zone_count * 730, env
        assert result.budget_usd == ENVIRONMENTS[env].monthly_budget_usd, env
        assert result.total("variable") > 0, env
    prod = {line.item for line in results["prod"].lines}
    # What only prod declares: the read-and-write trail, off-site copies, insights on every hot key.
    assert {
        "CloudTrail data events (reads of PHI and audit tables)",
        "Backup copies to the off-site region",
        "Contributor Insights events",
    } <= prod
    assert "CloudTrail data events (writes)" in {line.item for line in results["staging"].lines}
    assert not any(line.item.startswith("CloudTrail") for line in results["dev"].lines)
    # Dev declines the proxy and pauses its writer (issue 28): its fixed cost is at most 40 USD.
    assert not ENVIRONMENTS["dev"].database.proxy and ENVIRONMENTS["dev"].database.min_capacity_acu == 0
    assert results["dev"].total("fixed") <= 40


def test_the_cli_prints_one_environment_and_refuses_bad_input(synthesized, capsys):
    root = assembly_dir(synthesized)
    assert cost.main(["--env", "dev", str(root)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Monthly estimate for dev, USD") and "Monthly estimate for prod" not in out
    assert cost.main(["--env", "qa", str(root)]) == 2
    assert "--env 'qa' is not an environment: one of dev, staging, prod" in capsys.readouterr().err
    assert cost.main([str(root / "nowhere")]) == 2
    assert "no synthesized cloud assembly here (run make synth first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("read_million", -1, "a number >= 0"),
        ("table_gb", "lots", "a number >= 0"),
        ("item_kb", 0, "a number of KB > 0 and <= 400"),
        ("database_average_acu", 100, "None (the minimum) or a number within database.min_capacity_acu..max_capacity_acu (0..4)"),
    ],
)
def test_workload_values_are_validated(field, value, allowed):
    dev = ENVIRONMENTS["dev"]
    bad = dataclasses.replace(dev, workload=dataclasses.replace(dev.workload, **{field: value}))
    with pytest.raises(ConfigError) as error:
        config.validate_all({**ENVIRONMENTS, "dev": bad})
    assert f"dev.workload.{field} = {value!r} is not allowed: {allowed}" in str(error.value)


def test_the_change_summary_shows_the_cost_delta(synthesized):
    baseline = load_stacks(assembly_dir(synthesized))
    platform = baseline["data-platform-dev"]
    resources = {**platform.resources, "ExtraKey": {"Type": "AWS::KMS::Key", "Properties": {}}}
    candidate = {**baseline, platform.name: dataclasses.replace(platform, template={**platform.template, "Resources": resources})}
    lines = summary.cost_delta(baseline, candidate)
    assert lines[0].startswith("### Estimated monthly cost")
    dev_row = next(line for line in lines if line.startswith("| dev | ") and line.count("|") == 6 and "+1.00" in line)
    assert dev_row.split("|")[4].strip() == "+1.00"
    assert "| dev | KMS customer-managed keys (fixed) |" in "\n".join(lines)
    assert "| prod | " in "\n".join(lines) and "+0.00" in "\n".join(lines)
    unchanged = summary.cost_delta(baseline, baseline)
    assert "No change to the estimate." in unchanged


def test_a_plain_table_is_priced_like_a_global_table_of_one_replica():
    plain = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PROVISIONED",
            "KeySchema": KEYS_WITH_SORT,
            "TableClass": "STANDARD_INFREQUENT_ACCESS",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "ProvisionedThroughput": {"ReadCapacityUnits": 4, "WriteCapacityUnits": 2},
            "ContributorInsightsSpecification": {"Enabled": True, "Mode": "THROTTLED_KEYS"},
            "GlobalSecondaryIndexes": [
                {"IndexName": "g", "KeySchema": KEYS, "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}
            ],
        },
    }
    (table,) = cost.tables([Stack("fx-dev", "dev", {"Resources": {"Plain": plain}})])
    assert table == cost.Table("fx-dev", "Plain", False, True, True, 1, 5, 3, (("THROTTLED_KEYS", 2),))


def test_each_system_is_priced_beside_its_own_budget_and_the_parts_add_up():
    stacks = fixture_stacks()
    database = stacks.pop("fx-database-dev")
    stacks["sys-database-dev"] = dataclasses.replace(database, name="sys-database-dev")
    result = cost.estimate("dev", stacks.values(), WORKLOAD)
    # The database stack is system "sys" (its name starts with the key its budget filters on):
    # Aurora floor 87.60 + RDS Proxy 87.60 + endpoint 14.60 + secret 0.40 + storage 1.00.
    assert set(result.systems) == {"sys", ""}
    assert result.systems["sys"][0] == pytest.approx(191.20, abs=0.001) and result.systems["sys"][1] == 50
    assert result.systems[""][1] is None
    assert sum(usd for usd, _ in result.systems.values()) == pytest.approx(result.total())
    text = cost.render(result)
    assert "system sys" in text and "budget 50.00, the estimate is 382% of it" in text
    assert "shared: platform, CI, off-site" in text


def test_only_an_environment_with_system_budgets_is_split_by_system(synthesized):
    results = cost.estimates(synthesized)
    prod = results["prod"]
    assert {k: v[1] for k, v in prod.systems.items()} == {**ENVIRONMENTS["prod"].system_budgets_usd, "": None}
    assert sum(usd for usd, _ in prod.systems.values()) == pytest.approx(prod.total())
    assert all(usd > 0 for usd, _ in prod.systems.values()), prod.systems
    assert not results["dev"].systems and not results["staging"].systems


def test_the_archive_streams_reads_are_priced_as_the_pipes_polls():
    """A stream selector of two tables: each shard polled four times a second all month, every
    poll a data event."""
    from tools.assembly import Stack
    from tools.cost.pricing import STREAM_POLLS_PER_MONTH, estimate

    trail = trail_with(
        {
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Stream"]},
                {
                    "Field": "resources.ARN",
                    "StartsWith": ["arn:aws:dynamodb:us-east-1:1:table/a/stream/", "arn:aws:dynamodb:us-east-1:1:table/b/stream/"],
                },
            ]
        }
    )
    stack = Stack(name="p-dev", environment="dev", template={"Resources": {"Trail": trail}})
    lines = {line.item: line.quantity for line in estimate("dev", [stack], WorkloadConfig()).lines}
    assert STREAM_POLLS_PER_MONTH == 4 * 86_400 * 30
    assert lines["CloudTrail data events (archive stream reads)"] == 2 * STREAM_POLLS_PER_MONTH / 1e6 * 10  # per 100,000


def test_restore_tests_are_priced_per_gb_restored_on_the_plans_schedule():
    """Weekly runs (DAYS_PER_MONTH / 7 a month), each restoring every selected table, the
    workload's GB spread over the environment's tables. The plan is in another stack."""
    from tools.assembly import Stack
    from tools.cost.pricing import DAYS_PER_MONTH, estimate

    table = {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {"Replicas": [{"Region": "us-east-1"}]}}
    plan = {"Type": "AWS::Backup::RestoreTestingPlan", "Properties": {"ScheduleExpression": "cron(0 7 ? * SUN *)"}}
    selection = {
        "Type": "AWS::Backup::RestoreTestingSelection",
        "Properties": {"ProtectedResourceType": "DynamoDB", "ProtectedResourceArns": [{"Fn::GetAtt": [t, "Arn"]} for t in ("A", "B")]},
    }
    cluster = {
        "Type": "AWS::Backup::RestoreTestingSelection",
        "Properties": {"ProtectedResourceType": "Aurora", "ProtectedResourceArns": ["c"]},
    }
    system = Stack(name="s-dev", environment="dev", template={"Resources": {"A": table, "B": table, "T": selection, "C": cluster}})
    platform = Stack(name="p-dev", environment="dev", template={"Resources": {"Plan": plan}})
    lines = {line.item: line.quantity for line in estimate("dev", [system, platform], WorkloadConfig(table_gb=10)).lines}
    assert lines["Restore tests (table restores)"] == pytest.approx(DAYS_PER_MONTH / 7 * 2 * 5)  # 2 tables of 5 GB each


def test_trail_reads_are_priced_for_the_tables_whose_reads_it_logs():
    """Writes of every table; reads only of the tables a reads selector names (the PHI and audit
    ones), the workload's reads spread evenly: here 1 table of 4."""
    from tools.assembly import Stack
    from tools.cost.pricing import estimate

    def selector(arns: list[str], *, writes_only: bool) -> dict:
        fields = [
            {"Field": "eventCategory", "Equals": ["Data"]},
            {"Field": "resources.type", "Equals": ["AWS::DynamoDB::Table"]},
            {"Field": "resources.ARN", "StartsWith": arns},
        ]
        return {"FieldSelectors": fields + ([{"Field": "readOnly", "Equals": ["false"]}] if writes_only else [])}

    tables = [f"arn:aws:dynamodb:us-east-1:1:table/t{i}" for i in range(4)]
    trail = {
        "Type": "AWS::CloudTrail::Trail",
        "Properties": {"AdvancedEventSelectors": [selector(tables, writes_only=True), selector(tables[:1], writes_only=False)]},
    }
    stack = Stack(name="p-prod", environment="prod", template={"Resources": {"Trail": trail}})
    lines = {line.item: line.quantity for line in estimate("prod", [stack], WorkloadConfig(read_million=100, write_million=20)).lines}
    assert lines["CloudTrail data events (writes)"] == 20 * 10  # per 100,000 events
    assert lines["CloudTrail data events (reads of PHI and audit tables)"] == 100 * 0.25 * 10


def test_every_price_has_its_source_and_the_day_it_was_read():
    """make cost stays honest: a price without a source or a date is a guess nobody can check."""
    import datetime

    from tools.prices import AS_OF, PRICES

    assert len(PRICES) > 20
    for key, price in PRICES.items():
        assert price.source.startswith("https://aws.amazon.com/"), key
        read = datetime.date.fromisoformat(price.as_of)
        assert read <= datetime.date.fromisoformat(AS_OF) + datetime.timedelta(days=30), key
        assert price.checked == "confirmed" or price.checked.startswith(("derived", "unconfirmed")), key
        assert price.usd > 0 and price.per, key


def test_a_paused_cluster_without_a_proxy_has_no_floor_and_pays_for_its_use():
    """Dev's shape (issue 28): MinCapacity 0 with auto-pause, no proxy. Worked out by hand:
    0.15 average ACU x 1 instance x 730 h x 0.12 = 13.14 USD of use, no fixed database line."""
    database = {
        "Cluster": {
            "Type": "AWS::RDS::DBCluster",
            "Properties": {
                "ManageMasterUserPassword": True,
                "ServerlessV2ScalingConfiguration": {"MinCapacity": 0, "MaxCapacity": 4, "SecondsUntilAutoPause": 1800},
            },
        },
        "Writer": {
            "Type": "AWS::RDS::DBInstance",
            "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"}, "DBInstanceClass": "db.serverless"},
        },
    }
    stack = Stack("fx-database-dev", "dev", {"Resources": database}, region="us-east-1")
    result = cost.estimate("dev", [stack], dataclasses.replace(WORKLOAD, database_average_acu=0.15))
    got = {(line.group, line.item): line.usd for line in result.lines}
    assert got[("variable", "Aurora Serverless v2 capacity above the minimum")] == pytest.approx(13.14, abs=0.001)
    assert got[("variable", "Aurora storage")] == pytest.approx(1.00, abs=0.001)
    assert not [item for group, item in got if "Proxy" in item or item == "Aurora Serverless v2 minimum capacity"]
    assert result.total("fixed") == pytest.approx(0.40, abs=0.001)  # the master secret alone


def test_a_strong_tables_writes_are_paid_in_each_replica_and_not_in_its_witness():
    """MRSC bills replicated writes like MREC; a witness region stores and writes nothing
    billable (DynamoDB pricing). Worked out by hand: 6 M writes x 2 replicas x 0.625 = 7.50."""
    strong = {
        "Type": "AWS::DynamoDB::GlobalTable",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": KEYS,
            "MultiRegionConsistency": "STRONG",
            "GlobalTableWitnesses": [{"Region": "us-west-2"}],
            "Replicas": [{"Region": "us-east-1"}, {"Region": "us-east-2"}],
        },
    }
    stack = Stack("fx-dev", "dev", {"Resources": {"Strong": strong}}, region="us-east-1")
    (table,) = cost.tables([stack])
    assert table.replicas == 2
    result = cost.estimate("dev", [stack], WORKLOAD)
    got = {line.item: line.usd for line in result.lines}
    assert got["DynamoDB on-demand writes, Standard"] == pytest.approx(7.50, abs=0.001)

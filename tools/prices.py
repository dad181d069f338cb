"""The price table `make cost` uses: AWS list prices in us-east-1, dated, each with its source.

Kept by hand because no price API is reachable offline (and the AWS Price List API needs
credentials). Review it when AWS announces a price change, and move the entry's `as_of` (and
AS_OF, which the estimate prints) with it, so a stale price is visible to everyone who reads
an estimate. Free tiers are left out, but for CloudWatch's (3 dashboards, 10 alarm metrics a
month): each environment has its own account, and whether a dashboard costs anything is a
decision config makes per environment (tools/cost/pricing.py counts it once per account).
"""

from __future__ import annotations

from dataclasses import dataclass

# The day this table was compiled. The pricing pages render their tables with JavaScript, so
# the figures were read from AWS's Price List data as infracost's golden files and AWS's own
# aws/agent-toolkit-for-aws quote it; each entry names its source, and `checked` says how
# sure it is ("derived" and "unconfirmed" entries are the first to verify against the page).
AS_OF = "2026-12-02"
REGION = "us-east-1"
HOURS_PER_MONTH = 730  # AWS's own convention in its pricing examples
DAYS_PER_MONTH = 30.4


@dataclass(frozen=True)
class Price:
    usd: float
    per: str  # the unit one `usd` buys, as the pricing page says it
    source: str
    checked: str = "confirmed"  # "confirmed" in Price List data, "derived" from a documented ratio, or "unconfirmed"
    as_of: str = AS_OF  # the day this price was read from its source


DYNAMODB = "https://aws.amazon.com/dynamodb/pricing/"
CLOUDWATCH = "https://aws.amazon.com/cloudwatch/pricing/"
AURORA = "https://aws.amazon.com/rds/aurora/pricing/"
RDS_PROXY = "https://aws.amazon.com/rds/proxy/pricing/"
S3 = "https://aws.amazon.com/s3/pricing/"
BACKUP = "https://aws.amazon.com/backup/pricing/"

PRICES: dict[str, Price] = {
    # DynamoDB (on-demand prices as cut on 2024-11-01).
    "dynamodb.write.standard": Price(0.625, "million write request units", DYNAMODB),
    "dynamodb.read.standard": Price(0.125, "million read request units", DYNAMODB),
    "dynamodb.write.standard_ia": Price(0.78125, "million write request units", DYNAMODB, "derived: 125% of Standard"),
    "dynamodb.read.standard_ia": Price(0.15625, "million read request units", DYNAMODB, "derived: 125% of Standard"),
    "dynamodb.wcu_hour": Price(0.00065, "WCU-hour", DYNAMODB),
    "dynamodb.rcu_hour": Price(0.00013, "RCU-hour", DYNAMODB),
    "dynamodb.storage.standard": Price(0.25, "GB-month", DYNAMODB),
    "dynamodb.storage.standard_ia": Price(0.10, "GB-month", DYNAMODB, "derived: 40% of Standard"),
    "dynamodb.pitr": Price(0.20, "GB-month", DYNAMODB),
    "dynamodb.contributor_insights.rule": Price(0.02, "rule-month", CLOUDWATCH, "unconfirmed"),
    "dynamodb.contributor_insights.events": Price(0.03, "million events", CLOUDWATCH, "unconfirmed"),
    # AWS Backup of DynamoDB (advanced features: cold storage needs them).
    "backup.dynamodb.warm": Price(0.10, "GB-month", BACKUP, "unconfirmed: the on-demand backup price, which it matches elsewhere"),
    "backup.dynamodb.cold": Price(0.03, "GB-month", BACKUP, "unconfirmed"),
    "backup.aurora": Price(0.021, "GB-month", BACKUP),
    "backup.dynamodb.restore": Price(
        0.15, "GB restored", BACKUP, "unconfirmed: DynamoDB's restore price, which AWS Backup's matches elsewhere", as_of="2026-12-07"
    ),
    # us-east-1 to us-west-2 (to us-east-2 it is 0.01); AWS Backup copies pay it too (unconfirmed).
    "transfer.inter_region": Price(0.02, "GB", "https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer"),
    # CloudWatch.
    "cloudwatch.alarm.metric": Price(0.10, "alarm metric-month (standard resolution)", CLOUDWATCH),
    "cloudwatch.alarm.metric_high_resolution": Price(0.30, "alarm metric-month (high resolution)", CLOUDWATCH),
    "cloudwatch.dashboard": Price(3.00, "dashboard-month", CLOUDWATCH),
    # KMS.
    "kms.key": Price(1.00, "key-month (each rotation adds 1.00, for the first two)", "https://aws.amazon.com/kms/pricing/"),
    # Aurora PostgreSQL Serverless v2 (Aurora Standard storage configuration).
    "aurora.acu_hour": Price(0.12, "ACU-hour", AURORA),
    "aurora.storage": Price(0.10, "GB-month", AURORA),
    # Paid Performance Insights retention (more than the free 7 days), per ACU of the floor.
    "aurora.performance_insights": Price(0.375, "ACU-month beyond 7 days' retention", AURORA, "derived from infracost's figure"),
    # RDS Proxy in front of Serverless v2: per ACU of the instances, at least 8 ACUs.
    "rds_proxy.acu_hour": Price(0.015, "ACU-hour (minimum 8 ACUs)", RDS_PROXY, "unconfirmed rate; the 8-ACU minimum is confirmed"),
    # PrivateLink interface endpoints: every endpoint pays per zone it has a subnet in.
    "vpc.interface_endpoint": Price(0.01, "endpoint-zone-hour", "https://aws.amazon.com/privatelink/pricing/"),
    "secretsmanager.secret": Price(0.40, "secret-month", "https://aws.amazon.com/secrets-manager/pricing/"),
    "cloudtrail.data_event": Price(0.10, "100,000 data events", "https://aws.amazon.com/cloudtrail/pricing/"),
    # S3 (first 50 TB tier of Standard).
    "s3.standard": Price(0.023, "GB-month", S3),
    "s3.glacier": Price(0.0036, "GB-month", S3),
    "s3.deep_archive": Price(0.00099, "GB-month", S3),
    # The archive pipeline, per expired item.
    "pipes.request": Price(0.40, "million requests (64 KB chunks)", "https://aws.amazon.com/eventbridge/pricing/", "unconfirmed"),
    "sqs.request": Price(0.40, "million requests", "https://aws.amazon.com/sqs/pricing/"),
    "firehose.ingest": Price(0.029, "GB ingested (records rounded up to 5 KB)", "https://aws.amazon.com/firehose/pricing/", "unconfirmed"),
    # Budgets without actions, like every budget here, are free: no entry.
}

"""The three environments' values. Ops change deployment settings here, in a reviewed pull request.

The account ids are placeholders that let `cdk synth` run offline; replace them with the real
ones (see README, "Environments and config"). Everything else is a real default.
"""

from config.alarms import alarm_thresholds
from config.model import (
    AccessConfig,
    AlarmConfig,
    AlertConfig,
    ArchiveConfig,
    AuditTrailConfig,
    BackupConfig,
    BackupRuleConfig,
    BillingConfig,
    DatabaseConfig,
    DatabasePerson,
    EnvironmentConfig,
    KeyConfig,
    OffsiteConfig,
    PitrConfig,
    RestoreTestingConfig,
    SlackConfig,
    WorkloadConfig,
)

REGION = "us-east-1"  # the seeds' region

# Daily backups kept for PITR's 35 days; monthly backups moved to cold storage after a month
# and kept a year (the example), beyond PITR's reach.
DAILY = BackupRuleConfig(name="daily", schedule="cron(0 5 * * ? *)", delete_after_days=35)
MONTHLY = BackupRuleConfig(name="monthly", schedule="cron(0 6 1 * ? *)", move_to_cold_storage_after_days=30, delete_after_days=365)
# PersonalPod's cluster: the same schedule, none in cold storage (AWS Backup offers none for Aurora).
DATABASE_MONTHLY = BackupRuleConfig(name="monthly", schedule="cron(0 6 1 * ? *)", delete_after_days=365)

DEV = EnvironmentConfig(
    name="dev",
    account="111111111111",
    region=REGION,
    # Test data, rebuilt rather than restored.
    protection="rebuildable",
    deploy_order=0,
    # Lower cost and easy teardown, as the fusion-health seed's development example does.
    # A hard ceiling on each table's on-demand requests: a runaway test loop is throttled, not billed.
    billing=BillingConfig(max_read_request_units=200, max_write_request_units=100),
    pitr=PitrConfig(enabled=False, recovery_period_days=35),
    deletion_protection=False,
    removal_policy="destroy",
    termination_protection=False,
    # One page: the overview of every alarm (the systems' and database's pages cost 3 USD each).
    dashboards="overview",
    alarms=AlarmConfig(
        thresholds=alarm_thresholds(
            throttle_events=10,
            system_errors=5,
            user_errors=50,
            latency_ms=250,
            database_cpu_percent=90,
            database_freeable_memory_mib=256,
            database_connections=300,
            database_acu_percent=95,
        ),
        # Dev alarms on the account only (and the archive's own): its tables and instance are
        # rebuildable, and 500 alarm metrics cost 50 USD a month there (docs/cost.md).
        scopes=("account",),
    ),
    alerts=AlertConfig(emails=("dev-alerts@example.com",)),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::111111111111:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::111111111111:role/DataMigration",),
    ),
    keys=KeyConfig(
        administrator_arns=("arn:aws:iam::111111111111:role/KeyAdministrator",), break_glass_arn="arn:aws:iam::111111111111:role/BreakGlass"
    ),
    # `make cost ENV=dev`: about 25 USD a month fixed (the Secrets Manager endpoint 15, keys 9)
    # now that dev declines the proxy, per-resource alarms and system dashboards, and its
    # database pauses when idle (docs/cost.md, "Decisions").
    monthly_budget_usd=100,
    access_log_retention_days=90,
    database=DatabaseConfig(
        # Who signs in to the database as themselves (make db-bootstrap creates the users), and
        # what runs make db-bootstrap: the only reader of the master secret (docs/database.md).
        people=(DatabasePerson(name="dba_oncall", principal_arn="arn:aws:iam::111111111111:role/DatabaseOnCall"),),
        bootstrap_principal_arn="arn:aws:iam::111111111111:role/DatabaseBootstrap",
        vpc_cidr="10.40.0.0/16",
        # Two zones: the fewest RDS and RDS Proxy accept, and fewer interface-endpoint ENIs.
        zone_count=2,
        # No proxy (its 8-ACU minimum was 88 USD a month, more than all of dev's work): the app
        # signs in to the writer with IAM tokens and TLS. Without a proxy holding connections
        # open, the writer pauses at 0 ACUs after half an hour idle; the next connection waits
        # for it to resume (docs/cost.md).
        proxy=False,
        min_capacity_acu=0,
        auto_pause_minutes=30,
        max_capacity_acu=4,
        readers=0,
        backup_retention_days=1,
        # On even in dev: the compliance packs require it. Tear dev down by switching it off
        # with the RDS API first; there is no final snapshot of dev data.
        deletion_protection=True,
        removal_policy="destroy",
        performance_insights_retention_days=7,
        log_retention_days=30,
        monitoring_interval_seconds=60,
    ),
    # Assumed, not measured (docs/cost.md): a handful of developers and test runs.
    # The database: about 1 ACU for 110 hours a month (working days), paused otherwise.
    workload=WorkloadConfig(read_million=10, write_million=3, table_gb=2, expired_million=0.1, database_gb=2, database_average_acu=0.15),
    tags={"CostCenter": "data-platform-dev"},
)

STAGING = EnvironmentConfig(
    name="staging",
    account="222222222222",
    region=REGION,
    protection="protected",
    deploy_order=1,
    billing=BillingConfig(max_read_request_units=2000, max_write_request_units=1000),
    contributor_insights="THROTTLED_KEYS",
    pitr=PitrConfig(enabled=True, recovery_period_days=35),
    deletion_protection=True,
    removal_policy="retain",
    termination_protection=True,
    alarms=AlarmConfig(
        thresholds=alarm_thresholds(throttle_events=5, system_errors=1, user_errors=25, latency_ms=100, database_connections=1000)
    ),
    alerts=AlertConfig(emails=("data-alerts@example.com",)),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::222222222222:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::222222222222:role/DataMigration",),
    ),
    keys=KeyConfig(
        administrator_arns=("arn:aws:iam::222222222222:role/KeyAdministrator",), break_glass_arn="arn:aws:iam::222222222222:role/BreakGlass"
    ),
    monthly_budget_usd=1000,
    # Governance mode: staging's audit archive is protected, but an administrator can clean it up.
    archive=ArchiveConfig(audit_object_lock="GOVERNANCE"),
    # A governance-mode lock: staging's backups are test data that a key administrator may need to
    # clean up, and a compliance lock could never be loosened; prod's is compliance.
    backup=BackupConfig(
        enabled=True,
        rules=(DAILY, MONTHLY),
        vault_lock_min_retention_days=35,
        vault_lock_max_retention_days=2555,
        vault_lock_mode="governance",
        restore_principal_arns=("arn:aws:iam::222222222222:role/DataRestore",),
        # Every table and the cluster restored each week, kept 2 hours, then deleted (docs/restore.md).
        restore_testing=RestoreTestingConfig(),
    ),
    # Writes only: staging holds test data, and reads are most of the events.
    # Management events too: the tamper alerts (EventBridge) read them. The first copy of an
    # account's management events is free; an account whose own trail logs them already can
    # switch this off and rely on that (docs/security.md).
    audit_trail=AuditTrailConfig(mode="create", read_events=False, management_events=True, object_lock="GOVERNANCE", retention_days=365),
    # Staging mirrors prod's topology (a reader to fail over to) at a smaller capacity ceiling.
    database=DatabaseConfig(
        # Who signs in to the database as themselves (make db-bootstrap creates the users), and
        # what runs make db-bootstrap: the only reader of the master secret (docs/database.md).
        people=(DatabasePerson(name="dba_oncall", principal_arn="arn:aws:iam::222222222222:role/DatabaseOnCall"),),
        bootstrap_principal_arn="arn:aws:iam::222222222222:role/DatabaseBootstrap",
        vpc_cidr="10.41.0.0/16",
        zone_count=3,
        min_capacity_acu=0.5,
        max_capacity_acu=16,
        readers=1,
        backup_retention_days=7,
        deletion_protection=True,
        removal_policy="snapshot",
        performance_insights_retention_days=7,
        log_retention_days=90,
        monitoring_interval_seconds=60,
        backup_rules=(DAILY, DATABASE_MONTHLY),
    ),
    # Assumed, not measured (docs/cost.md): integration and load tests at a tenth of prod.
    workload=WorkloadConfig(read_million=60, write_million=20, table_gb=20, expired_million=2, database_gb=20),
    tags={"CostCenter": "data-platform-staging"},
)

PROD = EnvironmentConfig(
    name="prod",
    account="333333333333",
    region=REGION,
    # Users' PHI: every protection is required, not a choice (config/model.py, DataProtection).
    protection="production",
    deploy_order=2,
    # Which keys are hot, not only which are throttled: prod's load is the one worth reading.
    contributor_insights="ACCESSED_AND_THROTTLED_KEYS",
    # The fusion-health seed: provisioned capacity for production's steady load, autoscaled.
    billing_overrides={
        "fusion-health": BillingConfig(
            mode="PROVISIONED", read_capacity=10, write_capacity=5, max_read_capacity=100, max_write_capacity=50
        ),
    },
    pitr=PitrConfig(enabled=True, recovery_period_days=35),
    deletion_protection=True,
    removal_policy="retain",
    termination_protection=True,
    alarms=AlarmConfig(
        thresholds=alarm_thresholds(
            throttle_events=1,
            system_errors=1,
            user_errors=10,
            latency_ms=50,
            database_cpu_percent=75,
            database_freeable_memory_mib=1024,
            database_connections=2000,
            database_acu_percent=85,
            database_replica_lag_ms=1000,
        ),
        evaluation_periods=3,
        datapoints_to_alarm=2,
    ),
    # The daylight seed's three channels: email, Slack (through AWS Chatbot) and an external SNS topic.
    alerts=AlertConfig(
        emails=("data-oncall@example.com",),
        external_topic_arn="arn:aws:sns:us-east-1:333333333333:pagerduty-data-oncall",
        slack=SlackConfig(workspace_id="T00000000", channel_id="C00000000"),
    ),
    access=AccessConfig(
        readonly_principal_arns=("arn:aws:iam::333333333333:role/DataAnalyst",),
        migration_principal_arns=("arn:aws:iam::333333333333:role/DataMigration",),
    ),
    keys=KeyConfig(
        administrator_arns=("arn:aws:iam::333333333333:role/KeyAdministrator",), break_glass_arn="arn:aws:iam::333333333333:role/BreakGlass"
    ),
    monthly_budget_usd=5000,
    # Each system's own share, so one system's runaway cost is named, not just the total's.
    system_budgets_usd={"daylight": 1500, "personalpod": 1500, "madmall": 800, "fusion-health": 500, "therapeutic-wave": 500},
    access_log_retention_days=730,
    # Compliance mode: no one, root included, can delete an audit archive before its 7 years.
    archive=ArchiveConfig(audit_object_lock="COMPLIANCE"),
    # Room for the seeds' seven years in the lock's maximum: a compliance lock cannot change later.
    backup=BackupConfig(
        enabled=True,
        rules=(DAILY, MONTHLY),
        vault_lock_min_retention_days=35,
        vault_lock_max_retention_days=2555,
        restore_principal_arns=("arn:aws:iam::333333333333:role/DataRestore",),
        # Every table and the cluster restored each week, kept 2 hours, then deleted (docs/restore.md).
        restore_testing=RestoreTestingConfig(),
    ),
    # Who read which PHI, as well as who changed it, kept the seeds' 7 years under Compliance lock.
    audit_trail=AuditTrailConfig(mode="create", read_events=True, management_events=True, object_lock="COMPLIANCE", retention_days=2555),
    # Off-site copies: backups and the audit archive in a second region, locked like the first.
    # The tables' off-site copies in a logically air-gapped vault there; set the multi-party
    # approval team (offsite.mpa_approval_team_arn) once it exists: it cannot be taken back.
    offsite=OffsiteConfig(
        region="us-west-2",
        air_gapped=True,
        # The latest daily copy is what a lost region needs: a week of them off-site, not 35
        # (PITR and the primary vault keep 35 days); monthly copies as long as the originals.
        table_copy_days={"daily": 7},
    ),
    # PersonalPod's primary store: a warm floor, a reader in another zone, Aurora's longest
    # continuous-backup window and a final snapshot if the cluster is ever deleted.
    database=DatabaseConfig(
        # Who signs in to the database as themselves (make db-bootstrap creates the users), and
        # what runs make db-bootstrap: the only reader of the master secret (docs/database.md).
        people=(DatabasePerson(name="dba_oncall", principal_arn="arn:aws:iam::333333333333:role/DatabaseOnCall"),),
        bootstrap_principal_arn="arn:aws:iam::333333333333:role/DatabaseBootstrap",
        vpc_cidr="10.42.0.0/16",
        zone_count=3,
        min_capacity_acu=2,
        max_capacity_acu=64,
        readers=1,
        backup_retention_days=35,
        deletion_protection=True,
        removal_policy="snapshot",
        performance_insights_retention_days=93,
        log_retention_days=365,
        monitoring_interval_seconds=15,
        backup_rules=(DAILY, DATABASE_MONTHLY),
    ),
    # Assumed, not measured (docs/cost.md): replace with a month of ConsumedRead/WriteCapacityUnits
    # and TimeToLiveDeletedItemCount once prod runs.
    workload=WorkloadConfig(
        read_million=600, write_million=150, table_gb=300, expired_million=20, item_kb=2, database_gb=200, database_average_acu=4
    ),
    tags={"CostCenter": "data-platform-prod"},
)

ENVIRONMENTS = {cfg.name: cfg for cfg in (DEV, STAGING, PROD)}

"""Plain data types that describe a DynamoDB table: the input of `DataTable`.

They import nothing from CDK so config validation, docs and local tools can read the
table catalogue without building a construct tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

KeyType = Literal["S", "N", "B"]
# What a table's items or keys hold: the controls that depend on it read this one field
# (docs/security.md, "What a table holds"). "phi": items hold protected health information;
# "phi-keys": a key of the table or an index is itself a health value (a medication, a pain
# level); "secret-keys": a key is a bearer secret (a session id, a token): knowing it is access;
# "audit": audit evidence, insert-only. An empty tuple says it holds none of these: a reviewed
# decision with its reason in docs/data-model/decisions.md.
Holding = Literal["phi", "phi-keys", "secret-keys", "audit"]
HOLDINGS: tuple[Holding, ...] = ("phi", "phi-keys", "secret-keys", "audit")
# Keys whose values must not appear in metrics (Contributor Insights' top keys) or reach analysts.
SENSITIVE_KEYS: frozenset[str] = frozenset({"phi-keys", "secret-keys"})
InsightsMode = Literal["THROTTLED_KEYS", "ACCESSED_AND_THROTTLED_KEYS"]
INSIGHTS_MODES: tuple[InsightsMode, ...] = ("THROTTLED_KEYS", "ACCESSED_AND_THROTTLED_KEYS")  # narrowest first
Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
TableClass = Literal["STANDARD", "STANDARD_INFREQUENT_ACCESS"]


@dataclass(frozen=True)
class Key:
    name: str
    type: KeyType = "S"


@dataclass(frozen=True, kw_only=True)
class IndexSpec:
    name: str
    partition_key: Key
    sort_key: Key | None = None
    projection: Projection = "ALL"
    include: tuple[str, ...] = ()
    # The access pattern this index exists for; it goes into the data-model docs.
    serves: str
    # What this index's keys add to the table's holdings (e.g. "phi-keys": keyed by a medication).
    holds: tuple[Holding, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LocalIndexSpec:
    """A local secondary index: the table's partition key, another sort key. Only at creation:
    the deploy guard refuses adding or removing one later (it replaces the table)."""

    name: str
    sort_key: Key
    projection: Projection = "ALL"
    include: tuple[str, ...] = ()
    serves: str


@dataclass(frozen=True, kw_only=True)
class WarmThroughput:
    """Capacity DynamoDB pre-warms for an expected spike (billed once, on change)."""

    read_units_per_second: int | None = None
    write_units_per_second: int | None = None


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    # Stable short id. It becomes the construct id and the pinned logical id
    # (`Table<Id>`), so renaming it would replace the table: never change it.
    id: str
    # Physical name with an `{env}` placeholder, e.g. "therapeutic-wave-users-{env}".
    name: str
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None
    # What the base table's key serves; it goes into the data-model docs.
    serves: str
    # What its items and keys hold (Holding): no default, so a new table says.
    holds: tuple[Holding, ...]
    description: str = ""
    local_indexes: tuple[LocalIndexSpec, ...] = ()
    # Standard-IA for storage-heavy, rarely read tables: storage 60% cheaper, requests dearer.
    table_class: TableClass = "STANDARD"
    # A hot table (the busiest keys matter): the most Contributor Insights it gets, where the
    # environment's contributor_insights allows it. Tables or indexes with sensitive keys get
    # THROTTLED_KEYS at most: an accessed-keys report lists the keys (validation refuses more).
    insights: InsightsMode | None = None
    warm_throughput: WarmThroughput | None = None
    # This table's own alarm thresholds over the environment's, by the catalogue's threshold
    # names (config/alarms.py), e.g. {"latency_ms": 500} for a table whose queries are slow by design.
    alarm_thresholds: Mapping[str, int] = field(default_factory=dict)

    @property
    def logical_id(self) -> str:
        return f"Table{self.id}"

    @property
    def all_holdings(self) -> frozenset[str]:
        """What the table and every index hold."""
        return frozenset(self.holds).union(*(index.holds for index in self.indexes))

    @property
    def sensitive_keys(self) -> frozenset[str]:
        """The holdings that make its keys (or an index's) sensitive."""
        return self.all_holdings & SENSITIVE_KEYS


@dataclass(frozen=True, kw_only=True)
class LeadingKeys:
    """A `dynamodb:LeadingKeys` restriction for a tenant-facing role.

    `patterns` are partition-key values with IAM policy variables, e.g.
    "USER#${aws:PrincipalTag/userId}"; `tables` names the table ids it confines: a table opts in
    by being listed (a new table never inherits it); `indexes` names the indexes of those tables
    the role may query. Config validation checks that each pattern can match each listed
    table's partition key (config/rules/catalogue.py).
    """

    patterns: tuple[str, ...]
    session_tags: tuple[str, ...]
    tables: tuple[str, ...]
    indexes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SystemSpec:
    key: str  # "daylight"; used in stack, role and alias names
    title: str
    seed: str  # the seed document this system is declared from
    tables: tuple[TableSpec, ...]
    # Seeds that migrate data into DynamoDB get a data-migration role.
    migration_role: bool
    tenant_isolation: LeadingKeys | None = None
    # A dedicated KMS key for the application's field-level (envelope) encryption.
    field_encryption: bool = False

    def table(self, table_id: str) -> TableSpec:
        for spec in self.tables:
            if spec.id == table_id:
                return spec
        raise KeyError(f"{self.key} has no table {table_id!r}")

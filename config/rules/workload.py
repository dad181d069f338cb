"""The workload the cost estimate assumes: non-negative figures within the services' limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.specs import SystemSpec

from config.rules.aws import number


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    w = cfg.workload
    for name in ("read_million", "write_million", "table_gb", "expired_million", "database_gb"):
        value = getattr(w, name)
        p.check(number(value) and value >= 0, f"workload.{name}", value, "a number >= 0")
    p.check(
        number(w.item_kb) and 0 < w.item_kb <= 400, "workload.item_kb", w.item_kb, "a number of KB > 0 and <= 400 (DynamoDB's item limit)"
    )
    acu = w.database_average_acu
    db = cfg.database
    if acu is not None:
        p.check(
            number(acu) and db.min_capacity_acu <= acu <= db.max_capacity_acu,
            "workload.database_average_acu",
            acu,
            f"None (the minimum) or a number within database.min_capacity_acu..max_capacity_acu ({db.min_capacity_acu}..{db.max_capacity_acu})",
        )

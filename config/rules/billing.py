"""Billing: on-demand ceilings, or provisioned capacity with autoscaling, per environment and per system."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.errors import Problems

if TYPE_CHECKING:
    from collections.abc import Sequence

    from config.model import EnvironmentConfig
    from constructs_lib.props import TableBilling
    from constructs_lib.specs import SystemSpec


def check(p: Problems, cfg: EnvironmentConfig, systems: Sequence[SystemSpec]) -> None:
    keys = [s.key for s in systems]
    _billing(p, "billing", cfg.billing)
    for system, billing in cfg.billing_overrides.items():
        p.check(system in keys, f"billing_overrides[{system!r}]", system, "a system key: " + ", ".join(keys))
        _billing(p, f"billing_overrides[{system!r}]", billing)


def _billing(p: Problems, key: str, billing: TableBilling) -> None:
    p.check(billing.mode in ("PAY_PER_REQUEST", "PROVISIONED"), f"{key}.mode", billing.mode, "PAY_PER_REQUEST or PROVISIONED")
    capacities = ("read_capacity", "write_capacity", "max_read_capacity", "max_write_capacity")
    if billing.mode == "PROVISIONED":
        for name in capacities:
            p.positive(f"{key}.{name}", getattr(billing, name))
        read, write = billing.read_capacity, billing.write_capacity
        max_read, max_write = billing.max_read_capacity, billing.max_write_capacity
        if isinstance(read, int) and isinstance(write, int) and isinstance(max_read, int) and isinstance(max_write, int):
            p.check(max_read >= read, f"{key}.max_read_capacity", max_read, f">= read_capacity ({read})")
            p.check(max_write >= write, f"{key}.max_write_capacity", max_write, f">= write_capacity ({write})")
        p.check(
            20 <= billing.target_utilization_percent <= 90,
            f"{key}.target_utilization_percent",
            billing.target_utilization_percent,
            "20-90 (DynamoDB autoscaling's range)",
        )
        for name in ("max_read_request_units", "max_write_request_units"):
            p.check(
                getattr(billing, name) is None, f"{key}.{name}", getattr(billing, name), "unset when mode is PROVISIONED (on-demand only)"
            )
    else:
        for name in capacities:
            p.check(getattr(billing, name) is None, f"{key}.{name}", getattr(billing, name), "unset when mode is PAY_PER_REQUEST")
        for name in ("max_read_request_units", "max_write_request_units"):
            p.positive(f"{key}.{name}", getattr(billing, name), required=False)

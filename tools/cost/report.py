"""The estimate as text: `make cost`'s report of one environment (every line, the totals, the
budget, each system's share, the warning when fixed cost passes half the budget) and the change
summary's cost section (tools/summary.py).
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.cost.pricing import Estimate
from tools.prices import AS_OF, REGION


def _quantity(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def render(result: Estimate) -> str:
    width = max([len(line.item) for line in result.lines] + [36])

    def row(label: str, quantity: str, usd: float, price: str = "") -> str:
        return f"  {label:{width}}  {quantity:>12}  {usd:>10,.2f}  {price}".rstrip()

    out = [
        f"Monthly estimate for {result.environment}, USD ({REGION} list prices of {AS_OF}, tools/prices.py; "
        "workload assumed in config/environments.py)",
    ]
    for group, title in (("fixed", "fixed: declared in the templates"), ("variable", "variable: the assumed workload")):
        out += ["", f"  {title:{width}}  {'quantity':>12}  {'USD/month':>10}  unit price"]
        for line in sorted((x for x in result.lines if x.group == group), key=lambda x: -x.usd):
            out.append(row(line.item, _quantity(line.quantity), line.usd, f"{line.price.usd:g} per {line.price.per}"))
        out.append(row(f"{group} total", "", result.total(group)))
    out += ["", row("total", "", result.total())]
    if result.budget_usd is None:
        out.append("  no budget declared for this environment")
    else:
        share = result.total() / result.budget_usd * 100 if result.budget_usd else float("inf")
        out.append(row(f"budget {result.budget_name}", "", result.budget_usd, f"the estimate is {share:.0f}% of it"))
    for system, (usd, limit) in result.systems.items():
        label = f"  system {system}" if system else "  shared: platform, CI, off-site"
        note = f"budget {limit:,.2f}, the estimate is {usd / limit * 100:.0f}% of it" if limit else "in the environment's budget only"
        out.append(row(label, "", usd, note))
    if result.fixed_over_half:
        out.append(
            f"warning: {result.environment}: fixed cost alone ({result.total('fixed'):,.2f} USD) is more than half of the budget "
            f"({result.budget_usd:,.2f} USD): the environment costs this much before it serves a request"
        )
    return "\n".join(out) + "\n"


def delta_markdown(before: Mapping[str, Estimate], after: Mapping[str, Estimate]) -> list[str]:
    """The change summary's cost section: each environment's estimate before and after, and
    the items that moved."""
    lines = [f"### Estimated monthly cost (USD, {REGION} list prices of {AS_OF}, `make cost`)", ""]
    lines += ["| environment | before | after | change | budget |", "| --- | ---: | ---: | ---: | ---: |"]
    moved: list[str] = []
    for env in sorted(before.keys() | after.keys()):
        old = before[env].total() if env in before else 0.0
        new = after[env] if env in after else None
        total = new.total() if new else 0.0
        limit = f"{new.budget_usd:,.0f}" if new and new.budget_usd is not None else ""
        lines.append(f"| {env} | {old:,.2f} | {total:,.2f} | {total - old:+,.2f} | {limit} |")
        was = {(x.group, x.item): x.usd for x in before[env].lines} if env in before else {}
        now = {(x.group, x.item): x.usd for x in new.lines} if new else {}
        for key in sorted(was.keys() | now.keys()):
            change = now.get(key, 0.0) - was.get(key, 0.0)
            if abs(change) >= 0.005:
                moved.append(f"| {env} | {key[1]} ({key[0]}) | {was.get(key, 0.0):,.2f} | {now.get(key, 0.0):,.2f} | {change:+,.2f} |")
    lines.append("")
    if moved:
        lines += ["| environment | item | before | after | change |", "| --- | --- | ---: | ---: | ---: |", *moved, ""]
    else:
        lines += ["No change to the estimate.", ""]
    warned = [e for e in after.values() if e.fixed_over_half]
    lines += [
        f"Warning: {e.environment}'s fixed cost ({e.total('fixed'):,.2f}) is more than half its budget ({e.budget_usd:,.2f})."
        for e in warned
    ]
    return lines + ([""] if warned else [])

"""cost: a monthly estimate of what an environment declares, printed beside its budget.

Usage: python -m tools cost [--env ENV] [ASSEMBLY]   (make cost ENV=dev)

Fixed cost is counted in the synthesized templates: keys, alarm metrics, dashboards,
Contributor Insights rules, provisioned capacity floors, Aurora's minimum capacity, RDS
Proxy's minimum, interface endpoints, secrets, budgets. Variable cost comes from the
environment's assumed workload (config/environments.py, `workload`) applied to what the
templates declare: each table's class and PITR, the trail's event selectors, the archive
buckets' lifecycle rules, the backup plans' schedules and lifecycles. Every price comes from
tools/prices.py, dated and sourced. docs/cost.md says what is left out and why.

Written by hand: no maintained tool prices a CDK assembly offline (infracost reads
Terraform; AWS's Pricing Calculator is a web form). Standard library plus config only, so
the change summary can price an old ref's snapshots too.

    tools.cost.declared   what the templates declare, counted (tables, alarm metrics, clusters,
                          backup intervals, budgets)
    tools.cost.pricing    the estimate: those counts and the workload priced, per environment
                          and, where budgets are per system, per system
    tools.cost.report     the estimate as text: this command's report, the change summary's section
    tools.cost            the command line (main), and the names other tools import
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tools.assembly import AssemblyError, load_stacks
from tools.cost.declared import Table, interval_days, tables
from tools.cost.pricing import estimate, estimates
from tools.cost.report import delta_markdown, render

# The public names: what tools/summary.py and tests/test_cost.py use.
__all__ = ["Table", "delta_markdown", "estimate", "estimates", "interval_days", "main", "render", "tables"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out", help="a synthesized cloud assembly (default: cdk.out)")
    parser.add_argument("--env", help="one environment (default: every environment in the assembly)")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    from config.environments import ENVIRONMENTS

    if args.env is not None and args.env not in ENVIRONMENTS:
        print(f"cost: error: --env {args.env!r} is not an environment: one of {', '.join(ENVIRONMENTS)}", file=sys.stderr)
        return 2
    if not (Path(args.assembly) / "manifest.json").is_file():
        print(
            f"cost: error: {args.assembly}: no synthesized cloud assembly here (run make synth first, or make cost, which does)",
            file=sys.stderr,
        )
        return 2
    try:
        stacks = load_stacks(args.assembly, [args.env] if args.env else [])
    except AssemblyError as error:
        print(f"cost: error: {error}", file=sys.stderr)
        return 2
    results = estimates(stacks)
    print("\n".join(render(result) for result in results.values()), end="")
    return 0

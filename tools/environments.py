"""environments: the environments of config, in deploy order (each one's `deploy_order`).

    python -m tools environments            one name a line
    python -m tools environments --json     a JSON list: the deploy workflow's matrix

Everything that goes through the environments one by one (the deploy workflow, the Makefile's
help) reads them here, so adding one to config/environments.py is the whole change.
"""

from __future__ import annotations

import argparse
import json

from config.environments import ENVIRONMENTS


def in_deploy_order() -> list[str]:
    return [cfg.name for cfg in sorted(ENVIRONMENTS.values(), key=lambda cfg: cfg.deploy_order)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools environments", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="a JSON list (GitHub Actions' fromJSON)")
    args = parser.parse_args(argv)
    names = in_deploy_order()
    print(json.dumps(names) if args.json else "\n".join(names))
    return 0

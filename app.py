#!/usr/bin/env python3
"""CDK entry point: one stage per environment (dev, staging, prod); `-c env=NAME` selects one.

Config is read and validated here, and only here, before any construct is built.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

import config
from stacks.stage import DataStage


def build(app: cdk.App) -> list[DataStage]:
    """Add the selected environments' stages to `app`; raises config.ConfigError on bad config."""
    return [DataStage(app, config=cfg) for cfg in config.load(app.node.try_get_context("env"))]


def main() -> None:
    app = cdk.App()
    try:
        build(app)
    except config.ConfigError as error:
        # One clear message and a non-zero exit, before anything is written to cdk.out.
        sys.exit(f"cdk synth stopped: {error}")
    app.synth()


if __name__ == "__main__":
    main()

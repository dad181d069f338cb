"""app-env --env NAME: each system's environment variables for its application, from cdk.out.

    python -m tools app-env --env prod [--assembly cdk.out] [--out app-env]     (make app-env ENV=prod)

Writes app-env/<env>/<system>.env with, for every table of the system, the seeds' convention
(therapeutic-wave.md: DYNAMODB_USERS_TABLE=therapeutic-wave-users-prod) and what else the app
needs to use the table:

    DYNAMODB_<TABLE>_TABLE=<physical name>
    DYNAMODB_<TABLE>_<INDEX>_INDEX=<index name>                 each index
    DYNAMODB_<TABLE>_TTL_ATTRIBUTE=<attribute>                   where the table has TTL
    DYNAMODB_<TABLE>_EXPIRE_AFTER_DAYS=<days>                    where a retention rule fixes them

The values come from the SSM parameters the system stacks publish (/data/<env>/<system>/
tables/<TableId>, the same values the app can read at run time), as written in the
synthesized templates: never from a list kept here. Exit 2 when there is no cdk.out or no
such environment. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from config.model import TABLE_PARAMETER
from tools.assembly import AssemblyError, read_assembly

ROOT = Path(__file__).resolve().parent.parent
# config's pattern with each field a named group (config imports no CDK).
PARAMETER = re.compile("^" + TABLE_PARAMETER.format(**{f: f"(?P<{f}>[^/]+)" for f in ("env", "system", "table")}) + "$")


def snake(name: str) -> str:
    """ "UserProfiles" -> "USER_PROFILES", "email-index" -> "EMAIL_INDEX"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", spaced).strip("_").upper()


def variables(assembly: Path, env: str) -> dict[str, dict[str, str]]:
    """system -> {variable: value}, for every published table of `env`."""
    stacks = [s for s in read_assembly(assembly) if s.environment == env]
    if not stacks:
        raise AssemblyError(f"no stacks of environment {env!r} in {assembly}")
    found: dict[str, dict[str, str]] = {}
    for stack in stacks:
        for res in stack.template.get("Resources", {}).values():
            props = res.get("Properties", {})
            match = PARAMETER.match(str(props.get("Name", ""))) if res.get("Type") == "AWS::SSM::Parameter" else None
            if match is None:
                continue
            value = json.loads(props["Value"])
            table = snake(match["table"])
            out = found.setdefault(match["system"], {"AWS_REGION": stack.region})
            out[f"DYNAMODB_{table}_TABLE"] = value["table"]
            for index in value.get("indexes", []):
                out[f"DYNAMODB_{table}_{snake(index.removesuffix('-index'))}_INDEX"] = index
            if value.get("ttlAttribute"):
                out[f"DYNAMODB_{table}_TTL_ATTRIBUTE"] = value["ttlAttribute"]
            if value.get("expireAfterDays"):
                out[f"DYNAMODB_{table}_EXPIRE_AFTER_DAYS"] = str(value["expireAfterDays"])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools app-env", description=__doc__.split("\n\n")[0].split(": ", 1)[1])
    parser.add_argument("--env", required=True, help="environment: one of config/environments.py (a Stage in cdk.out)")
    parser.add_argument("--assembly", type=Path, default=ROOT / "cdk.out", help="synthesized cloud assembly (default cdk.out)")
    parser.add_argument("--out", type=Path, default=ROOT / "app-env", help="directory to write <env>/<system>.env into (default app-env)")
    args = parser.parse_args(argv)
    try:
        found = variables(args.assembly, args.env)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not found:
        print(f"error: {args.env} publishes no table parameters in {args.assembly}: run make synth first", file=sys.stderr)
        return 2
    target = args.out / args.env
    target.mkdir(parents=True, exist_ok=True)
    for system, values in sorted(found.items()):
        path = target / f"{system}.env"
        header = f"# {system} in {args.env}, from {args.assembly.name} (python -m tools app-env). Do not edit: regenerate."
        path.write_text("\n".join([header, *(f"{k}={v}" for k, v in sorted(values.items()))]) + "\n")
        print(f"wrote {path} ({len(values)} variables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

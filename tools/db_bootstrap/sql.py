"""The bootstrap in SQL: the statements that create the application user (LOGIN, no password:
IAM sign-in only), grant it rds_iam and CONNECT on the database, each idempotent; the script
--dry-run prints; the user's state read back from the server; and the one transaction that runs
them, rolled back on any error or on a grant that did not take effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stacks.naming import APP_USER, DATABASE_NAME
from tools.db_bootstrap.errors import BootstrapError, server_message

# RDS creates this role on every RDS and Aurora PostgreSQL server; its members sign in with IAM tokens only.
IAM_ROLE = "rds_iam"
# Identifiers are written into the SQL unquoted, so only plain lower-case names are accepted.
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not a plain PostgreSQL identifier (lower case letters, digits, _)")
    return name


def statements(database: str = DATABASE_NAME, app_user: str = APP_USER) -> list[str]:
    """The bootstrap, one statement per item; run between BEGIN and COMMIT. Each is idempotent."""
    database, app_user = _identifier(database), _identifier(app_user)
    ensure_role = f"""DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{app_user}') THEN
    -- IAM sign-in only: this user never has a password.
    CREATE ROLE {app_user} WITH LOGIN PASSWORD NULL;
  ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = '{app_user}') THEN
    ALTER ROLE {app_user} WITH LOGIN;
  END IF;
END
$$"""
    return [
        ensure_role,
        f"GRANT {IAM_ROLE} TO {app_user}",
        f"GRANT CONNECT ON DATABASE {database} TO {app_user}",
    ]


def script(database: str = DATABASE_NAME, app_user: str = APP_USER) -> str:
    """The whole bootstrap as psql would run it: what --dry-run prints."""
    return "BEGIN;\n" + "".join(f"{statement};\n" for statement in statements(database, app_user)) + "COMMIT;\n"


@dataclass(frozen=True)
class State:
    """What the server holds for the application user, read inside the bootstrap's transaction."""

    iam_role_exists: bool
    role_exists: bool
    can_login: bool
    iam_member: bool
    connect_granted: bool  # granted to the user itself, not through PUBLIC

    @property
    def complete(self) -> bool:
        return self.role_exists and self.can_login and self.iam_member and self.connect_granted


_STATE_QUERY = """
SELECT
  EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :iam_role),
  EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = :app_user),
  COALESCE((SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = :app_user), false),
  EXISTS (
    SELECT FROM pg_catalog.pg_auth_members m
    JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
    JOIN pg_catalog.pg_roles u ON u.oid = m.member
    WHERE g.rolname = :iam_role AND u.rolname = :app_user
  ),
  EXISTS (
    SELECT FROM pg_catalog.pg_database d, aclexplode(d.datacl) a
    WHERE d.datname = :database AND a.privilege_type = 'CONNECT'
      AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = :app_user)
  )
"""


def read_state(connection: Any, database: str, app_user: str) -> State:
    row = connection.run(_STATE_QUERY, iam_role=IAM_ROLE, app_user=app_user, database=database)[0]
    return State(*(bool(value) for value in row))


def bootstrap(connection: Any, database: str, app_user: str) -> list[str]:
    """Run the bootstrap in one transaction and return what it did, one line per item.
    Anything unexpected rolls the whole transaction back."""
    from pg8000.exceptions import DatabaseError, InterfaceError

    getattr(connection, "notices", []).clear()  # from here on: what the bootstrap's statements said
    connection.run("BEGIN")
    try:
        before = read_state(connection, database, app_user)
        if not before.iam_role_exists:
            raise BootstrapError(f"role {IAM_ROLE} does not exist on this server: RDS and Aurora PostgreSQL create it; nothing was changed")
        for statement in statements(database, app_user):
            connection.run(statement)
        after = read_state(connection, database, app_user)
        if not after.complete:
            notices = "; ".join(_notices(connection))
            missing = [
                text
                for text, done in (
                    (f"role {app_user}", after.role_exists),
                    (f"LOGIN for {app_user}", after.can_login),
                    (f"{IAM_ROLE} for {app_user}", after.iam_member),
                    (f"CONNECT on database {database} for {app_user}", after.connect_granted),
                )
                if not done
            ]
            raise BootstrapError(
                f"the bootstrap did not take effect ({', '.join(missing)} missing"
                + (f"; the server said: {notices}" if notices else "")
                + "), so nothing was changed: does the master user own the database?"
            )
        connection.run("COMMIT")
    except DatabaseError as error:
        _rollback(connection)
        code, message = server_message(error)
        raise BootstrapError(f"the bootstrap failed and nothing was changed: {message} ({code})") from None
    except InterfaceError as error:  # the connection broke: the server rolls the transaction back
        raise BootstrapError(f"the connection broke during the bootstrap, so nothing was changed: {error}") from None
    except BaseException:
        _rollback(connection)
        raise
    if not before.role_exists:
        lines = [f"created role {app_user} (LOGIN, no password: IAM sign-in only)"]
    elif not before.can_login:
        lines = [f"role {app_user} already exists; gave it LOGIN, which it lacked"]
    else:
        lines = [f"role {app_user} already exists"]
    lines.append(f"granted {IAM_ROLE} to {app_user}" if not before.iam_member else f"{app_user} is already a member of {IAM_ROLE}")
    lines.append(
        f"granted CONNECT on database {database} to {app_user}"
        if not before.connect_granted
        else f"{app_user} already has CONNECT on database {database}"
    )
    lines.append("grants ensured" + ("; nothing to change" if before.complete else "; committed"))
    return lines


def _notices(connection: Any) -> list[str]:
    """The messages of the server's notices and warnings (pg8000 keeps them as {b"M": b"text", ...})."""
    messages = []
    for notice in getattr(connection, "notices", ()):
        message = notice.get(b"M", notice.get("M"))
        if message:
            messages.append(message.decode(errors="replace") if isinstance(message, bytes) else str(message))
    return messages


def _rollback(connection: Any) -> None:
    try:
        connection.run("ROLLBACK")
    except Exception:  # the connection is gone: the server rolls back by itself
        pass

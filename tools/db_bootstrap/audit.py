"""Database audit and the people who sign in (issue 26; docs/database.md, "Database audit" and
"People"), run by db-bootstrap after the application user, in a transaction of their own:

- pgaudit: the cluster parameter group preloads it, which takes effect only when the writer
  reboots (CloudFormation does not reboot it). Loaded, the extension is created; not yet
  loaded, everything else is done and db-bootstrap says to reboot the writer (exit 3).
- the audit role rds_pgaudit (NOLOGIN): pgaudit logs a SELECT on any table this role may read
  (object audit, config's pgaudit.role). It gets SELECT on every table of the public schema,
  now and, by default privileges, those the master user creates later.
- one PostgreSQL user per person of config's database.people: LOGIN with no password (IAM
  sign-in only, rds_iam), CONNECT on the database, a member of personalpod_people, the group
  that marks the users db-bootstrap manages. A member no longer listed loses LOGIN and rds_iam:
  its name stays, so the audit log's past entries still name who it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constructs_lib.props import AUDIT_ROLE
from tools.db_bootstrap.errors import BootstrapError, server_message
from tools.db_bootstrap.sql import IAM_ROLE, _identifier

PEOPLE_ROLE = "personalpod_people"
# What pgaudit's entry in shared_preload_libraries looks like once the writer has rebooted.
_LOADED = "SELECT 'pgaudit' = ANY (string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))"


def _ensure_role(name: str, login: bool) -> str:
    attributes = "LOGIN PASSWORD NULL" if login else "NOLOGIN"
    fix = (
        f"ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN\n    ALTER ROLE {name} WITH LOGIN;\n  "
        if login
        else ""
    )
    return f"""DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{name}') THEN
    CREATE ROLE {name} WITH {attributes};
  {fix}END IF;
END
$$"""


def statements(database: str, people: Sequence[str], former: Sequence[str] = (), *, extension: bool = True) -> list[str]:
    """The audit role and its grants, the people's group and users, the former people disabled,
    and (once pgaudit is loaded) the extension. Each is idempotent."""
    database = _identifier(database)
    found = [
        _ensure_role(AUDIT_ROLE, login=False),
        f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {AUDIT_ROLE}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {AUDIT_ROLE}",
        _ensure_role(PEOPLE_ROLE, login=False),
    ]
    for name in map(_identifier, people):
        found += [
            _ensure_role(name, login=True),
            f"GRANT {IAM_ROLE} TO {name}",
            f"GRANT {PEOPLE_ROLE} TO {name}",
            f"GRANT CONNECT ON DATABASE {database} TO {name}",
        ]
    for name in map(_identifier, former):
        found += [f"ALTER ROLE {name} WITH NOLOGIN", f"REVOKE {IAM_ROLE} FROM {name}"]
    if extension:
        found.append("CREATE EXTENSION IF NOT EXISTS pgaudit")
    return found


AFTER_REBOOT = "-- once the writer has rebooted with pgaudit preloaded:"


def script(database: str, people: Sequence[str]) -> str:
    """What --dry-run prints for this part (the former people are known only on the server);
    the extension last, apart: it fails until the writer has rebooted."""
    body = "".join(f"{s};\n" for s in statements(database, people, extension=False))
    return f"BEGIN;\n{body}COMMIT;\n{AFTER_REBOOT}\nCREATE EXTENSION IF NOT EXISTS pgaudit;\n"


def _former(connection: Any, people: Sequence[str]) -> list[str]:
    """Members of the people's group who may still sign in but are no longer listed."""
    rows = connection.run(
        """SELECT u.rolname FROM pg_catalog.pg_auth_members m
           JOIN pg_catalog.pg_roles g ON g.oid = m.roleid JOIN pg_catalog.pg_roles u ON u.oid = m.member
           WHERE g.rolname = :group AND u.rolcanlogin
             -- The creator of the group holds ADMIN on it (PostgreSQL 16+): not a person.
             AND u.rolname <> current_user AND NOT u.rolcreaterole AND NOT u.rolsuper
           ORDER BY u.rolname""",
        group=PEOPLE_ROLE,
    )
    return [row[0] for row in rows if row[0] not in set(people)]


def ensure(connection: Any, database: str, people: Sequence[str]) -> tuple[list[str], bool]:
    """Run this part in one transaction; return what it did and whether pgaudit is loaded."""
    from pg8000.exceptions import DatabaseError, InterfaceError

    connection.run("BEGIN")
    try:
        loaded = bool(connection.run(_LOADED)[0][0])
        existing = {row[0] for row in connection.run("SELECT rolname FROM pg_catalog.pg_roles")}
        former = _former(connection, people) if PEOPLE_ROLE in existing else []
        for statement in statements(database, people, former, extension=loaded):
            connection.run(statement)
        connection.run("COMMIT")
    except DatabaseError as error:
        try:
            connection.run("ROLLBACK")
        except Exception:  # the connection is gone: the server rolls back by itself
            pass
        code, message = server_message(error)
        raise BootstrapError(f"the audit and people part failed and nothing of it was changed: {message} ({code})") from None
    except InterfaceError as error:
        raise BootstrapError(f"the connection broke during the audit and people part, so nothing of it was changed: {error}") from None
    lines = [f"{AUDIT_ROLE} may read every table of schema public (pgaudit logs each SELECT on them)"]
    lines += [
        f"person {name}: " + ("created" if name not in existing else "ensured") + f" (LOGIN by IAM only, {PEOPLE_ROLE})" for name in people
    ]
    lines += [f"person {name}: no longer in database.people, LOGIN and {IAM_ROLE} revoked" for name in former]
    lines.append("pgaudit: extension ensured" if loaded else "pgaudit: NOT loaded yet")
    return lines, loaded

"""How db-bootstrap fails: BootstrapError, which the command reports as one line (exit 2), and
the SQLSTATE and message of a server's error, which the sign-in and the bootstrap quote in it.
"""

from __future__ import annotations


class BootstrapError(Exception):
    """A failure reported as one line, without a traceback."""


def server_message(error: Exception) -> tuple[str, str]:
    """(SQLSTATE, message) of a pg8000 DatabaseError."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else {}
    return str(fields.get("C", "")), str(fields.get("M", error))

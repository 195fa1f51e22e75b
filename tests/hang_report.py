"""What the database was doing when a test timed out (pytest-timeout): added to the failed
test's report, next to the stacks of its threads, so a hang in CI can be explained from its log.

Read on a connection of its own (the test's may be the one stuck) and only on PostgreSQL, where
a test can wait on another session's lock; SQLite has no sessions to show.
"""

from __future__ import annotations

_SESSIONS = """
SELECT a.pid, a.application_name, a.state, a.wait_event_type, a.wait_event,
       now() - a.xact_start AS in_transaction, pg_blocking_pids(a.pid) AS blocked_by,
       left(a.query, 300) AS query
FROM pg_stat_activity a
WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
ORDER BY a.xact_start NULLS LAST
"""


def database_sessions() -> str | None:
    """The test database's sessions (state, what each waits on, who blocks it, its last
    statement), or None when the database is not PostgreSQL or cannot be reached."""
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        return None
    # A new connection with the test's settings: the test's own may be the one stuck.
    own = connections.create_connection("default")
    try:
        with own.cursor() as cursor:
            cursor.execute(_SESSIONS)
            rows = cursor.fetchall()
    except Exception as exc:  # the report must never hide the timeout itself
        return f"(could not read the sessions: {exc.__class__.__name__}: {exc})"
    finally:
        own.close()
    if not rows:
        return "(no other session on the test database)"
    return "\n".join(" | ".join(str(value) for value in row) for row in rows)

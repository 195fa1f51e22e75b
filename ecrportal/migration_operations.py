"""Migration operations the project's migrations share."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """On PostgreSQL, Django's `AddIndexConcurrently`: a plain CREATE INDEX would block every
    write of the ledger (the POS API's creates, the sweeper) while it reads a production-sized
    table (the migration must be `atomic = False`; Django refuses it inside a transaction).
    Elsewhere (SQLite) a plain CREATE INDEX."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        operation = AddIndexConcurrently if _on_postgres(schema_editor) else migrations.AddIndex
        operation.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        operation = AddIndexConcurrently if _on_postgres(schema_editor) else migrations.AddIndex
        operation.database_backwards(self, app_label, schema_editor, from_state, to_state)


def _on_postgres(schema_editor) -> bool:
    return schema_editor.connection.vendor == "postgresql"

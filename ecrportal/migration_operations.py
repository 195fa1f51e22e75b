"""Migration operations the project's migrations share."""

from django.db import migrations


class AddIndexConcurrentlyOnPostgres(migrations.AddIndex):
    """On PostgreSQL the index is built CONCURRENTLY: a plain CREATE INDEX would block every
    write of the ledger (the POS API's creates, the sweeper) while it reads a production-sized
    table. Elsewhere (SQLite) a plain CREATE INDEX."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, concurrently=True)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if schema_editor.connection.vendor != "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, concurrently=True)

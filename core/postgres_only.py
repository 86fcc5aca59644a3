"""A migration operation that changes a PostgreSQL database and nothing else.

The search indexes (``config.search``) use what only PostgreSQL has: trigram GIN indexes
(``pg_trgm``), ``text_pattern_ops`` btrees for a prefix ``LIKE``, expression indexes that a
query's ``UPPER(...)`` must match. SQLite, the embedded default, neither needs nor can
build some of them. So they are not declared in the models' ``Meta``: a migration adds
them through ``PostgresOnly(AddIndexConcurrently(...))``, which runs the wrapped
operation on PostgreSQL, does nothing on another database, and never touches the
migration state, so ``makemigrations`` sees nothing to do on either database."""

from typing import Any

from django.db.migrations.operations.base import Operation


class PostgresOnly(Operation):
    """``operation``'s database change on PostgreSQL only; no state change anywhere."""

    reduces_to_sql = False

    def __init__(self, operation: Operation) -> None:
        self.operation = operation

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.operation], {})

    @property
    def reversible(self) -> bool:  # type: ignore[override]
        return self.operation.reversible

    def state_forwards(self, app_label: str, state: Any) -> None:
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            self.operation.database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        return f"{self.operation.describe()} (on PostgreSQL only)"

    @property
    def migration_name_fragment(self) -> str:
        return self.operation.migration_name_fragment

"""Append-only tables: triggers that refuse ``UPDATE`` and ``DELETE`` of their rows,
whatever writes them (a service, the admin, a bulk ``.update()``, SQL).

Each app installs them on its own tables from its own migration
(``append_only(app_label, {model: may_clear})``). One narrow change stays allowed: a
column named in ``may_clear`` may be set to NULL, which is what ``on_delete=SET_NULL``
does to an event's actor when a user (or an API key) is deleted. Names of columns a table
does not have (yet) are ignored.

- PostgreSQL: one ``BEFORE UPDATE OR DELETE`` row trigger per table; a refusal is SQLSTATE
  23000, which Django raises as ``IntegrityError``. ``TRUNCATE`` (how the test suite
  empties tables between transactional tests) is not ``DELETE`` and is not refused.
- SQLite: ``UPDATE`` is refused the same way (``IntegrityError``), but ``DELETE`` is not:
  Django empties SQLite tables between transactional tests with ``DELETE FROM``, and SQLite
  has no session setting that would tell that apart from a delete in the code.
"""

from collections.abc import Iterable, Mapping

from django.db import migrations

ACTOR_COLUMNS = ("actor_id", "api_key_id")

_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_column text;
BEGIN
    -- TG_ARGV: the columns that may be set to NULL and nothing else.
    IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - TG_ARGV) = (to_jsonb(OLD) - TG_ARGV) THEN
        FOREACH v_column IN ARRAY TG_ARGV LOOP
            IF to_jsonb(NEW) -> v_column IS DISTINCT FROM to_jsonb(OLD) -> v_column
               AND to_jsonb(NEW) -> v_column <> 'null'::jsonb THEN
                RAISE EXCEPTION '% rows are append-only: % may only be cleared',
                    TG_TABLE_NAME, v_column
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
        END LOOP;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$
"""


def _postgres_sql(table: str, may_clear: Iterable[str]) -> list[str]:
    arguments = ", ".join(f"'{column}'" for column in may_clear)
    return [
        _POSTGRES_FUNCTION.format(table=table),
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only({arguments})",
    ]


def _sqlite_sql(table: str, columns: list[str], may_clear: Iterable[str]) -> list[str]:
    clearable = [column for column in columns if column in may_clear]
    fixed = [column for column in columns if column not in may_clear]
    refuse = f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only'); END"
    statements = [
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OF {', '.join(fixed)} "
        f"ON {table} {refuse}"
    ]
    if clearable:
        set_to_a_value = " OR ".join(
            f"(NEW.{column} IS NOT NULL AND NEW.{column} IS NOT OLD.{column})"
            for column in clearable
        )
        statements.append(
            f"CREATE TRIGGER {table}_append_only_clear BEFORE UPDATE OF "
            f"{', '.join(clearable)} ON {table} WHEN {set_to_a_value} {refuse}"
        )
    return statements


def _drop_sql(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"DROP FUNCTION IF EXISTS {table}_append_only()",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {table}_append_only",
        f"DROP TRIGGER IF EXISTS {table}_append_only_clear",
    ]


def append_only(app_label: str, models: Mapping[str, Iterable[str]]) -> migrations.RunPython:
    """A migration operation making ``models`` (name -> columns that may be cleared)
    append-only, and its reverse."""

    def tables(apps) -> list[tuple[str, list[str], tuple[str, ...]]]:
        found = []
        for name, may_clear in models.items():
            meta = apps.get_model(app_label, name)._meta
            columns = [field.column for field in meta.concrete_fields]
            found.append((meta.db_table, columns, tuple(may_clear)))
        return found

    def forwards(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        for table, columns, may_clear in tables(apps):
            if vendor == "postgresql":
                statements = _postgres_sql(table, may_clear)
            elif vendor == "sqlite":
                statements = _sqlite_sql(table, columns, may_clear)
            else:
                raise NotImplementedError(f"No append-only triggers for {vendor}")
            for statement in statements:
                schema_editor.execute(statement, params=None)

    def backwards(apps, schema_editor) -> None:
        for table, _, _ in tables(apps):
            for statement in _drop_sql(table, schema_editor.connection.vendor):
                schema_editor.execute(statement, params=None)

    return migrations.RunPython(forwards, backwards)

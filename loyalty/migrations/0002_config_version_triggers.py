"""Triggers that give the merchant a new ``config_version`` whenever its loyalty program,
a tier or an earning rule is inserted, updated or deleted, however it is written (the
admin, a service, a bulk update, SQL). Caches of the program key on that version."""

# ruff: noqa: S608 (fixed table and column names, no values)

from django.db import migrations

# Each source table, with the expression that gives the merchant of a row (ROW is NEW or
# OLD).
SOURCES = {
    "loyalty_program": "ROW.merchant_id",
    "loyalty_tier": "(SELECT merchant_id FROM loyalty_program WHERE id = ROW.program_id)",
    "loyalty_earningrule": "(SELECT merchant_id FROM loyalty_program WHERE id = ROW.program_id)",
}

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_config_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_merchant bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_merchant := OLD.merchant_id;
    ELSE
        v_merchant := NEW.merchant_id;
    END IF;
    UPDATE merchants_merchant
       SET config_version = replace(gen_random_uuid()::text, '-', '')
     WHERE id = v_merchant;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION loyalty_config_child_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_program bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_program := OLD.program_id;
    ELSE
        v_program := NEW.program_id;
    END IF;
    UPDATE merchants_merchant
       SET config_version = replace(gen_random_uuid()::text, '-', '')
     WHERE id = (SELECT merchant_id FROM loyalty_program WHERE id = v_program);
    RETURN NULL;
END $$;
"""


def _postgres_sql() -> list[str]:
    statements = [POSTGRES_FUNCTION]
    for table in SOURCES:
        function = (
            "loyalty_config_changed"
            if table == "loyalty_program"
            else "loyalty_config_child_changed"
        )
        statements.append(
            f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
    return statements


def _sqlite_sql() -> list[str]:
    statements = []
    for table, merchant in SOURCES.items():
        for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            statements.append(
                f"CREATE TRIGGER {table}_config_version_{operation.lower()} "
                f"AFTER {operation} ON {table} BEGIN "
                "UPDATE merchants_merchant SET config_version = lower(hex(randomblob(16))) "
                f"WHERE id = {merchant.replace('ROW', row)}; END"
            )
    return statements


def _drop_sql(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}" for table in SOURCES
        ] + [
            "DROP FUNCTION IF EXISTS loyalty_config_changed()",
            "DROP FUNCTION IF EXISTS loyalty_config_child_changed()",
        ]
    return [
        f"DROP TRIGGER IF EXISTS {table}_config_version_{operation}"
        for table in SOURCES
        for operation in ("insert", "update", "delete")
    ]


def _run(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, _postgres_sql())
    elif vendor == "sqlite":
        _run(schema_editor, _sqlite_sql())
    else:
        raise NotImplementedError(f"No config-version triggers for {vendor}")


def drop_triggers(apps, schema_editor) -> None:
    _run(schema_editor, _drop_sql(schema_editor.connection.vendor))


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("merchants", "0004_merchant_config_version"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

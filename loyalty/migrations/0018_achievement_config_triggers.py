"""A program's achievements are part of its configuration (the order path reads them from
the cached ``ProgramConfig``): writing one gives the merchant a new ``config_version``, as
the program, its tiers, rules and campaigns do (see 0002 and 0014)."""

# ruff: noqa: S608 (fixed table and column names, no values)

from django.db import migrations

TABLE = "loyalty_achievement"
MERCHANT_OF_PROGRAM = "(SELECT merchant_id FROM loyalty_program WHERE id = {row}.program_id)"
OPERATIONS = ("insert", "update", "delete")


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [
            f"CREATE TRIGGER {TABLE}_config_version AFTER INSERT OR UPDATE OR DELETE "
            f"ON {TABLE} FOR EACH ROW EXECUTE FUNCTION loyalty_config_child_changed()"
        ]
    elif vendor == "sqlite":
        statements = [
            f"CREATE TRIGGER {TABLE}_config_version_{operation} "
            f"AFTER {operation.upper()} ON {TABLE} BEGIN "
            "UPDATE merchants_merchant SET config_version = lower(hex(randomblob(16))) "
            f"WHERE id = {MERCHANT_OF_PROGRAM.format(row='OLD' if operation == 'delete' else 'NEW')}; "
            "END"
            for operation in OPERATIONS
        ]
    else:
        raise NotImplementedError(f"No config-version triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        statements = [f"DROP TRIGGER IF EXISTS {TABLE}_config_version ON {TABLE}"]
    else:
        statements = [
            f"DROP TRIGGER IF EXISTS {TABLE}_config_version_{operation}" for operation in OPERATIONS
        ]
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0017_achievements_referrals_messages")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

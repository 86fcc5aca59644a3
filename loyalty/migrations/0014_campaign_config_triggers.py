"""A campaign's terms and targets are part of the program's configuration: writing them
gives the merchant a new ``config_version``, as the program, its tiers and rules do (see
0002). ``loyalty_campaignspend`` is left out on purpose: every award writes it."""

# ruff: noqa: S608 (fixed table and column names, no values)

from django.db import migrations

MERCHANT_OF_CAMPAIGN = (
    "(SELECT p.merchant_id FROM loyalty_program p JOIN loyalty_campaign c "
    "ON c.program_id = p.id WHERE c.id = {row}.campaign_id)"
)
MERCHANT_OF_PROGRAM = "(SELECT merchant_id FROM loyalty_program WHERE id = {row}.program_id)"

SOURCES = {
    "loyalty_campaign": MERCHANT_OF_PROGRAM,
    "loyalty_campaign_segments": MERCHANT_OF_CAMPAIGN,
}

POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_config_campaign_target_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_campaign bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_campaign := OLD.campaign_id;
    ELSE
        v_campaign := NEW.campaign_id;
    END IF;
    UPDATE merchants_merchant
       SET config_version = replace(gen_random_uuid()::text, '-', '')
     WHERE id = (SELECT p.merchant_id FROM loyalty_program p JOIN loyalty_campaign c
                  ON c.program_id = p.id WHERE c.id = v_campaign);
    RETURN NULL;
END $$;
"""

FUNCTIONS = {
    "loyalty_campaign": "loyalty_config_child_changed",  # from 0002: by program_id
    "loyalty_campaign_segments": "loyalty_config_campaign_target_changed",
}


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    statements = []
    if vendor == "postgresql":
        statements.append(POSTGRES_FUNCTION)
        for table, function in FUNCTIONS.items():
            statements.append(
                f"CREATE TRIGGER {table}_config_version AFTER INSERT OR UPDATE OR DELETE "
                f"ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
    elif vendor == "sqlite":
        for table, merchant in SOURCES.items():
            for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                statements.append(
                    f"CREATE TRIGGER {table}_config_version_{operation.lower()} "
                    f"AFTER {operation} ON {table} BEGIN "
                    "UPDATE merchants_merchant SET config_version = lower(hex(randomblob(16))) "
                    f"WHERE id = {merchant.format(row=row)}; END"
                )
    else:
        raise NotImplementedError(f"No config-version triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement, params=None)


def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        statements = [
            f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}" for table in SOURCES
        ]
        statements.append("DROP FUNCTION IF EXISTS loyalty_config_campaign_target_changed()")
    else:
        statements = [
            f"DROP TRIGGER IF EXISTS {table}_config_version_{operation}"
            for table in SOURCES
            for operation in ("insert", "update", "delete")
        ]
    for statement in statements:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0013_campaigns")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]

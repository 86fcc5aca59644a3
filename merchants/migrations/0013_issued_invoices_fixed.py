"""An issued invoice never changes, in the database too: once an invoice (or credit note)
has left draft, an ``UPDATE`` may only move its status and record its payment, and its
lines can no longer be added or changed. A refusal is an ``IntegrityError`` (SQLSTATE
23000 on PostgreSQL, like ``core.append_only``). PostgreSQL also refuses deleting an
issued invoice's lines; SQLite does not (Django empties SQLite tables between
transactional tests with ``DELETE FROM``)."""

from django.db import migrations

# What may still change once an invoice is issued.
MOVABLE = ("id", "status", "paid_on", "payment_reference", "updated_at")

_POSTGRES_INVOICE = """
CREATE OR REPLACE FUNCTION merchants_invoice_issued_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' AND ({new}) IS DISTINCT FROM ({old}) THEN
        RAISE EXCEPTION 'merchants_invoice: an issued invoice is never changed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER merchants_invoice_issued_fixed BEFORE UPDATE ON merchants_invoice
FOR EACH ROW EXECUTE FUNCTION merchants_invoice_issued_fixed();
CREATE OR REPLACE FUNCTION merchants_invoiceline_draft_only() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_invoice bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_invoice := OLD.invoice_id;
    ELSE
        v_invoice := NEW.invoice_id;
    END IF;
    IF (SELECT status FROM merchants_invoice WHERE id = v_invoice) <> 'draft'
       OR (TG_OP = 'UPDATE' AND
           (SELECT status FROM merchants_invoice WHERE id = OLD.invoice_id) <> 'draft') THEN
        RAISE EXCEPTION 'merchants_invoiceline: the lines of an issued invoice are fixed'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER merchants_invoiceline_draft_only
BEFORE INSERT OR UPDATE OR DELETE ON merchants_invoiceline
FOR EACH ROW EXECUTE FUNCTION merchants_invoiceline_draft_only();
"""

_SQLITE = [
    """CREATE TRIGGER merchants_invoice_issued_fixed BEFORE UPDATE ON merchants_invoice
    WHEN OLD.status <> 'draft' AND ({changed})
    BEGIN SELECT RAISE(ABORT, 'merchants_invoice: an issued invoice is never changed'); END""",
    """CREATE TRIGGER merchants_invoiceline_draft_only_insert BEFORE INSERT
    ON merchants_invoiceline
    WHEN (SELECT status FROM merchants_invoice WHERE id = NEW.invoice_id) <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'merchants_invoiceline: the lines of an issued invoice are fixed');
    END""",
    """CREATE TRIGGER merchants_invoiceline_draft_only_update BEFORE UPDATE
    ON merchants_invoiceline
    WHEN (SELECT status FROM merchants_invoice WHERE id = OLD.invoice_id) <> 'draft'
      OR (SELECT status FROM merchants_invoice WHERE id = NEW.invoice_id) <> 'draft'
    BEGIN SELECT RAISE(ABORT, 'merchants_invoiceline: the lines of an issued invoice are fixed');
    END""",
]

_DROP = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS merchants_invoice_issued_fixed ON merchants_invoice",
        "DROP FUNCTION IF EXISTS merchants_invoice_issued_fixed()",
        "DROP TRIGGER IF EXISTS merchants_invoiceline_draft_only ON merchants_invoiceline",
        "DROP FUNCTION IF EXISTS merchants_invoiceline_draft_only()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS merchants_invoice_issued_fixed",
        "DROP TRIGGER IF EXISTS merchants_invoiceline_draft_only_insert",
        "DROP TRIGGER IF EXISTS merchants_invoiceline_draft_only_update",
    ],
}


def fixed_columns(apps) -> list[str]:
    meta = apps.get_model("merchants", "Invoice")._meta
    return [field.column for field in meta.concrete_fields if field.column not in MOVABLE]


def forwards(apps, schema_editor) -> None:
    columns = fixed_columns(apps)
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = [
            _POSTGRES_INVOICE.format(
                new=", ".join(f"NEW.{column}" for column in columns),
                old=", ".join(f"OLD.{column}" for column in columns),
            )
        ]
    elif vendor == "sqlite":
        changed = " OR ".join(f"NEW.{column} IS NOT OLD.{column}" for column in columns)
        statements = [_SQLITE[0].format(changed=changed), *_SQLITE[1:]]
    else:
        raise NotImplementedError(f"No invoice triggers for {vendor}")
    for statement in statements:
        schema_editor.execute(statement, params=None)


def backwards(apps, schema_editor) -> None:
    for statement in _DROP[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0012_invoices"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]

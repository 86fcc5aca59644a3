"""The ledger's invariants, enforced by the database whatever writes the rows.

- Ledger entries, lot movements and tier changes are append-only (``core.append_only``):
  ``UPDATE`` and ``DELETE`` are refused, except clearing the actor of a deleted user or key.
- The chain (PostgreSQL and SQLite): a new entry's ``balance_after`` and ``pending_after``
  are the member's previous entry's (0 for the first) plus its own ``points`` and
  ``pending``. One index lookup per entry (``entry_member_chain``); several entries of a
  member in one statement (a batch) are checked in key order, which is the order they
  were written in under the member's lock.
- The cache (PostgreSQL, deferred to commit): a member's ``points_balance`` and
  ``pending_points`` equal their last entry's, checked for every member whose balances or
  entries the transaction touched. SQLite has no deferred triggers; ``audit_ledger``
  checks it there.
"""

# ruff: noqa: S608 (fixed table and column names, no values)

from django.db import migrations

from core.append_only import ACTOR_COLUMNS, append_only

REFUSED = "integrity_constraint_violation"

POSTGRES_SQL = [
    f"""
CREATE OR REPLACE FUNCTION loyalty_ledgerentry_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_balance bigint;
    v_pending bigint;
BEGIN
    SELECT balance_after, pending_after INTO v_balance, v_pending
      FROM loyalty_ledgerentry
     WHERE member_id = NEW.member_id AND id < NEW.id
     ORDER BY id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        v_balance := 0;
        v_pending := 0;
    END IF;
    IF NEW.balance_after <> v_balance + NEW.points
       OR NEW.pending_after <> v_pending + NEW.pending THEN
        RAISE EXCEPTION
            'ledger entry % of member % breaks the chain: % + % is not % (pending % + % is not %)',
            NEW.id, NEW.member_id, v_balance, NEW.points, NEW.balance_after,
            v_pending, NEW.pending, NEW.pending_after
            USING ERRCODE = '{REFUSED}';
    END IF;
    RETURN NULL;
END $$
""",
    "CREATE CONSTRAINT TRIGGER loyalty_ledgerentry_chain AFTER INSERT ON loyalty_ledgerentry "
    "FOR EACH ROW EXECUTE FUNCTION loyalty_ledgerentry_chain()",
    f"""
CREATE OR REPLACE FUNCTION loyalty_member_matches_ledger() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_member bigint;
    v_cached_balance bigint;
    v_cached_pending bigint;
    v_balance bigint;
    v_pending bigint;
BEGIN
    IF TG_TABLE_NAME = 'loyalty_member' THEN
        v_member := NEW.id;
    ELSE
        v_member := NEW.member_id;
    END IF;
    SELECT points_balance, pending_points INTO v_cached_balance, v_cached_pending
      FROM loyalty_member WHERE id = v_member;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT balance_after, pending_after INTO v_balance, v_pending
      FROM loyalty_ledgerentry
     WHERE member_id = v_member
     ORDER BY id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        v_balance := 0;
        v_pending := 0;
    END IF;
    IF v_cached_balance <> v_balance OR v_cached_pending <> v_pending THEN
        RAISE EXCEPTION
            'member % holds % points and % pending, their last ledger entry % and %',
            v_member, v_cached_balance, v_cached_pending, v_balance, v_pending
            USING ERRCODE = '{REFUSED}';
    END IF;
    RETURN NULL;
END $$
""",
    "CREATE CONSTRAINT TRIGGER loyalty_member_matches_ledger_insert AFTER INSERT "
    "ON loyalty_member DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "WHEN (NEW.points_balance <> 0 OR NEW.pending_points <> 0) "
    "EXECUTE FUNCTION loyalty_member_matches_ledger()",
    "CREATE CONSTRAINT TRIGGER loyalty_member_matches_ledger_update AFTER UPDATE "
    "OF points_balance, pending_points ON loyalty_member DEFERRABLE INITIALLY DEFERRED "
    "FOR EACH ROW WHEN (NEW.points_balance <> OLD.points_balance "
    "OR NEW.pending_points <> OLD.pending_points) "
    "EXECUTE FUNCTION loyalty_member_matches_ledger()",
    "CREATE CONSTRAINT TRIGGER loyalty_ledgerentry_member_matches AFTER INSERT "
    "ON loyalty_ledgerentry DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
    "EXECUTE FUNCTION loyalty_member_matches_ledger()",
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS loyalty_ledgerentry_member_matches ON loyalty_ledgerentry",
    "DROP TRIGGER IF EXISTS loyalty_member_matches_ledger_update ON loyalty_member",
    "DROP TRIGGER IF EXISTS loyalty_member_matches_ledger_insert ON loyalty_member",
    "DROP FUNCTION IF EXISTS loyalty_member_matches_ledger()",
    "DROP TRIGGER IF EXISTS loyalty_ledgerentry_chain ON loyalty_ledgerentry",
    "DROP FUNCTION IF EXISTS loyalty_ledgerentry_chain()",
]

# SQLite assigns the new key after BEFORE triggers run, so "previous" is the last entry.
_PREVIOUS = (
    "(SELECT {column} FROM loyalty_ledgerentry WHERE member_id = NEW.member_id "
    "ORDER BY id DESC LIMIT 1)"
)
SQLITE_SQL = [
    "CREATE TRIGGER loyalty_ledgerentry_chain BEFORE INSERT ON loyalty_ledgerentry "
    f"WHEN NEW.balance_after <> coalesce({_PREVIOUS.format(column='balance_after')}, 0) "
    "+ NEW.points "
    f"OR NEW.pending_after <> coalesce({_PREVIOUS.format(column='pending_after')}, 0) "
    "+ NEW.pending "
    "BEGIN SELECT RAISE(ABORT, 'ledger entry breaks the chain of its member'); END"
]

SQLITE_DROP = ["DROP TRIGGER IF EXISTS loyalty_ledgerentry_chain"]


def _run(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_chain_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, POSTGRES_SQL)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_SQL)
    else:
        raise NotImplementedError(f"No ledger triggers for {vendor}")


def drop_chain_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    _run(schema_editor, POSTGRES_DROP if vendor == "postgresql" else SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0005_ledger_entry_member_chain_index"),
    ]

    operations = [
        append_only(
            "loyalty",
            {"LedgerEntry": ACTOR_COLUMNS, "LotMovement": (), "TierChange": ACTOR_COLUMNS},
        ),
        migrations.RunPython(create_chain_triggers, drop_chain_triggers),
    ]

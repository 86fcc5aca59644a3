"""Advisory locks for work that has no row to lock (a statement that replaces a merchant's
rows, a job that must run once at a time), always scoped to the transaction.

The cluster runs PgBouncer in transaction pooling: a session-level lock would stay with
a server connection that the next transaction may hand to another client, and would
never be released by the one that took it. ``pg_advisory_xact_lock`` ends with the
transaction, whatever happens to the worker. Outside PostgreSQL (SQLite: one writer at a
time) there is nothing to take and every call succeeds."""

import hashlib

from django.db import connection


def _key(name: str, pk: int) -> int:
    digest = hashlib.blake2b(f"{name}:{pk}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _in_transaction() -> bool:
    if not connection.in_atomic_block:
        raise RuntimeError("An advisory lock is taken inside a transaction (atomic block).")
    return connection.vendor == "postgresql"


def advisory_xact_lock(name: str, pk: int = 0) -> None:
    """Wait for the lock on ``name`` (of one row, ``pk``) until the transaction ends."""
    if _in_transaction():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_key(name, pk)])


def advisory_xact_lock_try(name: str, pk: int = 0) -> bool:
    """Take the lock on ``name`` (of one row, ``pk``) until the transaction ends, if no
    other transaction holds it; False when one does."""
    if not _in_transaction():
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_key(name, pk)])
        return bool(cursor.fetchone()[0])

"""core.batches.batches_run: a job's batches handed to threads with a connection each on
PostgreSQL outside a transaction, one after the other on the caller's connection
otherwise; results in order, every batch once, the first error raised, nothing left
open."""

import threading
import time

import pytest
from django.db import connection, transaction

from core.batches import batches_run

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _still_connected(backends: set[int]) -> set[int]:
    """Those of ``backends`` still connected after up to 10 s (a closed connection's
    backend takes a moment to leave)."""
    deadline = time.monotonic() + 10
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", [sorted(backends)]
            )
            left = {row[0] for row in cursor.fetchall()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def _where(batch: list[int]) -> tuple[list[int], int, int]:
    """The batch doubled, with the thread and the backend that ran it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    return [2 * n for n in batch], threading.get_ident(), backend


def test_outside_a_transaction_the_batches_run_on_threads_of_their_own_in_order():
    own_backend = _where([])[2]
    batches = [[n, n + 1] for n in range(0, 40, 2)]

    results = list(batches_run(iter(batches), _where, threads=2))

    assert [doubled for doubled, _, _ in results] == [[2 * n for n in b] for b in batches]
    assert threading.get_ident() not in {thread for _, thread, _ in results}
    assert own_backend not in {backend for _, _, backend in results}
    theirs = {backend for _, _, backend in results}
    assert len(theirs) <= 2
    # Their connections are closed once the batches are done.
    assert _still_connected(theirs) == set()


def test_inside_a_transaction_they_run_one_after_the_other_on_the_callers_connection():
    with transaction.atomic():
        own_backend = _where([])[2]
        results = list(batches_run(iter([[1], [2], [3]]), _where, threads=2))

    assert [doubled for doubled, _, _ in results] == [[2], [4], [6]]
    assert {thread for _, thread, _ in results} == {threading.get_ident()}
    assert {backend for _, _, backend in results} == {own_backend}


def test_the_first_error_is_raised_once_the_threads_are_done_and_stops_the_rest():
    ran: list[int] = []
    backends: set[int] = set()
    lock = threading.Lock()

    def work(batch: list[int]) -> int:
        with lock:
            ran.append(batch[0])
        if batch[0] == 3:
            raise ValueError("batch 3 failed")
        backends.add(_where(batch)[2])
        return batch[0]

    with pytest.raises(ValueError, match="batch 3 failed"):
        list(batches_run(([n] for n in range(1000)), work, threads=2))

    # Batches already handed out may finish; no more are handed out after the error.
    assert 3 in ran
    assert len(ran) < 20
    assert not [thread for thread in threading.enumerate() if thread.name == "batches_run"]
    assert backends
    assert _still_connected(backends) == set()


def test_one_thread_runs_them_one_after_the_other_here():
    results = list(batches_run(iter([[1], [2]]), _where, threads=1))

    assert {thread for _, thread, _ in results} == {threading.get_ident()}

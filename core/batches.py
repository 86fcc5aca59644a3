"""Walking a large queryset in bounded batches by an ascending key (keyset pagination):
each batch is read anew, so rows another worker handled meanwhile drop out, and no batch
costs more than the one before it, however far the walk is."""

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

Batch = TypeVar("Batch")
Result = TypeVar("Result")


def keyset_batches(queryset: QuerySet, batch_size: int) -> Iterator[list[Any]]:
    """The rows of ``queryset``, ``batch_size`` at a time, by ascending primary key."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        rows = list(page.order_by("pk")[:batch_size])
        if not rows:
            return
        yield rows
        last = rows[-1].pk


def value_batches(queryset: QuerySet, field: str, batch_size: int) -> Iterator[list[Any]]:
    """The distinct values of ``field`` in ``queryset`` (a member id, say), ``batch_size``
    at a time, ascending."""
    last = None
    while True:
        page = queryset if last is None else queryset.filter(**{f"{field}__gt": last})
        values = list(page.order_by(field).values_list(field, flat=True).distinct()[:batch_size])
        if not values:
            return
        yield values
        last = values[-1]


def batches_run(
    batches: Iterable[Batch], work: Callable[[Batch], Result], *, threads: int | None = None
) -> Iterator[Result]:
    """``work(batch)`` for each of ``batches``, its results in the batches' order.

    On PostgreSQL, outside any transaction, the batches are handed to ``threads`` threads
    (``JOB_BATCH_THREADS``) with a database connection each, so that one thread's Python
    builds a batch while another's waits for PostgreSQL to write one: ``work`` must open
    its own transaction and touch only its batch's rows (a job's batches of members are
    disjoint, and locked SKIP LOCKED). Each batch commits on its own, as one after the
    other. Inside a transaction (whose rows other connections would not see) and on
    SQLite (one writer), they run one after the other on the caller's connection. The
    first error stops the handing out of batches and is raised once the threads are done;
    the batches finished before it stay written, as they would one after the other."""
    threads = settings.JOB_BATCH_THREADS if threads is None else threads
    if threads < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        for batch in batches:
            yield work(batch)
        return
    todo: queue.Queue = queue.Queue(maxsize=threads)  # bounds the batches held at once
    done: dict[int, tuple[bool, Any]] = {}
    finished = threading.Condition()
    failed = threading.Event()

    def run() -> None:
        try:
            while (item := todo.get()) is not None:
                index, batch = item
                try:
                    outcome = (True, None if failed.is_set() else work(batch))
                except BaseException as error:  # raised in the caller's thread
                    failed.set()
                    outcome = (False, error)
                with finished:
                    done[index] = outcome
                    finished.notify_all()
        finally:
            connection.close()

    workers = [
        threading.Thread(target=run, name="batches_run", daemon=True) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    handed = taken = 0
    error: BaseException | None = None

    def ready(wait: bool) -> Iterator[Any]:
        nonlocal taken, error
        while taken < handed:
            index = taken
            with finished:
                if wait:
                    finished.wait_for(lambda index=index: index in done)
                if index not in done:
                    return
                ok, value = done.pop(index)
            taken += 1
            if not ok:
                error = error or value
            elif error is None and not failed.is_set():
                yield value

    try:
        for batch in batches:
            if failed.is_set():
                break
            todo.put((handed, batch))
            handed += 1
            yield from ready(wait=False)
    finally:
        for _ in workers:
            todo.put(None)
        for worker in workers:
            worker.join()
    yield from ready(wait=True)
    if error is not None:
        raise error

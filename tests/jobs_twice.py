"""Every scheduled job is safe on several workers at once and when run again: each app's
``test_jobs_twice`` module runs each of its jobs twice at the same moment (two threads,
two database connections, released by one barrier), checks that the job's effects
happened once and that neither run failed, then runs it a third time and checks that
nothing changes.

``covers`` names the job a test proves; ``tests/core/test_jobs_twice.py`` holds the list of
covered jobs equal to the declared ones, so a new job without such a test fails."""

from collections.abc import Callable
from typing import Any

from celery import Task

from tests.loyalty.test_ledger_concurrency import errors, oks, run_together

# The jobs whose runs at once are proven by another module, by that module's name.
COVERED_ELSEWHERE = {
    "loyalty.release_pending_points": "tests.loyalty.test_jobs_concurrency",
    "loyalty.expire_points": "tests.loyalty.test_jobs_concurrency",
    "fulfillment.process_supplier_orders": "tests.fulfillment",
}

# The modules holding the tests below, one per app.
MODULES = [
    "tests.core.test_jobs_twice",
    "tests.merchants.test_jobs_twice",
    "tests.loyalty.test_jobs_twice",
    "tests.catalog.test_jobs_twice",
    "tests.customercare.test_jobs_twice",
    "tests.integrations.test_jobs_twice",
    "tests.portals.test_jobs_twice",
]

COVERED: set[str] = set()


def covers(*tasks: Task) -> Callable[[Callable], Callable]:
    """Marks a test as the proof that ``tasks`` are safe twice at once."""

    def mark(test: Callable) -> Callable:
        COVERED.update(task.name for task in tasks)
        return test

    return mark


def run(task: Task, **kwargs: Any) -> Any:
    """One run as a worker runs it (the job-run signals included); its return value. Read
    without ``.get()``: Celery's guard against waiting inside a task is one flag for the
    process, which two eager runs in threads may leave set for each other."""
    return task.apply(kwargs=kwargs, throw=True).result


def run_twice_at_once(task: Task, **kwargs: Any) -> list[Any]:
    """Two runs of ``task`` started at the same moment, each on its own connection; their
    return values. Fails when either raised."""
    results = run_together(2, lambda _i: run(task, **kwargs))
    assert not errors(results), errors(results)
    return oks(results)

"""Rows built once for the tests of one module, as Django's ``TestCase.setUpTestData``
builds them once for a class.

A module-scoped fixture builds them inside ``kept_for_the_module``: a transaction left
open until the module's last test has run, then rolled back. Each test is a savepoint
inside it, as usual, so what a test changes is rolled back before the next one; the
fixture a test asks for hands it its own copy of the objects (``copy.deepcopy``), so
that what a test changes in memory does not leak either. pytest tears a module's
fixtures down before running another module's tests, so no other module sees the rows.
"""

from contextlib import contextmanager

from django.db import transaction


@contextmanager
def kept_for_the_module(django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)

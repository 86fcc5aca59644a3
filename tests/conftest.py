"""Fixtures every app's tests share.

Cross-tenant checks: ``tenant_pair`` gives two live merchants, each with an API client
holding its own key. An endpoint test fetches merchant A's object with ``tenant_pair.b``'s
client and expects 404 (``assert_not_found``): another merchant's object never exists.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from celery.result import allow_join_result
from django.db import connection
from django.db.backends.postgresql.operations import DatabaseOperations
from rest_framework.test import APIClient

from merchants.models import Merchant, MerchantAPIKey, Scope
from tests.merchants.factories import MerchantFactory, issue_key
from tests.seeded_demo import SHARED_DEMO, SeededDemo

_truncate = DatabaseOperations.sql_flush


def pytest_sessionfinish(session, exitstatus):
    """The scratch folders the test settings made for this process's files go too."""
    from django.conf import settings

    for folder in (settings.MEDIA_ROOT, settings.CARE_ATTACHMENT_ROOT):
        if Path(folder).name.startswith(("loyalty-test-media-", "loyalty-test-care-")):
            shutil.rmtree(folder, ignore_errors=True)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "seeded_demo: the module reads seed_demo's data, loaded once (tests/seeded_demo.py)",
    )


def pytest_collection_modifyitems(config, items):
    items[:] = _run_order(items)

    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def _slow(item) -> bool:
    """Runs real processes or a browser, or is transactional (its own threads or server, and
    a flush of every table after it)."""
    if item.get_closest_marker("e2e") or item.get_closest_marker("browser"):
        return True
    marker = item.get_closest_marker("django_db")
    if marker and marker.kwargs.get("transaction", marker.args[0] if marker.args else False):
        return True
    return "transactional_db" in getattr(item, "fixturenames", ())


def _run_order(items: list) -> list:
    """The modules that read the demo data first, one after the other: one load of the demo
    serves them all (tests/seeded_demo.py). Then the slow tests, spread evenly over the
    first quarter of the run: xdist (-n, load scheduling) hands that quarter out first, an
    even share to each process, so that none of them is left with the slow ones at the
    end while the others wait. The rest keep their order (pytest-django's: the tests rolled
    back at their end, then those without the database).

    A transactional test may come before a test in a transaction: its flush leaves the
    rows the migrations made (content types, permissions, staff groups, scheduled jobs)
    as they were, made again by the post-migrate step."""
    demo = [item for item in items if item.get_closest_marker("seeded_demo")]
    first = {id(item) for item in demo}
    slow = [item for item in items if id(item) not in first and _slow(item)]
    first |= {id(item) for item in slow}
    regular = iter([item for item in items if id(item) not in first])
    ordered = list(demo)
    span = max(len(items) // 4 - len(demo), len(slow))
    placed = 0
    for position in range(span):
        if placed < len(slow) and position >= placed * span / len(slow):
            ordered.append(slow[placed])
            placed += 1
        else:
            ordered.append(next(regular))
    ordered.extend(regular)
    return ordered


def _sql_flush_by_delete(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """PostgreSQL's flush as one DELETE a table, triggers off (a superuser's
    ``session_replication_role``), instead of Django's one TRUNCATE of every table.

    A transactional test ends with a flush. A TRUNCATE gives each of the hundred-odd tables
    new files, seconds on a busy machine; deleting the few rows a test left takes
    milliseconds and leaves the same empty tables. The triggers that refuse deletes from
    the ledger and the event tables, and the foreign keys, are off for this transaction
    only. Sequences are not reset, as Django's flush leaves them unless asked."""
    connection = self.connection
    connection.ensure_connection()
    if (
        not tables
        or reset_sequences
        or connection.connection.info.parameter_status("is_superuser") != "on"
    ):
        return _truncate(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    return [
        "SET LOCAL session_replication_role = replica;",
        *(
            f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
            for table in tables
        ),
    ]


@pytest.fixture(scope="session", autouse=True)
def flush_by_delete():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", _sql_flush_by_delete)
        yield


@pytest.fixture(autouse=True)
def celery_join_guard_clear():
    """Each test starts with Celery's guard against waiting on a result inside a task
    clear, as in a fresh process. An eager ``apply_async`` sets that process-wide flag for
    the task's run and then puts back what it found; run from several threads at once (the
    concurrency tests), they can put back one another's value and leave it set, and every
    ``.get()`` after that, in any later test, would fail."""
    with allow_join_result():
        yield


@pytest.fixture(scope="session")
def shared_demo(django_db_setup, django_db_blocker):
    yield SHARED_DEMO
    SHARED_DEMO.discard()


@pytest.fixture(scope="module", autouse=True)
def seeded_demo_transaction(request):
    """Loads the demo before the first test of a ``seeded_demo`` module (unless it is still
    loaded), and rolls it back before the first test of any other module."""
    if request.node.get_closest_marker("seeded_demo"):
        request.getfixturevalue("shared_demo").load(request.getfixturevalue("django_db_blocker"))
    else:
        SHARED_DEMO.discard()


@pytest.fixture
def seeded_demo(settings) -> SeededDemo:
    """What the first seed_demo printed, when it ended and where it drew its files (this
    test's MEDIA_ROOT)."""
    demo = SHARED_DEMO.loaded
    assert demo is not None, "the module needs pytestmark = pytest.mark.seeded_demo"
    settings.MEDIA_ROOT = demo.media
    return demo


@dataclass
class Tenant:
    merchant: Merchant
    api_key: MerchantAPIKey
    raw_key: str
    client: APIClient


def make_tenant(merchant: Merchant, scopes=(Scope.READ, Scope.WRITE, Scope.ADJUST)) -> Tenant:
    api_key, raw_key = issue_key(merchant, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return Tenant(merchant=merchant, api_key=api_key, raw_key=raw_key, client=client)


@dataclass
class TenantPair:
    a: Tenant
    b: Tenant


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant(MerchantFactory(live=True))


@pytest.fixture
def tenant_pair(db) -> TenantPair:
    return TenantPair(
        a=make_tenant(MerchantFactory(live=True, country="US", default_currency="USD")),
        b=make_tenant(MerchantFactory(live=True, country="FR", default_currency="EUR")),
    )


def assert_problem(response, status: int, code: str, attr: str | None = None) -> dict:
    """The response is an RFC 9457 problem document with this status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert isinstance(body["errors"], list)
    assert body["errors"]
    if attr is not None:
        assert attr in [error["attr"] for error in body["errors"]], body
    return body


def assert_not_found(response) -> None:
    assert_problem(response, 404, "not_found")


@pytest.fixture
def vendor() -> str:
    return connection.vendor

"""``/healthz``, the API documentation and the API's 404, as a load balancer or an
integrator sees them. Failures are real: a closed port, an unreachable database."""

import re
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.db import connection

from config.celery import app as celery_app
from merchants.models import Merchant
from merchants.tasks import WORKER_HEARTBEAT_CACHE_KEY, record_worker_heartbeat
from tests.conftest import assert_problem
from tests.merchants.factories import MerchantFactory

CLOSED_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def no_heartbeat():
    cache.delete(WORKER_HEARTBEAT_CACHE_KEY)
    yield
    cache.delete(WORKER_HEARTBEAT_CACHE_KEY)


@pytest.fixture
def broker_down(settings):
    """Point the Celery app (which read its configuration once) at a closed port."""
    conf = celery_app.conf
    saved = {name: conf[name] for name in ("broker_url", "broker_connection_timeout")}
    settings.CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
    try:
        conf.broker_url = CLOSED_BROKER_URL
        conf.broker_connection_timeout = 0.5
        with celery_app.connection_for_write() as conn:  # what config.health connects to
            assert (conn.transport_cls, conn.hostname, conn.port) == ("redis", "127.0.0.1", 1)
        yield
    finally:
        for name, value in saved.items():
            conf[name] = value


@contextmanager
def database_unreachable(tmp_path: Path):
    """Point the default connection at a database that cannot be reached, then restore it.

    Needs a test outside a transaction (``transaction=True``): closing a connection inside
    an atomic block only marks it for rollback."""
    saved = dict(connection.settings_dict)
    keeper = None
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        # Closing the last connection to an in-memory database destroys it: hold it open.
        keeper = sqlite3.connect(saved["NAME"], uri=True)
    connection.close()
    try:
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
        # An in-memory SQLite connection ignores close(); with the new NAME it really closes.
        connection.close()
        assert connection.connection is None
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
        connection.close()
        connection.ensure_connection()
        if keeper is not None:
            keeper.close()


# --- /healthz --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_healthz_reports_ok_when_database_and_broker_answer(client, no_heartbeat):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["down"] == []
    assert body["checks"] == {"database": {"status": "ok"}, "broker": {"status": "ok"}}
    assert body["worker"] == {"status": "unknown", "last_heartbeat_age_seconds": None}


@pytest.mark.django_db
def test_healthz_is_never_cached_and_only_answers_get(client):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"]
    assert "max-age=0" in response["Cache-Control"]

    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_healthz_is_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/api/schema/").status_code == 301


@pytest.mark.django_db
def test_healthz_reports_the_broker_down(client, broker_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == ["broker"]
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "down"
    assert body["checks"]["broker"]["error"]


@pytest.mark.django_db(transaction=True)
def test_healthz_reports_the_database_down_and_recovers(client, tmp_path):
    merchant = MerchantFactory()

    with database_unreachable(tmp_path):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["down"] == ["database"]
    assert body["checks"]["broker"] == {"status": "ok"}
    assert body["checks"]["database"]["status"] == "down"
    assert "OperationalError" in body["checks"]["database"]["error"]

    assert client.get("/healthz").status_code == 200
    # The very same database is back, not a fresh empty one.
    assert Merchant.objects.filter(pk=merchant.pk).exists()


@pytest.mark.django_db
def test_worker_heartbeat_task_makes_healthz_report_the_worker_ok(client, no_heartbeat):
    assert client.get("/healthz").json()["worker"]["status"] == "unknown"

    result = record_worker_heartbeat.delay()  # eager in the test settings

    assert result.successful()
    worker = client.get("/healthz").json()["worker"]
    assert worker["status"] == "ok"
    assert 0 <= worker["last_heartbeat_age_seconds"] <= 5


@pytest.mark.django_db
def test_old_heartbeat_is_reported_stale_without_failing_the_check(client, settings, no_heartbeat):
    last_beat = time.time() - settings.WORKER_HEARTBEAT_STALE_SECONDS - 60
    cache.set(WORKER_HEARTBEAT_CACHE_KEY, last_beat)

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["worker"]["status"] == "stale"
    assert response.json()["worker"]["last_heartbeat_age_seconds"] >= 60


# --- API documentation and errors ----------------------------------------------------------


def test_schema_is_an_openapi_3_document_with_bearer_auth(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/merchant/" in schema["paths"]
    schemes = schema["components"]["securitySchemes"]
    bearer = [name for name, s in schemes.items() if s == {**s, "type": "http", "scheme": "bearer"}]
    assert bearer, schemes
    operation = schema["paths"]["/api/v1/merchant/"]["get"]
    assert {bearer[0]: []} in operation["security"]


def test_docs_page_loads_its_assets_locally(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html), html
    assert not re.search(r"https?://", html)
    urls = re.findall(r"""<(?:script|link)\b[^>]*?(?:src|href)=["']([^"']+)["']""", html)
    assert any(url.endswith(".js") for url in urls), urls
    assert any(url.endswith(".css") for url in urls), urls
    # Swagger UI's initialising script comes from the page's own address, not inline.
    assert "/api/docs/?script=" in urls
    for url in urls:
        if url == "/api/docs/?script=":
            continue
        assert url.startswith("/static/"), url
        # The asset really ships with the project (drf-spectacular-sidecar).
        assert finders.find(url.removeprefix("/static/")), url
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()


@pytest.mark.parametrize("path", ["/api/", "/api/v1/nothing-here/", "/api/v2/merchant/"])
def test_unknown_api_path_is_a_problem_document(client, path):
    assert_problem(client.get(path), 404, "not_found")


def test_unknown_page_outside_the_api_stays_html(client):
    response = client.get("/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")

"""``/healthz``: 200 while the database and the broker answer, 503 naming what is down.

A reports replica is reported but never fails the probe: the load balancer would take
every web host out for a replica that only the report pages read."""

import time

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.replica import REPLICA_ALIAS, replica_configured
from merchants.tasks import WORKER_HEARTBEAT_CACHE_KEY


def _database(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down"
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _replica() -> dict:
    if not replica_configured():
        return {"status": "not configured"}
    error = _database(REPLICA_ALIAS)
    return {"status": "down", "error": error} if error else {"status": "ok"}


def _broker() -> str | None:
    try:
        with current_app.connection_for_write() as conn:
            # One attempt, bounded by the broker connect timeout: a probe must answer fast.
            conn.ensure_connection(max_retries=0, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
    except Exception as exc:  # kombu raises transport-specific errors
        return f"{type(exc).__name__}: {exc}".strip()
    return None


def _worker() -> dict:
    try:
        beat = cache.get(WORKER_HEARTBEAT_CACHE_KEY)
    except Exception:  # a broken cache must not hide the two checks that matter
        beat = None
    if beat is None:
        return {"status": "unknown", "last_heartbeat_age_seconds": None}
    age = max(0, int(time.time() - beat))
    stale = age > settings.WORKER_HEARTBEAT_STALE_SECONDS
    return {"status": "stale" if stale else "ok", "last_heartbeat_age_seconds": age}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    down = sorted(name for name, error in checks.items() if error)
    body = {
        "status": "down" if down else "ok",
        "down": down,
        "checks": {
            name: {"status": "down", "error": error} if error else {"status": "ok"}
            for name, error in checks.items()
        },
        # Informational: a worker heartbeat comes from the scheduled heartbeat task.
        "worker": _worker(),
        "replica": _replica(),
    }
    return JsonResponse(body, status=503 if down else 200)

"""Schemathesis holds the store API to its OpenAPI schema: every phase (the schema's
examples, coverage of each parameter's edges, random fuzzing, stateful sequences), every
check, a fixed seed, against a live server and a store with data behind every route.

It must find nothing: no server error, no response outside the schema, no valid request
refused, no invalid one accepted. ``scripts/schemathesis`` runs the same test longer
(``SCHEMATHESIS_MAX_EXAMPLES``, ``SCHEMATHESIS_SEED``).
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from tests.config.store_api_data import store_with_data
from tests.config.test_worker_e2e import database_url_of_the_test_database, stop

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
ST = str(Path(sys.executable).with_name("st"))
CONFIG = BASE_DIR / "tests" / "config" / "schemathesis.toml"
# Five generated requests an operation and phase in the suite (every operation, every
# parameter's edges and every check still run); scripts/schemathesis runs a hundred.
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "5"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261"))
TIMEOUT_SECONDS = int(os.environ.get("SCHEMATHESIS_TIMEOUT", "600"))


GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def free_port() -> int:
    port = int(os.environ.get("SCHEMATHESIS_PORT", "0"))
    if port:
        return port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def api_server(tmp_path):
    """gunicorn, as the Procfile runs it, on the test database: the store's data is
    committed (``transaction=True``), tasks run at once, files are this process's."""
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_of_the_test_database(),
        "DEBUG": "false",
        "VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CARE_ATTACHMENT_ROOT": str(settings.CARE_ATTACHMENT_ROOT),
        "CACHE_URL": "locmemcache://",
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "API_THROTTLE_RATE": "100000/min",
        # The run sends bad and missing keys on purpose, thousands of them.
        "API_AUTH_FAILURE_RATE": "100000/min",
        "LOG_LEVEL": "WARNING",
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [GUNICORN, "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/schema/", timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
                time.sleep(0.3)
        yield url
    finally:
        stop(server)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line]
    assert not errors, log.read_text()[-20000:]


def test_the_api_keeps_its_openapi_contract(api_server, tmp_path):
    store = store_with_data()
    report_dir = tmp_path / "report"
    command = [
        ST,
        "--config-file",
        str(CONFIG),
        "run",
        f"{api_server}/api/schema/",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {store.raw_key}",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    result = subprocess.run(
        command,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.config.schemathesis_hooks"},
    )
    output = result.stdout + result.stderr
    print(output)
    assert result.returncode == 0, output[-20000:]

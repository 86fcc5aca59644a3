"""Schemathesis holds the store API to its OpenAPI schema: every phase (the schema's
examples, coverage of each parameter's edges, random fuzzing, stateful sequences), every
check, a fixed seed, against a live server and a store with data behind every route.

It must find nothing: no server error, no response outside the schema, no valid request
refused, no invalid one accepted. ``scripts/schemathesis`` runs the same test longer
(``SCHEMATHESIS_MAX_EXAMPLES``, ``SCHEMATHESIS_SEED``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.config.store_api_data import store_with_data

pytestmark = [pytest.mark.postgres, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
ST = str(Path(sys.executable).with_name("st"))
CONFIG = BASE_DIR / "tests" / "config" / "schemathesis.toml"
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
SEED = int(os.environ.get("SCHEMATHESIS_SEED", "20261"))
TIMEOUT_SECONDS = int(os.environ.get("SCHEMATHESIS_TIMEOUT", "600"))


def _summary(report: Path) -> dict:
    """The counts of the run, from schemathesis' NDJSON event stream."""
    totals = {"examples": 0, "failures": 0}
    for line in report.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("EngineFinished") or {}
        if finished:
            totals["outcome"] = finished.get("outcome")
    return totals


def test_the_api_keeps_its_openapi_contract(live_server, tmp_path):
    store = store_with_data()
    report_dir = tmp_path / "report"
    command = [
        ST,
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
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

"""The web process tunes its garbage collector once the project is loaded."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import gc, json; import config.wsgi; "
    "print(json.dumps([gc.get_threshold()[0], gc.get_freeze_count()]))"
)


def loaded(**env: str) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    threshold, frozen = json.loads(result.stdout.strip().splitlines()[-1])
    return threshold, frozen


@pytest.mark.parametrize(
    ("env", "threshold", "frozen"),
    [
        ({}, 10_000, True),
        ({"GC_THRESHOLD": "25000"}, 25_000, True),
        ({"GC_THRESHOLD": "0"}, 700, False),
    ],
)
def test_the_wsgi_application_spaces_collections_and_sets_aside_what_it_loaded(
    env, threshold, frozen
):
    got_threshold, frozen_count = loaded(**env)
    assert got_threshold == threshold
    assert (frozen_count > 10_000) is frozen

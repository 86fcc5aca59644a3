"""A real Celery worker and beat, as the Procfile runs them, keep /healthz's heartbeat fresh.

Both processes use the test database (PostgreSQL only: SQLite's test database lives in
this process's memory), a file-system broker and a file cache in a temporary folder.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import environ
import pytest
from django.core.cache.backends.filebased import FileBasedCache
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from merchants.tasks import WORKER_HEARTBEAT_CACHE_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
DEADLINE_SECONDS = 60


def database_url_of_the_test_database() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"], safe="")
    if s["PASSWORD"]:
        auth += ":" + quote(s["PASSWORD"], safe="")
    return f"postgres://{auth}@{s['HOST'] or 'localhost'}:{s['PORT'] or 5432}/{s['NAME']}"


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [CELERY, "-A", "config", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


class WorkerAndBeat:
    """A Celery worker and beat as the Procfile runs them, with ``env``, for the length of a
    ``with`` block; their logs are in ``output`` afterwards (and printed, so pytest shows
    them when the test fails)."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path, self.env = tmp_path, env
        self.logs = {"worker": tmp_path / "worker.log", "beat": tmp_path / "beat.log"}
        self.processes: dict[str, subprocess.Popen] = {}
        self.output = ""

    def __enter__(self) -> "WorkerAndBeat":
        self.processes["worker"] = start(
            ["worker", "--pool=solo", "--loglevel=INFO", "--without-mingle", "--without-gossip"],
            self.env,
            self.logs["worker"],
        )
        self.processes["beat"] = start(
            [
                "beat",
                "-S",
                "django_celery_beat.schedulers:DatabaseScheduler",
                "--loglevel=INFO",
                "--max-interval=1",
                f"--pidfile={self.tmp_path / 'beat.pid'}",
            ],
            self.env,
            self.logs["beat"],
        )
        return self

    def assert_running(self) -> None:
        for name, process in self.processes.items():
            assert process.poll() is None, f"{name} exited with {process.returncode}"

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes.values():
            stop(process)
        self.output = "\n".join(
            f"----- {name} -----\n{log.read_text(errors='replace') if log.exists() else ''}"
            for name, log in self.logs.items()
        )
        print(self.output)  # shown by pytest when the test fails


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()  # SIGTERM: warm shutdown (beat saves its schedule)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def test_worker_and_beat_record_the_heartbeat(tmp_path):
    heartbeat = PeriodicTask.objects.get(name="Worker heartbeat")  # registered on migrate
    assert heartbeat.task == "merchants.record_worker_heartbeat"
    assert heartbeat.enabled
    assert heartbeat.interval.every == 60
    assert heartbeat.total_run_count == 0
    assert heartbeat.last_run_at is None
    # A job that never ran is first due one interval after it was created or changed (not
    # at beat's start): make it look registered two minutes ago so the test needn't wait.
    PeriodicTask.objects.filter(pk=heartbeat.pk).update(
        date_changed=timezone.now() - timedelta(minutes=2)
    )

    cache_url = f"filecache://{tmp_path / 'cache'}"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url_of_the_test_database(),
        "VAR_DIR": str(tmp_path / "var"),
        "CACHE_URL": cache_url,
    }
    config = environ.Env.cache_url_config(cache_url)  # as the settings build it
    assert config["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    worker_cache = FileBasedCache(config["LOCATION"], config)
    assert worker_cache.get(WORKER_HEARTBEAT_CACHE_KEY) is None

    beat_value = None
    started = time.time()
    with WorkerAndBeat(tmp_path, env) as celery:
        while time.time() - started < DEADLINE_SECONDS:
            celery.assert_running()
            beat_value = worker_cache.get(WORKER_HEARTBEAT_CACHE_KEY)
            if beat_value is not None:
                break
            time.sleep(0.5)
    output = celery.output

    assert beat_value is not None, f"no heartbeat within {DEADLINE_SECONDS}s\n{output}"
    assert started - 5 <= beat_value <= time.time(), output
    for name, process in celery.processes.items():
        assert process.returncode is not None, name

    heartbeat.refresh_from_db()
    assert heartbeat.total_run_count >= 1, output
    assert heartbeat.last_run_at is not None, output
    assert heartbeat.last_run_at >= timezone.now() - timedelta(seconds=DEADLINE_SECONDS + 30)

"""What the benchmarks share: the local PostgreSQL server's tools and scratch databases.

Imported by the scripts beside it (``python bench/<name>.py`` puts ``bench/`` on the path).
"""

# ruff: noqa: S603 (fixed commands: the PostgreSQL client tools and manage.py)

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def pg_env() -> dict[str, str]:
    return {**os.environ, "PGHOST": PG["host"], "PGPORT": PG["port"], "PGUSER": PG["user"]}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not on PATH")
    return path


def run(cmd: list[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command from the project root; its output, or exit with its errors."""
    result = subprocess.run(
        cmd, env=env or pg_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout


def recreate_db(name: str) -> None:
    run([tool("dropdb"), "--if-exists", "--force", name])
    run([tool("createdb"), name])


def drop_db(name: str) -> None:
    """Drop a scratch database, quietly (it runs in ``finally`` blocks)."""
    subprocess.run(
        [tool("dropdb"), "--if-exists", "--force", name],
        env=pg_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )


def database_url(name: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{name}"


# The variables a benchmark's Django takes from the environment: the caller's own are
# dropped, so a DATABASE_URL exported for the tests never points a benchmark elsewhere.
_DJANGO_PREFIXES = ("DJANGO_", "DATABASE_", "CACHE_", "CELERY_", "API_", "EMAIL_")


def django_env(var_dir: str, *, database: str) -> dict[str, str]:
    """The environment of a benchmark's Django (in-process or gunicorn) on ``database``:
    development settings without DEBUG, a local cache, quiet logs."""
    env = {
        name: value for name, value in os.environ.items() if not name.startswith(_DJANGO_PREFIXES)
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV="development",
        DEBUG="false",
        DATABASE_URL=database_url(database),
        CACHE_URL="locmemcache://",
        LOG_LEVEL="WARNING",
        VAR_DIR=var_dir,
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def configure_django(env: dict[str, str]) -> None:
    """Set this process up with ``env`` (from ``django_env``) and start Django."""
    for name in list(os.environ):
        if name.startswith(_DJANGO_PREFIXES):
            del os.environ[name]
    os.environ.update(env)
    import django

    django.setup()

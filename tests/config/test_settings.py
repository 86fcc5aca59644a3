"""Settings come only from the environment, and production refuses every insecure default.

The production checks run ``manage.py`` in a subprocess with an environment built from
scratch: the settings module is imported once per process, and the test process itself
runs on ``config.settings.test``.
"""

import io
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

BASE_DIR = Path(__file__).resolve().parents[2]
DEV_FIELD_ENCRYPTION_KEY = "ZGV2ZWxvcG1lbnQtb25seS1rZXktMzItYnl0ZXMhISE="
REFUSAL = "ImproperlyConfigured: Refusing to start in production with insecure settings: "


def random_secret(length: int = 60) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return manage(env, "check", "--deploy", "--fail-level", "WARNING")


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    """Nothing but PATH, and a VAR_DIR that keeps development defaults out of the repo."""
    return {"PATH": os.environ["PATH"], "VAR_DIR": str(tmp_path / "var")}


@pytest.fixture
def production_env(base_env) -> dict[str, str]:
    """A complete, secure production environment (DEBUG deliberately unset)."""
    return {
        **base_env,
        "DJANGO_ENV": "production",
        "SECRET_KEY": random_secret(60),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "loyalty.example.com,ops.loyalty.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "PUBLIC_BASE_URL": "https://loyalty.example.com",
    }


def test_secure_production_environment_passes_the_deploy_checks(production_env):
    result = check_deploy(production_env)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr
    assert "ImproperlyConfigured" not in result.stderr


# (environment changes, the one problem the refusal must name). ``None`` unsets a variable.
INSECURE = {
    "no SECRET_KEY": ({"SECRET_KEY": None}, "SECRET_KEY must be set to a long random value"),
    "django-insecure SECRET_KEY": (
        {"SECRET_KEY": "django-insecure-" + random_secret(60)},
        "SECRET_KEY must be set to a long random value",
    ),
    "short SECRET_KEY": (
        {"SECRET_KEY": random_secret(40)},
        "SECRET_KEY must be at least 50 characters with 5 or more distinct ones",
    ),
    "repetitive SECRET_KEY": (
        {"SECRET_KEY": "abcd" * 20},
        "SECRET_KEY must be at least 50 characters with 5 or more distinct ones",
    ),
    "DEBUG=true": ({"DEBUG": "true"}, "DEBUG must be off"),
    "no FIELD_ENCRYPTION_KEY": (
        {"FIELD_ENCRYPTION_KEY": None},
        "FIELD_ENCRYPTION_KEY must be set (the development key is public)",
    ),
    "development FIELD_ENCRYPTION_KEY among others": (
        {"FIELD_ENCRYPTION_KEY": f"{Fernet.generate_key().decode()},{DEV_FIELD_ENCRYPTION_KEY}"},
        "FIELD_ENCRYPTION_KEY must be set (the development key is public)",
    ),
    "no ALLOWED_HOSTS": ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS must list the site's host names"),
    "ALLOWED_HOSTS=*": ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS must list the site's host names"),
    "ALLOWED_HOSTS with *": (
        {"ALLOWED_HOSTS": "loyalty.example.com,*"},
        "ALLOWED_HOSTS must list the site's host names",
    ),
    "no PUBLIC_BASE_URL": (
        {"PUBLIC_BASE_URL": None},
        "PUBLIC_BASE_URL must be the site's https:// address",
    ),
    "plain-http PUBLIC_BASE_URL": (
        {"PUBLIC_BASE_URL": "http://loyalty.example.com"},
        "PUBLIC_BASE_URL must be the site's https:// address",
    ),
    "no DATABASE_URL": (
        {"DATABASE_URL": None},
        "DATABASE_URL must be set (the SQLite default is for development)",
    ),
    "no CELERY_BROKER_URL": (
        {"CELERY_BROKER_URL": None},
        "CELERY_BROKER_URL must point at Redis or RabbitMQ",
    ),
    "filesystem CELERY_BROKER_URL": (
        {"CELERY_BROKER_URL": "filesystem://"},
        "CELERY_BROKER_URL must point at Redis or RabbitMQ",
    ),
    "insecure session cookie": (
        {"SESSION_COOKIE_SECURE": "false"},
        "SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE must be on",
    ),
    "insecure CSRF cookie": (
        {"CSRF_COOKIE_SECURE": "false"},
        "SESSION_COOKIE_SECURE and CSRF_COOKIE_SECURE must be on",
    ),
}


@pytest.mark.parametrize(("changes", "problem"), INSECURE.values(), ids=INSECURE.keys())
def test_production_refuses_each_insecure_default(production_env, changes, problem):
    env = dict(production_env)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value

    result = check_deploy(env)

    assert result.returncode != 0, result.stdout
    assert REFUSAL in result.stderr, result.stderr
    refusal_line = next(line for line in result.stderr.splitlines() if REFUSAL in line)
    # Exactly the problem introduced, nothing else: the rest of the environment is secure.
    assert refusal_line.split(REFUSAL, 1)[1].split("; ") == [problem]


def test_bare_production_environment_lists_every_problem(base_env):
    result = check_deploy({**base_env, "DJANGO_ENV": "production"})

    assert result.returncode != 0
    for problem in (
        "SECRET_KEY must be set",
        "FIELD_ENCRYPTION_KEY must be set",
        "ALLOWED_HOSTS must list",
        "DATABASE_URL must be set",
        "CELERY_BROKER_URL must point",
    ):
        assert problem in result.stderr


@pytest.mark.parametrize("value", ["staging", "Production", "prod"])
def test_unknown_django_env_is_refused(base_env, value):
    result = manage({**base_env, "DJANGO_ENV": value}, "check")

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"DJANGO_ENV must be development, production or test, not {value!r}" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("API_AUTH_FAILURE_RATE", "20/min", "(20, 60)"),
        ("API_AUTH_FAILURE_RATE", "", "None"),
        ("CLAIM_POST_RATE", "10/10m", "(10, 600)"),
        ("CARE_TICKET_POST_RATE", "3/h", "(3, 3600)"),
    ],
)
def test_rate_settings_read_a_count_per_window(base_env, name, value, expected):
    result = manage(
        {**base_env, name: value},
        "shell",
        "-c",
        f"from django.conf import settings; print(settings.{name})",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("name", ["API_AUTH_FAILURE_RATE", "CLAIM_POST_RATE"])
@pytest.mark.parametrize("value", ["0/min", "ten/min", "5/fortnight", "5"])
def test_a_rate_setting_that_does_not_parse_is_refused(base_env, name, value):
    result = manage({**base_env, name: value}, "check")

    assert result.returncode != 0
    assert f"{name} must read like 20/min or 10/10m" in result.stderr


def test_development_environment_starts_without_any_variable(base_env):
    result = manage(base_env, "check")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = io.StringIO()
    # --check exits (SystemExit) when a migration is missing.
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    assert "No changes detected" in out.getvalue()


def test_webhook_events_are_kept_longer_than_the_expiry_warning(base_env):
    refused = manage({**base_env, "WEBHOOK_EVENT_RETENTION_DAYS": "30"}, "check")
    assert refused.returncode != 0
    assert (
        "WEBHOOK_EVENT_RETENTION_DAYS must be more than LOYALTY_EXPIRY_WARNING_DAYS (30)"
        in refused.stderr
    )
    assert manage({**base_env, "WEBHOOK_EVENT_RETENTION_DAYS": "31"}, "check").returncode == 0

"""The router's decisions, and the settings that make the replica alias, without a replica.

A model opts in to replica reads with ``reads_from_replica = True``; until the loyalty
app's report aggregates exist, these tests opt ``Merchant`` in for the length of a test.
``settings.DATABASES`` is given a ``replica`` alias where a test needs one configured:
the router reads the setting, and no query here reaches that alias (the queries that do
are in ``test_replica_e2e.py``, against a real standby).
"""

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connections, router, transaction
from django.test.utils import CaptureQueriesContext

from config.db_routers import ReplicaRouter
from core.replica import reads_from_replica, reports_db, wait_for_replica
from loyalty.models import Member
from merchants.models import Merchant
from tests.merchants.factories import MerchantFactory

BASE_DIR = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")


@pytest.fixture
def report_model(monkeypatch):
    """``Merchant`` as a report model: its reads may go to the replica."""
    monkeypatch.setattr(Merchant, "reads_from_replica", True, raising=False)
    return Merchant


@pytest.fixture
def with_replica(settings):
    """A ``replica`` alias configured and in use (the router only reads the settings)."""
    default = settings.DATABASES["default"]
    settings.DATABASES = {
        "default": default,
        "replica": {**default, "TEST": {**default.get("TEST", {}), "MIRROR": "default"}},
    }
    settings.REPORTS_READ_FROM_REPLICA = True


@pytest.fixture
def without_replica(settings):
    settings.DATABASES = {"default": settings.DATABASES["default"]}
    settings.REPORTS_READ_FROM_REPLICA = True


def test_the_router_is_installed(settings):
    assert settings.DATABASE_ROUTERS == ["config.db_routers.ReplicaRouter"]
    assert isinstance(router.routers[0], ReplicaRouter)


def test_without_a_replica_everything_reads_and_writes_the_primary(without_replica, report_model):
    assert reports_db() == "default"
    assert Merchant.objects.all().db == "default"
    assert Member.objects.all().db == "default"
    assert router.db_for_write(Merchant) == "default"


def test_report_models_read_the_replica_outside_a_transaction(with_replica, report_model):
    assert reports_db() == "replica"
    assert Merchant.objects.filter(slug="x").db == "replica"
    assert router.db_for_read(Merchant) == "replica"


def test_other_models_read_the_primary_though_a_replica_is_configured(with_replica, report_model):
    assert Member.objects.all().db == "default"
    assert router.db_for_read(Member) == "default"
    # A report selector asks for the replica explicitly for a model that did not opt in.
    assert Member.objects.using(reports_db()).db == "replica"


def test_every_write_goes_to_the_primary(with_replica, report_model):
    assert router.db_for_write(Merchant) == "default"
    assert router.db_for_write(Member) == "default"
    from_replica = Merchant(name="Read from the replica")
    from_replica._state.db = "replica"
    # Django alone would write an object back where it was read from.
    assert router.db_for_write(Merchant, instance=from_replica) == "default"


def test_locking_reads_and_read_then_write_calls_go_to_the_primary(with_replica, report_model):
    # select_for_update and get_or_create are writes to the router: a standby has no locks.
    assert Merchant.objects.select_for_update().db == "default"
    queryset = Merchant.objects.all()
    queryset._for_write = True  # what get_or_create and update_or_create set
    assert queryset.db == "default"


def test_related_reads_of_an_object_from_the_replica_stay_on_the_replica(
    with_replica, report_model
):
    aggregate = Merchant(name="Read from the replica")
    aggregate._state.db = "replica"
    assert router.db_for_read(Member, instance=aggregate) == "replica"

    from_primary = Merchant(name="Read from the primary")
    from_primary._state.db = "default"
    assert router.db_for_read(Member, instance=from_primary) == "default"


def test_switched_off_report_reads_go_back_to_the_primary(with_replica, report_model, settings):
    settings.REPORTS_READ_FROM_REPLICA = False

    assert reports_db() == "default"
    assert Merchant.objects.all().db == "default"


@pytest.mark.django_db
def test_inside_a_transaction_report_reads_stay_on_the_primary(with_replica, report_model):
    # The ``db`` fixture runs the test inside a transaction, as a job's atomic block would.
    assert connections["default"].in_atomic_block
    assert reports_db() == "default"
    assert Merchant.objects.all().db == "default"
    with transaction.atomic():
        assert Merchant.objects.all().db == "default"


@pytest.mark.django_db
def test_saving_an_object_read_from_the_replica_writes_the_primary(with_replica, report_model):
    merchant = MerchantFactory(name="Before")
    merchant._state.db = "replica"
    merchant.name = "After"

    with CaptureQueriesContext(connections["default"]) as queries:
        merchant.save(update_fields=["name"])

    assert merchant._state.db == "default"
    assert any(query["sql"].startswith("UPDATE") for query in queries.captured_queries)
    assert Merchant.objects.using("default").get(pk=merchant.pk).name == "After"


def test_migrations_run_on_the_primary_only():
    routing = ReplicaRouter()

    for app_label in ("loyalty", "merchants", "auth", "contenttypes"):
        assert routing.allow_migrate("default", app_label) is True
        assert routing.allow_migrate("replica", app_label) is False
    assert routing.allow_migrate("replica", "loyalty", model_name="member") is False


def test_relations_are_allowed_between_the_primary_and_the_replica():
    routing = ReplicaRouter()
    on_primary, on_replica, elsewhere = Merchant(), Merchant(), Merchant()
    on_primary._state.db, on_replica._state.db, elsewhere._state.db = (
        "default",
        "replica",
        "archive",
    )

    assert routing.allow_relation(on_primary, on_replica) is True
    assert routing.allow_relation(on_replica, on_replica) is True
    # An alias this router does not know is left to Django's own rule.
    assert routing.allow_relation(on_primary, elsewhere) is None


def test_only_a_true_class_attribute_opts_a_model_in():
    class Opted:
        reads_from_replica = True

    class Truthy:
        reads_from_replica = "yes"

    class Plain:
        pass

    assert reads_from_replica(Opted) is True
    assert reads_from_replica(Truthy) is False
    assert reads_from_replica(Plain) is False
    assert reads_from_replica(Member) is False


def test_waiting_for_a_replica_that_is_not_configured_returns_at_once(without_replica):
    assert wait_for_replica(timeout=0) is True


# --- The settings: DATABASE_REPLICA_URL ----------------------------------------------------


def replica_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The settings module imported in a fresh process with exactly ``env``."""
    script = (
        "import json; import config.settings as s; "
        "print(json.dumps({'replica': s.DATABASES.get('replica'), "
        "'default': s.DATABASES['default'], 'routers': s.DATABASE_ROUTERS, "
        "'reads': s.REPORTS_READ_FROM_REPLICA}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def base_env(tmp_path) -> dict[str, str]:
    return {"VAR_DIR": str(tmp_path / "var")}


def test_replica_url_adds_a_test_mirror_alias_of_the_primary(base_env):
    result = replica_settings(
        {
            **base_env,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
            "DATABASE_REPLICA_URL": "postgres://reader@10.0.0.7:5433/loyalty",
            "DB_CONN_MAX_AGE": "30",
        }
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    replica = found["replica"]
    assert (replica["HOST"], replica["PORT"], replica["USER"], replica["NAME"]) == (
        "10.0.0.7",
        5433,
        "reader",
        "loyalty",
    )
    assert replica["ENGINE"] == "django.db.backends.postgresql"
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["CONN_MAX_AGE"] == 30
    assert replica["OPTIONS"]["connect_timeout"] == 5
    assert found["default"]["HOST"] == "127.0.0.1"
    assert found["routers"] == ["config.db_routers.ReplicaRouter"]
    assert found["reads"] is True


def test_a_connect_timeout_in_the_replica_url_wins(base_env):
    result = replica_settings(
        {
            **base_env,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
            "DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5433/loyalty?connect_timeout=2",
        }
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["replica"]["OPTIONS"]["connect_timeout"] == 2


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_replica_url_means_no_replica(base_env, value):
    result = replica_settings(
        {
            **base_env,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
            "DATABASE_REPLICA_URL": value,
        }
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["replica"] is None


def test_replica_reads_can_be_switched_off(base_env):
    result = replica_settings(
        {
            **base_env,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
            "DATABASE_REPLICA_URL": "postgres://postgres@127.0.0.1:5433/loyalty",
            "REPORTS_READ_FROM_REPLICA": "false",
        }
    )

    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["replica"] is not None
    assert found["reads"] is False


@pytest.mark.parametrize(
    ("database_url", "replica_url"),
    [
        (None, "postgres://postgres@127.0.0.1:5433/loyalty"),  # the SQLite default
        ("sqlite:////tmp/loyalty.sqlite3", "postgres://postgres@127.0.0.1:5433/loyalty"),
        ("postgres://postgres@127.0.0.1:5432/loyalty", "sqlite:////tmp/replica.sqlite3"),
        ("postgres://postgres@127.0.0.1:5432/loyalty", "mysql://root@127.0.0.1:3306/loyalty"),
    ],
)
def test_a_replica_needs_postgresql_on_both_sides(base_env, database_url, replica_url):
    env = {**base_env, "DATABASE_REPLICA_URL": replica_url}
    if database_url:
        env["DATABASE_URL"] = database_url

    result = replica_settings(env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DATABASE_REPLICA_URL must be a postgres:// URL" in result.stderr


# --- scripts/replica, the parts that need no server -----------------------------------------


def replica_script(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BASE_DIR / "scripts" / "replica"), *args],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({}, "postgres://postgres@127.0.0.1:5433/loyalty"),
        (
            {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty_ci?sslmode=disable"},
            "postgres://postgres@127.0.0.1:5433/loyalty_ci",
        ),
        ({"REPLICA_PORT": "6543"}, "postgres://postgres@127.0.0.1:6543/loyalty"),
    ],
)
def test_the_script_prints_the_replica_url_for_the_primary_database(env, url):
    result = replica_script("url", env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == url


@pytest.mark.parametrize("args", [(), ("restart",), ("--help",)])
def test_the_script_refuses_an_unknown_command(args):
    result = replica_script(*args, env={})

    assert result.returncode == 1
    assert "usage: scripts/replica start|stop|status|url" in result.stderr


@pytest.mark.parametrize("command", ["start", "stop", "url"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("REPLICA_PORT", "abc"),
        ("REPLICA_PORT", "70000"),
        ("REPLICA_PORT", "0"),
        ("REPLICA_PRIMARY_PORT", "5432; rm -rf /"),
    ],
)
def test_the_script_refuses_a_bad_port_before_doing_anything(tmp_path, command, name, value):
    folder = tmp_path / "standby"

    result = replica_script(command, env={name: value, "REPLICA_DIR": str(folder)})

    assert result.returncode == 1
    assert "must be port numbers (1-65535)" in result.stderr
    assert not folder.exists()


def test_the_script_never_touches_a_folder_it_did_not_make(tmp_path):
    foreign = tmp_path / "not-a-replica"
    foreign.mkdir()
    (foreign / "PG_VERSION").write_text("15\n")
    (foreign / "precious").write_text("keep me")

    result = replica_script("stop", env={"REPLICA_DIR": str(foreign)})

    assert result.returncode == 1
    assert "was not made by this script" in result.stderr
    assert (foreign / "precious").read_text() == "keep me"


def test_production_with_a_replica_passes_the_deploy_checks(base_env):
    env = {
        "PATH": os.environ["PATH"],
        **base_env,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "".join(secrets.choice(string.ascii_letters) for _ in range(60)),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "loyalty.example.com",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/loyalty",
        "DATABASE_REPLICA_URL": "postgres://reader@10.0.0.7:5432/loyalty",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "PUBLIC_BASE_URL": "https://loyalty.example.com",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout

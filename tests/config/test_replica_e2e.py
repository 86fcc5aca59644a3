"""Reading through the router from a real hot standby of the test database's primary.

Needs ``DATABASE_REPLICA_URL`` pointing at a running standby (``scripts/replica start``,
then ``export DATABASE_REPLICA_URL=$(scripts/replica url)``); skipped, with the reason,
without one. pytest-django creates the test database on the primary only; the standby
replays it under the same name, and the ``replica`` alias, a test mirror of ``default``,
takes that name and keeps its own host and port. The rows a test reads there must be
committed (``transaction=True``) and replayed (``wait_for_replica``) first.
"""

import time

import pytest
from django.conf import settings
from django.db import DatabaseError, OperationalError, connections, transaction
from django.test.utils import CaptureQueriesContext

from core.replica import reports_db, wait_for_replica
from merchants.models import Merchant
from tests.merchants.factories import MerchantFactory

REPLICA_CONFIGURED = "replica" in settings.DATABASES

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not REPLICA_CONFIGURED,
        reason="DATABASE_REPLICA_URL is unset (scripts/replica start, then "
        "export DATABASE_REPLICA_URL=$(scripts/replica url))",
    ),
    pytest.mark.django_db(
        transaction=True, databases=["default", "replica"] if REPLICA_CONFIGURED else ["default"]
    ),
]

REPLAY_TIMEOUT = 30.0
UNREACHABLE: list[str] = []
READ_ONLY_SQL_TRANSACTION = "25006"


@pytest.fixture
def replica(settings, monkeypatch):
    """The standby, reachable, with report reads on and ``Merchant`` as a report model.
    The test database was just created on the primary: until the standby has replayed
    that, connecting to it says the database does not exist, so keep trying a while."""
    if UNREACHABLE:
        pytest.skip(UNREACHABLE[0])
    deadline = time.monotonic() + REPLAY_TIMEOUT
    while True:
        try:
            connections["replica"].ensure_connection()
            break
        except OperationalError as error:
            connections["replica"].close()
            if time.monotonic() > deadline:
                # Once is enough: the other tests of the run skip at once.
                UNREACHABLE.append(f"the replica at DATABASE_REPLICA_URL is not reachable: {error}")
                pytest.skip(UNREACHABLE[0])
            time.sleep(0.5)
    settings.REPORTS_READ_FROM_REPLICA = True
    monkeypatch.setattr(Merchant, "reads_from_replica", True, raising=False)
    yield connections["replica"]
    connections["replica"].close()


def replayed() -> None:
    assert wait_for_replica(timeout=REPLAY_TIMEOUT), (
        f"the replica did not replay the primary's writes within {REPLAY_TIMEOUT} s"
    )


def sqlstate(error: BaseException) -> str | None:
    return getattr(error.__cause__, "sqlstate", None)


def test_the_replica_is_a_read_only_standby_of_the_test_database(replica):
    primary = connections["default"].settings_dict
    assert replica.settings_dict["NAME"] == primary["NAME"]
    assert (replica.settings_dict["HOST"], replica.settings_dict["PORT"]) != (
        primary["HOST"],
        primary["PORT"],
    )
    with replica.cursor() as cursor:
        cursor.execute(
            "SELECT pg_is_in_recovery(), current_setting('transaction_read_only'),"
            " current_database()"
        )
        assert cursor.fetchone() == (True, "on", primary["NAME"])


def test_a_row_committed_on_the_primary_is_read_from_the_replica_through_the_router(replica):
    merchant = MerchantFactory(name="Replayed Goods")
    replayed()

    queryset = Merchant.objects.filter(pk=merchant.pk)
    assert queryset.db == "replica"
    with CaptureQueriesContext(replica) as on_replica:
        found = queryset.get()

    assert found.name == "Replayed Goods"
    assert found._state.db == "replica"
    assert len(on_replica.captured_queries) == 1


def test_a_change_on_the_primary_reaches_the_replica_after_replay(replica):
    merchant = MerchantFactory(name="Old Name")
    Merchant.objects.filter(pk=merchant.pk).update(name="New Name")
    replayed()

    assert Merchant.objects.get(pk=merchant.pk).name == "New Name"
    assert Merchant.objects.using("default").get(pk=merchant.pk).name == "New Name"


def test_reports_db_names_the_replica_outside_a_transaction_only(replica):
    assert reports_db() == "replica"
    with transaction.atomic():
        assert reports_db() == "default"
        assert Merchant.objects.all().db == "default"
    assert reports_db() == "replica"


def test_a_write_routed_to_the_replica_is_refused_by_postgresql(replica):
    merchant = MerchantFactory(name="Untouched")
    replayed()

    with pytest.raises(DatabaseError) as update:
        Merchant.objects.using("replica").filter(pk=merchant.pk).update(name="Overwritten")
    assert sqlstate(update.value) == READ_ONLY_SQL_TRANSACTION

    with pytest.raises(DatabaseError) as insert:
        Merchant.objects.using("replica").create(
            name="Nowhere", slug="nowhere", country="US", default_currency="USD"
        )
    assert sqlstate(insert.value) == READ_ONLY_SQL_TRANSACTION

    with pytest.raises(DatabaseError) as ddl, replica.cursor() as cursor:
        cursor.execute("CREATE TABLE replica_write_probe (id int)")
    assert sqlstate(ddl.value) == READ_ONLY_SQL_TRANSACTION

    assert Merchant.objects.using("default").get(pk=merchant.pk).name == "Untouched"
    assert not Merchant.objects.using("default").filter(slug="nowhere").exists()


def test_saving_an_object_read_from_the_replica_writes_the_primary(replica):
    merchant = MerchantFactory(name="Before")
    replayed()
    found = Merchant.objects.get(pk=merchant.pk)
    assert found._state.db == "replica"

    found.name = "After"
    with CaptureQueriesContext(replica) as on_replica:
        found.save(update_fields=["name"])

    assert on_replica.captured_queries == []
    assert Merchant.objects.using("default").get(pk=merchant.pk).name == "After"
    replayed()
    assert Merchant.objects.get(pk=merchant.pk).name == "After"


def test_the_services_send_nothing_but_reads_to_the_replica(replica):
    # A merchant's whole onboarding (every status change, its checklist, its history rows)
    # runs while report reads are routed to the replica: none of its statements is a write
    # there, and the standby would refuse one anyway.
    with CaptureQueriesContext(replica) as on_replica:
        merchant = MerchantFactory(live=True)
        replayed()
        assert Merchant.objects.get(pk=merchant.pk).status == merchant.status

    statements = [query["sql"].lstrip().split()[0].upper() for query in on_replica]
    assert statements
    assert set(statements) <= {"SELECT"}

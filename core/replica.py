"""Reading reports from a streaming replica.

When ``DATABASE_REPLICA_URL`` is set, the settings add a second database alias,
``replica``: a PostgreSQL hot standby of the primary. It is read-only, and it is behind the
primary by however long its replay takes (milliseconds when both are idle, more under
load). Hence the rules, stated here once and applied by ``config.db_routers.ReplicaRouter``:

- **Only report reads go there.** A model opts in with a class attribute,
  ``reads_from_replica = True`` (the loyalty app's daily aggregates); the router sends its
  reads to ``reports_db()``. A report selector that reads another model (redemptions,
  tickets) asks for it: ``Redemption.objects.using(reports_db())``. Everything else reads
  the primary, so a page never shows a member a balance older than their last order.
- **Nothing is written there.** Every write goes to ``default``, an object read from the
  replica included; PostgreSQL refuses a write on a standby anyway.
- **A transaction reads what it wrote.** Inside a transaction on ``default`` every read
  stays on ``default``: the job that folds new ledger entries into the aggregates reads
  them back in the same transaction, and a replica sees neither uncommitted rows nor, for
  a moment, committed ones. A report page runs outside any transaction
  (``ATOMIC_REQUESTS`` is off), so its reads go to the replica.
- **It can be switched off** without removing the alias: ``REPORTS_READ_FROM_REPLICA=false``
  sends report reads back to the primary (a replica that lags too far behind). The test
  settings switch it off; the replica's own tests switch it on.
"""

import datetime
import time
from datetime import tzinfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateField, Max, Model, QuerySet
from django.db.models.functions import TruncDate

REPLICA_ALIAS = "replica"


def replica_configured() -> bool:
    """A ``replica`` alias is in ``DATABASES`` (``DATABASE_REPLICA_URL`` is set)."""
    return REPLICA_ALIAS in settings.DATABASES


def reports_db() -> str:
    """The alias report queries read from: ``"replica"`` when one is configured and in use
    and no transaction is open on ``default``, else ``"default"``."""
    if (
        settings.REPORTS_READ_FROM_REPLICA
        and replica_configured()
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
    ):
        return REPLICA_ALIAS
    return DEFAULT_DB_ALIAS


def reads_from_replica(model: type[Model]) -> bool:
    """The model opted in to replica reads (``reads_from_replica = True`` on its class)."""
    return getattr(model, "reads_from_replica", False) is True


def wait_for_replica(*, timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Wait until the replica has replayed everything the primary had written when called.

    True once it has (at once when no replica is configured, or when the ``replica`` alias
    is not a standby at all), False when ``timeout`` seconds pass first. For the rare
    caller that must read its own commit back through the replica (and for tests).
    """
    if not replica_configured():
        return True
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (target,) = cursor.fetchone()
    deadline = time.monotonic() + timeout
    with connections[REPLICA_ALIAS].cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT NOT pg_is_in_recovery()"
                " OR coalesce(pg_last_wal_replay_lsn() >= %s::pg_lsn, false)",
                [target],
            )
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)


def changed_days(
    rows: QuerySet, *, day_of: str, changed: str, since: datetime.datetime, zone: tzinfo
) -> dict[datetime.date, datetime.datetime]:
    """The local days (in ``zone``) of ``day_of`` among ``rows`` whose ``changed`` time is
    at or after ``since``, each with its latest change: what a report computed before then
    over one of those days may have missed. Read where the reports read (``reports_db``),
    grouped by day in the database."""
    grouped = (
        rows.using(reports_db())
        .filter(**{f"{changed}__gte": since})
        .annotate(local_day=TruncDate(day_of, tzinfo=zone, output_field=DateField()))
        .values("local_day")
        .annotate(latest=Max(changed))
        .order_by()
    )
    return {row["local_day"]: row["latest"] for row in grouped}

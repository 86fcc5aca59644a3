"""Scheduled-jobs benchmark: ``loyalty.jobs`` over a million point lots on PostgreSQL.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust
auth; ``createdb``, ``dropdb`` on ``PATH``)::

    .venv/bin/python bench/jobs.py [--lots 1000000] [--members 100000] [--batch-size 500]
                                   [--jobs release,expire,tiers] [--compare-lots N]
                                   [--sample 1000] [--no-tracemalloc] [--no-sql]
                                   [--profile JOB] [--timeout-minutes 120]

How long it takes (2 vCPUs, the database on the same machine; measured figures in
``bench/JOBS.md``): without ``tracemalloc`` the jobs handle about 1,550 members/s
(release), 1,500 (expire) and 5,000 (tiers), and 2.5-5 times slower with it (it hooks
every allocation of the ORM-heavy job code and of the driver's parameter handling). So 1M
lots over 100k members take ~3.5 min with ``--no-tracemalloc`` (seeding and the
comparison run included) and ~6.5 min for ``--jobs release`` with the default tracing;
100k lots over 10k members about a tenth of that. Other load on the machine slows them
markedly. Take speed figures from ``--no-tracemalloc`` runs (per-job peak RSS is still
reported) and the traced memory figure from e.g. ``--lots 1000000 --jobs release``.

What one run does:

1. Drops and recreates the database ``loyalty_bench_jobs``, runs ``manage.py migrate`` on
   it (a subprocess with ``DATABASE_URL``), then configures Django in-process against it
   (``config.settings``, development defaults, ``DEBUG=false`` so that no query log grows).
2. Creates a live merchant (``merchant_create``, every checklist item ticked, ``in_review
   -> approved -> live``) and its program (``program_configure``: 14 pending days,
   ``expiry_policy="lot_age"``, 12 expiry months, tiers on, 12-month window) with two tiers
   (Silver from 1,000 points, Gold from 2,500) through the project's services.
3. Seeds ``--members`` members and ``--lots`` point lots with plain SQL (``INSERT ...
   SELECT generate_series``), one ``earn`` ledger entry per lot. **The SQL seeding is bench
   setup only; the jobs under test run through the project code** (``loyalty.jobs`` ->
   ``loyalty.ledger`` / ``loyalty.tiers``, the ORM, the real row locks). Lot ``n`` belongs
   to member ``(n - 1) mod members + 1``; its kind is drawn at random (fixed seed):
   50 % pending with ``available_at`` in the past (due for release), 25 % released with
   ``expires_at`` in the past (due for expiry), 12.5 % pending not yet due, 12.5 % released
   not yet expired; points 10-500, ``remaining = points``. Each member's cached balances
   are the sums of their lots (``points_balance`` = released lots' remaining,
   ``pending_points`` = unreleased lots' remaining, ``lifetime_points`` = all points) and
   of their entries (``earn`` with ``points`` for a released lot, ``pending`` for a pending
   one; ``balance_after``/``pending_after`` are running sums in key order, so every CHECK
   constraint holds). A third of the members start in no tier, a third in Silver, a third
   in Gold, so that recomputation moves members up and down. As a bulk load, the secondary
   indexes of the entry and lot tables are rebuilt after the INSERTs and foreign-key
   triggers are off meanwhile; the references are checked afterwards. Then ``VACUUM
   ANALYZE`` (this server runs with ``autovacuum = off``). ~20-30 s for 1M lots.
4. Runs the ``--jobs`` among ``jobs.release_pending_points``, ``jobs.expire_points`` and
   ``jobs.recompute_tiers`` (``now`` fixed, ``--batch-size``), each timed by wall clock,
   with ``tracemalloc`` started just before it (peak traced Python memory), the process's
   peak RSS reset before it and read after it (``/proc/self/clear_refs``, ``VmHWM``), and
   the process max RSS (``getrusage``). Every SQL statement goes through a counting
   ``execute_wrapper``: queries, queries per batch and per member, time inside
   ``cursor.execute`` (driver, network, PostgreSQL; summed over the threads the job hands
   its batches to), the CPU time of this process and of its PostgreSQL backends (``/proc``,
   sampled every 0.1 s; less sensitive than wall time to whatever else runs on the
   machine), and the statement shapes that took the most time. A progress line
   about once a minute. After each job it checks, with SQL: the counts the job returned
   against what was seeded; no due pending lot left (release) / no expired lot with
   ``remaining > 0`` left (expiry); global sums (members' cached balances = sum of entries
   = sum of lots); and, on ``--sample`` random members, that each member's cached
   balances equal the sums of their entries and of their lots, that their latest entry's
   ``balance_after``/``pending_after`` equal them, that every lot's ``points`` plus its
   movements equals its ``remaining``, and (tiers) that the member sits in the tier their
   window gives (and that the changes match what the seed implies). A second run of each
   job must find nothing to do (timed: the cost of a scheduled run when nothing is due).
   ``VACUUM ANALYZE`` runs between jobs, outside the timings.
5. The same jobs in hand-written SQL (unless ``--no-sql``): re-seeds the same data
   (``setseed``: the same lots, members and ids) and runs release and expire (those of
   ``--jobs``) as a few statements over the whole set, one transaction each: the members
   locked in id order, then one statement of data-modifying CTEs that updates the lots,
   the members' balances, inserts one entry per member (running balances) and, for
   expire, one movement per lot, and one ``points.*`` outbox event per member with the
   payload ``loyalty.events`` writes. The same checks run after each, and the end state
   must equal the project's (``FINGERPRINT``: sums of row hashes over members, entries,
   lots, movements and the events written, ids from sequences left out). The report
   prints lots/s both ways and the ratio project / SQL (target ``TARGET_SQL_RATIO``, 0.6).
   Only the lot-age expiry is written in SQL: the benchmark's program has no inactivity
   policy.
6. Memory against lot count: re-seeds with ``--compare-lots`` lots (default ``--lots``
   / 10; members scaled the same way, so lots per member stay the same) and runs
   ``release_pending_points`` again, printing both peaks: a batch holds the due lots of
   ``--batch-size`` members, so the peak depends on the batch size and the lots per
   member, not on the total number of lots (provided the smaller run has at least
   ``--batch-size`` members due, so that its batches are full too; the report says when it
   has not). It also measures what one loaded ``PointLot`` costs (``tracemalloc``), to
   show what loading every lot at once would take.
7. Drops the database whatever happens (``finally``). The run is bounded: ``SIGALRM``
   after ``--timeout-minutes`` ends it through the same ``finally``.

``--profile release|expire|tiers`` runs that job under ``cProfile`` (its timings are then
inflated) and prints the top functions. Exit status 1 if any check failed.
"""

# Only fixed local executables (createdb, dropdb, manage.py) are started; the SQL strings
# below are constants with bound parameters (table names come from this file only).
# ruff: noqa: S608

import argparse
import contextlib
import cProfile
import io
import math
import os
import pstats
import re
import resource
import shutil
import signal
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from benchdb import (
    ROOT,
    configure_django,
    django_env,
    drop_db,
    live_merchant_with_program,
    run,
    tool,
)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_DB = "loyalty_bench_jobs"
SILVER, GOLD = Decimal("1000"), Decimal("2500")
TABLES = ("loyalty_member", "loyalty_ledgerentry", "loyalty_pointlot", "loyalty_lotmovement")
TARGET_PEAK_MB = 200
TARGET_SQL_RATIO = 0.6


# -- helpers ---------------------------------------------------------------------------


def log(message: str) -> None:
    print(f"[jobs {time.strftime('%H:%M:%S')}] {message}", flush=True)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _status_mb(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def reset_peak_rss() -> float | None:
    """Reset this process's peak RSS (Linux >= 4.0) and return the current RSS, so that
    the peak read after a job is that job's; None where /proc does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return None
    return _status_mb("VmRSS")


def peak_rss_mb() -> float | None:
    return _status_mb("VmHWM")


def sql(statement: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def sql_one(statement: str, params=None) -> tuple:
    return sql(statement, params)[0]


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of one PostgreSQL backend, if /proc lets us read it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends(dbname: str) -> list[int]:
    """The PostgreSQL backends connected to ``dbname`` (by their process titles)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {dbname} " in title:
            pids.append(int(entry.name))
    return pids


class BackendsCpu:
    """The CPU time of every backend connected to a database while it runs: the job's
    own and those of the threads it hands batches to, which connect and leave during the
    job. Sampled every 0.1 s from a thread; a backend that leaves between two samples
    loses at most its last 0.1 s, a new one counts from its start."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.baseline = {pid: backend_cpu_seconds(pid) or 0.0 for pid in database_backends(dbname)}
        self.last = dict(self.baseline)
        self.readable = all(backend_cpu_seconds(pid) is not None for pid in self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self._take()

    def _take(self) -> None:
        for pid in database_backends(self.dbname):
            seconds = backend_cpu_seconds(pid)
            if seconds is not None:
                self.last[pid] = seconds

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join()
        self._take()
        if not self.readable:
            return None
        return sum(seconds - self.baseline.get(pid, 0.0) for pid, seconds in self.last.items())


# -- query accounting --------------------------------------------------------------------

_IN_LIST = re.compile(r"%s(?:, %s)+")
_SELECT_LIST = re.compile(r"^SELECT (DISTINCT )?.*? FROM ")
_INSERT = re.compile(r"^(INSERT INTO \S+) \(.*?\) (VALUES|SELECT) .*?( RETURNING .*)?$")
_CACHED_STATEMENT_CHARS = 2000


def _shape(statement: str) -> str:
    shape = _IN_LIST.sub("%s…", statement)
    shape = _SELECT_LIST.sub(lambda m: f"SELECT {m.group(1) or ''}… FROM ", shape, count=1)
    shape = _INSERT.sub(r"\1 (…) \2 …", shape)
    return shape if len(shape) <= 150 else shape[:147] + "..."


class QueryStats:
    """A ``connection.execute_wrapper``: counts statements and the time spent in them,
    per statement shape (IN lists and column lists collapsed)."""

    def __init__(self, label: str = "", progress: tuple[str, int, int] | None = None) -> None:
        self.count = 0
        self.seconds = 0.0
        self.shapes: dict[str, list] = defaultdict(lambda: [0, 0.0])
        self._cache: dict[str, str] = {}
        # Progress lines about once a minute (checked after each statement): (shape
        # prefix that marks members done, members per such statement, members expected).
        self.label = label
        self.progress = progress
        self.started = self.logged = time.perf_counter()
        self._lock = threading.Lock()  # the job's batch threads report here too

    def __call__(self, execute, statement, params, many, context):
        started = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            with self._lock:
                self._count(statement, started, elapsed)

    def _count(self, statement: str, started: float, elapsed: float) -> None:
        shape = self._cache.get(statement)
        if shape is None:
            shape = _shape(statement)
            # Set-based writes send a new long statement per batch (one row of
            # placeholders per member): caching those would hold them all, inside the
            # memory measured.
            if len(statement) <= _CACHED_STATEMENT_CHARS:
                self._cache[statement] = shape
        entry = self.shapes[shape]
        entry[0] += 1
        entry[1] += elapsed
        self.count += 1
        self.seconds += elapsed
        if self.progress and started + elapsed - self.logged >= 60:
            self._log_progress()

    def _log_progress(self) -> None:
        now = time.perf_counter()
        self.logged = now
        prefix, per_statement, expected = self.progress
        done = per_statement * sum(
            count for shape, (count, _) in self.shapes.items() if shape.startswith(prefix)
        )
        elapsed = now - self.started
        left = (expected - done) / (done / elapsed) if done else float("nan")
        log(
            f"  {self.label}: ~{min(done, expected):,} of {expected:,} members, "
            f"{self.count:,} queries, {elapsed:.0f}s, ~{left:.0f}s to go"
        )

    def top(self, n: int = 6) -> list[tuple[str, int, float]]:
        rows = sorted(self.shapes.items(), key=lambda item: -item[1][1])[:n]
        return [(shape, count, seconds) for shape, (count, seconds) in rows]


# -- setup -------------------------------------------------------------------------------


@dataclass
class World:
    merchant_id: int
    program_id: int
    silver_id: int
    gold_id: int
    now: object  # datetime
    window_start: object  # datetime
    members: int = 0
    lots: int = 0
    seeded: dict = field(default_factory=dict)  # kind -> (lots, points, members)
    dangling: tuple = (0, 0)  # lots, entries with a broken reference after seeding
    expected_tier_changes: int = 0
    outbox_mark: int = 0  # the last outbox event before the jobs ran
    fingerprints: dict = field(default_factory=dict)  # job -> end state after it


def setup_program():
    from django.utils import timezone

    from loyalty import tiers

    merchant, program, silver, gold = live_merchant_with_program(
        name="Bench Jobs Outfitters",
        slug="bench-jobs",
        timezone_name="UTC",
        silver=SILVER,
        gold=GOLD,
    )
    now = timezone.now()
    return World(
        merchant_id=merchant.pk,
        program_id=program.pk,
        silver_id=silver.pk,
        gold_id=gold.pk,
        now=now,
        window_start=tiers.window_start(program, now),
    )


SEED_LOTS = """
CREATE UNLOGGED TABLE bench_seed_lot AS
SELECT id, member_id, points, kind, earned_at,
       earned_at + interval '14 days' AS available_at,
       CASE WHEN kind IN (1, 3) THEN earned_at + interval '14 days' END AS released_at,
       earned_at + interval '12 months' AS expires_at
FROM (
    SELECT id, member_id, points, kind,
           %(now)s::timestamptz - CASE kind
               WHEN 0 THEN interval '15 days' + t * interval '20 days'
               WHEN 1 THEN interval '12 months 1 day' + t * interval '150 days'
               WHEN 2 THEN t * interval '10 days'
               ELSE interval '20 days' + t * interval '300 days'
           END AS earned_at
    FROM (
        SELECT n AS id,
               mod(n - 1, %(members)s) + 1 AS member_id,
               (10 + floor(p * 491))::bigint AS points,
               CASE WHEN c < 0.5 THEN 0 WHEN c < 0.75 THEN 1 WHEN c < 0.875 THEN 2 ELSE 3
               END AS kind,
               t
        FROM (
            SELECT n, random() AS c, random() AS t, random() AS p
            FROM generate_series(1, %(lots)s) AS n
        ) AS drawn
    ) AS typed
) AS timed
"""
# kind: 0 pending and due, 1 released and expired, 2 pending not due, 3 released not due.

SEED_MEMBERS = """
INSERT INTO loyalty_member (
    id, external_id, email, phone, first_name, last_name, country, locale, marketing_consent,
    attributes, status, points_balance, pending_points, lifetime_points,
    has_refund_shortfall, last_activity_at, created_at, updated_at, merchant_id, tier_id
)
SELECT m, 'bench-' || m, '', '', '', '', '', '', false, '{}'::jsonb, 'active',
       coalesce(a.balance, 0), coalesce(a.pending, 0), coalesce(a.lifetime, 0), false,
       a.last_activity, %(created)s, %(created)s, %(merchant)s,
       CASE mod(m, 3) WHEN 0 THEN NULL WHEN 1 THEN %(silver)s ELSE %(gold)s END
FROM generate_series(1, %(members)s) AS m
LEFT JOIN (
    SELECT member_id,
           sum(points) FILTER (WHERE released_at IS NOT NULL) AS balance,
           sum(points) FILTER (WHERE released_at IS NULL) AS pending,
           sum(points) AS lifetime,
           max(earned_at) AS last_activity
    FROM bench_seed_lot GROUP BY member_id
) AS a ON a.member_id = m
"""

SEED_ENTRIES = """
INSERT INTO loyalty_ledgerentry (
    id, kind, points, pending, balance_after, pending_after, source_type, source_ref,
    reason, shortfall, actor_label, created_at, merchant_id, member_id
)
SELECT id, 'earn', p, q, sum(p) OVER w, sum(q) OVER w, 'order', 'bench-' || id, '', 0,
       'bench', earned_at, %(merchant)s, member_id
FROM (
    SELECT id, member_id, earned_at,
           CASE WHEN released_at IS NULL THEN 0 ELSE points END AS p,
           CASE WHEN released_at IS NULL THEN points ELSE 0 END AS q
    FROM bench_seed_lot
) AS s
-- A member's entries chain in key order, the order the ledger writes them in (and
-- the database's chain trigger and audit_ledger read them in).
WINDOW w AS (PARTITION BY member_id ORDER BY id ROWS UNBOUNDED PRECEDING)
ORDER BY id
"""

SEED_POINT_LOTS = """
INSERT INTO loyalty_pointlot (
    id, points, remaining, earned_at, available_at, released_at, expires_at, entry_id,
    member_id, merchant_id
)
SELECT id, points, points, earned_at, available_at, released_at, expires_at, id,
       member_id, %(merchant)s
FROM bench_seed_lot ORDER BY id
"""

EXPECTED_TIER_CHANGES = """
SELECT count(*) FROM loyalty_member AS m
LEFT JOIN (
    SELECT member_id, sum(points) AS value FROM bench_seed_lot
    WHERE earned_at >= %(since)s GROUP BY member_id
) AS q ON q.member_id = m.id
WHERE m.merchant_id = %(merchant)s
  AND (CASE WHEN coalesce(q.value, 0) >= %(gold_at)s THEN %(gold)s
            WHEN coalesce(q.value, 0) >= %(silver_at)s THEN %(silver)s END)
      IS DISTINCT FROM m.tier_id
"""


SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = %s
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
"""

SEED_INTEGRITY = """
SELECT
    (SELECT count(*) FROM loyalty_pointlot AS l
     WHERE NOT EXISTS (SELECT FROM loyalty_ledgerentry AS e WHERE e.id = l.entry_id)
        OR NOT EXISTS (SELECT FROM loyalty_member AS m WHERE m.id = l.member_id)),
    (SELECT count(*) FROM loyalty_ledgerentry AS e
     WHERE NOT EXISTS (SELECT FROM loyalty_member AS m WHERE m.id = e.member_id))
"""


def vacuum_analyze() -> None:
    for table in TABLES:
        sql(f"VACUUM ANALYZE {table}")


def seed(world: World, lots: int, members: int) -> None:
    """Members, entries and lots in plain SQL (bench setup only, not under test)."""
    import datetime

    sql(
        "TRUNCATE loyalty_tierchange, loyalty_lotmovement, loyalty_pointlot, "
        "loyalty_ledgerentry, loyalty_member CASCADE"
    )
    sql("DROP TABLE IF EXISTS bench_seed_lot")
    sql("SET work_mem = '256MB'")
    sql("SET maintenance_work_mem = '512MB'")
    sql("SELECT setseed(0.42)")
    params = {
        "now": world.now,
        "lots": lots,
        "members": members,
        "merchant": world.merchant_id,
        "silver": world.silver_id,
        "gold": world.gold_id,
        "created": world.now - datetime.timedelta(days=730),
    }
    sql(SEED_LOTS, params)
    # A bulk load: the two big tables' secondary indexes are dropped and rebuilt after
    # the INSERTs, and triggers are off meanwhile: the foreign keys' and the ledger's
    # (members are written with their balances before their entries). The rows are
    # consistent by construction; ``seed_integrity`` checks the references afterwards,
    # and ``audit_ledger`` the balances at the end.
    rebuild = [
        index
        for table in ("loyalty_ledgerentry", "loyalty_pointlot")
        for index in sql(SECONDARY_INDEXES, [table, table])
    ]
    for name, _ in rebuild:
        sql(f'DROP INDEX "{name}"')
    sql("SET session_replication_role = replica")
    try:
        sql(SEED_MEMBERS, params)
        sql(SEED_ENTRIES, params)
        sql(SEED_POINT_LOTS, params)
    finally:
        sql("RESET session_replication_role")
    for _, indexdef in rebuild:
        sql(indexdef)
    for table, last in (
        ("loyalty_member", members),
        ("loyalty_ledgerentry", lots),
        ("loyalty_pointlot", lots),
    ):
        sql("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", [table, last])
    sql("RESET work_mem")
    sql("RESET maintenance_work_mem")
    vacuum_analyze()
    world.lots, world.members = lots, members
    world.dangling = sql_one(SEED_INTEGRITY)
    world.seeded = {
        kind: (count, int(points), owners)
        for kind, count, points, owners in sql(
            "SELECT kind, count(*), sum(points), count(DISTINCT member_id) "
            "FROM bench_seed_lot GROUP BY kind"
        )
    }
    world.expected_tier_changes = sql_one(
        EXPECTED_TIER_CHANGES,
        {
            "since": world.window_start,
            "merchant": world.merchant_id,
            "gold_at": GOLD,
            "silver_at": SILVER,
            "gold": world.gold_id,
            "silver": world.silver_id,
        },
    )[0]


# -- checks ------------------------------------------------------------------------------

SAMPLE_CHECK = """
WITH s AS (
    SELECT id, points_balance, pending_points, lifetime_points FROM loyalty_member
    WHERE id = ANY(%(ids)s)
), e AS (
    SELECT member_id, sum(points) AS points, sum(pending) AS pending
    FROM loyalty_ledgerentry WHERE member_id = ANY(%(ids)s) GROUP BY member_id
), latest AS (
    SELECT DISTINCT ON (member_id) member_id, balance_after, pending_after
    FROM loyalty_ledgerentry WHERE member_id = ANY(%(ids)s)
    ORDER BY member_id, id DESC
), l AS (
    SELECT member_id,
           coalesce(sum(remaining) FILTER (WHERE released_at IS NOT NULL), 0) AS released,
           coalesce(sum(remaining) FILTER (WHERE released_at IS NULL), 0) AS pending,
           sum(points) AS points
    FROM loyalty_pointlot WHERE member_id = ANY(%(ids)s) GROUP BY member_id
)
SELECT
    count(*),
    count(*) FILTER (WHERE coalesce(e.points, 0) <> s.points_balance),
    count(*) FILTER (WHERE coalesce(e.pending, 0) <> s.pending_points),
    count(*) FILTER (WHERE latest.member_id IS NOT NULL
                     AND (latest.balance_after <> s.points_balance
                          OR latest.pending_after <> s.pending_points)),
    count(*) FILTER (WHERE coalesce(l.released, 0) <> s.points_balance),
    count(*) FILTER (WHERE coalesce(l.pending, 0) <> s.pending_points),
    count(*) FILTER (WHERE coalesce(l.points, 0) <> s.lifetime_points),
    (SELECT count(*) FROM loyalty_pointlot AS lot
     WHERE lot.member_id = ANY(%(ids)s)
       AND lot.points + coalesce((SELECT sum(mv.points) FROM loyalty_lotmovement AS mv
                                  WHERE mv.lot_id = lot.id), 0) <> lot.remaining)
FROM s
LEFT JOIN e ON e.member_id = s.id
LEFT JOIN latest ON latest.member_id = s.id
LEFT JOIN l ON l.member_id = s.id
"""
SAMPLE_LABELS = (
    "sum(entries.points) != points_balance",
    "sum(entries.pending) != pending_points",
    "latest entry's balance_after/pending_after != cached",
    "sum(released lots.remaining) != points_balance",
    "sum(pending lots.remaining) != pending_points",
    "sum(lots.points) != lifetime_points",
    "lots where points + movements != remaining",
)

TIER_SAMPLE_CHECK = """
SELECT count(*) FROM (
    SELECT m.tier_id,
           coalesce((SELECT sum(e.points + e.pending) FROM loyalty_ledgerentry AS e
                     WHERE e.member_id = m.id AND e.created_at >= %(since)s
                       AND e.kind IN ('earn', 'reverse')), 0) AS value
    FROM loyalty_member AS m WHERE m.id = ANY(%(ids)s)
) AS v
WHERE v.tier_id IS DISTINCT FROM (
    SELECT t.id FROM loyalty_tier AS t
    WHERE t.program_id = %(program)s AND t.threshold <= v.value
    ORDER BY t.threshold DESC LIMIT 1
)
"""

GLOBAL_SUMS = """
SELECT
    (SELECT coalesce(sum(points_balance), 0) FROM loyalty_member),
    (SELECT coalesce(sum(pending_points), 0) FROM loyalty_member),
    (SELECT coalesce(sum(points), 0) FROM loyalty_ledgerentry),
    (SELECT coalesce(sum(pending), 0) FROM loyalty_ledgerentry),
    (SELECT coalesce(sum(remaining) FILTER (WHERE released_at IS NOT NULL), 0)
     FROM loyalty_pointlot),
    (SELECT coalesce(sum(remaining) FILTER (WHERE released_at IS NULL), 0)
     FROM loyalty_pointlot)
"""


class Checks:
    def __init__(self, sample: int) -> None:
        self.sample = sample
        self.failures: list[str] = []
        self.passed = 0

    def expect(self, label: str, actual, expected) -> None:
        if actual == expected:
            self.passed += 1
        else:
            self.failures.append(f"{label}: got {actual}, expected {expected}")
            log(f"CHECK FAILED {label}: got {actual}, expected {expected}")

    def sample_ids(self) -> list[int]:
        return [
            row[0]
            for row in sql(
                "SELECT id FROM loyalty_member ORDER BY random() LIMIT %s", [self.sample]
            )
        ]

    def ledger(self, job: str) -> None:
        ids = self.sample_ids()
        row = sql_one(SAMPLE_CHECK, {"ids": ids})
        self.expect(f"{job}: sampled members", row[0], len(ids))
        for label, bad in zip(SAMPLE_LABELS, row[1:], strict=True):
            self.expect(f"{job}: sample of {len(ids)}: {label}", bad, 0)
        sums = sql_one(GLOBAL_SUMS)
        balance, pending, entry_points, entry_pending, lot_released, lot_pending = sums
        self.expect(f"{job}: total balance = sum of entries.points", balance, entry_points)
        self.expect(f"{job}: total pending = sum of entries.pending", pending, entry_pending)
        self.expect(f"{job}: total balance = released lots' remaining", balance, lot_released)
        self.expect(f"{job}: total pending = pending lots' remaining", pending, lot_pending)

    def tiers(self, world: World) -> None:
        ids = self.sample_ids()
        bad = sql_one(
            TIER_SAMPLE_CHECK,
            {"ids": ids, "since": world.window_start, "program": world.program_id},
        )[0]
        self.expect(f"tiers: sample of {len(ids)}: member not in their window's tier", bad, 0)


def due_pending_left(world: World) -> int:
    return sql_one(
        "SELECT count(*) FROM loyalty_pointlot WHERE released_at IS NULL AND remaining > 0 "
        "AND available_at <= %s",
        [world.now],
    )[0]


def expired_left(world: World) -> int:
    return sql_one(
        "SELECT count(*) FROM loyalty_pointlot WHERE released_at IS NOT NULL "
        "AND remaining > 0 AND expires_at <= %s",
        [world.now],
    )[0]


# -- the same jobs in hand-written SQL ---------------------------------------------------
#
# What release and expire write, as a few statements over the whole set in one transaction
# each: the reference the project's jobs are measured against. Same end state: the lots,
# one entry per member (running balances, reason, actor), the lot movements, the members'
# cached balances and one ``points.*`` outbox event per member with the same payload;
# ``fingerprint`` compares the two end states.

SQL_MEMBERS_LOCK = """
SELECT id FROM loyalty_member
WHERE id IN (SELECT member_id FROM loyalty_pointlot WHERE {due})
ORDER BY id FOR UPDATE
"""
SQL_RELEASE_DUE = "released_at IS NULL AND remaining > 0 AND available_at <= %(now)s"
SQL_EXPIRE_DUE = (
    "released_at IS NOT NULL AND remaining > 0 AND expires_at IS NOT NULL AND expires_at <= %(now)s"
)
# The member as every member event shows them (loyalty.events.member_summary).
SQL_EVENT_MEMBER = """
jsonb_build_object(
    'external_id', m.external_id,
    'tier', CASE WHEN t.id IS NULL THEN NULL
                 ELSE jsonb_build_object('id', t.id, 'name', t.name) END,
    'points_balance', m.points_balance,
    'pending_points', m.pending_points,
    'lifetime_points', m.lifetime_points)
"""

SQL_RELEASE = f"""
WITH due AS (
    SELECT id FROM loyalty_pointlot WHERE {SQL_RELEASE_DUE} FOR UPDATE
), lots AS (
    UPDATE loyalty_pointlot AS l SET released_at = %(now)s FROM due WHERE l.id = due.id
    RETURNING l.member_id, l.remaining
), per AS (
    SELECT member_id, count(*) AS lots, sum(remaining) AS points
    FROM lots GROUP BY member_id
), m AS (
    UPDATE loyalty_member AS m
    SET points_balance = m.points_balance + per.points,
        pending_points = m.pending_points - per.points,
        updated_at = statement_timestamp()
    FROM per WHERE m.id = per.member_id
    RETURNING m.id, m.merchant_id, m.external_id, m.tier_id, m.points_balance,
              m.pending_points, m.lifetime_points, per.lots, per.points,
              per.lots || ' lot(s) past their pending period' AS reason
), entries AS (
    INSERT INTO loyalty_ledgerentry (
        kind, points, pending, balance_after, pending_after, source_type, source_ref,
        reason, shortfall, actor_label, created_at, merchant_id, member_id
    )
    SELECT 'release', points, -points, points_balance, pending_points, 'system', '',
           reason, 0, %(actor)s, %(now)s, merchant_id, id
    FROM m ORDER BY id
), events AS (
    INSERT INTO merchants_outboxevent (
        type, subject, payload, occurred_at, created_at, merchant_id
    )
    SELECT 'points.released', m.external_id,
           jsonb_build_object(
               'member', {SQL_EVENT_MEMBER},
               'points', m.points, 'pending', false,
               'balance_after', m.points_balance, 'pending_after', m.pending_points,
               'kind', 'release', 'source', jsonb_build_object('type', 'system', 'ref', ''),
               'reason', m.reason),
           %(now)s, statement_timestamp(), m.merchant_id
    FROM m LEFT JOIN loyalty_tier AS t ON t.id = m.tier_id ORDER BY m.id
)
SELECT count(*), coalesce(sum(lots), 0), coalesce(sum(points), 0) FROM m
"""

SQL_EXPIRE = f"""
WITH due AS (
    SELECT id, remaining FROM loyalty_pointlot WHERE {SQL_EXPIRE_DUE} FOR UPDATE
), lots AS (
    UPDATE loyalty_pointlot AS l SET remaining = 0 FROM due WHERE l.id = due.id
    RETURNING l.id, l.member_id, due.remaining AS taken
), per AS (
    SELECT member_id, lots, points,
           nextval(pg_get_serial_sequence('loyalty_ledgerentry', 'id')) AS entry_id
    FROM (
        SELECT member_id, count(*) AS lots, sum(taken) AS points
        FROM lots GROUP BY member_id
    ) AS grouped
), m AS (
    UPDATE loyalty_member AS m
    SET points_balance = m.points_balance - per.points, updated_at = statement_timestamp()
    FROM per WHERE m.id = per.member_id
    RETURNING m.id, m.merchant_id, m.external_id, m.tier_id, m.points_balance,
              m.pending_points, m.lifetime_points, per.lots, per.points, per.entry_id
), entries AS (
    INSERT INTO loyalty_ledgerentry (
        id, kind, points, pending, balance_after, pending_after, source_type, source_ref,
        reason, shortfall, actor_label, created_at, merchant_id, member_id
    )
    SELECT entry_id, 'expire', -points, 0, points_balance, pending_points, 'system', '',
           %(reason)s, 0, %(actor)s, %(now)s, merchant_id, id
    FROM m ORDER BY id
), movements AS (
    INSERT INTO loyalty_lotmovement (entry_id, lot_id, points)
    SELECT per.entry_id, lots.id, -lots.taken FROM lots JOIN per USING (member_id)
), events AS (
    INSERT INTO merchants_outboxevent (
        type, subject, payload, occurred_at, created_at, merchant_id
    )
    SELECT 'points.expired', m.external_id,
           jsonb_build_object(
               'member', {SQL_EVENT_MEMBER},
               'points', m.points, 'pending', false,
               'balance_after', m.points_balance, 'pending_after', m.pending_points,
               'kind', 'expire', 'source', jsonb_build_object('type', 'system', 'ref', ''),
               'reason', %(reason)s),
           %(now)s, statement_timestamp(), m.merchant_id
    FROM m LEFT JOIN loyalty_tier AS t ON t.id = m.tier_id ORDER BY m.id
)
SELECT count(*), coalesce(sum(lots), 0), coalesce(sum(points), 0) FROM m
"""

# The end state the jobs leave, as order-independent sums of row hashes (ids of the rows
# the jobs insert left out: they come from sequences): members' balances, tiers and
# activity; entries with their running balances; lots; movements by lot; the outbox events
# written since ``mark``.
FINGERPRINT = """
SELECT
    (SELECT sum(hashtextextended(concat_ws(',', id, points_balance, pending_points,
                lifetime_points, last_activity_at, tier_id, has_refund_shortfall), 0))
     FROM loyalty_member),
    (SELECT sum(hashtextextended(concat_ws(',', member_id, merchant_id, kind, points,
                pending, balance_after, pending_after, source_type, source_ref, reason,
                shortfall, actor_label, created_at), 0))
     FROM loyalty_ledgerentry),
    (SELECT sum(hashtextextended(concat_ws(',', id, remaining, released_at), 0))
     FROM loyalty_pointlot),
    (SELECT sum(hashtextextended(concat_ws(',', e.member_id, e.kind, mv.lot_id, mv.points), 0))
     FROM loyalty_lotmovement AS mv JOIN loyalty_ledgerentry AS e ON e.id = mv.entry_id),
    (SELECT count(*) FROM loyalty_ledgerentry),
    (SELECT sum(hashtextextended(concat_ws(',', merchant_id, type, subject, payload::text,
                occurred_at), 0))
     FROM merchants_outboxevent WHERE id > %(mark)s)
"""
FINGERPRINT_LABELS = ("members", "entries", "lots", "lot movements", "entry count", "events")


def outbox_mark() -> int:
    return sql_one("SELECT coalesce(max(id), 0) FROM merchants_outboxevent")[0]


def fingerprint(world: World) -> tuple:
    return sql_one(FINGERPRINT, {"mark": world.outbox_mark})


def sql_release(world: World):
    from django.db import transaction

    from loyalty import jobs

    params = {"now": world.now, "actor": jobs.RELEASE.label}
    with transaction.atomic():
        sql(SQL_MEMBERS_LOCK.format(due=SQL_RELEASE_DUE), params)
        members, lots, points = sql_one(SQL_RELEASE, params)
    return jobs.JobResult(members=members, lots=int(lots), points=int(points))


def sql_expire(world: World):
    from django.db import transaction

    from loyalty import jobs

    params = {"now": world.now, "actor": jobs.EXPIRE.label, "reason": jobs.LOT_AGE_REASON}
    with transaction.atomic():
        sql(SQL_MEMBERS_LOCK.format(due=SQL_EXPIRE_DUE), params)
        members, lots, points = sql_one(SQL_EXPIRE, params)
    return jobs.JobResult(members=members, lots=int(lots), points=int(points))


SQL_JOBS = {"release": (sql_release, 0), "expire": (sql_expire, 1)}  # job, seeded kind due


def run_sql(args, world: World, checks: Checks) -> list["Measure"]:
    """Re-seed the same data and run the ``--jobs`` among release and expire in SQL, each
    in one transaction; their counts, the ledger checks and the end state must be the
    project's."""
    names = [name for name in args.jobs if name in SQL_JOBS]
    log(f"re-seeding the same {args.lots:,} lots for the set-based SQL version")
    seed(world, args.lots, args.members)
    world.outbox_mark = outbox_mark()
    measures = []
    for number, name in enumerate(names):
        if number:
            vacuum_analyze()
        job, kind = SQL_JOBS[name]
        label = f"{name} (SQL)"
        log(label)
        m = measure(
            label,
            lambda job=job: job(world),
            world=world,
            batch_size=max(1, world.members),
            args=args,
            progress=None,
        )
        print(describe(m), flush=True)
        due = world.seeded.get(kind, (0, 0, 0))
        checks.expect(f"{label}: lots", m.result.lots, due[0])
        checks.expect(f"{label}: points", m.result.points, due[1])
        checks.expect(f"{label}: members", m.result.members, due[2])
        left = due_pending_left(world) if name == "release" else expired_left(world)
        checks.expect(f"{label}: due lots left", left, 0)
        checks.ledger(label)
        mine = dict(zip(FINGERPRINT_LABELS, fingerprint(world), strict=True))
        project = world.fingerprints.get(name)
        if project is not None:
            for key in FINGERPRINT_LABELS:
                checks.expect(f"{label}: end state = the project's: {key}", mine[key], project[key])
        measures.append(m)
    return measures


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Measure:
    job: str
    lots_in_db: int
    result: object
    seconds: float
    queries: QueryStats
    backend_cpu: float | None
    process_cpu: float
    rss_before_mb: float | None
    job_peak_rss_mb: float | None
    peak_mb: float | None
    rss_mb: float
    batches: int


# Every job locks each batch of members with one statement of this shape: progress counts
# them (members done ~ batches locked x batch size), whatever the job writes per batch.
BATCH_LOCK = 'SELECT … FROM "loyalty_member" WHERE "loyalty_member"."id" IN'


def measure(job: str, call, *, world: World, batch_size: int, args, progress) -> Measure:
    """Run ``call()`` with the query wrapper, tracemalloc (unless disabled) and,
    for ``--profile job``, cProfile."""
    from django.db import connection
    from django.db.backends.signals import connection_created

    connection.ensure_connection()
    stats = QueryStats(job, progress)
    backends = BackendsCpu(connection.settings_dict["NAME"])
    process_before = time.process_time()
    rss_before = reset_peak_rss()
    profiler = cProfile.Profile() if args.profile == job else None
    trace = not args.no_tracemalloc
    if trace:
        tracemalloc.start()
    started = time.perf_counter()

    def count_there_too(sender, connection, **kwargs) -> None:
        # The connections of the threads the job hands its batches to.
        connection.execute_wrappers.append(stats)

    connection_created.connect(count_there_too)
    with connection.execute_wrapper(stats):
        if profiler:
            profiler.enable()
        try:
            result = call()
        finally:
            if profiler:
                profiler.disable()
            connection_created.disconnect(count_there_too)
    seconds = time.perf_counter() - started
    process_cpu = time.process_time() - process_before
    job_peak_rss = peak_rss_mb() if rss_before is not None else None
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    backend_cpu = backends.stop()
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
        print(f"\n-- cProfile of {job} (tottime, then cumulative) --\n{out.getvalue()}", flush=True)
    batches = max(1, math.ceil(result.members / batch_size))
    return Measure(
        job=job,
        lots_in_db=world.lots,
        result=result,
        seconds=seconds,
        queries=stats,
        backend_cpu=backend_cpu,
        process_cpu=process_cpu,
        rss_before_mb=rss_before,
        job_peak_rss_mb=job_peak_rss,
        peak_mb=peak,
        rss_mb=max_rss_mb(),
        batches=batches,
    )


def describe(m: Measure) -> str:
    r = m.result
    handled = r.lots or r.members
    unit = "lots" if r.lots else "members"
    q = m.queries
    lines = [
        f"{m.job}: {r.members:,} members, {r.lots:,} lots, {r.points:,} points, "
        f"{r.changes:,} changes in {m.seconds:.1f}s = {handled / m.seconds:,.0f} {unit}/s, "
        f"{r.members / m.seconds:,.0f} members/s",
        f"    queries {q.count:,} = {q.count / m.batches:,.1f}/batch of {m.batches:,} "
        f"({q.count / max(1, r.members):.2f}/member); inside cursor.execute (driver, "
        f"network, PostgreSQL; summed over the job's threads) {q.seconds:.1f}s "
        f"({100 * q.seconds / m.seconds:.0f} % of the wall time)",
        f"    CPU: this process {m.process_cpu:.1f}s, its PostgreSQL backends "
        + (f"{m.backend_cpu:.1f}s" if m.backend_cpu is not None else "n/a")
        + f" = {1000 * (m.process_cpu + (m.backend_cpu or 0)) / max(1, r.members):.2f} ms "
        "per member (less sensitive than wall time to other load on the machine)",
        "    peak traced memory "
        + (f"{m.peak_mb:.1f} MB" if m.peak_mb is not None else "not traced")
        + (
            f"; RSS {m.rss_before_mb:.0f} MB before, peak {m.job_peak_rss_mb:.0f} MB during"
            if m.job_peak_rss_mb is not None
            else ""
        )
        + f"; process max RSS so far {m.rss_mb:.0f} MB",
    ]
    for shape, count, seconds in q.top():
        lines.append(
            f"      {seconds:7.1f}s {count:8,} x {1000 * seconds / count:6.2f} ms  {shape}"
        )
    return "\n".join(lines)


def bytes_per_lot() -> float:
    """Traced bytes one PointLot costs once loaded (model instance, dict, values)."""
    from loyalty.models import PointLot

    tracemalloc.start()
    loaded = list(PointLot.objects.order_by("id")[:20000])
    current = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return current / max(1, len(loaded))


# -- the run -----------------------------------------------------------------------------


def _timed(label: str, job, args, world: World, members: int) -> Measure:
    """Run ``job`` once, measured, and print what it did."""
    log(job.__name__)
    m = measure(
        label,
        lambda: job(now=world.now, batch_size=args.batch_size),
        world=world,
        batch_size=args.batch_size,
        args=args,
        progress=(BATCH_LOCK, args.batch_size, members),
    )
    print(describe(m), flush=True)
    return m


def _again(label: str, job, args, world: World, checks: Checks, counted: str) -> None:
    """The ledger still adds up, and a second run finds nothing to do (timed)."""
    checks.ledger(label)
    started = time.perf_counter()
    again = job(now=world.now, batch_size=args.batch_size)
    log(f"{label} again (nothing due): {again} in {time.perf_counter() - started:.2f}s")
    checks.expect(f"{label}: second run {counted}", getattr(again, counted), 0)


def run_release(args, world: World, checks: Checks) -> Measure:
    from loyalty import jobs

    due = world.seeded.get(0, (0, 0, 0))
    m = _timed("release", jobs.release_pending_points, args, world, due[2])
    checks.expect("release: lots released", m.result.lots, due[0])
    checks.expect("release: points released", m.result.points, due[1])
    checks.expect("release: members", m.result.members, due[2])
    checks.expect("release: due pending lots left", due_pending_left(world), 0)
    _again("release", jobs.release_pending_points, args, world, checks, "members")
    world.fingerprints["release"] = dict(zip(FINGERPRINT_LABELS, fingerprint(world), strict=True))
    return m


def run_expire(args, world: World, checks: Checks) -> Measure:
    from loyalty import jobs

    aged = world.seeded.get(1, (0, 0, 0))
    m = _timed("expire", jobs.expire_points, args, world, aged[2])
    checks.expect("expire: lots expired", m.result.lots, aged[0])
    checks.expect("expire: points expired", m.result.points, aged[1])
    checks.expect("expire: members", m.result.members, aged[2])
    checks.expect("expire: expired lots with remaining > 0 left", expired_left(world), 0)
    _again("expire", jobs.expire_points, args, world, checks, "members")
    world.fingerprints["expire"] = dict(zip(FINGERPRINT_LABELS, fingerprint(world), strict=True))
    return m


def run_tiers(args, world: World, checks: Checks) -> Measure:
    from loyalty import jobs
    from loyalty.models import TierChange

    m = _timed("tiers", jobs.recompute_tiers, args, world, world.members)
    checks.expect("tiers: members walked", m.result.members, world.members)
    checks.expect("tiers: changes", m.result.changes, world.expected_tier_changes)
    checks.expect("tiers: TierChange rows", TierChange.objects.count(), m.result.changes)
    checks.tiers(world)
    _again("tiers", jobs.recompute_tiers, args, world, checks, "changes")
    return m


JOBS = {"release": run_release, "expire": run_expire, "tiers": run_tiers}


def run_jobs(args, world: World, checks: Checks) -> list[Measure]:
    measures = []
    for number, name in enumerate(args.jobs):
        if number:
            # Between jobs, outside the timings: this server runs with autovacuum off.
            vacuum_analyze()
        measures.append(JOBS[name](args, world, checks))
    return measures


def compare_release(args, world: World, checks: Checks, lots: int) -> Measure:
    from loyalty import jobs

    members = max(1, args.members * lots // args.lots)
    log(f"re-seeding {lots:,} lots over {members:,} members for the memory comparison")
    started = time.perf_counter()
    seed(world, lots, members)
    log(f"seeded in {time.perf_counter() - started:.1f}s")
    checks.expect("seed (compare): broken references", world.dangling, (0, 0))
    due = world.seeded.get(0, (0, 0, 0))
    m = measure(
        "release (compare)",
        lambda: jobs.release_pending_points(now=world.now, batch_size=args.batch_size),
        world=world,
        batch_size=args.batch_size,
        args=args,
        progress=(BATCH_LOCK, args.batch_size, due[2]),
    )
    print(describe(m), flush=True)
    checks.expect("release (compare): lots released", m.result.lots, due[0])
    checks.expect("release (compare): due pending lots left", due_pending_left(world), 0)
    checks.ledger("release (compare)")
    return m


def report(args, measures: list[Measure], compare: Measure | None, per_lot: float) -> None:
    print("\n== scheduled jobs ==", flush=True)
    print(
        f"{args.lots:,} lots, {args.members:,} members, batch size {args.batch_size}"
        + (", tracemalloc off" if args.no_tracemalloc else ", tracemalloc on")
    )
    header = (
        f"{'job':<18}{'members':>10}{'lots':>10}{'points':>13}{'changes':>9}{'seconds':>9}"
        f"{'lots/s':>9}{'memb/s':>8}{'q/batch':>9}{'db %':>6}{'cpu ms/memb':>12}"
        f"{'peak MB':>9}{'RSS MB':>12}"
    )
    print(header)
    for m in [*measures, *([compare] if compare else [])]:
        r = m.result
        peak = f"{m.peak_mb:.1f}" if m.peak_mb is not None else "-"
        rss = (
            f"{m.rss_before_mb:.0f}->{m.job_peak_rss_mb:.0f}"
            if m.job_peak_rss_mb is not None
            else f"{m.rss_mb:.0f}"
        )
        print(
            f"{m.job:<18}{r.members:>10,}{r.lots:>10,}{r.points:>13,}{r.changes:>9,}"
            f"{m.seconds:>9.1f}{r.lots / m.seconds:>9,.0f}{r.members / m.seconds:>8,.0f}"
            f"{m.queries.count / m.batches:>9,.1f}"
            f"{100 * m.queries.seconds / m.seconds:>6.0f}"
            f"{1000 * (m.process_cpu + (m.backend_cpu or 0)) / max(1, r.members):>12.2f}"
            f"{peak:>9}{rss:>12}"
        )
    print(
        "q/batch: queries / ceil(members / batch size); db %: time inside cursor.execute "
        "(summed over the job's threads) / wall time; cpu ms/memb: (this process + its "
        "backends) CPU per member; peak MB: "
        "tracemalloc peak; RSS MB: process RSS before the job -> peak during it"
    )
    total = sum(m.seconds for m in measures)
    print(f"total job time {total:.1f}s")
    print(
        "load average (1 min) at the start and the end: "
        f"{args.load_start:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs "
        "(anything else running skews the figures)"
    )
    print(f"one loaded PointLot: {per_lot:,.0f} traced bytes")
    for m in measures:
        if m.peak_mb is None or not m.result.lots:
            continue
        everything = m.result.lots * per_lot / 2**20
        print(
            f"{m.job}: peak {m.peak_mb:.1f} MB = {100 * m.peak_mb / everything:.2f} % of the "
            f"{everything:,.0f} MB that {m.result.lots:,} loaded lots would take "
            f"(target < {TARGET_PEAK_MB} MB: {'ok' if m.peak_mb < TARGET_PEAK_MB else 'MISSED'})"
        )
    release = next((m for m in measures if m.job == "release"), None)
    if compare and release and compare.peak_mb is not None and release.peak_mb is not None:
        print(
            f"release peak: {compare.peak_mb:.1f} MB at {compare.lots_in_db:,} lots vs "
            f"{release.peak_mb:.1f} MB at {release.lots_in_db:,} lots "
            f"(x{release.peak_mb / compare.peak_mb:.2f} for x"
            f"{release.lots_in_db / compare.lots_in_db:.0f} lots; same lots per member and "
            f"batch size)"
        )
        if compare.result.members < args.batch_size:
            print(
                f"  but the smaller run's {compare.result.members:,} members fill less than "
                f"one batch of {args.batch_size}: its peak is not a full batch's, so this "
                "ratio follows the lot count (use more --members or a larger --compare-lots)"
            )


def report_sql(measures: list[Measure], sql_measures: list[Measure]) -> None:
    if not sql_measures:
        return
    print("\n== the project's jobs against set-based SQL on the same data ==")
    print(
        f"{'job':<10}{'project lots/s':>16}{'SQL lots/s':>12}{'project / SQL':>15}  target"
        f"{'CPU ratio':>12}"
    )
    by_job = {m.job: m for m in measures}
    for m in sql_measures:
        job = m.job.split(" ")[0]
        project = by_job.get(job)
        if project is None or not m.result.lots:
            continue
        ours = project.result.lots / project.seconds
        theirs = m.result.lots / m.seconds
        ratio = ours / theirs
        # The same ratio by CPU time (this process + its backends) rather than wall time:
        # less sensitive to whatever else runs on the machine.
        cpu = (m.process_cpu + (m.backend_cpu or 0)) / (
            project.process_cpu + (project.backend_cpu or 0)
        )
        print(
            f"{job:<10}{ours:>16,.0f}{theirs:>12,.0f}{ratio:>15.2f}  >= {TARGET_SQL_RATIO} "
            f"{'ok' if ratio >= TARGET_SQL_RATIO else 'MISSED':<6}{cpu:>12.2f}"
        )
    print(
        "SQL: the same writes (lots, entries, movements, balances, outbox events) as a few "
        "statements over the whole set, one transaction a job; wall time includes the commit. "
        "CPU ratio: SQL's (process + backend) CPU seconds / the project's"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument(
        "--compare-lots",
        type=int,
        default=None,
        help="lots of the memory comparison run of release (default --lots / 10; 0: skip)",
    )
    parser.add_argument(
        "--jobs",
        default="release,expire,tiers",
        help="comma-separated subset of release,expire,tiers, run in that order",
    )
    parser.add_argument("--sample", type=int, default=1000, help="members checked in detail")
    parser.add_argument("--profile", choices=("release", "expire", "tiers"), default=None)
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument(
        "--no-sql", action="store_true", help="skip the set-based SQL version of the jobs"
    )
    parser.add_argument("--timeout-minutes", type=float, default=120)
    args = parser.parse_args(argv)
    if args.lots < 1 or args.members < 1 or args.batch_size < 1:
        parser.error("--lots, --members and --batch-size must be positive")
    args.jobs = [name.strip() for name in args.jobs.split(",") if name.strip()]
    unknown = set(args.jobs) - set(JOBS)
    if unknown or not args.jobs:
        parser.error(f"--jobs takes a subset of {', '.join(JOBS)}")
    args.jobs = [name for name in JOBS if name in args.jobs]
    if args.compare_lots is None:
        args.compare_lots = args.lots // 10 if args.lots >= 10 else 0
    return args


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout("the benchmark ran out of time (--timeout-minutes)")


def _terminated(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_start = os.getloadavg()[0]
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(max(1, int(args.timeout_minutes * 60)))
    var_dir = tempfile.mkdtemp(prefix="loyalty-bench-jobs-")
    env = django_env(var_dir, database=BENCH_DB)
    checks = Checks(args.sample)
    try:
        log(f"creating {BENCH_DB} and migrating it")
        drop_db(BENCH_DB)
        run([tool("createdb"), BENCH_DB])
        run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], env=env)
        configure_django(env)
        world = setup_program()
        log(f"seeding {args.lots:,} lots over {args.members:,} members (SQL, setup only)")
        started = time.perf_counter()
        seed(world, args.lots, args.members)
        log(
            f"seeded in {time.perf_counter() - started:.1f}s: "
            + ", ".join(
                f"{label} {world.seeded.get(kind, (0, 0, 0))[0]:,}"
                for kind, label in (
                    (0, "pending due"),
                    (1, "expired"),
                    (2, "pending not due"),
                    (3, "released not due"),
                )
            )
            + f"; {world.expected_tier_changes:,} tier changes due"
        )
        checks.expect("seed: lots and entries with a broken reference", world.dangling, (0, 0))
        log(f"process max RSS before the jobs {max_rss_mb():.0f} MB")
        world.outbox_mark = outbox_mark()
        measures = run_jobs(args, world, checks)
        sql_measures = run_sql(args, world, checks) if not args.no_sql else []
        compare = None
        if args.compare_lots and "release" in args.jobs:
            compare = compare_release(args, world, checks, args.compare_lots)
        per_lot = bytes_per_lot()
        from loyalty.audit import ledger_audit

        audit = ledger_audit()
        log(f"audit_ledger: {audit}")
        checks.expect("audit_ledger: problems", audit.findings, [])
        report(args, measures, compare, per_lot)
        report_sql(measures, sql_measures)
    finally:
        signal.alarm(0)
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        drop_db(BENCH_DB)
        shutil.rmtree(var_dir, ignore_errors=True)
        log(f"dropped {BENCH_DB}")
    print(f"\nchecks: {checks.passed} passed, {len(checks.failures)} failed")
    for failure in checks.failures:
        print(f"  FAILED {failure}")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())

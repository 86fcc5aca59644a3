"""Segments benchmark: a six-condition segment over a million members on PostgreSQL.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust
auth; ``createdb``, ``dropdb`` and ``psql`` on ``PATH``)::

    .venv/bin/python bench/segments.py [--members 1000000] [--preview-members 100000]
                                       [--orders-per-member 4] [--repetitions 3]
                                       [--timeout 300] [--database loyalty_bench_segments]
                                       [--refill] [--drop] [--explain]

What one run does (figures and their meaning in ``bench/SEGMENTS.md``):

1. Reuses the database ``--database`` when a previous run filled it with the same sizes
   (its ``bench_segments_fill`` row says so), else drops, creates and fills it
   (``--refill`` always does). Migrates it and configures Django in-process against it
   (development settings, ``DEBUG=false``).
2. Filling: through the project's services, two live merchants (America/New_York) with
   their programs and two CRM attributes each (``preferred_channel``, a choice, and
   ``favourite_store``); then with plain SQL (``INSERT ... SELECT generate_series``,
   staging tables ``UNLOGGED``, secondary indexes dropped and built again, triggers off
   in the loading session): ``--members`` members for the large merchant and
   ``--preview-members`` for the other, who joined evenly over two years; about
   ``--orders-per-member`` orders a member, skewed to the older members, placed between
   the member's joining and now (4 % refunded, wholly or by half); per order its ``earn``
   entry (pending points) and, 14 days later, its ``release``; a spend (``redeem``) of
   part of the balance for two in five members with 500 points or more. Members'
   balances are the sums of their entries, the running balances chain. Then ``VACUUM
   ANALYZE``, and a ``bench_segments_fill`` row with the sizes and the fill's "now",
   which every run uses as its "now" (so the windows fall where the data is).
3. Prints what PostgreSQL plans for our matching query (``EXPLAIN``, not run): which
   of its subplans are hashed. Then the segment (``DEFINITION``: four groups AND'ed, two
   of them with two conditions OR'ed; marketing consent, country or a CRM attribute,
   spend in the last 365 days or points balance, days since the last order):
   - ours: ``segment_refresh(full=True)`` on a new segment (saved with
     ``segment_save``): the first run, which writes a stay and a ``segment.joined``
     outbox event per member, then a second run, which changes nothing;
   - hand-written: the same criteria as one SQL statement (``HAND_WRITTEN``) that writes
     the same rows (the stays and the outbox events) for another new segment;
   - both member sets must be equal (counts and ids), and so must the events;
   - ``--repetitions`` rounds, ours and hand-written alternating, each on new segments
     whose rows are deleted (and the tables vacuumed) after the round; the best of the
     rounds is compared: ratio = hand-written time / ours, PASS when >= 0.5. The query
     alone (``count()`` of the matching members against the hand-written ``count(*)``)
     is timed the same way, for reference.
   - every timed statement is cut after ``--timeout`` seconds (``statement_timeout``):
     the figure is then "cut", and a cut refresh is a FAIL.
4. The admin preview (``segment_preview``: the definition checked, the count and 20
   sample members) on the merchant with ``--preview-members`` members: one first call,
   then five more; PASS when their median is under 1 s. One call on the large merchant,
   for reference.
5. Prints the figures; ``--explain`` adds ``EXPLAIN (ANALYZE, BUFFERS)`` of our
   matching query and of the hand-written one. The database is kept for the next run
   unless ``--drop``. Exit status 1 on a FAIL or a failed check.
"""

# Only fixed local executables (createdb, dropdb, psql, manage.py) are started; the SQL
# strings below are constants with bound parameters (table names come from this file only).
# ruff: noqa: S608

import argparse
import datetime
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from benchdb import (
    ROOT,
    configure_django,
    django_env,
    drop_db,
    live_merchant_with_program,
    recreate_db,
    run,
    tool,
)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_PREFIX = "loyalty_bench_segments"
TIMEZONE = "America/New_York"
HISTORY_DAYS = 730
FILL_VERSION = 1  # bump when the fill changes: a kept database is then filled again
TARGET_RATIO = 0.5
TARGET_PREVIEW_S = 1.0
PREVIEW_RUNS = 5
SPEND_DAYS, SPEND_AT_LEAST = 365, 500
BALANCE_AT_LEAST = 2000
LAPSED_DAYS = 60

# Lapsed good customers who accept marketing and can be reached: consent, AND (in the US
# or Canada OR preferring email or the app), AND (spent 500 or more in the last 365 days
# OR hold 2,000 points or more), AND no order for 60 days or more.
DEFINITION = {
    "version": 1,
    "groups": [
        {"conditions": [{"field": "marketing_consent", "op": "is", "value": True}]},
        {
            "conditions": [
                {"field": "country", "op": "in", "value": ["US", "CA"]},
                {
                    "field": "attribute",
                    "attribute": "preferred_channel",
                    "op": "in",
                    "value": ["email", "app"],
                },
            ]
        },
        {
            "conditions": [
                {
                    "field": "spend",
                    "op": "gte",
                    "value": str(SPEND_AT_LEAST),
                    "window": {"last_days": SPEND_DAYS},
                },
                {"field": "points_balance", "op": "gte", "value": BALANCE_AT_LEAST},
            ]
        },
        {"conditions": [{"field": "days_since_last_order", "op": "gte", "value": LAPSED_DAYS}]},
    ],
}

# The same criteria, written by hand: one pass over the merchant's orders for both order
# figures, joined to the members. Net spend as the project defines it (``NET_TOTAL``).
HAND_WRITTEN_MATCHES = """
WITH o AS (
    SELECT member_id,
           max(placed_at) AS last_order,
           sum(CASE WHEN total = 0 THEN 0
                    ELSE program_total * (total - refunded_total) / total END)
               FILTER (WHERE placed_at >= %(spend_since)s) AS spend
    FROM loyalty_order
    WHERE merchant_id = %(merchant)s
    GROUP BY member_id
)
SELECT m.id
FROM loyalty_member AS m
JOIN o ON o.member_id = m.id
WHERE m.merchant_id = %(merchant)s
  AND m.status = 'active'
  AND m.marketing_consent
  AND (m.country IN ('US', 'CA')
       OR m.attributes -> 'preferred_channel' IN ('"email"'::jsonb, '"app"'::jsonb))
  AND (o.spend >= %(spend_at_least)s OR m.points_balance >= %(balance_at_least)s)
  AND o.last_order < %(lapsed_before)s
"""

# What a first refresh writes, by hand: the stays, and an outbox event per member joined.
HAND_WRITTEN = f"""
WITH joined AS (
    INSERT INTO loyalty_segmentmembership (segment_id, member_id, joined_at)
    SELECT %(segment)s, matches.id, %(now)s
    FROM ({HAND_WRITTEN_MATCHES}) AS matches
    RETURNING member_id
)
INSERT INTO merchants_outboxevent (merchant_id, type, subject, payload, occurred_at, created_at)
SELECT %(merchant)s, 'segment.joined', m.external_id, %(payload)s::jsonb, %(now)s, %(now)s
FROM joined AS j JOIN loyalty_member AS m ON m.id = j.member_id
ORDER BY j.member_id
"""

HAND_WRITTEN_COUNT = f"SELECT count(*) FROM ({HAND_WRITTEN_MATCHES}) AS matches"


def log(message: str) -> None:
    print(f"[segments {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sql(statement: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def sql_one(statement: str, params=None) -> tuple:
    return sql(statement, params)[0]


def psql(database: str, statement: str) -> str:
    return run([tool("psql"), "-X", "-Atq", "-d", database, "-c", statement]).strip()


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# -- the fill ---------------------------------------------------------------------------

FILL_TABLE = """
CREATE TABLE bench_segments_fill (
    version int, members int, preview_members int, orders_per_member int,
    merchant_id bigint, preview_merchant_id bigint, now timestamptz, seconds float8
)
"""

# A merchant's orders, in time order: a member drawn with a skew to the older ones (low
# ids joined first), placed between their joining and now.
STAGE_ORDERS = """
CREATE UNLOGGED TABLE bench_order AS
SELECT %(first_order)s - 1 + row_number() OVER (ORDER BY placed_at, n) AS id, member_id,
       placed_at, total,
       CASE WHEN r_refund < 0.02 THEN total
            WHEN r_refund < 0.04 THEN round(total / 2, 2)
            ELSE 0 END AS refunded_total,
       floor(total)::bigint AS points
FROM (
    SELECT d.n, d.member_id,
           j.joined + interval '1 minute'
               + d.r_time * (%(now)s::timestamptz - interval '2 minutes' - j.joined)
               AS placed_at,
           round((10 + d.r_total * 290)::numeric, 2) AS total, d.r_refund
    FROM (
        SELECT n, %(first)s + floor(%(members)s * power(random(), 1.3))::bigint AS member_id,
               random() AS r_time, random() AS r_total, random() AS r_refund
        FROM generate_series(1, %(orders)s) AS n
    ) AS d
    CROSS JOIN LATERAL (
        SELECT %(start)s::timestamptz
               + (d.member_id - %(first)s) * %(join_step)s * interval '1 second' AS joined
    ) AS j
) AS drawn
"""

# Its ledger: each order's earn (pending), its release 14 days later when that has come,
# and for two in five members with 500 released points or more, a spend of 60 % of them
# (in hundreds) after their last release: the running balance never goes below zero.
STAGE_ENTRIES = """
CREATE UNLOGGED TABLE bench_entry AS
SELECT placed_at AS at, member_id, 0 AS step, 'earn' AS kind, 0::bigint AS points,
       points AS pending, 'order' AS source_type, id AS order_id
FROM bench_order
UNION ALL
SELECT placed_at + interval '14 days', member_id, 1, 'release', points, -points, 'system',
       NULL
FROM bench_order WHERE placed_at + interval '14 days' < %(now)s::timestamptz
UNION ALL
SELECT last_release + (%(now)s::timestamptz - last_release) / 2, member_id, 2, 'redeem',
       -(floor(released * 0.6 / 100) * 100)::bigint, 0, 'order', NULL
FROM (
    SELECT member_id, max(placed_at + interval '14 days') AS last_release,
           sum(points) AS released
    FROM bench_order WHERE placed_at + interval '14 days' < %(now)s::timestamptz
    GROUP BY member_id
) AS r
WHERE released >= 500 AND random() < 0.4
"""

FILL_MEMBERS = """
INSERT INTO loyalty_member (
    id, merchant_id, external_id, email, first_name, last_name, country, locale, birthday,
    marketing_consent, attributes, status, tier_id, points_balance, pending_points,
    lifetime_points, has_refund_shortfall, last_activity_at, anonymised_at, created_at,
    updated_at
)
SELECT g.m, %(merchant)s, 'm-' || g.m, 'member' || g.m || '@bench.example', 'Member',
       g.m::text,
       CASE WHEN g.r_country < 0.35 THEN 'US' WHEN g.r_country < 0.45 THEN 'CA'
            WHEN g.r_country < 0.60 THEN 'GB' WHEN g.r_country < 0.75 THEN 'DE'
            WHEN g.r_country < 0.90 THEN 'FR' ELSE 'ES' END,
       CASE WHEN g.r_country < 0.60 THEN 'en' WHEN g.r_country < 0.75 THEN 'de'
            WHEN g.r_country < 0.90 THEN 'fr' ELSE 'es' END,
       CASE WHEN g.r_birthday < 0.7
            THEN DATE '1950-01-01' + floor(g.r_birthday / 0.7 * 20000)::int END,
       g.r_consent < 0.45,
       jsonb_strip_nulls(jsonb_build_object(
           'preferred_channel',
           CASE WHEN g.r_channel < 0.30 THEN 'email' WHEN g.r_channel < 0.45 THEN 'sms'
                WHEN g.r_channel < 0.60 THEN 'app' END,
           'favourite_store',
           CASE WHEN g.r_store < 0.5 THEN 'Store ' || (1 + floor(g.r_store * 160))::int END
       )),
       CASE WHEN g.r_status < 0.02 THEN 'blocked' ELSE 'active' END, NULL,
       coalesce(b.balance, 0), coalesce(b.pending, 0), coalesce(b.lifetime, 0), false,
       b.last_at, NULL, j.joined, j.joined
FROM (
    SELECT m, random() AS r_country, random() AS r_birthday, random() AS r_consent,
           random() AS r_channel, random() AS r_store, random() AS r_status
    FROM generate_series(%(first)s, %(first)s + %(members)s - 1) AS m
) AS g
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + (g.m - %(first)s) * %(join_step)s * interval '1 second'
           AS joined
) AS j
LEFT JOIN (
    SELECT member_id, sum(points) AS balance, sum(pending) AS pending,
           sum(pending) FILTER (WHERE kind = 'earn') AS lifetime, max(at) AS last_at
    FROM bench_entry GROUP BY member_id
) AS b ON b.member_id = g.m
ORDER BY g.m
"""

FILL_ORDERS = """
INSERT INTO loyalty_order (
    id, merchant_id, member_id, external_id, placed_at, currency, total, program_currency,
    program_total, points_earned, points_reversed, refunded_total, explanation,
    request_hash, created_at
)
SELECT id, %(merchant)s, member_id, 'o-' || id, placed_at, 'USD', total, 'USD', total,
       points, 0, refunded_total, '[]'::jsonb, '', placed_at
FROM bench_order ORDER BY id
"""

# Keys in time order (as the ledger writes them); a member's running balances in that order.
FILL_ENTRIES = """
INSERT INTO loyalty_ledgerentry (
    kind, points, pending, balance_after, pending_after, source_type, source_ref, reason,
    shortfall, actor_label, created_at, merchant_id, member_id, order_id
)
SELECT kind, points, pending, sum(points) OVER w, sum(pending) OVER w, source_type, '', '',
       0, 'bench', at, %(merchant)s, member_id, order_id
FROM bench_entry
WINDOW w AS (PARTITION BY member_id ORDER BY at, step ROWS UNBOUNDED PRECEDING)
ORDER BY at, member_id, step
"""

SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = %s
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
  AND indexname <> %s || '_pkey'
"""

BULK_TABLES = ("loyalty_member", "loyalty_order", "loyalty_ledgerentry")

FILL_CHECKS = """
SELECT
    (SELECT count(*) FROM loyalty_ledgerentry WHERE balance_after < 0 OR pending_after < 0),
    (SELECT coalesce(sum(points_balance), 0) - (SELECT coalesce(sum(points), 0)
                                                FROM loyalty_ledgerentry)
     FROM loyalty_member),
    (SELECT coalesce(sum(pending_points), 0) - (SELECT coalesce(sum(pending), 0)
                                                FROM loyalty_ledgerentry)
     FROM loyalty_member),
    (SELECT count(*) FROM loyalty_member AS m
     LEFT JOIN LATERAL (
         SELECT e.balance_after, e.pending_after FROM loyalty_ledgerentry AS e
         WHERE e.member_id = m.id ORDER BY e.id DESC LIMIT 1
     ) AS last ON true
     WHERE mod(m.id, 97) = 0
       AND (m.points_balance, m.pending_points)
           <> (coalesce(last.balance_after, 0), coalesce(last.pending_after, 0)))
"""
FILL_CHECK_LABELS = (
    "entries with a negative running balance",
    "members' balances - sum of entries' points",
    "members' pending - sum of entries' pending",
    "members (1 in 97) whose balances are not their last entry's",
)


def setup_merchant(slug: str, name: str):
    from loyalty.models import MemberAttribute

    merchant, _, _, _ = live_merchant_with_program(
        name=name, slug=slug, timezone_name=TIMEZONE, silver=1000, gold=2500
    )
    for attribute in (
        MemberAttribute(
            merchant=merchant,
            name="preferred_channel",
            label="Preferred channel",
            type="choice",
            choices=["email", "sms", "app", "post"],
        ),
        MemberAttribute(
            merchant=merchant, name="favourite_store", label="Favourite store", type="text"
        ),
    ):
        attribute.full_clean()
        attribute.save()
    return merchant


def fill_merchant(*, merchant_id: int, first: int, members: int, per_member: int, now) -> dict:
    """One merchant's members ``first``.. with their orders and ledger, by SQL."""
    first_order = sql_one("SELECT coalesce(max(id), 0) + 1 FROM loyalty_order")[0]
    params = {
        "merchant": merchant_id,
        "first": first,
        "members": members,
        "orders": members * per_member,
        "first_order": first_order,
        "now": now,
        "start": now - datetime.timedelta(days=HISTORY_DAYS),
        # Members join evenly over the history, the last five days left out.
        "join_step": (HISTORY_DAYS - 5) * 86400 / members,
    }
    timings: dict[str, float] = {}
    for label, statement in (
        ("orders (staging)", STAGE_ORDERS),
        ("entries (staging)", STAGE_ENTRIES),
        ("members", FILL_MEMBERS),
        ("orders", FILL_ORDERS),
        ("ledger entries", FILL_ENTRIES),
    ):
        began = time.perf_counter()
        sql(statement, params)
        timings[label] = time.perf_counter() - began
        log(f"  {label}: {timings[label]:.1f} s")
    sql("DROP TABLE bench_order, bench_entry")
    return timings


def fill(*, members: int, preview_members: int, per_member: int) -> dict:
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    began = time.perf_counter()
    merchant = setup_merchant("bench-segments", "Bench Segments Outfitters")
    preview = setup_merchant("bench-segments-preview", "Bench Segments Preview")
    sql("SET work_mem = '256MB'")
    sql("SET maintenance_work_mem = '512MB'")
    sql("SELECT setseed(0.42)")
    sql("DROP TABLE IF EXISTS bench_order, bench_entry")
    # A bulk load: the secondary indexes are dropped and built again after the INSERTs,
    # and the triggers (the ledger's chain and cache checks, the foreign keys') are off in
    # this session; the rows are written to pass them, and FILL_CHECKS looks after.
    rebuild = [
        index for table in BULK_TABLES for index in sql(SECONDARY_INDEXES, [table, table, table])
    ]
    for name, _ in rebuild:
        sql(f'DROP INDEX "{name}"')
    sql("SET session_replication_role = replica")
    timings: dict[str, float] = {}
    try:
        log(f"filling the large merchant: {members:,} members")
        for label, secs in fill_merchant(
            merchant_id=merchant.pk, first=1, members=members, per_member=per_member, now=now
        ).items():
            timings[label] = timings.get(label, 0) + secs
        log(f"filling the preview merchant: {preview_members:,} members")
        for label, secs in fill_merchant(
            merchant_id=preview.pk,
            first=members + 1,
            members=preview_members,
            per_member=per_member,
            now=now,
        ).items():
            timings[label] = timings.get(label, 0) + secs
    finally:
        sql("RESET session_replication_role")
    step = time.perf_counter()
    for _, indexdef in rebuild:
        sql(indexdef)
    timings["indexes"] = time.perf_counter() - step
    log(f"  indexes ({len(rebuild)}): {timings['indexes']:.1f} s")
    for table in BULK_TABLES:
        sql(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"greatest((SELECT max(id) FROM {table}), 1))",
            [table],
        )
    step = time.perf_counter()
    for table in BULK_TABLES:
        sql(f"VACUUM ANALYZE {table}")
    timings["vacuum analyze"] = time.perf_counter() - step
    log(f"  vacuum analyze: {timings['vacuum analyze']:.1f} s")
    sql("RESET work_mem")
    sql("RESET maintenance_work_mem")
    checks = dict(zip(FILL_CHECK_LABELS, sql_one(FILL_CHECKS), strict=True))
    seconds = time.perf_counter() - began
    sql(FILL_TABLE)
    sql(
        "INSERT INTO bench_segments_fill VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        [FILL_VERSION, members, preview_members, per_member, merchant.pk, preview.pk, now, seconds],
    )
    return {"timings": timings, "checks": checks, "seconds": seconds}


def filled(database: str, args: argparse.Namespace) -> bool:
    """Whether ``database`` exists and a previous run filled it with these sizes."""
    exists = psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    if exists != "1":
        return False
    if psql(database, "SELECT to_regclass('bench_segments_fill') IS NOT NULL") != "t":
        return False
    row = psql(
        database,
        "SELECT version, members, preview_members, orders_per_member FROM bench_segments_fill",
    )
    wanted = (FILL_VERSION, args.members, args.preview_members, args.orders_per_member)
    return row == "|".join(str(n) for n in wanted)


# -- the measures -------------------------------------------------------------------------


class World:
    def __init__(self) -> None:
        from merchants.models import Merchant

        (merchant_id, preview_id, now, seconds) = sql_one(
            "SELECT merchant_id, preview_merchant_id, now, seconds FROM bench_segments_fill"
        )
        self.merchant = Merchant.objects.get(pk=merchant_id)
        self.preview = Merchant.objects.get(pk=preview_id)
        self.now: datetime.datetime = now
        self.fill_seconds: float = seconds
        tz = ZoneInfo(TIMEZONE)
        today = now.astimezone(tz).date()

        def days_ago_start(days: int) -> datetime.datetime:
            day = today - datetime.timedelta(days=days)
            return datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)

        # The windows as the definition means them: the last 365 local days (today and
        # the 364 before), and a last order before the start of the day 59 days ago.
        self.spend_since = days_ago_start(SPEND_DAYS - 1)
        self.lapsed_before = days_ago_start(LAPSED_DAYS - 1)

    def params(self, merchant, **extra) -> dict:
        return {
            "merchant": merchant.pk,
            "spend_since": self.spend_since,
            "lapsed_before": self.lapsed_before,
            "spend_at_least": SPEND_AT_LEAST,
            "balance_at_least": BALANCE_AT_LEAST,
            "now": self.now,
            **extra,
        }


def segment_new(merchant, name: str):
    from core.actors import SYSTEM
    from loyalty.models import Segment
    from loyalty.segments.services import segment_save

    return segment_save(
        segment=Segment(merchant=merchant, name=name, definition=DEFINITION), actor=SYSTEM
    )


def segments_clear(merchant) -> None:
    """The bench's segments, their stays and events gone; the tables vacuumed (this server
    runs without autovacuum), so that every round starts from the same tables."""
    sql(
        "DELETE FROM loyalty_segmentmembership WHERE segment_id IN "
        "(SELECT id FROM loyalty_segment WHERE merchant_id = %s)",
        [merchant.pk],
    )
    sql(
        "DELETE FROM merchants_outboxevent WHERE merchant_id = %s AND type LIKE 'segment.%%'",
        [merchant.pk],
    )
    sql("DELETE FROM loyalty_segment WHERE merchant_id = %s", [merchant.pk])
    for table in ("loyalty_segmentmembership", "merchants_outboxevent", "loyalty_segment"):
        sql(f"VACUUM ANALYZE {table}")


class TimedOut(Exception):
    pass


def timed(call, *, timeout: float):
    """Seconds and result of ``call``, its statements cut at ``timeout`` seconds (then
    ``TimedOut``): a plan gone quadratic ends the round instead of the run."""
    from django.db import OperationalError

    sql(f"SET statement_timeout = {int(timeout * 1000)}")
    began = time.perf_counter()
    try:
        result = call()
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == "57014":  # query_canceled
            raise TimedOut from error
        raise
    finally:
        sql("RESET statement_timeout")
    return time.perf_counter() - began, result


def stays(segment_id: int) -> list[int]:
    return [
        row[0]
        for row in sql(
            "SELECT member_id FROM loyalty_segmentmembership "
            "WHERE segment_id = %s AND left_at IS NULL ORDER BY member_id",
            [segment_id],
        )
    ]


def events(segment_id: int) -> list[tuple]:
    return sql(
        "SELECT subject, occurred_at FROM merchants_outboxevent "
        "WHERE type = 'segment.joined' AND (payload -> 'segment' ->> 'id')::bigint = %s "
        "ORDER BY subject",
        [segment_id],
    )


def matching_members(world: World, merchant):
    from loyalty.segments.services import definition_members, definition_parse

    definition = definition_parse(merchant=merchant, data=DEFINITION)
    return definition_members(merchant=merchant, definition=definition, now=world.now)


def attempt(label: str, call, *, timeout: float) -> tuple[float | None, object]:
    """``timed``, with (None, None) when the statement was cut."""
    try:
        return timed(call, timeout=timeout)
    except TimedOut:
        log(f"{label} ran past {timeout:.0f} s; cut")
        return None, None


def round_once(world: World, n: int, checks: list[str], timeout: float) -> dict:
    """One round: our first and second refresh, the hand-written statement, both counts.
    A figure is None when its statement ran past ``timeout``."""
    from loyalty.segments.services import segment_refresh

    merchant = world.merchant
    figures: dict = {"matching": None, "hand_matching": None}
    ours = segment_new(merchant, f"Bench ours {n}")
    figures["first"], result = attempt(
        f"round {n}: our first refresh",
        lambda: segment_refresh(segment_id=ours.pk, now=world.now, full=True),
        timeout=timeout,
    )
    figures["second"], again = None, None
    if result is not None:
        figures["second"], again = attempt(
            f"round {n}: our second refresh",
            lambda: segment_refresh(segment_id=ours.pk, now=world.now, full=True),
            timeout=timeout,
        )
    if again is not None and (again.joined or again.left):
        checks.append(f"round {n}: the second refresh moved members: {again}")

    hand = segment_new(merchant, f"Bench hand {n}")
    payload = json.dumps({"segment": {"id": hand.pk, "name": hand.name}})
    figures["hand"], _ = attempt(
        f"round {n}: the hand-written statement",
        lambda: sql(HAND_WRITTEN, world.params(merchant, segment=hand.pk, payload=payload)),
        timeout=timeout,
    )
    if figures["hand"] is not None:
        figures["hand_matching"] = len(stays(hand.pk))
    if result is not None:
        ours_ids = stays(ours.pk)
        figures["matching"] = len(ours_ids)
        if len(ours_ids) != result.joined:
            checks.append(f"round {n}: {result.joined:,} joined, {len(ours_ids):,} stays")
    if result is not None and figures["hand"] is not None:
        hand_ids = stays(hand.pk)
        if ours_ids != hand_ids:
            checks.append(
                f"round {n}: ours {len(ours_ids):,} members, hand-written {len(hand_ids):,}; "
                f"{len(set(ours_ids) - set(hand_ids)):,} only ours, "
                f"{len(set(hand_ids) - set(ours_ids)):,} only hand-written"
            )
        ours_events, hand_events = events(ours.pk), events(hand.pk)
        if len(ours_events) != len(ours_ids) or ours_events != hand_events:
            checks.append(
                f"round {n}: events differ: ours {len(ours_events):,}, "
                f"hand-written {len(hand_events):,}"
            )

    members = matching_members(world, merchant)
    figures["count_hand"], hand_counted = attempt(
        f"round {n}: the hand-written count",
        lambda: sql_one(HAND_WRITTEN_COUNT, world.params(merchant))[0],
        timeout=timeout,
    )
    figures["count_ours"], counted = attempt(
        f"round {n}: our count()", members.count, timeout=timeout
    )
    if None not in (counted, hand_counted) and counted != hand_counted:
        checks.append(f"round {n}: counts {counted:,} (ours), {hand_counted:,} (hand)")
    segments_clear(merchant)

    def shown(key: str) -> str:
        value = figures[key]
        if value is None:
            return "not run" if key == "second" and result is None else "cut"
        return f"{value:.2f} s"

    log(
        f"round {n}: ours {shown('first')} first, {shown('second')} again; hand-written "
        f"{shown('hand')}; count {shown('count_ours')} / {shown('count_hand')}; "
        f"{figures['matching'] or figures['hand_matching'] or '?'} members "
        f"(load {load_average()})"
    )
    return figures


def preview_times(world: World, merchant, *, calls: int, timeout: float) -> dict:
    """``calls`` previews after a first one; None figures: cut at ``timeout``."""
    from loyalty.segments.services import SAMPLE_SIZE, segment_preview

    _, expected = attempt(
        "the hand-written count",
        lambda: sql_one(HAND_WRITTEN_COUNT, world.params(merchant))[0],
        timeout=timeout,
    )
    runs: list[float] = []
    result = None
    try:
        for _ in range(1 + calls):
            seconds, result = timed(
                lambda: segment_preview(merchant=merchant, data=DEFINITION, now=world.now),
                timeout=timeout,
            )
            runs.append(seconds)
    except TimedOut:
        log(f"a preview ran past {timeout:.0f} s; cut")
    return {
        "first": runs[0] if runs else None,
        "runs": runs[1:],
        "median": statistics.median(runs[1:]) if len(runs) > 1 else None,
        "count": result.count if result else None,
        "expected": expected,
        "sample": len(result.sample) if result else 0,
        "sample_ok": result is None
        or expected is None
        or len(result.sample) == min(SAMPLE_SIZE, expected),
    }


def plan_note(world: World, merchant) -> str:
    """What PostgreSQL plans for our matching query (EXPLAIN, not run): its subplans, and
    whether each is hashed (a hash probe per member) or not (the subquery's rows scanned
    again for every member)."""
    members = matching_members(world, merchant)
    select, params = members.order_by().values("pk").query.sql_with_params()
    text = "\n".join(line for (line,) in sql(f"EXPLAIN {select}", params))
    references = dict.fromkeys(re.findall(r"SubPlan (\d+)\)", text), "not hashed")
    for number in re.findall(r"hashed SubPlan (\d+)\)", text):
        references[number] = "hashed"
    if not references:
        return "no subplans"
    return ", ".join(f"SubPlan {k} {v}" for k, v in sorted(references.items()))


def explain(world: World) -> None:
    merchant = world.merchant
    members = matching_members(world, merchant)
    select, params = members.order_by().values("pk").query.sql_with_params()
    for label, statement, bound in (
        ("ours (the matching members)", select, params),
        ("hand-written", HAND_WRITTEN_MATCHES, world.params(merchant)),
    ):
        print(f"\nEXPLAIN ANALYZE, {label}:")
        print(f"  {' '.join(statement.split())}")
        try:
            _, lines = timed(
                lambda s=statement, b=bound: sql(f"EXPLAIN (ANALYZE, BUFFERS) {s}", b),
                timeout=600,
            )
        except TimedOut:
            print("  (ran past 600 s; the plan without ANALYZE:)")
            lines = sql(f"EXPLAIN {statement}", bound)
        for (line,) in lines:
            print(f"  {line}")


# -- the run ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--preview-members", type=int, default=100_000)
    parser.add_argument("--orders-per-member", type=int, default=4)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds after which a timed statement is cut (default 300)",
    )
    parser.add_argument(
        "--database",
        default=BENCH_PREFIX,
        help=f"the scratch database (its name starts with {BENCH_PREFIX})",
    )
    parser.add_argument("--refill", action="store_true", help="fill the database again")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE both queries")
    args = parser.parse_args(argv)
    for name in ("members", "preview_members", "orders_per_member", "repetitions", "timeout"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more")
    if not args.database.startswith(BENCH_PREFIX) or not args.database.replace("_", "").isalnum():
        parser.error(f"--database is a name starting with {BENCH_PREFIX}")
    return args


def best(values) -> float | None:
    done = [v for v in values if v is not None]
    return min(done) if done else None


def ms(seconds: float | None) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds is not None else "cut"


def each(values) -> str:
    return " / ".join(ms(v) for v in values)


def report(world: World, counts: tuple, rounds: list[dict], previews: dict) -> bool:
    """Prints the figures; whether every target was met."""
    first, second = best(r["first"] for r in rounds), best(r["second"] for r in rounds)
    hand = best(r["hand"] for r in rounds)
    count_ours, count_hand = (best(r[k] for r in rounds) for k in ("count_ours", "count_hand"))
    ratio = hand / first if None not in (first, hand) else None
    ratio_met = ratio is not None and ratio >= TARGET_RATIO
    target = previews["target"]
    preview_met = target["median"] is not None and target["median"] < TARGET_PREVIEW_S
    matching = next((r["matching"] for r in rounds if r["matching"] is not None), None)

    print(
        f"Large merchant: {counts[0]:,} members ({counts[1]:,} active), {counts[2]:,} "
        f"orders, {counts[3]:,} ledger entries; preview merchant: {counts[4]:,} members"
    )
    print(f"Now (the fill's): {world.now.isoformat()}")
    print(f"Definition: {json.dumps(DEFINITION)}")
    print(f"Our query's plan (large merchant): {previews['plan']}")
    print()
    print("| measure | rounds | best | matching members |")
    print("| --- | --- | --- | --- |")
    rows = (
        ("ours: segment_refresh(full=True), first run (writes the joins)", "first", matching),
        ("ours: segment_refresh(full=True), second run (no change)", "second", None),
        ("hand-written: one statement, INSERT ... SELECT (stays + events)", "hand", None),
        ("ours: the matching members' count()", "count_ours", None),
        ("hand-written: SELECT count(*)", "count_hand", None),
    )
    for label, key, members in rows:
        if key == "hand":
            members = rounds[0]["hand_matching"]
        shown = ms(best(r[key] for r in rounds))
        if key in ("first", "hand"):
            shown = f"**{shown}**"
        runs = each(r[key] for r in rounds)
        if key == "second":
            runs = " / ".join("not run" if r["first"] is None else ms(r[key]) for r in rounds)
        print(f"| {label} | {runs} | {shown} | {f'{members:,}' if members is not None else ''} |")
    print()
    print(
        f"Refresh ratio (hand-written / ours, best of {len(rounds)}): "
        f"{f'{ratio:.2f}' if ratio is not None else 'none (a statement was cut)'} "
        f"(target >= {TARGET_RATIO}): {'PASS' if ratio_met else 'FAIL'}"
    )
    if count_ours is not None and count_hand is not None:
        print(f"Query-only ratio (count, hand-written / ours): {count_hand / count_ours:.2f}")
    if None not in (first, second):
        print(f"Second run / first run (ours): {second / first:.2f}")
    print()
    print("| preview (segment_preview) | first call | next calls | median | count | result |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, preview in previews["rows"].items():
        if preview is target:
            verdict = "PASS" if preview_met else "FAIL"
        elif preview["first"] is None:
            verdict = "cut (reference)"
        else:
            verdict = (
                f"{'under' if preview['first'] < TARGET_PREVIEW_S else 'over'} 1 s (reference)"
            )
        count = f"{preview['count']:,}" if preview["count"] is not None else ""
        median = ms(preview["median"]) if preview["runs"] or preview["first"] is None else "-"
        print(
            f"| {label} | {ms(preview['first'])} | {each(preview['runs']) or '-'} "
            f"| **{median}** | {count} | {verdict} |"
        )
    return ratio_met and preview_met


def order_statements(merchant, member_id: str, n: int) -> int:
    """The statements one order of ``member_id`` costs once the configuration is cached."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from core.actors import Actor
    from loyalty.services import orders

    def order(suffix: str) -> None:
        orders.order_record(
            merchant=merchant,
            data=orders.OrderInput(
                external_id=f"bench-statements-{n}-{suffix}-{uuid.uuid4().hex[:8]}",
                member_external_id=member_id,
                total=Decimal("40.00"),
                currency=merchant.default_currency,
                placed_at=timezone.now(),
                lines=(
                    orders.LineInput("TENT-2P", "camping", 1, Decimal("30.00")),
                    orders.LineInput("MUG", "kitchen", 2, Decimal("5.00")),
                ),
            ),
            actor=Actor.system("bench"),
        )

    order("warm")  # reads the configuration into the cache
    with CaptureQueriesContext(connection) as queries:
        order("measured")
    return len(queries.captured_queries)


def campaign_statements() -> dict:
    """What a running campaign (a budgeted x2 for a segment the member is in) adds to an
    order, in statements, on a merchant of its own: the target is at most one."""
    import datetime

    from django.utils import timezone

    from core.actors import SYSTEM
    from loyalty.campaigns import services as campaigns
    from loyalty.models import Campaign, Member, Segment, SegmentMembership

    merchant, program, _, _ = live_merchant_with_program(
        name="Bench campaign",
        slug=f"bench-campaign-{uuid.uuid4().hex[:8]}",
        timezone_name=TIMEZONE,
        silver=1000,
        gold=2500,
    )
    member, _ = Member.objects.get_or_create(merchant=merchant, external_id="bench-cust-1")
    Campaign.objects.filter(program=program).delete()
    segment, _ = Segment.objects.get_or_create(
        merchant=merchant, name="Bench fans", defaults={"definition": {"version": 1, "groups": []}}
    )
    SegmentMembership.objects.get_or_create(
        segment=segment, member=member, left_at=None, defaults={"joined_at": timezone.now()}
    )
    without = order_statements(merchant, member.external_id, 1)
    now = timezone.now()
    campaign = campaigns.campaign_save(
        campaign=Campaign(
            program=program,
            name="Bench double",
            effect="multiplier",
            multiplier=Decimal(2),
            points_budget=10_000_000,
            starts_at=now - datetime.timedelta(days=1),
            ends_at=now + datetime.timedelta(days=30),
        ),
        actor=SYSTEM,
        segments=[segment],
    )
    for status in ("scheduled", "running"):
        campaigns.campaign_transition(
            campaign=campaign, to_status=status, reason="bench", actor=SYSTEM
        )
    with_campaign = order_statements(merchant, member.external_id, 2)
    return {"without": without, "with": with_campaign, "added": with_campaign - without}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    database = args.database
    checks: list[str] = []
    var_dir = tempfile.mkdtemp(prefix="bench-segments-")
    env = django_env(var_dir, database=database)
    filling = args.refill or not filled(database, args)
    fill_result: dict = {}
    try:
        if filling:
            log(f"creating {database}")
            recreate_db(database)
        else:
            log(f"reusing {database} (filled with these sizes; --refill to fill it again)")
        log(f"migrating {database}")
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env=env, timeout=1800)
        configure_django(env)
        if filling:
            log(
                f"filling: {args.members:,} + {args.preview_members:,} members, "
                f"{args.orders_per_member} orders a member (load {load_average()})"
            )
            fill_result = fill(
                members=args.members,
                preview_members=args.preview_members,
                per_member=args.orders_per_member,
            )
            log(f"filled in {fill_result['seconds']:.0f} s")
            for label, value in fill_result["checks"].items():
                if value:
                    checks.append(f"fill: {label}: {value}")
        world = World()
        merchant = world.merchant
        segments_clear(merchant)
        counts = sql_one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'active'), "
            "(SELECT count(*) FROM loyalty_order WHERE merchant_id = %(m)s), "
            "(SELECT count(*) FROM loyalty_ledgerentry WHERE merchant_id = %(m)s), "
            "(SELECT count(*) FROM loyalty_member WHERE merchant_id = %(p)s) "
            "FROM loyalty_member WHERE merchant_id = %(m)s",
            {"m": merchant.pk, "p": world.preview.pk},
        )
        plan = plan_note(world, merchant)
        log(f"our query's plan: {plan}")
        load_before = load_average()
        log(f"{args.repetitions} round(s) of refresh against hand-written (load {load_before})")
        rounds = [
            round_once(world, n, checks, args.timeout) for n in range(1, args.repetitions + 1)
        ]
        log(f"the preview: {1 + PREVIEW_RUNS} calls, one on the large merchant")
        target = preview_times(world, world.preview, calls=PREVIEW_RUNS, timeout=args.timeout)
        large = preview_times(world, merchant, calls=0, timeout=args.timeout)
        previews = {
            "target": target,
            "plan": plan,
            "rows": {f"{counts[4]:,} members": target, f"{counts[0]:,} members": large},
        }
        for label, preview in previews["rows"].items():
            if None not in (preview["count"], preview["expected"]) and (
                preview["count"] != preview["expected"] or not preview["sample_ok"]
            ):
                checks.append(
                    f"preview ({label}): count {preview['count']:,} (expected "
                    f"{preview['expected']:,}), {preview['sample']} sampled"
                )
        load_after = load_average()
        if args.explain:
            explain(world)

        print()
        print(f"Load average (1, 5, 15 min) before / after timing: {load_before} / {load_after}")
        if fill_result:
            print(
                f"Filled in {fill_result['seconds']:.0f} s: "
                + ", ".join(f"{k} {v:.0f} s" for k, v in fill_result["timings"].items())
            )
        else:
            print(f"Reused the database (filled in {world.fill_seconds:.0f} s by an earlier run)")
        met = report(world, counts, rounds, previews)
        statements = campaign_statements()
        print(
            f"Statements of an order: {statements['without']} without a campaign, "
            f"{statements['with']} with a running one (budgeted, for a segment): "
            f"+{statements['added']} (target: at most 1) "
            f"{'PASS' if statements['added'] <= 1 else 'FAIL'}"
        )
        met = met and statements["added"] <= 1
        for check in checks:
            print(f"CHECK FAILED: {check}")
        failed = bool(checks) or not met
        print(f"Result: {'FAIL' if failed else 'PASS'}")
    finally:
        if args.drop:
            from django.db import connections

            connections.close_all()
            drop_db(database)
        shutil.rmtree(var_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

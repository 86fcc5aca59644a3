"""Merchant dashboard benchmark: the portal's report page over a large merchant on PostgreSQL.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust
auth; ``createdb``, ``dropdb`` on ``PATH``)::

    .venv/bin/python bench/portal.py [--members 1000000] [--entries 10000000]
                                     [--repetitions 30] [--update-rounds 3]
                                     [--update-entries 10000] [--keep-db] [--reuse-db]

What one run does (figures and their meaning in ``bench/PORTAL.md``):

1. Drops and recreates the database ``loyalty_bench_portal``, migrates it, configures
   Django in-process against it (development settings, ``DEBUG=false``), and sets up
   through the project's services a live merchant (time zone America/New_York), its
   program (USD, 1 point per dollar, 14 pending days, lots expire 12 months after they
   are earned, tiers on), Silver (1,000) and Gold (2,500), five rewards, and an analyst
   of its team.
2. Seeds with plain SQL (``INSERT ... SELECT generate_series``) ``--members`` members who
   joined over two years and about ``--entries`` ledger entries: point lots (orders'
   earns, 3 % staff credits), their releases after 14 days, redemptions, expiries after
   12 months, refunds reversing pending points, with the lot movements of each spend;
   the orders and refunds behind them, redemptions (with their delivery events), tier
   changes and care tickets. See ``seed`` for the rules.
3. Rebuilds the aggregates with ``aggregates_rebuild`` (timed).
4. Times the dashboard (``GET /portal/``) through Django's test client, signed in as the
   analyst, for the last 30 and the last 365 days: ``--repetitions`` requests each after
   one warm-up; min / median / p95 / max, PASS when p95 <= 300 ms. Counts the queries of
   one request and lists the slowest ones.
5. Times the incremental job: ``--update-rounds`` times, writes ``--update-entries`` new
   ledger entries (orders with their earn and lot, redemptions of existing lots with
   their movements) over the merchant's today and yesterday, then runs
   ``aggregates_update`` with a settle delay of 0, and checks that today's and
   yesterday's aggregates equal the ledger's sums.
6. Prints the figures and drops the database (unless ``--keep-db``). Exit status 1 on a
   FAIL or a failed check.
"""

# Only fixed local executables (createdb, dropdb, manage.py) are started; the SQL strings
# below are constants with bound parameters (table names come from this file only).
# ruff: noqa: S608

import argparse
import datetime
import shutil
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from benchdb import (
    ROOT,
    configure_django,
    django_env,
    drop_db,
    live_merchant_with_program,
    recreate_db,
    run,
)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_PREFIX = "loyalty_bench_portal"
BENCH_DB = BENCH_PREFIX  # --database may name another one with this prefix
TIMEZONE = "America/New_York"
TARGET_P95_MS = 300.0
HISTORY_DAYS = 730
SILVER, GOLD = Decimal("1000"), Decimal("2500")
PASSWORD = "bench-analyst-password"  # a throwaway user of a scratch database
ADJUST_SHARE = 0.03  # lots that are staff credits, not orders
REFUND_SHARE = 0.03  # orders refunded within their pending period
REDEEM_SHARE = 0.25  # released lots partly or wholly spent
REDEMPTION_SHARE = 0.2  # spends that are reward redemptions (the others: at the till)
TICKETS = 20_000
REWARDS = 5
# Ledger entries per lot, as measured: earn, release, a quarter redeemed, the older ones
# expiry. The lot count is tuned from it so that the entries come close to --entries.
ENTRIES_PER_LOT = 2.29


def log(message: str) -> None:
    print(f"[portal {time.strftime('%H:%M:%S')}] {message}", flush=True)


def sql(statement: str, params=None) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def sql_one(statement: str, params=None) -> tuple:
    return sql(statement, params)[0]


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# -- setup through the project's services ------------------------------------------------------


def setup(now: datetime.datetime) -> dict:
    from django.contrib.auth import get_user_model

    from catalog import services as catalog_services
    from catalog.models import Brand, Reward, RewardStatus, RewardType
    from core.actors import SYSTEM
    from merchants.models import MerchantMembership

    merchant, program, silver, gold = live_merchant_with_program(
        name="Bench Portal Outfitters",
        slug="bench-portal",
        timezone_name=TIMEZONE,
        silver=SILVER,
        gold=GOLD,
    )
    brand = Brand.objects.create(
        name="Bench Brand", slug="bench-brand", description="A brand.", terms="Terms apply."
    )
    types = [RewardType.GIFT_CARD, RewardType.VOUCHER, RewardType.PHYSICAL, RewardType.DONATION]
    rewards = [
        catalog_services.reward_save(
            reward=Reward(
                brand=brand,
                type=types[n % len(types)],
                slug=f"bench-reward-{n}",
                name=f"Bench reward {n}",
                countries=["US", "CA", "GB", "DE", "FR"],
                face_currency="USD",
                denomination_kind="fixed",
                denominations=["10", "25", "50"],
                recipient_fields=["email"],
                status=RewardStatus.ACTIVE,
            ),
            actor=SYSTEM,
        ).pk
        for n in range(REWARDS)
    ]
    user = get_user_model().objects.create_user(
        username="analyst@bench.example", email="analyst@bench.example", password=PASSWORD
    )
    MerchantMembership.objects.create(merchant=merchant, user=user, role="analyst")
    return {
        "merchant": merchant.pk,
        "program": program.pk,
        "silver": silver.pk,
        "gold": gold.pk,
        "rewards": rewards,
        "user": user.pk,
        "now": now,
    }


# -- seeding by SQL ----------------------------------------------------------------------------

# One row per point lot, with what happens to it: when it was earned, released, spent,
# expired or reversed by a refund, and the points each time. A lot belongs to one member
# (skewed: low ids, who joined first, have more) and is earned after the member joined.
SEED_LOTS = """
CREATE UNLOGGED TABLE bench_lot AS
WITH drawn AS (
    SELECT n AS id,
           1 + floor(%(members)s * power(random(), 1.3))::bigint AS member_id,
           random() < %(adjust_share)s AS is_adjust,
           random() AS r_time, random() AS r_points, random() AS r_refund,
           random() AS r_redeem, random() AS r_half, random() AS r_source
    FROM generate_series(1, %(lots)s) AS n
), earned AS (
    SELECT d.*, (10 + floor(d.r_points * 290))::bigint AS points,
           j.joined + interval '1 minute'
               + d.r_time * (%(now)s::timestamptz - interval '2 minutes' - j.joined)
               AS earned_at
    FROM drawn AS d
    CROSS JOIN LATERAL (
        SELECT %(start)s::timestamptz
               + (d.member_id - 1) * %(join_step)s * interval '1 second' AS joined
    ) AS j
), refunded AS (
    SELECT e.*,
           e.earned_at + CASE WHEN e.is_adjust THEN interval '0' ELSE interval '14 days' END
               AS available_at,
           e.earned_at + interval '12 months' AS expires_at,
           CASE WHEN NOT e.is_adjust AND e.r_refund < %(refund_share)s
                     AND e.earned_at + interval '1 hour' + e.r_half * interval '12 days'
                         < %(now)s::timestamptz
                THEN e.earned_at + interval '1 hour' + e.r_half * interval '12 days'
           END AS refund_at
    FROM earned AS e
), released AS (
    SELECT r.*,
           CASE WHEN r.refund_at IS NULL AND r.available_at < %(now)s::timestamptz
                THEN r.available_at END AS released_at
    FROM refunded AS r
), redeemed AS (
    SELECT r.*,
           CASE WHEN r.released_at IS NOT NULL AND r.r_redeem < %(redeem_share)s
                     AND r.released_at
                         < least(r.expires_at, %(now)s::timestamptz) - interval '2 minutes'
                THEN r.released_at + interval '1 minute'
                     + (r.r_redeem / %(redeem_share)s)
                       * (least(r.expires_at, %(now)s::timestamptz)
                          - r.released_at - interval '2 minutes')
           END AS redeem_at
    FROM released AS r
)
SELECT id, member_id, is_adjust, points, earned_at, available_at, released_at, expires_at,
       refund_at, redeem_at,
       CASE WHEN redeem_at IS NOT NULL
            THEN CASE WHEN r_half < 0.5 THEN points ELSE ceil(points / 2.0)::bigint END
       END AS redeem_points,
       redeem_at IS NOT NULL AND r_source < %(redemption_share)s AS by_redemption,
       (points + floor(r_half * 100) / 100)::numeric(14, 4) AS total
FROM redeemed
"""

SEED_LOT_COLUMNS = (
    "ALTER TABLE bench_lot ADD COLUMN expire_points bigint, ADD COLUMN remaining bigint"
)
SEED_LOT_EXPIRY = """
UPDATE bench_lot SET
    expire_points = CASE
        WHEN released_at IS NOT NULL AND expires_at < %(now)s::timestamptz
             AND points - coalesce(redeem_points, 0) > 0
        THEN points - coalesce(redeem_points, 0) END,
    remaining = CASE
        WHEN refund_at IS NOT NULL THEN 0
        WHEN released_at IS NOT NULL AND expires_at < %(now)s::timestamptz THEN 0
        ELSE points - coalesce(redeem_points, 0) END
"""

# Every ledger entry, keyed in time order (as the ledger writes them): a lot's own entries
# come in the order earn < release/reverse < redeem < expire, each later than the one
# before, so a member's running balances never go below zero.
SEED_ENTRY_ROWS = """
CREATE UNLOGGED TABLE bench_entry AS
SELECT row_number() OVER (ORDER BY at, lot_id, step) AS id, s.*
FROM (
    SELECT earned_at AS at, id AS lot_id, 0 AS step, member_id,
           CASE WHEN is_adjust THEN 'adjust' ELSE 'earn' END AS kind,
           CASE WHEN is_adjust THEN points ELSE 0 END AS points,
           CASE WHEN is_adjust THEN 0 ELSE points END AS pending,
           CASE WHEN is_adjust THEN 'staff' ELSE 'order' END AS source_type,
           CASE WHEN is_adjust THEN NULL ELSE id END AS order_id,
           NULL::bigint AS refund_id, NULL::bigint AS movement
    FROM bench_lot
    UNION ALL
    SELECT released_at, id, 1, member_id, 'release', points, -points, 'system', NULL, NULL,
           NULL
    FROM bench_lot WHERE released_at IS NOT NULL AND NOT is_adjust
    UNION ALL
    SELECT refund_at, id, 1, member_id, 'reverse', 0, -points, 'refund', id, id, -points
    FROM bench_lot WHERE refund_at IS NOT NULL
    UNION ALL
    SELECT redeem_at, id, 2, member_id, 'redeem', -redeem_points, 0,
           CASE WHEN by_redemption THEN 'redemption' ELSE 'order' END, NULL, NULL,
           -redeem_points
    FROM bench_lot WHERE redeem_at IS NOT NULL
    UNION ALL
    SELECT expires_at, id, 3, member_id, 'expire', -expire_points, 0, 'system', NULL, NULL,
           -expire_points
    FROM bench_lot WHERE expire_points IS NOT NULL
) AS s
"""

SEED_MEMBERS = """
INSERT INTO loyalty_member (
    id, external_id, email, first_name, last_name, country, locale, marketing_consent,
    attributes, status, points_balance, pending_points, lifetime_points,
    has_refund_shortfall, last_activity_at, created_at, updated_at, merchant_id, tier_id
)
SELECT m, 'bench-' || m, 'member' || m || '@bench.example', 'Member', m::text,
       (ARRAY['US', 'US', 'CA', 'GB', 'DE', 'FR'])[1 + mod(m, 6)], 'en', mod(m, 3) = 0,
       '{}'::jsonb, 'active',
       coalesce(a.balance, 0), coalesce(a.pending, 0), coalesce(a.lifetime, 0), false,
       a.last_activity, j.joined, j.joined, %(merchant)s,
       CASE WHEN a.lifetime >= %(gold_at)s THEN %(gold)s
            WHEN a.lifetime >= %(silver_at)s THEN %(silver)s END
FROM generate_series(1, %(members)s) AS m
CROSS JOIN LATERAL (
    SELECT %(start)s::timestamptz + (m - 1) * %(join_step)s * interval '1 second' AS joined
) AS j
LEFT JOIN (
    SELECT member_id,
           sum(remaining) FILTER (WHERE released_at IS NOT NULL) AS balance,
           sum(remaining) FILTER (WHERE released_at IS NULL) AS pending,
           sum(points) AS lifetime,
           max(earned_at) AS last_activity
    FROM bench_lot GROUP BY member_id
) AS a ON a.member_id = m
"""

SEED_ORDERS = """
INSERT INTO loyalty_order (
    id, external_id, placed_at, currency, total, program_currency, program_total,
    points_earned, points_reversed, refunded_total, explanation, request_hash, created_at,
    member_id, merchant_id
)
SELECT id, 'order-' || id, earned_at, 'USD', total, 'USD', total, points,
       CASE WHEN refund_at IS NULL THEN 0 ELSE points END,
       CASE WHEN refund_at IS NULL THEN 0 ELSE total END,
       '{}'::jsonb, '', earned_at, member_id, %(merchant)s
FROM bench_lot WHERE NOT is_adjust ORDER BY id
"""

SEED_REFUNDS = """
INSERT INTO loyalty_refund (
    id, external_id, amount, points_reversed, shortfall, request_hash, created_at,
    merchant_id, order_id
)
SELECT id, 'refund-' || id, total, points, 0, '', refund_at, %(merchant)s, id
FROM bench_lot WHERE refund_at IS NOT NULL ORDER BY id
"""

SEED_ENTRIES = """
INSERT INTO loyalty_ledgerentry (
    id, kind, points, pending, balance_after, pending_after, source_type, source_ref,
    reason, shortfall, actor_label, created_at, merchant_id, member_id, order_id, refund_id
)
SELECT id, kind, points, pending, sum(points) OVER w, sum(pending) OVER w, source_type, '',
       '', 0, 'bench', at, %(merchant)s, member_id, order_id, refund_id
FROM bench_entry
-- A member's entries chain in key order, the order the ledger writes them in (and the
-- database's chain trigger and audit_ledger read them in).
WINDOW w AS (PARTITION BY member_id ORDER BY id ROWS UNBOUNDED PRECEDING)
ORDER BY id
"""

SEED_POINT_LOTS = """
INSERT INTO loyalty_pointlot (
    id, points, remaining, earned_at, available_at, released_at, expires_at, entry_id,
    member_id, merchant_id, order_id
)
SELECT l.id, l.points, l.remaining, l.earned_at, l.available_at,
       CASE WHEN l.is_adjust THEN l.earned_at ELSE l.released_at END, l.expires_at, e.id,
       l.member_id, %(merchant)s, CASE WHEN l.is_adjust THEN NULL ELSE l.id END
FROM bench_lot AS l JOIN bench_entry AS e ON e.lot_id = l.id AND e.step = 0
ORDER BY l.id
"""

SEED_MOVEMENTS = """
INSERT INTO loyalty_lotmovement (id, points, entry_id, lot_id)
SELECT row_number() OVER (ORDER BY id), movement, id, lot_id
FROM bench_entry WHERE movement IS NOT NULL
"""

# Members who reached Silver or Gold moved there once each, halfway and three quarters
# through their membership (the tier job's moves, without the downgrades).
SEED_TIER_CHANGES = """
INSERT INTO loyalty_tierchange (
    id, reason, qualifying_value, created_at, from_tier_id, to_tier_id, member_id,
    actor_label
)
SELECT row_number() OVER (ORDER BY at, member_id, to_tier), 'bench', lifetime_points, at,
       from_tier, to_tier, member_id, 'bench'
FROM (
    SELECT id AS member_id, lifetime_points, NULL::bigint AS from_tier,
           %(silver)s::bigint AS to_tier,
           created_at + (%(now)s::timestamptz - created_at) / 2 AS at
    FROM loyalty_member WHERE tier_id IS NOT NULL
    UNION ALL
    SELECT id, lifetime_points, %(silver)s, %(gold)s,
           created_at + (%(now)s::timestamptz - created_at) * 3 / 4
    FROM loyalty_member WHERE tier_id = %(gold)s
) AS moves
"""

SEED_REDEMPTIONS = """
INSERT INTO fulfillment_redemption (
    id, public_id, external_id, request_hash, country, face_value, face_currency, quantity,
    points_each, points_total, program_currency, point_value, recipient, status,
    delivery_status, needs_care, care_reason, created_at, updated_at, delivered_at,
    member_id, merchant_id, reward_id, spend_entry_id
)
SELECT row_number() OVER (ORDER BY e.id), gen_random_uuid(), '', '',
       (ARRAY['US', 'US', 'CA', 'GB', 'DE', 'FR'])[1 + mod(e.member_id, 6)],
       (-e.points * 0.01)::numeric(14, 4), 'USD', 1, -e.points, -e.points, 'USD', 0.01,
       '{}'::jsonb, 'delivered', 'delivered', false, '', e.at, e.at,
       e.at + interval '5 minutes' + random() * interval '30 hours',
       e.member_id, %(merchant)s, (%(rewards)s::bigint[])[1 + mod(e.lot_id, %(reward_count)s)],
       e.id
FROM bench_entry AS e WHERE e.kind = 'redeem' AND e.source_type = 'redemption'
"""

SEED_REDEMPTION_EVENTS = """
INSERT INTO fulfillment_redemptionevent (
    id, at, field, from_value, to_value, source, note, actor_label, redemption_id
)
SELECT id, delivered_at, 'status', 'submitted', 'delivered', 'supplier', '', 'bench', id
FROM fulfillment_redemption WHERE merchant_id = %(merchant)s
"""

SEED_TICKETS = """
INSERT INTO customercare_ticket (
    id, reference, category, subject, status, priority, channel, order_external_id,
    balance_at_open, pending_at_open, tier_at_open, first_responded_at, paused_minutes,
    first_response_breached, resolution_breached, sla_state, escalations, resolved_at,
    resolutions, created_at, updated_at, member_id, merchant_id
)
SELECT n, 'B' || lpad(n::text, 9, '0'), 'points', 'Where are my points?', 'resolved',
       'normal', 'email', '', 0, 0, '', at + random() * interval '20 hours', 0, false,
       false, 'met', 0, at + interval '1 day' + random() * interval '3 days', 1, at, at,
       1 + floor(random() * %(members)s)::bigint, %(merchant)s
FROM (
    SELECT n, %(now)s::timestamptz - interval '4 days'
              - random() * (interval '1 day' * %(days)s - interval '4 days') AS at
    FROM generate_series(1, %(tickets)s) AS n
) AS t
"""

SEED_TICKET_EVENTS = """
INSERT INTO customercare_ticketevent (
    id, field, from_value, to_value, source, note, created_at, ticket_id
)
SELECT id, 'status', 'open', 'resolved', 'agent', '', resolved_at, id
FROM customercare_ticket WHERE merchant_id = %(merchant)s
"""

SEED_CSAT = """
INSERT INTO customercare_csatresponse (id, resolution, score, comment, via, created_at, ticket_id)
SELECT id, 1, 1 + floor(random() * 5)::int, '', 'email', resolved_at + interval '1 hour', id
FROM customercare_ticket WHERE merchant_id = %(merchant)s AND mod(id, 2) = 0
"""

SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = %s
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
  AND indexname <> %s || '_pkey'
"""

BULK_TABLES = (
    "loyalty_member",
    "loyalty_order",
    "loyalty_refund",
    "loyalty_ledgerentry",
    "loyalty_pointlot",
    "loyalty_lotmovement",
    "loyalty_tierchange",
    "fulfillment_redemption",
    "fulfillment_redemptionevent",
    "customercare_ticket",
    "customercare_ticketevent",
    "customercare_csatresponse",
)

SEED_CHECKS = """
SELECT
    (SELECT count(*) FROM loyalty_pointlot AS l
     WHERE NOT EXISTS (SELECT FROM loyalty_ledgerentry AS e
                       WHERE e.id = l.entry_id AND e.member_id = l.member_id)),
    (SELECT count(*) FROM loyalty_lotmovement AS mv
     JOIN loyalty_ledgerentry AS e ON e.id = mv.entry_id
     JOIN loyalty_pointlot AS l ON l.id = mv.lot_id
     WHERE e.member_id <> l.member_id),
    (SELECT count(*) FROM loyalty_ledgerentry WHERE balance_after < 0 OR pending_after < 0),
    (SELECT coalesce(sum(points_balance), 0) - (SELECT coalesce(sum(points), 0)
                                                FROM loyalty_ledgerentry)
     FROM loyalty_member),
    (SELECT coalesce(sum(pending_points), 0) - (SELECT coalesce(sum(pending), 0)
                                                FROM loyalty_ledgerentry)
     FROM loyalty_member),
    (SELECT count(*) FROM loyalty_pointlot AS l
     WHERE l.points + coalesce((SELECT sum(mv.points) FROM loyalty_lotmovement AS mv
                                WHERE mv.lot_id = l.id), 0) <> l.remaining
       AND mod(l.id, 97) = 0)
"""
SEED_CHECK_LABELS = (
    "lots whose earn entry is missing or another member's",
    "movements between an entry and a lot of different members",
    "entries with a negative running balance",
    "members' balances - sum of entries' points",
    "members' pending - sum of entries' pending",
    "lots (1 in 97 sampled) where points + movements != remaining",
)


def seed(world: dict, *, members: int, entries: int) -> dict:
    """The large merchant, in plain SQL (bench setup, not under test). Triggers are off in
    this session while it loads (``session_replication_role = replica``: the ledger's
    chain, append-only and cache triggers and the foreign keys' ones); the rows are
    written so that they would pass them, and ``SEED_CHECKS`` verifies after."""
    now = world["now"]
    start = now - datetime.timedelta(days=HISTORY_DAYS)
    lots = max(1, round(entries / ENTRIES_PER_LOT))
    params = {
        "now": now,
        "start": start,
        "days": HISTORY_DAYS,
        "members": members,
        "lots": lots,
        # Members join evenly over the history, the last five days before now left out.
        "join_step": (HISTORY_DAYS - 5) * 86400 / members,
        "adjust_share": ADJUST_SHARE,
        "refund_share": REFUND_SHARE,
        "redeem_share": REDEEM_SHARE,
        "redemption_share": REDEMPTION_SHARE,
        "merchant": world["merchant"],
        "silver": world["silver"],
        "gold": world["gold"],
        "silver_at": SILVER,
        "gold_at": GOLD,
        "rewards": world["rewards"],
        "reward_count": len(world["rewards"]),
        "tickets": TICKETS,
    }
    timings: dict[str, float] = {}

    def step(label: str, statement: str) -> None:
        began = time.perf_counter()
        sql(statement, params)
        timings[label] = time.perf_counter() - began
        log(f"  {label}: {timings[label]:.1f} s")

    sql("SET work_mem = '256MB'")
    sql("SET maintenance_work_mem = '512MB'")
    sql("SELECT setseed(0.42)")
    sql("DROP TABLE IF EXISTS bench_lot, bench_entry")
    step("lots (staging)", SEED_LOTS)
    sql(SEED_LOT_COLUMNS)
    step("expiry (staging)", SEED_LOT_EXPIRY)
    step("entries (staging)", SEED_ENTRY_ROWS)
    # A bulk load: the secondary indexes are dropped and built again after the INSERTs.
    rebuild = [
        index for table in BULK_TABLES for index in sql(SECONDARY_INDEXES, [table, table, table])
    ]
    for name, _ in rebuild:
        sql(f'DROP INDEX "{name}"')
    sql("SET session_replication_role = replica")
    try:
        step("members", SEED_MEMBERS)
        step("orders", SEED_ORDERS)
        step("refunds", SEED_REFUNDS)
        step("ledger entries", SEED_ENTRIES)
        step("point lots", SEED_POINT_LOTS)
        step("lot movements", SEED_MOVEMENTS)
        step("tier changes", SEED_TIER_CHANGES)
        step("redemptions", SEED_REDEMPTIONS)
        step("redemption events", SEED_REDEMPTION_EVENTS)
        step("tickets", SEED_TICKETS)
        step("ticket events", SEED_TICKET_EVENTS)
        step("csat", SEED_CSAT)
    finally:
        sql("RESET session_replication_role")
    began = time.perf_counter()
    for _, indexdef in rebuild:
        sql(indexdef)
    timings["indexes"] = time.perf_counter() - began
    log(f"  indexes ({len(rebuild)}): {timings['indexes']:.1f} s")
    for table in BULK_TABLES:
        sql(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"greatest((SELECT max(id) FROM {table}), 1))",
            [table],
        )
    began = time.perf_counter()
    for table in BULK_TABLES:
        sql(f"VACUUM ANALYZE {table}")
    timings["vacuum analyze"] = time.perf_counter() - began
    log(f"  vacuum analyze: {timings['vacuum analyze']:.1f} s")
    sql("RESET work_mem")
    sql("RESET maintenance_work_mem")
    counts = dict(
        sql(
            "SELECT 'members', count(*) FROM loyalty_member UNION ALL "
            "SELECT 'entries', count(*) FROM loyalty_ledgerentry UNION ALL "
            "SELECT 'lots', count(*) FROM loyalty_pointlot UNION ALL "
            "SELECT 'movements', count(*) FROM loyalty_lotmovement UNION ALL "
            "SELECT 'orders', count(*) FROM loyalty_order UNION ALL "
            "SELECT 'refunds', count(*) FROM loyalty_refund UNION ALL "
            "SELECT 'tier changes', count(*) FROM loyalty_tierchange UNION ALL "
            "SELECT 'redemptions', count(*) FROM fulfillment_redemption UNION ALL "
            "SELECT 'tickets', count(*) FROM customercare_ticket"
        )
    )
    kinds = dict(sql("SELECT kind, count(*) FROM bench_entry GROUP BY kind ORDER BY kind"))
    checks = dict(zip(SEED_CHECK_LABELS, sql_one(SEED_CHECKS), strict=True))
    sql("DROP TABLE bench_lot, bench_entry")
    return {"timings": timings, "counts": counts, "kinds": kinds, "checks": checks}


# -- the incremental job's input ----------------------------------------------------------------

PICK_MEMBERS = """
CREATE TEMP TABLE bench_pick ON COMMIT DROP AS
SELECT member_id, row_number() OVER () AS k,
       %(since)s::timestamptz + random() * (%(now)s::timestamptz - %(since)s::timestamptz) AS at
FROM (
    SELECT DISTINCT 1 + floor(random() * %(members)s)::bigint AS member_id
    FROM generate_series(1, %(draw)s)
) AS drawn
LIMIT %(count)s
"""

# Three in ten picked members spend from their oldest spendable lot (when they have one).
PICK_SPENDS = """
CREATE TEMP TABLE bench_spend ON COMMIT DROP AS
SELECT p.member_id, p.at, lot.id AS lot_id, least(lot.remaining, 50) AS points
FROM bench_pick AS p
CROSS JOIN LATERAL (
    SELECT id, remaining FROM loyalty_pointlot
    WHERE member_id = p.member_id AND released_at IS NOT NULL AND remaining > 0
    ORDER BY earned_at, id LIMIT 1
) AS lot
WHERE mod(p.k, 10) < 3
"""

WRITE_ORDERS = """
WITH earners AS (
    SELECT p.member_id, p.at, (10 + floor(random() * 290))::bigint AS points
    FROM bench_pick AS p
    WHERE NOT EXISTS (SELECT FROM bench_spend AS s WHERE s.member_id = p.member_id)
), orders AS (
    INSERT INTO loyalty_order (
        external_id, placed_at, currency, total, program_currency, program_total,
        points_earned, points_reversed, refunded_total, explanation, request_hash,
        created_at, member_id, merchant_id
    )
    SELECT 'new-' || gen_random_uuid(), at, 'USD', points, 'USD', points, points, 0, 0,
           '{}'::jsonb, '', at, member_id, %(merchant)s
    FROM earners
    RETURNING id, member_id, placed_at, points_earned
), entries AS (
    INSERT INTO loyalty_ledgerentry (
        kind, points, pending, balance_after, pending_after, source_type, source_ref,
        reason, shortfall, actor_label, created_at, merchant_id, member_id, order_id
    )
    SELECT 'earn', 0, o.points_earned, m.points_balance,
           m.pending_points + o.points_earned, 'order', '', '', 0, 'bench', o.placed_at,
           %(merchant)s, o.member_id, o.id
    FROM orders AS o JOIN loyalty_member AS m ON m.id = o.member_id
    RETURNING id, member_id, order_id, pending, created_at
), lots AS (
    INSERT INTO loyalty_pointlot (
        points, remaining, earned_at, available_at, expires_at, entry_id, member_id,
        merchant_id, order_id
    )
    SELECT pending, pending, created_at, created_at + interval '14 days',
           created_at + interval '12 months', id, member_id, %(merchant)s, order_id
    FROM entries
    RETURNING member_id, points
)
UPDATE loyalty_member AS m
SET pending_points = m.pending_points + l.points,
    lifetime_points = m.lifetime_points + l.points
FROM lots AS l WHERE l.member_id = m.id
"""

WRITE_SPENDS = """
WITH entries AS (
    INSERT INTO loyalty_ledgerentry (
        kind, points, pending, balance_after, pending_after, source_type, source_ref,
        reason, shortfall, actor_label, created_at, merchant_id, member_id
    )
    SELECT 'redeem', -s.points, 0, m.points_balance - s.points, m.pending_points, 'order',
           s.lot_id::text, '', 0, 'bench', s.at, %(merchant)s, s.member_id
    FROM bench_spend AS s JOIN loyalty_member AS m ON m.id = s.member_id
    RETURNING id, member_id, points, source_ref
), movements AS (
    INSERT INTO loyalty_lotmovement (points, entry_id, lot_id)
    SELECT points, id, source_ref::bigint FROM entries
    RETURNING lot_id, points
), lots AS (
    UPDATE loyalty_pointlot AS l SET remaining = l.remaining + mv.points
    FROM movements AS mv WHERE mv.lot_id = l.id
    RETURNING l.member_id, mv.points
)
UPDATE loyalty_member AS m SET points_balance = m.points_balance + l.points
FROM lots AS l WHERE l.member_id = m.id
"""

# Today's and yesterday's aggregates against the ledger's own sums of those local days.
AGGREGATE_CHECK = """
SELECT
    (SELECT coalesce(sum(points), 0) + coalesce(sum(pending), 0) FROM loyalty_reportentryday
     WHERE merchant_id = %(merchant)s AND day BETWEEN %(first)s AND %(last)s),
    (SELECT coalesce(sum(points), 0) + coalesce(sum(pending), 0) FROM loyalty_ledgerentry
     WHERE merchant_id = %(merchant)s AND created_at >= %(since)s AND created_at < %(until)s),
    (SELECT coalesce(sum(orders), 0) FROM loyalty_reportorderday
     WHERE merchant_id = %(merchant)s AND day BETWEEN %(first)s AND %(last)s),
    (SELECT count(*) FROM loyalty_order
     WHERE merchant_id = %(merchant)s AND placed_at >= %(since)s AND placed_at < %(until)s),
    (SELECT coalesce(sum(points), 0) FROM loyalty_reportcohortday
     WHERE merchant_id = %(merchant)s AND day BETWEEN %(first)s AND %(last)s
       AND movement <> 'issue'),
    (SELECT coalesce(sum(mv.points), 0) FROM loyalty_lotmovement AS mv
     JOIN loyalty_ledgerentry AS e ON e.id = mv.entry_id
     WHERE e.merchant_id = %(merchant)s AND e.created_at >= %(since)s
       AND e.created_at < %(until)s)
"""


def incremental(world: dict, *, members: int, rounds: int, per_round: int) -> dict:
    from zoneinfo import ZoneInfo

    from django.db import transaction
    from django.test.utils import override_settings
    from django.utils import timezone

    from loyalty.reports.aggregates import aggregates_update

    tz = ZoneInfo(TIMEZONE)
    times, results, mismatches, written, snapshots = [], [], [], [], []
    for _ in range(rounds):
        now = timezone.now()
        today = now.astimezone(tz).date()
        yesterday = today - datetime.timedelta(days=1)
        since = datetime.datetime.combine(yesterday, datetime.time.min, tzinfo=tz)
        until = datetime.datetime.combine(
            today + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz
        )
        params = {
            "since": since,
            "now": now,
            "members": members,
            "count": per_round,
            "draw": per_round * 2,
            "merchant": world["merchant"],
        }
        before = sql_one("SELECT max(id) FROM loyalty_ledgerentry")[0]
        with transaction.atomic():
            sql(PICK_MEMBERS, params)
            sql(PICK_SPENDS, params)
            sql(WRITE_ORDERS, params)
            sql(WRITE_SPENDS, params)
        written.append(
            sql_one("SELECT count(*) FROM loyalty_ledgerentry WHERE id > %s", [before])[0]
        )
        with override_settings(REPORT_AGGREGATES_SETTLE_SECONDS=0):
            began = time.perf_counter()
            result = aggregates_update(now=timezone.now())
            times.append(time.perf_counter() - began)
        results.append(str(result))
        row = sql_one(
            AGGREGATE_CHECK,
            {
                "merchant": world["merchant"],
                "first": yesterday,
                "last": today,
                "since": since,
                "until": until,
            },
        )
        if row[0] != row[1] or row[2] != row[3] or row[4] != row[5]:
            mismatches.append(row)
        # The snapshot job's run once the wait for a changed period has passed (the refresh
        # interval, or three times what the merchant's periods took): it recomputes the
        # dashboard periods that hold today and yesterday.
        snapshots.append(snapshot_job(timezone.now() + datetime.timedelta(minutes=15)))
    return {
        "times": times,
        "results": results,
        "mismatches": mismatches,
        "written": written,
        "snapshots": snapshots,
    }


def snapshot_job(now: datetime.datetime) -> tuple[float, str]:
    """One run of the snapshot job at ``now``: seconds and what it did."""
    from portals.snapshots import snapshots_refresh

    began = time.perf_counter()
    result = snapshots_refresh(now=now)
    return time.perf_counter() - began, str(result)


# -- the dashboard -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


class QueryTimer:
    """An ``execute_wrapper`` keeping each statement's time."""

    def __init__(self) -> None:
        self.statements: list[tuple[float, str]] = []

    def __call__(self, execute, statement, params, many, context):
        began = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - began, statement))


def dashboard(world: dict, *, repetitions: int, periods: dict[str, dict]) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(pk=world["user"]))
    figures = {}
    for label, query in periods.items():
        response = client.get("/portal/", query)  # warm-up (and a check)
        if response.status_code != 200 or b"Active members" not in response.content:
            raise SystemExit(f"GET /portal/ {query}: {response.status_code}")
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            began = time.perf_counter()
            client.get("/portal/", query)
            one = time.perf_counter() - began
        durations = []
        for _ in range(repetitions):
            began = time.perf_counter()
            response = client.get("/portal/", query)
            durations.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET /portal/ {query}: {response.status_code}")
        figures[label] = {
            "durations": durations,
            "queries": len(timer.statements),
            "sql_ms": sum(t for t, _ in timer.statements) * 1000,
            "one_ms": one * 1000,
            "slowest": sorted(timer.statements, reverse=True)[:6],
        }
    return figures


def _client(world: dict):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(pk=world["user"]))
    return client


def custom_request(world: dict, query: dict) -> float:
    """One dashboard request, in milliseconds."""
    client = _client(world)
    began = time.perf_counter()
    response = client.get("/portal/", query)
    took = (time.perf_counter() - began) * 1000
    if response.status_code != 200:
        raise SystemExit(f"GET /portal/ {query}: {response.status_code}")
    return took


def dashboard_orders(world: dict, preset: str) -> int:
    """The orders figure the dashboard reads for the preset (its snapshot, or computed)."""
    from merchants.models import Merchant
    from portals.periods import preset_period
    from portals.report_page import merchant_today
    from portals.snapshots import period_figures

    merchant = Merchant.objects.get(pk=world["merchant"])
    period = preset_period(preset, today=merchant_today(merchant))
    (figures,) = period_figures(merchant=merchant, periods=[period])
    return figures.program.orders.orders


# -- the run -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument("--update-rounds", type=int, default=3)
    parser.add_argument("--update-entries", type=int, default=10_000)
    parser.add_argument(
        "--database",
        default=BENCH_PREFIX,
        help=f"the scratch database (its name starts with {BENCH_PREFIX}; dropped first)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database in place")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="measure a database a --keep-db run left (migrated, not seeded or rebuilt)",
    )
    args = parser.parse_args(argv)
    for name in ("members", "entries", "repetitions", "update_rounds", "update_entries"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more")
    if not args.database.startswith(BENCH_PREFIX) or not args.database.replace("_", "").isalnum():
        parser.error(f"--database is a name starting with {BENCH_PREFIX}")
    if args.update_entries > args.members:
        parser.error("--update-entries cannot exceed --members (one entry a member a round)")
    return args


def main(argv: list[str] | None = None) -> int:
    global BENCH_DB
    args = parse_args(argv)
    BENCH_DB = args.database
    failed = False
    var_dir = tempfile.mkdtemp(prefix="bench-portal-")
    env = django_env(var_dir, database=BENCH_DB)
    seeded: dict = {}
    rebuild_s = None
    try:
        if not args.reuse_db:
            log(f"creating {BENCH_DB}")
            recreate_db(BENCH_DB)
        log(f"migrating {BENCH_DB}")
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env=env)
        # DEBUG is off: pages name their static files through the manifest, as in production.
        run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], env=env)
        configure_django(env)
        from django.utils import timezone

        from loyalty.reports.aggregates import aggregates_rebuild
        from merchants.models import Merchant

        if args.reuse_db:
            merchant = Merchant.objects.get(slug="bench-portal")
            from django.contrib.auth import get_user_model

            world = {
                "merchant": merchant.pk,
                "user": get_user_model().objects.get(username="analyst@bench.example").pk,
            }
        else:
            world = setup(timezone.now())
            log(f"seeding {args.members:,} members, about {args.entries:,} ledger entries")
            began = time.perf_counter()
            seeded = seed(world, members=args.members, entries=args.entries)
            seeded["seconds"] = time.perf_counter() - began
            log(f"seeded in {seeded['seconds']:.0f} s: {seeded['counts']}")
            for label, value in seeded["checks"].items():
                if value:
                    failed = True
                    log(f"CHECK FAILED: {label}: {value}")
            log(f"rebuilding the aggregates (load {load_average()})")
            began = time.perf_counter()
            result = aggregates_rebuild()
            rebuild_s = time.perf_counter() - began
            log(f"rebuilt in {rebuild_s:.1f} s: {result}")
            for table in (
                "loyalty_reportentryday",
                "loyalty_reportcohortday",
                "loyalty_reportmemberday",
                "loyalty_reportorderday",
                "loyalty_reportjoinday",
                "loyalty_reporttiermoveday",
            ):
                sql(f"VACUUM ANALYZE {table}")
        aggregate_rows = dict(
            sql(
                "SELECT 'member days', count(*) FROM loyalty_reportmemberday UNION ALL "
                "SELECT 'entry days', count(*) FROM loyalty_reportentryday UNION ALL "
                "SELECT 'cohort days', count(*) FROM loyalty_reportcohortday"
            )
        )
        from portals.report_page import merchant_today

        today = merchant_today(Merchant.objects.get(pk=world["merchant"]))
        periods = {
            "last 30 days": {"period": "last_30"},
            "last 365 days": {"period": "last_365"},
        }
        log(f"the snapshot job's first run: every preset, compared (load {load_average()})")
        first_job = snapshot_job(timezone.now())
        log(f"{first_job[0]:.1f} s: {first_job[1]}")
        load_before = load_average()
        log(f"timing the dashboard, {args.repetitions} requests a period (load {load_before})")
        pages = dashboard(world, repetitions=args.repetitions, periods=periods)
        custom = {
            "period": "custom",
            "start": (today - datetime.timedelta(days=59)).isoformat(),
            "end": (today - datetime.timedelta(days=1)).isoformat(),
        }
        log("a custom range (the 59 days before today): computed on request, then read")
        on_request = [custom_request(world, custom) for _ in range(2)]
        orders_before = dashboard_orders(world, "last_30")
        last_order = sql_one("SELECT coalesce(max(id), 0) FROM loyalty_order")[0]
        log(f"timing the incremental job (load {load_average()})")
        updates = incremental(
            world,
            members=args.members
            if not args.reuse_db
            else sql_one("SELECT max(id) FROM loyalty_member")[0],
            rounds=args.update_rounds,
            per_round=args.update_entries,
        )
        if updates["mismatches"]:
            failed = True
            log(f"CHECK FAILED: aggregates differ from the ledger: {updates['mismatches']}")
        orders_after = dashboard_orders(world, "last_30")
        orders_written = sql_one("SELECT count(*) FROM loyalty_order WHERE id > %s", [last_order])[
            0
        ]
        if orders_after - orders_before != orders_written:
            failed = True
            log(
                f"CHECK FAILED: the dashboard's orders went from {orders_before:,} to "
                f"{orders_after:,} after {orders_written:,} new orders"
            )
        load_after = load_average()

        print()
        print(f"Load average (1, 5, 15 min) before / after timing: {load_before} / {load_after}")
        if seeded:
            print(f"Seeded in {seeded['seconds']:.0f} s:")
            for name, count in seeded["counts"].items():
                print(f"  {name:>14}: {count:,}")
            print(
                "  entries by kind: " + ", ".join(f"{k} {n:,}" for k, n in seeded["kinds"].items())
            )
            print(
                "  steps: "
                + ", ".join(f"{label} {secs:.0f} s" for label, secs in seeded["timings"].items())
            )
        if rebuild_s is not None:
            print(f"aggregates_rebuild: {rebuild_s:.1f} s")
        print("Aggregate rows: " + ", ".join(f"{k} {n:,}" for k, n in aggregate_rows.items()))
        print()
        print(
            "| dashboard | min | median | p95 | max | p95 / 300 ms | queries | SQL time | result |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for label, page in pages.items():
            durations = page["durations"]
            p95 = percentile(durations, 0.95)
            verdict = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
            failed |= verdict == "FAIL"
            print(
                f"| {label} | {min(durations):.0f} ms | {statistics.median(durations):.0f} ms "
                f"| {p95:.0f} ms | {max(durations):.0f} ms | {p95 / TARGET_P95_MS:.2f} "
                f"| {page['queries']} | {page['sql_ms']:.0f} ms | {verdict} |"
            )
        print(
            f"\nSnapshot job, first run (every preset and its comparison): "
            f"{first_job[0] * 1000:,.0f} ms: {first_job[1]}"
        )
        print(
            "Custom range (59 days before today), computed on request then read from its "
            "snapshot: " + " / ".join(f"{ms:,.0f} ms" for ms in on_request)
        )
        for label, page in pages.items():
            print(f"\nSlowest statements of one request, {label} ({page['one_ms']:.0f} ms):")
            for seconds, statement in page["slowest"]:
                print(f"  {seconds * 1000:7.1f} ms  {' '.join(statement.split())[:150]}")
        times = updates["times"]
        print()
        print(
            "Incremental job (aggregates_update, settle delay 0), per round of "
            f"{args.update_entries:,} new entries: "
            + ", ".join(f"{t * 1000:.0f} ms" for t in times)
            + f"; median {statistics.median(times) * 1000:.0f} ms"
        )
        print("  entries written: " + ", ".join(f"{n:,}" for n in updates["written"]))
        print(
            "Snapshot job after each round (the periods that hold today): "
            + "; ".join(f"{t * 1000:,.0f} ms ({what})" for t, what in updates["snapshots"])
        )
        print(
            f"Dashboard orders, last 30 days: {orders_before:,} before the rounds, "
            f"{orders_after:,} after (+{orders_written:,} written)"
        )
        print("  " + "; ".join(updates["results"]))
        print(f"Result: {'FAIL' if failed else 'PASS'}")
    finally:
        if not args.keep_db:
            from django.db import connections

            connections.close_all()
            drop_db(BENCH_DB)
        shutil.rmtree(var_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

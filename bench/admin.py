"""Ops console benchmark: the admin's busiest pages over a provider-sized database.

Run from the project root, with PostgreSQL on 127.0.0.1:5432 (user ``postgres``, trust
auth)::

    .venv/bin/python bench/admin.py [--database-url postgres://.../loyalty_bench_admin]
                                    [--refill] [--repetitions 30] [--explain]
                                    [--pages REGEX] [--drop]

What one run does (figures and their meaning in ``bench/ADMIN.md``):

1. Creates the database (``loyalty_bench_admin`` unless ``--database-url`` names another)
   when it does not exist, migrates it and configures Django in-process against it
   (development settings, ``DEBUG=false``, a local-memory cache).
2. Fills it once (again with ``--refill``, which drops and recreates it): through the
   project's services ``--merchants`` live merchants with their programs and tiers, five
   rewards with two suppliers (one served by hand), a webhook endpoint a merchant and a
   superuser; then in plain SQL (``INSERT ... SELECT generate_series``) ``--members``
   members spread over the merchants and about ``--entries`` ledger entries (earn,
   release, redeem or expire, each member's chain and cached balances consistent), about
   one order for five entries, about ``--redemptions`` redemptions with their supplier
   orders (a few failed, stuck, pending or waiting at the manual supplier), ``--tickets``
   tickets (a third unresolved, some past their SLA), CSAT ratings, outbox events with
   their webhook deliveries (a few failing) and the report's daily entry aggregates.
   A few "busy" members (ids 1 to 3) have ``--busy-entries`` entries each. The ledger's
   triggers (append-only, chain, cached balances) and the foreign keys' are off in the
   filling session only (``session_replication_role = replica``); the secondary indexes
   are dropped before the load and built again after it; ``VACUUM ANALYZE`` ends it. The
   fill is timed and recorded in the database, so a later run reuses it.
3. Times each page through Django's test client signed in as the superuser: warm-up
   requests, then ``--repetitions`` requests; p50 and p95 of the wall time, the median of
   this process's CPU time a request (what the page costs whatever else runs on the
   machine; PostgreSQL's share is in "SQL"), the queries of one request and their time,
   and PASS when p95 <= 300 ms. The sidebar's badges are cached for a minute as in
   production; the line "home, badges computed" drops that cache before each request,
   and the command palette's lines drop unfold's result cache before each request.
4. With ``--explain``, prints ``EXPLAIN (ANALYZE, BUFFERS)`` of the slowest query of each
   failing page (of every page with ``--explain-all``).
5. Prints the table of all pages and the verdict; exit status 1 on a FAIL. The database
   is kept for the next run unless ``--drop``.
"""

# The SQL strings below are constants with bound parameters (table names come from this
# file only); the only executables started are manage.py and the PostgreSQL client tools.
# ruff: noqa: S608

import argparse
import datetime
import hashlib
import json
import re
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from benchdb import ROOT, configure_django, django_env, live_merchant_with_program, run

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_admin"
TARGET_P95_MS = 300.0
HISTORY_DAYS = 730
SILVER, GOLD = Decimal("1000"), Decimal("2500")
BUSY_MEMBERS = 3  # members 1..3: the busy ones
ADMIN_USERNAME = "bench-admin"
REWARDS = 5

FIRST_NAMES_TEXT = (
    "Emma Liam Olivia Noah Ava Lucas Mia Ethan Sofia Mason Chloe Leo Grace Hugo Alice "
    "Louis Sara Adam Julia Jacob Lena Oscar Nora Elias Zoe Arthur Clara Felix Ines Samuel "
    "Maya Victor Laura David Anna Martin Eva Daniel Rosa Paul "
)
LAST_NAMES_TEXT = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright "
    "Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell "
    "Mitchell Carter Roberts Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker "
    "Schulz Hoffmann Bernard Dubois Durand Lefebvre Moreau Laurent Simon Michel Leroy "
    "Roux Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Jansen "
    "Visser Smit Bakker Janssen Kowalski Nowak Wisniewski Novak Horvat Kovacs Nagy Silva "
    "Santos Ferreira Pereira Oliveira Costa Almeida Murphy Kelly Byrne Walsh Ryan "
    "Svensson Johansson Andersson Nilsson Hansen Jensen Nielsen Larsen "
)
FIRST_NAMES = FIRST_NAMES_TEXT.split()
LAST_NAMES = LAST_NAMES_TEXT.split()


def log(message: str) -> None:
    print(f"[admin {time.strftime('%H:%M:%S')}] {message}", flush=True)


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


# -- the database ------------------------------------------------------------------------------


def database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name) or "bench" not in name:
        raise SystemExit(f"--database-url must name a scratch database with 'bench' in it: {url}")
    return name


def server_sql(url: str, statement: str) -> str:
    """A statement run on the server's ``postgres`` database (create, drop, exists)."""
    parts = urlsplit(url)
    admin_url = parts._replace(path="/postgres").geturl()
    return run(["psql", admin_url, "-Atc", statement]).strip()


def ensure_database(url: str, *, refill: bool) -> None:
    name = database_name(url)
    exists = server_sql(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'") == "1"
    if exists and refill:
        log(f"dropping {name} (--refill)")
        server_sql(url, f'DROP DATABASE "{name}" WITH (FORCE)')
        exists = False
    if not exists:
        log(f"creating {name}")
        server_sql(url, f'CREATE DATABASE "{name}"')


# -- setup through the project's services ------------------------------------------------------


def setup(*, merchants: int) -> dict:
    from django.contrib.auth import get_user_model

    from catalog import services as catalog_services
    from catalog.models import (
        Brand,
        Reward,
        RewardStatus,
        RewardType,
        Supplier,
        SupplierKind,
        SupplierOffer,
    )
    from core.actors import SYSTEM
    from merchants.models import WebhookEndpoint

    merchant_ids, silver_ids, gold_ids, endpoint_ids = [], [], [], []
    for n in range(merchants):
        merchant, _program, silver, gold = live_merchant_with_program(
            name=f"Bench Merchant {n + 1:02d}",
            slug=f"bench-merchant-{n + 1:02d}",
            timezone_name="America/New_York" if n % 2 else "Europe/Paris",
            silver=SILVER,
            gold=GOLD,
        )
        endpoint = WebhookEndpoint.objects.create(
            merchant=merchant,
            url=f"https://hooks.merchant-{n + 1:02d}.example/loyalty",
            event_types=["member.updated"],
            secret="bench-webhook-secret",
        )
        merchant_ids.append(merchant.pk)
        silver_ids.append(silver.pk)
        gold_ids.append(gold.pk)
        endpoint_ids.append(endpoint.pk)
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
        )
        for n in range(REWARDS)
    ]
    suppliers = [
        Supplier.objects.create(
            name=name,
            slug=slug,
            kind=SupplierKind.AGGREGATOR,
            adapter=adapter,
            invoice_currency="USD",
        )
        for name, slug, adapter in (
            ("Bench Aggregator", "bench-aggregator", "sandbox"),
            ("Bench Warehouse", "bench-warehouse", "manual"),
        )
    ]
    offers = {
        (reward.pk, supplier.pk): SupplierOffer.objects.create(
            reward=reward,
            supplier=supplier,
            supplier_sku=f"SKU-{reward.pk}-{supplier.pk}",
            country="US",
            cost_currency="USD",
            discount_percent=Decimal("5"),
        ).pk
        for reward in rewards
        for supplier in suppliers
    }
    user = get_user_model().objects.create_superuser(
        username=ADMIN_USERNAME, email="admin@bench.example", password="bench-admin-password"
    )
    return {
        "merchants": merchant_ids,
        "silver": silver_ids,
        "gold": gold_ids,
        "endpoints": endpoint_ids,
        "rewards": [reward.pk for reward in rewards],
        "sandbox_offers": [offers[(reward.pk, suppliers[0].pk)] for reward in rewards],
        "manual_offers": [offers[(reward.pk, suppliers[1].pk)] for reward in rewards],
        "sandbox": suppliers[0].pk,
        "manual": suppliers[1].pk,
        "user": user.pk,
    }


# -- filling by SQL ------------------------------------------------------------------------------

# One row a member: their merchant, how many ledger entries and orders they have, the points
# each of their earns is worth, when they joined. A member's k-th entry (k from 0) is the
# step k % 3 of its group k / 3: earn p pending points, release them, then spend (or let
# expire) p / 2. So every balance has a closed form and no window over the ledger is needed:
# after a group the balance is h = p - p / 2 higher.
STAGE_MEMBERS = """
CREATE UNLOGGED TABLE bench_member AS
SELECT s.*,
       sum(s.entries) OVER (ORDER BY s.id) - s.entries AS entry_offset,
       sum(s.orders) OVER (ORDER BY s.id) - s.orders AS order_offset
FROM (
    SELECT m AS id,
           1 + mod(m - 1, %(merchant_count)s) AS merchant_index,
           (%(merchants)s::bigint[])[1 + mod(m - 1, %(merchant_count)s)] AS merchant_id,
           e.entries,
           e.entries / 5 AS orders,
           (10 + floor(random() * 290))::bigint AS p,
           random() AS r,
           %(start)s::timestamptz + (m - 1) * %(join_step)s * interval '1 second' AS joined
    FROM generate_series(1, %(members)s::bigint) AS m
    CROSS JOIN LATERAL (
        SELECT CASE WHEN m <= %(busy)s THEN %(busy_entries)s
                    ELSE 1 + floor(%(spread)s * power(random(), 2))::int END AS entries
    ) AS e
) AS s
"""

FILL_MEMBERS = """
INSERT INTO loyalty_member (
    id, external_id, email, phone, first_name, last_name, country, locale,
    marketing_consent, attributes, status, points_balance, pending_points, lifetime_points,
    has_refund_shortfall, last_activity_at, created_at, updated_at, merchant_id, tier_id
)
SELECT b.id, 'C' || lpad(b.id::text, 8, '0'),
       lower(n.first) || '.' || lower(n.last) || b.id || '@' ||
           (ARRAY['gmail.com', 'yahoo.com', 'outlook.com', 'mail.example'])[1 + mod(b.id, 4)],
       CASE WHEN mod(b.id, 3) > 0
            THEN '+1 555 ' || lpad(mod(b.id * 7919, 10000000)::text, 7, '0') ELSE '' END,
       n.first, n.last,
       (ARRAY['US', 'US', 'CA', 'GB', 'DE', 'FR'])[1 + mod(b.id, 6)], 'en', mod(b.id, 3) = 0,
       '{}'::jsonb, 'active', t.balance, t.pending, t.lifetime, false,
       b.joined + (%(now)s::timestamptz - b.joined) * (b.entries::float8 / (b.entries + 1)),
       b.joined, b.joined, b.merchant_id,
       CASE WHEN t.lifetime >= %(gold_at)s THEN (%(gold)s::bigint[])[b.merchant_index]
            WHEN t.lifetime >= %(silver_at)s THEN (%(silver)s::bigint[])[b.merchant_index] END
FROM bench_member AS b
CROSS JOIN LATERAL (
    SELECT (%(first_names)s::text[])[1 + mod(b.id * 31, %(first_count)s)] AS first,
           (%(last_names)s::text[])[1 + floor(power(b.r, 1.5) * %(last_count)s)::int] AS last
) AS n
CROSS JOIN LATERAL (
    SELECT (b.entries - 1) / 3 AS g, mod(b.entries - 1, 3) AS s, b.p - b.p / 2 AS h
) AS l
CROSS JOIN LATERAL (
    SELECT CASE l.s WHEN 0 THEN l.g * l.h WHEN 1 THEN l.g * l.h + b.p
                ELSE (l.g + 1) * l.h END AS balance,
           CASE l.s WHEN 0 THEN b.p ELSE 0 END AS pending,
           (l.g + 1) * b.p AS lifetime
) AS t
"""

# The orders: a member's first ``orders`` earns are orders' (order g is group g's earn).
FILL_ORDERS = """
INSERT INTO loyalty_order (
    id, external_id, placed_at, currency, total, program_currency, program_total,
    points_earned, points_reversed, refunded_total, explanation, request_hash, created_at,
    member_id, merchant_id
)
SELECT b.order_offset + g + 1, 'O' || lpad((b.order_offset + g + 1)::text, 9, '0'), t.at,
       'USD', b.p, 'USD', b.p, b.p, 0, 0, '{}'::jsonb, '', t.at, b.id, b.merchant_id
FROM bench_member AS b
CROSS JOIN LATERAL generate_series(0, b.orders - 1) AS g
CROSS JOIN LATERAL (
    SELECT b.joined + (%(now)s::timestamptz - b.joined)
                      * ((3 * g + 1)::float8 / (b.entries + 1)) AS at
) AS t
"""

FILL_ENTRIES = """
INSERT INTO loyalty_ledgerentry (
    id, kind, points, pending, balance_after, pending_after, source_type, source_ref,
    reason, shortfall, actor_label, created_at, merchant_id, member_id, order_id
)
SELECT b.entry_offset + k + 1,
       CASE s.s WHEN 0 THEN 'earn' WHEN 1 THEN 'release'
                ELSE CASE WHEN s.expires THEN 'expire' ELSE 'redeem' END END,
       CASE s.s WHEN 0 THEN 0 WHEN 1 THEN b.p ELSE -(b.p / 2) END,
       CASE s.s WHEN 0 THEN b.p WHEN 1 THEN -b.p ELSE 0 END,
       CASE s.s WHEN 0 THEN s.g * s.h WHEN 1 THEN s.g * s.h + b.p ELSE (s.g + 1) * s.h END,
       CASE s.s WHEN 0 THEN b.p ELSE 0 END,
       CASE s.s WHEN 0 THEN 'order' WHEN 1 THEN 'system'
                ELSE CASE WHEN s.expires THEN 'system' ELSE 'redemption' END END,
       '', '', 0, 'bench',
       b.joined + (%(now)s::timestamptz - b.joined) * ((k + 1)::float8 / (b.entries + 1)),
       b.merchant_id, b.id,
       CASE WHEN s.s = 0 AND s.g < b.orders THEN b.order_offset + s.g + 1 END
FROM bench_member AS b
CROSS JOIN LATERAL generate_series(0, b.entries - 1) AS k
CROSS JOIN LATERAL (
    SELECT k / 3 AS g, mod(k, 3) AS s, b.p - b.p / 2 AS h, mod(k / 3, 5) = 4 AS expires
) AS s
"""

# Redemptions: a share of the spends (every one of the busy members'), with their states:
# mostly delivered; a few failed, stuck (submitted, unchanged for days), pending, waiting
# at the manual supplier, of unknown outcome, or marked for care.
STAGE_REDEMPTIONS = """
CREATE UNLOGGED TABLE bench_redemption AS
SELECT row_number() OVER () AS id, x.*,
       CASE WHEN x.q < 2 THEN 'failed' WHEN x.q < 4 THEN 'submitted' WHEN x.q < 5 THEN 'pending'
            WHEN x.q < 9 THEN 'submitted' ELSE 'delivered' END AS status
FROM (
    SELECT b.id AS member_id, b.merchant_id, b.entry_offset + 3 * g + 3 AS entry_id,
           b.p / 2 AS points, mod(b.id * 7919 + g * 104729, 1000) AS q, g,
           b.joined + (%(now)s::timestamptz - b.joined)
                      * ((3 * g + 3)::float8 / (b.entries + 1)) AS at
    FROM bench_member AS b
    CROSS JOIN LATERAL generate_series(0, (b.entries - 3) / 3) AS g
    WHERE b.entries >= 3 AND mod(g, 5) <> 4
      AND (b.id <= %(busy)s OR mod(b.id + g * 7, %(redemption_every)s) = 0)
) AS x
"""

FILL_REDEMPTIONS = """
INSERT INTO fulfillment_redemption (
    id, public_id, external_id, request_hash, country, face_value, face_currency, quantity,
    points_each, points_total, program_currency, point_value, recipient, status,
    delivery_status, needs_care, care_reason, created_at, updated_at, delivered_at,
    member_id, merchant_id, reward_id, spend_entry_id
)
SELECT r.id, gen_random_uuid(), 'R' || lpad(r.id::text, 8, '0'), '',
       (ARRAY['US', 'US', 'CA', 'GB', 'DE', 'FR'])[1 + mod(r.member_id, 6)],
       (r.points * 0.01)::numeric(14, 4), 'USD', 1, r.points, r.points, 'USD', 0.01,
       '{}'::jsonb, r.status,
       CASE WHEN r.status = 'delivered'
            THEN (ARRAY['sent', 'claimed'])[1 + mod(r.id, 2)] ELSE 'none' END,
       r.q = 9, CASE WHEN r.q = 9 THEN 'The member says the code does not work.' ELSE '' END,
       t.created, t.updated,
       CASE WHEN r.status = 'delivered' THEN t.created + interval '5 minutes' END,
       r.member_id, r.merchant_id,
       (%(rewards)s::bigint[])[1 + mod(r.id, %(reward_count)s)], r.entry_id
FROM bench_redemption AS r
CROSS JOIN LATERAL (
    -- Open redemptions are recent (a few days at most): delivered or refunded after that.
    SELECT CASE WHEN r.q = 4 THEN %(now)s::timestamptz - interval '10 minutes'
                WHEN r.q < 9
                THEN %(now)s::timestamptz - interval '2 hours' - mod(r.id, 96) * interval '1 hour'
                ELSE r.at END AS created
) AS c
CROSS JOIN LATERAL (
    SELECT c.created,
           CASE WHEN r.q < 2 OR r.q BETWEEN 4 AND 8
                THEN %(now)s::timestamptz - interval '20 minutes'
                WHEN r.status = 'delivered' THEN c.created + interval '5 minutes'
                ELSE c.created END AS updated
) AS t
"""

FILL_SUPPLIER_ORDERS = """
INSERT INTO fulfillment_supplierorder (
    id, attempt, idempotency_key, status, supplier_ref, tries, last_error, error_kind,
    cost_currency, stock_reserved, created_at, updated_at, submitted_at, completed_at,
    offer_id, redemption_id, supplier_id
)
SELECT r.id, 1, 'bench-' || r.id || '-1', o.status,
       CASE WHEN o.status = 'queued' THEN '' ELSE 'SUP-' || r.id END, 1,
       CASE WHEN o.status = 'failed' THEN 'The supplier refused the order.' ELSE '' END,
       CASE WHEN o.status = 'failed' THEN 'permanent' ELSE '' END,
       'USD', 0, r.created_at, r.updated_at,
       CASE WHEN o.status <> 'queued' THEN r.created_at END,
       CASE WHEN o.status IN ('delivered', 'failed') THEN r.updated_at END,
       (CASE WHEN o.manual THEN %(manual_offers)s::bigint[] ELSE %(sandbox_offers)s::bigint[] END)
           [1 + mod(r.id, %(reward_count)s)],
       r.id,
       CASE WHEN o.manual THEN %(manual)s ELSE %(sandbox)s END
FROM fulfillment_redemption AS r
JOIN bench_redemption AS b ON b.id = r.id
CROSS JOIN LATERAL (
    SELECT CASE WHEN b.q < 2 THEN 'failed' WHEN b.q = 4 THEN 'queued'
                WHEN b.q = 8 THEN 'unknown' WHEN r.status = 'delivered' THEN 'delivered'
                ELSE 'submitted' END AS status,
           b.q BETWEEN 5 AND 7 AS manual
) AS o
"""

# Tickets: most resolved or closed long ago; the rest opened in the last three days, some
# of them past their first-response or resolution time. The busy members have 60 each.
FILL_TICKETS = """
INSERT INTO customercare_ticket (
    id, reference, category, subject, status, priority, channel, order_external_id,
    balance_at_open, pending_at_open, tier_at_open, first_response_due_at, resolution_due_at,
    first_responded_at, paused_minutes, first_response_breached, resolution_breached,
    sla_state, escalations, resolved_at, closed_at, resolutions, created_at, updated_at,
    member_id, merchant_id
)
SELECT t.n, 'T-' || upper(substr(md5('bench-ticket-' || t.n), 1, 12)), 'missing_points',
       'Where are my points?', t.status, 'normal', 'api', '', 0, 0, '',
       t.at + interval '8 hours', t.at + interval '48 hours',
       CASE WHEN t.status <> 'new' THEN t.at + interval '1 hour' END, 0, false, false,
       CASE WHEN t.status IN ('resolved', 'closed') THEN 'met' ELSE 'on_track' END, 0,
       CASE WHEN t.status IN ('resolved', 'closed') THEN t.at + interval '1 day' END,
       CASE WHEN t.status = 'closed' THEN t.at + interval '8 days' END,
       CASE WHEN t.status IN ('resolved', 'closed') THEN 1 ELSE 0 END,
       t.at, t.at, m.id, m.merchant_id
FROM (
    SELECT n, q,
           CASE WHEN q < 60 THEN 'resolved' WHEN q < 75 THEN 'closed' WHEN q < 85 THEN 'open'
                WHEN q < 95 THEN 'new' ELSE 'pending_customer' END AS status,
           CASE WHEN n <= %(busy)s * 60 THEN 1 + mod(n - 1, %(busy)s)
                ELSE 1 + floor(%(members)s * power(random(), 1.3))::bigint END AS member_id,
           CASE WHEN q < 75
                THEN %(now)s::timestamptz - interval '10 days'
                     - random() * (interval '1 day' * %(days)s - interval '10 days')
                ELSE %(now)s::timestamptz - random() * interval '3 days' END AS at
    FROM (SELECT n, mod(n * 37, 100) AS q FROM generate_series(1, %(tickets)s) AS n) AS d
) AS t
JOIN loyalty_member AS m ON m.id = t.member_id
"""

FILL_CSAT = """
INSERT INTO customercare_csatresponse (id, resolution, score, comment, via, created_at, ticket_id)
SELECT id, 1, 1 + mod(id * 13, 5), '', 'email', resolved_at + interval '1 hour', id
FROM customercare_ticket WHERE resolved_at IS NOT NULL AND mod(id, 2) = 0
"""

# Outbox events with their deliveries: nearly all delivered, a few given up, a few being
# retried, a few due.
FILL_EVENTS = """
INSERT INTO merchants_outboxevent (id, type, subject, payload, occurred_at, created_at, merchant_id)
SELECT n, 'member.updated', 'C' || lpad(m::text, 8, '0'), '{}'::jsonb, at, at,
       (%(merchants)s::bigint[])[1 + mod(m - 1, %(merchant_count)s)]
FROM (
    SELECT n, 1 + mod(n * 7919, %(members)s) AS m,
           %(now)s::timestamptz - interval '30 days' * (1 - n::float8 / %(events)s) AS at
    FROM generate_series(1, %(events)s) AS n
) AS e
"""

FILL_DELIVERIES = """
INSERT INTO merchants_webhookdelivery (
    id, subject, status, attempts, next_attempt_at, last_attempt_at, last_status_code,
    last_error, delivered_at, created_at, event_id, merchant_id, endpoint_id
)
SELECT e.id, e.subject, d.status,
       CASE WHEN d.status = 'failed' THEN 12 WHEN d.q = 1 THEN 3 WHEN d.q = 2 THEN 0 ELSE 1 END,
       CASE WHEN d.status = 'pending' THEN %(now)s::timestamptz + interval '5 minutes' END,
       CASE WHEN d.q <> 2 THEN e.created_at + interval '1 second' END,
       CASE WHEN d.status = 'delivered' THEN 200 WHEN d.q <> 2 THEN 500 END,
       CASE WHEN d.status = 'delivered' OR d.q = 2 THEN '' ELSE 'HTTP 500' END,
       CASE WHEN d.status = 'delivered' THEN e.created_at + interval '1 second' END,
       e.created_at, e.id, e.merchant_id,
       (%(endpoints)s::bigint[])[array_position(%(merchants)s::bigint[], e.merchant_id)]
FROM merchants_outboxevent AS e
CROSS JOIN LATERAL (
    SELECT mod(e.id * 104729, 2000) AS q
) AS q
CROSS JOIN LATERAL (
    SELECT q.q, CASE WHEN q.q = 0 THEN 'failed' WHEN q.q IN (1, 2) THEN 'pending'
                     ELSE 'delivered' END AS status
) AS d
"""

# The report's daily entry aggregates (what the home's money cards read), by UTC day.
FILL_ENTRY_DAYS = """
INSERT INTO loyalty_reportentryday (merchant_id, day, kind, source_type, points, pending, entries)
SELECT merchant_id, (created_at AT TIME ZONE 'UTC')::date, kind, source_type, sum(points),
       sum(pending), count(*)
FROM loyalty_ledgerentry
GROUP BY 1, 2, 3, 4
"""

BULK_TABLES = (
    "loyalty_member",
    "loyalty_order",
    "loyalty_ledgerentry",
    "fulfillment_redemption",
    "fulfillment_supplierorder",
    "customercare_ticket",
    "customercare_csatresponse",
    "merchants_outboxevent",
    "merchants_webhookdelivery",
    "loyalty_reportentryday",
)

SECONDARY_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = %s
  AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)
  AND indexname <> %s || '_pkey'
"""

FILL_CHECKS = """
SELECT
    (SELECT count(*) FROM loyalty_member AS m
     CROSS JOIN LATERAL (
         SELECT balance_after, pending_after FROM loyalty_ledgerentry AS e
         WHERE e.member_id = m.id ORDER BY e.id DESC LIMIT 1) AS e
     WHERE mod(m.id, 997) = 0
       AND (m.points_balance <> e.balance_after OR m.pending_points <> e.pending_after)),
    (SELECT count(*) FROM (
         SELECT balance_after - points - lag(balance_after, 1, 0::bigint) OVER w AS gap,
                pending_after - pending - lag(pending_after, 1, 0::bigint) OVER w AS pgap
         FROM loyalty_ledgerentry WHERE member_id IN (1, 2, 3, 500001)
         WINDOW w AS (PARTITION BY member_id ORDER BY id)) AS c
     WHERE gap <> 0 OR pgap <> 0),
    (SELECT count(*) FROM loyalty_ledgerentry WHERE balance_after < 0 OR pending_after < 0),
    (SELECT count(*) FROM fulfillment_redemption AS r
     JOIN loyalty_ledgerentry AS e ON e.id = r.spend_entry_id
     WHERE e.member_id <> r.member_id OR e.kind <> 'redeem')
"""
FILL_CHECK_LABELS = (
    "members (1 in 997) whose cached balances are not their last entry's",
    "entries of four members that break their chain",
    "entries with a negative running balance",
    "redemptions whose spend entry is not a redeem of their member",
)


def fill(world: dict, *, members: int, entries: int, redemptions: int, tickets: int) -> dict:
    """The provider's data, in plain SQL (bench setup, not under test)."""
    from django.utils import timezone

    now = timezone.now()
    busy_entries = world["busy_entries"]
    mean = max(1.0, (entries - BUSY_MEMBERS * busy_entries) / max(1, members - BUSY_MEMBERS))
    spends_per_member = max(0.1, (mean - 2) / 3 * 0.8)  # redeem steps, expiries left out
    params = {
        "now": now,
        "start": now - datetime.timedelta(days=HISTORY_DAYS),
        "days": HISTORY_DAYS,
        "members": members,
        "merchants": world["merchants"],
        "merchant_count": len(world["merchants"]),
        "silver": world["silver"],
        "gold": world["gold"],
        "silver_at": SILVER,
        "gold_at": GOLD,
        "endpoints": world["endpoints"],
        "busy": BUSY_MEMBERS,
        "busy_entries": busy_entries,
        # E[1 + floor(s * U^2)] is about 1 + s / 3 - 1 / 2.
        "spread": max(0.0, 3 * (mean - 0.5)),
        "join_step": (HISTORY_DAYS - 5) * 86400 / members,
        "first_names": list(FIRST_NAMES),
        "first_count": len(FIRST_NAMES),
        "last_names": list(LAST_NAMES),
        "last_count": len(LAST_NAMES),
        "redemption_every": max(1, round(members * spends_per_member / redemptions)),
        "rewards": world["rewards"],
        "reward_count": len(world["rewards"]),
        "sandbox_offers": world["sandbox_offers"],
        "manual_offers": world["manual_offers"],
        "sandbox": world["sandbox"],
        "manual": world["manual"],
        "tickets": tickets,
        "events": max(1000, members // 5),
    }
    timings: dict[str, float] = {}

    def step(label: str, statement: str) -> None:
        began = time.perf_counter()
        sql(statement, params)
        timings[label] = time.perf_counter() - began
        log(f"  {label}: {timings[label]:.1f} s")

    sql("SET work_mem = '256MB'")
    sql("SET maintenance_work_mem = '1GB'")
    sql("SELECT setseed(0.42)")
    sql("DROP TABLE IF EXISTS bench_member, bench_redemption")
    step("members (staging)", STAGE_MEMBERS)
    # A bulk load: the secondary indexes go, and are built again after the INSERTs.
    rebuild = [
        index for table in BULK_TABLES for index in sql(SECONDARY_INDEXES, [table, table, table])
    ]
    for name, _ in rebuild:
        sql(f'DROP INDEX "{name}"')
    # The ledger's triggers (append-only, chain, cached balances) and the foreign keys'
    # are off in this session only, while it loads rows written to pass them.
    sql("SET session_replication_role = replica")
    try:
        step("members", FILL_MEMBERS)
        step("orders", FILL_ORDERS)
        step("ledger entries", FILL_ENTRIES)
        step("redemptions (staging)", STAGE_REDEMPTIONS)
        step("redemptions", FILL_REDEMPTIONS)
        step("supplier orders", FILL_SUPPLIER_ORDERS)
        step("tickets", FILL_TICKETS)
        step("csat", FILL_CSAT)
        step("outbox events", FILL_EVENTS)
        step("webhook deliveries", FILL_DELIVERIES)
        step("report entry days", FILL_ENTRY_DAYS)
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
    checks = dict(zip(FILL_CHECK_LABELS, sql_one(FILL_CHECKS), strict=True))
    sql("DROP TABLE bench_member, bench_redemption")
    return {"timings": timings, "checks": checks}


def counts() -> list[tuple[str, int]]:
    tables = {
        "merchants": "merchants_merchant",
        "members": "loyalty_member",
        "ledger entries": "loyalty_ledgerentry",
        "orders": "loyalty_order",
        "redemptions": "fulfillment_redemption",
        "supplier orders": "fulfillment_supplierorder",
        "tickets": "customercare_ticket",
        "webhook deliveries": "merchants_webhookdelivery",
    }
    # Pairs, not a dict: the fill is stored as jsonb, which would reorder a dict's keys.
    return [(label, sql_one(f"SELECT count(*) FROM {table}")[0]) for label, table in tables.items()]


def pairs(stored) -> list:
    """Labelled figures as stored with the fill: pairs (a dict from an older fill)."""
    return list(stored.items()) if isinstance(stored, dict) else stored


# -- the pages -----------------------------------------------------------------------------------


class QueryTimer:
    """An ``execute_wrapper`` keeping each statement's time and parameters."""

    def __init__(self) -> None:
        self.statements: list[tuple[float, str, object]] = []

    def __call__(self, execute, statement, params, many, context):
        began = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            self.statements.append((time.perf_counter() - began, statement, params))


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def search_terms() -> dict[str, str]:
    """Real values to search for, from the middle of the tables."""
    middle = sql_one("SELECT max(id) / 2 FROM loyalty_member")[0]
    email, external_id, last_name = sql_one(
        "SELECT email, external_id, last_name FROM loyalty_member WHERE id = %s", [middle]
    )
    order = sql_one("SELECT max(id) / 2 FROM loyalty_order")[0]
    return {
        "email": email,
        "external id": external_id,
        "last-name prefix": last_name[:4],
        "order": f"#{order}",
    }


def pages(world: dict) -> list[tuple[str, str, dict]]:
    """(label, path, options) of each timed page."""
    from urllib.parse import urlencode

    terms = search_terms()
    busy = 1
    return [
        ("home", "/admin/", {}),
        ("home, badges computed", "/admin/", {"drop_badges": True}),
        *(
            (f"members, search: {label}", f"/admin/loyalty/member/?{urlencode({'q': term})}", {})
            for label, term in terms.items()
            if label != "order"
        ),
        ("ledger", "/admin/loyalty/ledgerentry/", {}),
        ("ledger of a busy member", f"/admin/loyalty/ledgerentry/?member__id__exact={busy}", {}),
        ("redemptions", "/admin/fulfillment/redemption/", {}),
        *(
            (f"redemptions, queue: {queue}", f"/admin/fulfillment/redemption/?queue={queue}", {})
            for queue in ("stuck", "failing", "manual", "unknown")
        ),
        ("member page, busy member", f"/admin/loyalty/member/{busy}/change/", {}),
        *(
            (f"search page: {label}", f"/admin/search/all/?{urlencode({'q': term})}", {})
            for label, term in terms.items()
        ),
        *(
            (
                f"command search: {label}",
                f"/admin/search/?{urlencode({'s': term})}&extended=1",
                {"palette_term": term},
            )
            for label, term in terms.items()
        ),
    ]


def palette_cache_key(user_pk: int, term: str) -> str:
    # unfold.sites.UnfoldAdminSite.search keeps each user's results for a term 5 minutes.
    base = f"{user_pk}_{term.lower()}"
    return f"unfold_search_{hashlib.sha256(base.encode()).hexdigest()}"


def time_pages(world: dict, *, repetitions: int, warmup: int, only: str | None) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client

    user = get_user_model().objects.get(username=ADMIN_USERNAME)
    client = Client()
    client.force_login(user)

    def prepare(options: dict) -> None:
        if options.get("drop_badges"):
            cache.delete(f"ops-badges:{user.pk}")
        if "palette_term" in options:
            cache.delete(palette_cache_key(user.pk, options["palette_term"]))

    results = []
    for label, path, options in pages(world):
        if only and not re.search(only, label):
            continue
        for _ in range(warmup):
            prepare(options)
            response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
        prepare(options)
        timer = QueryTimer()
        with connection.execute_wrapper(timer):
            client.get(path)
        durations, cpu = [], []
        for _ in range(repetitions):
            prepare(options)
            began, began_cpu = time.perf_counter(), time.process_time()
            response = client.get(path)
            durations.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET {path}: {response.status_code}")
        p95 = percentile(durations, 0.95)
        results.append(
            {
                "label": label,
                "path": path,
                "p50": statistics.median(durations),
                "p95": p95,
                "max": max(durations),
                "cpu": statistics.median(cpu),
                "queries": len(timer.statements),
                "sql_ms": sum(t for t, _, _ in timer.statements) * 1000,
                "slowest": sorted(timer.statements, key=lambda s: s[0], reverse=True)[:3],
                "passed": p95 <= TARGET_P95_MS,
            }
        )
        log(
            f"{label}: p50 {results[-1]['p50']:.0f} ms, p95 {p95:.0f} ms, "
            f"CPU {results[-1]['cpu']:.0f} ms, {len(timer.statements)} queries "
            f"({results[-1]['sql_ms']:.0f} ms of SQL)"
        )
    return results


def explain(statement: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


# -- the run -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--refill", action="store_true", help="drop, recreate and fill again")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--merchants", type=int, default=50)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--busy-entries", type=int, default=30_000)
    parser.add_argument("--redemptions", type=int, default=200_000)
    parser.add_argument("--tickets", type=int, default=50_000)
    parser.add_argument("--repetitions", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--pages", help="time only the pages whose label matches this regex")
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN the slowest query of each failing page"
    )
    parser.add_argument(
        "--explain-all", action="store_true", help="EXPLAIN the slowest query of every page"
    )
    args = parser.parse_args(argv)
    for name in ("merchants", "members", "entries", "redemptions", "tickets", "repetitions"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be 1 or more")
    if args.members <= BUSY_MEMBERS or args.busy_entries < 3:
        parser.error(f"--members must exceed {BUSY_MEMBERS}, --busy-entries be 3 or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = database_name(args.database_url)
    ensure_database(args.database_url, refill=args.refill)
    # Kept between runs: collectstatic then copies nothing new.
    var_dir = str(Path(tempfile.gettempdir()) / "bench-admin-var")
    env = django_env(var_dir, database=name)
    env["DATABASE_URL"] = args.database_url
    failed = False
    configured = False
    try:
        log(f"migrating {name}")
        began = time.perf_counter()
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env=env, timeout=3600)
        log(f"migrated in {time.perf_counter() - began:.0f} s")
        # DEBUG is off: pages name their static files through the manifest, as in production.
        run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], env=env)
        configure_django(env)
        configured = True
        sql("CREATE TABLE IF NOT EXISTS bench_admin_fill (world jsonb NOT NULL)")
        stored = sql("SELECT world FROM bench_admin_fill")
        if stored:
            world = stored[0][0]
            world = json.loads(world) if isinstance(world, str) else world
            log(f"reusing the fill of {world['filled_at']} (--refill to redo it)")
            # A migration may have added an index on an expression since: the planner
            # knows its values only once the table is analysed again.
            began = time.perf_counter()
            for table in BULK_TABLES:
                sql(f"ANALYZE {table}")
            log(f"analysed in {time.perf_counter() - began:.0f} s")
        elif sql_one("SELECT count(*) FROM merchants_merchant")[0]:
            raise SystemExit(f"{name} holds an unfinished fill: run again with --refill")
        else:
            log(f"setting up {args.merchants} merchants through the services")
            began = time.perf_counter()
            world = setup(merchants=args.merchants)
            world["busy_entries"] = args.busy_entries
            setup_s = time.perf_counter() - began
            log(
                f"filling {args.members:,} members, about {args.entries:,} ledger entries "
                f"(load {load_average()})"
            )
            began = time.perf_counter()
            filled = fill(
                world,
                members=args.members,
                entries=args.entries,
                redemptions=args.redemptions,
                tickets=args.tickets,
            )
            world["fill_seconds"] = time.perf_counter() - began
            world["setup_seconds"] = setup_s
            world["fill_timings"] = list(filled["timings"].items())
            world["checks"] = filled["checks"]
            world["filled_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            world["counts"] = counts()
            sql("INSERT INTO bench_admin_fill (world) VALUES (%s)", [json.dumps(world)])
            log(f"filled in {world['fill_seconds']:.0f} s (setup {setup_s:.0f} s)")
        for label, value in world["checks"].items():
            if value:
                failed = True
                log(f"CHECK FAILED: {label}: {value}")
        load_before = load_average()
        log(f"timing, {args.repetitions} requests a page (load {load_before})")
        results = time_pages(
            world, repetitions=args.repetitions, warmup=args.warmup, only=args.pages
        )
        load_after = load_average()

        print()
        print("Data: " + ", ".join(f"{label} {count:,}" for label, count in pairs(world["counts"])))
        print(
            f"Filled in {world['fill_seconds']:.0f} s (setup through the services "
            f"{world['setup_seconds']:.0f} s): "
            + ", ".join(f"{label} {secs:.0f} s" for label, secs in pairs(world["fill_timings"]))
        )
        print(f"Load average (1, 5, 15 min) before / after timing: {load_before} / {load_after}")
        print()
        print("| page | p50 | p95 | max | CPU p50 | queries | SQL | result |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for page in results:
            failed |= not page["passed"]
            print(
                f"| {page['label']} | {page['p50']:.0f} ms | {page['p95']:.0f} ms "
                f"| {page['max']:.0f} ms | {page['cpu']:.0f} ms | {page['queries']} "
                f"| {page['sql_ms']:.0f} ms | {'PASS' if page['passed'] else 'FAIL'} |"
            )
        for page in results:
            if args.explain_all or (args.explain and not page["passed"]):
                seconds, statement, params = page["slowest"][0]
                print(f"\nSlowest query of {page['label']} ({seconds * 1000:.1f} ms):")
                print(f"  {' '.join(statement.split())[:600]}")
                print(explain(statement, params))
        passed = sum(page["passed"] for page in results)
        print(
            f"\nResult: {'FAIL' if failed else 'PASS'} ({passed} of {len(results)} pages "
            f"at p95 <= {TARGET_P95_MS:.0f} ms)"
        )
    finally:
        if configured:
            from django.db import connections

            connections.close_all()
        if args.drop:
            server_sql(args.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

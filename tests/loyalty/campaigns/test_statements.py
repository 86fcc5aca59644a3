"""What a running campaign costs an order through the store API, in statements: the order
path reads no campaign state first and takes what a campaign gives with one conditional
``UPDATE`` of its spend row, so a campaign adds one statement to ``POST /api/v1/orders/``
(its award rides in the order's write batch)."""

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.models import CampaignAward
from tests.loyalty.apihelpers import post_json
from tests.loyalty.campaigns.helpers import campaign_make, segment_with
from tests.loyalty.factories import member_make

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"
LINES = [
    {"sku": "TENT-2P", "category": "camping", "quantity": 1, "unit_price": "30.00"},
    {"sku": "MUG", "category": "kitchen", "quantity": 2, "unit_price": "5.00"},
]
AWARD_INSERT = f'INSERT INTO "{CampaignAward._meta.db_table}"'
_numbers = itertools.count(1)


def post_order(tenant) -> dict:
    response = post_json(
        tenant.client,
        ORDERS,
        {
            "external_id": f"o-{next(_numbers)}",
            "member": "cust-1",
            "total": "40.00",
            "currency": "USD",
            "placed_at": timezone.now().isoformat(),
            "lines": LINES,
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def order_statements(tenant) -> tuple[int, dict]:
    """The statements of one order, once an order before it read the configuration into
    the cache (and touched the key): what every order but a configuration's first costs.

    On PostgreSQL the write batch (order, lines, balances, entry, lot, awards) is one
    statement; elsewhere it runs one statement per model, so there the campaign award's own
    INSERT is left out of the count, to count what PostgreSQL runs."""
    post_order(tenant)
    with CaptureQueriesContext(connection) as queries:
        body = post_order(tenant)
    statements = [query["sql"] for query in queries.captured_queries]
    if connection.vendor != "postgresql":
        statements = [sql for sql in statements if not sql.startswith(AWARD_INSERT)]
    return len(statements), body


@pytest.fixture
def fan(tenant, program):
    """cust-1, in the segment "Fans" (there before anything is measured)."""
    member = member_make(tenant.merchant, "cust-1")
    return segment_with(tenant.merchant, member, name="Fans")


def test_a_budgeted_campaign_for_a_segment_adds_at_most_one_statement(tenant, program, fan):
    without, plain = order_statements(tenant)
    campaign = campaign_make(
        program, name="Double", multiplier=Decimal(2), points_budget=10_000, segments=[fan]
    )

    with_campaign, body = order_statements(tenant)

    assert plain["points_earned"] == 40
    assert body["points_earned"] == 80
    assert campaign.pk in [part["campaign_id"] for part in body["rules"]]
    assert with_campaign - without <= 1, (without, with_campaign)
    assert CampaignAward.objects.filter(campaign=campaign).count() == 2


def test_a_campaign_capped_per_member_adds_at_most_one_statement(tenant, program, fan):
    without, _ = order_statements(tenant)
    campaign = campaign_make(
        program,
        name="Thrice a day",
        effect="per_unit",
        points_per_unit=Decimal(1),
        include_categories=["kitchen"],
        cap_period="day",
        cap_count=3,
        points_budget=10_000,
        segments=[fan],
    )

    with_campaign, body = order_statements(tenant)

    assert body["points_earned"] == 40 + 10
    assert campaign.pk in [part["campaign_id"] for part in body["rules"]]
    assert with_campaign - without <= 1, (without, with_campaign)

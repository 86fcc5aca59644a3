"""What achievements cost the single order's path: three statements for a program that
has some (what the member completed this period, the occurrences, the open ones), none
for one that has none (``tests/loyalty/test_order_path_statements.py``)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.loyalty.achievements.helpers import achievement_make
from tests.loyalty.factories import member_make, program_merchant
from tests.loyalty.test_order_path_statements import _order
from tests.merchants.factories import issue_key

pytestmark = pytest.mark.django_db


def test_an_order_counted_toward_achievements_takes_three_more_statements():
    merchant, program = program_merchant()
    achievement_make(program, name="Three orders")
    achievement_make(program, name="Spend", measure="spend", goal=1000)
    _, raw_key = issue_key(merchant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    member_make(merchant, "cust-1")
    assert client.post("/api/v1/orders/", _order(1, "cust-1"), format="json").status_code == 201

    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/orders/", _order(2, "cust-1"), format="json")

    assert response.status_code == 201, response.content
    assert len(response.json()["achievements"]) == 2
    assert len(captured.captured_queries) == 4 + 3, [q["sql"] for q in captured]

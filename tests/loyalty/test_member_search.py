"""The member list's search (``loyalty.member_search.member_search_results``): starts of
the external id, email and last name, a phone's end, a merchant's slug; each word must
match; on PostgreSQL one index range each, never a read of every member."""

import pytest
from django.db import connection

from loyalty.member_search import member_search_results
from loyalty.models import Member
from tests.loyalty.factories import member_make
from tests.merchants.factories import MerchantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def members():
    lumiere = MerchantFactory(name="Lumière", slug="maison-lumiere")
    fjord = MerchantFactory(name="Fjord", slug="fjord-outdoor")
    return {
        "ana": member_make(
            lumiere,
            "C-1001",
            email="ana.ruiz@example.com",
            last_name="Ruiz",
            phone="+33 6 12 34 56 78",
        ),
        "bo": member_make(fjord, "SHOP-77", email="bo@fjord.example", last_name="Berg"),
        "cy": member_make(fjord, "C-2002", email="cy@example.com", last_name="Ruizdael"),
    }


def found(term: str) -> set[str]:
    queryset, may_repeat = member_search_results(Member.objects.all(), term)
    assert may_repeat is False
    return set(queryset.values_list("external_id", flat=True))


@pytest.mark.parametrize(
    ("term", "external_ids"),
    [
        ("c-1001", {"C-1001"}),  # an external id, whatever the case
        ("C-", {"C-1001", "C-2002"}),  # its start
        ("ANA.RUIZ@EXAMPLE.COM", {"C-1001"}),  # an email
        ("bo@", {"SHOP-77"}),  # its start
        ("ruiz", {"C-1001", "C-2002"}),  # a last name's start: Ruiz and Ruizdael
        ("06 12 34 56 78", {"C-1001"}),  # a phone as the member gave it, another way
        ("fjord-out", {"SHOP-77", "C-2002"}),  # a merchant's slug: its members
        ("fjord ruiz", {"C-2002"}),  # every word must match
    ],
)
def test_a_word_finds_the_members_whose_fields_start_with_it(members, term, external_ids):
    assert found(term) == external_ids


def test_the_middle_of_a_field_finds_nothing(members):
    # Starts only: a substring would read every member of every merchant.
    assert found("1001") == set()
    assert found("example.com") == set()
    assert found("lumiere") == set()


def test_an_empty_term_leaves_the_list_as_it_is(members):
    assert found("  ") == {"C-1001", "SHOP-77", "C-2002"}


@pytest.mark.postgres
def test_the_search_is_one_bitmap_of_index_ranges(members):
    """With sequential scans and plain index walks off (a test's tables are tiny), the
    plan must still find the rows: through the UPPER(col) indexes, OR-ed."""
    queryset, _ = member_search_results(Member.objects.order_by(), "Ruiz")
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        for setting in ("enable_seqscan", "enable_indexscan", "enable_indexonlyscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    for index in ("member_external_upper", "member_email_upper", "member_last_name_upper"):
        assert index in plan, plan
    assert "Seq Scan" not in plan, plan

"""The ops console's search (``config.search``): each kind of term finds its record across
all merchants, only among the kinds the staff user may view, bad input answers 200, the
queries per search are bounded, and on PostgreSQL each kind of lookup is an index scan.
The change lists' own searches: a ticket by the start of its reference, a redemption by
its number. The search box in a real browser: ``test_admin_search_browser.py``."""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.urls import reverse

from config import search
from core.actors import SYSTEM, Actor
from customercare.models import Ticket
from fulfillment.models import Redemption
from fulfillment.services import redemptions
from loyalty.member_search import phone_digits
from loyalty.models import Member, Order
from loyalty.services.programs import program_configure
from merchants.models import Merchant, Store
from merchants.services.stores import store_create
from tests.catalog.factories import OfferFactory, RewardFactory, SupplierFactory, select
from tests.customercare.factories import ticket_open
from tests.loyalty.factories import PROGRAM_TERMS, member_make, order_post
from tests.merchants.factories import MerchantFactory, staff_in

pytestmark = pytest.mark.django_db

PAGE = reverse("admin:search_all")
REFERENCE = "T-7K2M0Q4XBD3F"
PALETTE = reverse("admin:search")


@pytest.fixture(autouse=True)
def fresh_cache():
    # unfold keeps a palette's results five minutes per user and term.
    cache.clear()


@dataclass
class World:
    lumiere: Merchant
    fjord: Merchant
    ana: Member
    bo: Member
    order: Order
    redemption: Redemption
    ticket: Ticket
    store: Store


def merchant_named(name: str, slug: str) -> Merchant:
    merchant = MerchantFactory(
        live=True, name=name, slug=slug, country="US", default_currency="USD"
    )
    program_configure(merchant=merchant, actor=SYSTEM, **PROGRAM_TERMS)
    return merchant


def redemption_of(member: Member, external_id: str) -> Redemption:
    reward = RewardFactory(denominations=["25"])
    OfferFactory(reward=reward, supplier=SupplierFactory(adapter="manual"))
    select(member.merchant, reward, price_step=1)
    return redemptions.redemption_create(
        merchant=member.merchant,
        data=redemptions.RedemptionInput(
            member_external_id=member.external_id,
            reward_id=reward.pk,
            value=Decimal("25"),
            recipient={"email": member.email},
            external_id=external_id,
        ),
        actor=Actor.system("test"),
    ).obj


@pytest.fixture
def world() -> World:
    lumiere = merchant_named("Maison Lumière", "maison-lumiere")
    fjord = merchant_named("Fjord Gear", "fjord-gear")
    ana = member_make(
        lumiere,
        "cust-ana-4471",
        points=100_000,
        email="Ana.Ruiz@example.com",
        phone="+33 6 12 34 56 78",
        first_name="Ana",
        last_name="Ruiz",
        country="US",
    )
    bo = member_make(
        fjord, "fj-9001", email="bo@fjord.example", phone="06 98 76 54 32", first_name="Bo"
    )
    order = order_post(lumiere, ana, "40", external_id="SHOP-1001").obj
    redemption = redemption_of(ana, "RDM-77")
    ticket = ticket_open(ana, subject="Where is my gift card?")
    Ticket.objects.filter(pk=ticket.pk).update(reference=REFERENCE)
    ticket.refresh_from_db()
    store, _ = store_create(
        merchant=fjord,
        name="Fjord online",
        platform="shopify",
        domain="shop.fjord-gear.no",
        actor=SYSTEM,
    )
    return World(lumiere, fjord, ana, bo, order, redemption, ticket, store)


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def found_on_page(client, term: str) -> dict[str, list]:
    response = client.get(PAGE, {"q": term})
    assert response.status_code == 200
    return {group.kind.title: group.results for group in response.context["found"]}


def links(client, term: str) -> set[str]:
    return {result.link for results in found_on_page(client, term).values() for result in results}


# -- each kind of term finds its record ---------------------------------------------------


@pytest.mark.parametrize(
    ("term", "record"),
    [
        ("ana.ruiz@example.com", "ana"),  # an email, whatever its case
        ("Ana.Ruiz@exa", "ana"),  # the start of an email
        ("+33612345678", "ana"),  # a phone in E.164, stored with spaces
        ("06 12 34 56 78", "ana"),  # the same phone as written in France
        ("cust-ana-4471", "ana"),  # an external id
        ("CUST-ANA", "ana"),  # the start of one
        ("bo@fjord.example", "bo"),  # another merchant's member
        ("0698765432", "bo"),
        ("shop-1001", "order"),  # an order's external id
        ("SHOP-10", "order"),
        ("rdm-77", "redemption"),  # a redemption's external id
        ("Lumière", "lumiere"),  # a merchant by a part of its name
        ("maison-lum", "lumiere"),  # or of its slug
        ("fjord gear", "fjord"),
        ("fjord-gear.no", "store"),  # a store by its domain
    ],
)
def test_each_kind_of_term_finds_its_record(admin_client, world, term, record):
    assert change_url(getattr(world, record)) in links(admin_client, term)


def test_a_number_finds_the_redemption_and_the_order_of_that_number(admin_client, world):
    for term in (f"#{world.redemption.pk}", str(world.redemption.pk)):
        assert change_url(world.redemption) in links(admin_client, term)
    for term in (f"#{world.order.pk}", f"# {world.order.pk}"):
        assert change_url(world.order) in links(admin_client, term)


def test_a_ticket_is_found_by_its_reference_or_its_start(admin_client, world):
    # The whole reference, its start in any case, without its "T-", with an O for a 0.
    for term in (REFERENCE, "T-7K2M", "t-7k2m", "7K2M0Q4X", "t-7k2mOq"):
        assert change_url(world.ticket) in links(admin_client, term), term
    assert change_url(world.ticket) not in links(admin_client, "T-7K2N")


def test_results_say_what_each_record_is_and_whose(admin_client, world):
    found = found_on_page(admin_client, "ana.ruiz@example.com")
    [member] = found["Members"]
    assert member.title == "Ana Ruiz · Ana.Ruiz@example.com — Maison Lumière"
    assert member.description == "Member cust-ana-4471"
    [redemption] = found_on_page(admin_client, f"#{world.redemption.pk}")["Redemptions"]
    assert redemption.description.startswith(f"Redemption #{world.redemption.pk}")
    [ticket] = found_on_page(admin_client, world.ticket.reference)["Tickets"]
    assert ticket.description.startswith(f"Ticket {world.ticket.reference}")
    assert ticket.title == "Where is my gift card? — Maison Lumière"


def test_the_palette_lists_the_same_records_as_the_page(admin_client, world):
    response = admin_client.get(PALETTE, {"s": "ana.ruiz@example.com", "extended": "1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert change_url(world.ana) in html
    assert "Ana Ruiz · Ana.Ruiz@example.com — Maison Lumière" in html


def test_every_admin_page_has_the_search_box_that_works_without_javascript(admin_client):
    response = admin_client.get(reverse("admin:index"))
    html = response.content.decode()
    assert f'action="{PAGE}"' in html
    assert 'name="q"' in html
    assert 'id="search-input-command"' in html  # the palette, for a browser with JS


def test_results_are_capped_per_kind(admin_client, world):
    for number in range(search.PER_KIND + 3):
        member_make(world.lumiere, f"cap-{number}", email=f"cap{number}@example.com")
    assert len(found_on_page(admin_client, "cap")["Members"]) == search.PER_KIND


# -- who sees what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "term", "kind"),
    [
        ("Catalog", "ana.ruiz@example.com", "Members"),  # Catalog may not view members
        ("Fulfillment", "ana.ruiz@example.com", "Members"),
        ("Marketing", "T-", "Tickets"),  # the reference is filled in by the test
        ("Marketing", "Lumière", "Merchants"),
        ("Catalog", "fjord-gear.no", "Stores"),
    ],
)
def test_a_group_that_may_not_view_a_kind_finds_none_of_it(
    admin_client, client, world, group, term, kind
):
    term = REFERENCE if term == "T-" else term
    assert kind in found_on_page(admin_client, term)
    client.force_login(staff_in(group))
    assert kind not in found_on_page(client, term)
    palette = client.get(PALETTE, {"s": term, "extended": "1"})
    assert palette.status_code == 200


def test_care_agents_find_members_tickets_and_redemptions_of_any_merchant(client, world):
    client.force_login(staff_in("Customer care"))
    assert change_url(world.bo) in links(client, "bo@fjord.example")
    assert change_url(world.ticket) in links(client, world.ticket.reference[:7])
    assert change_url(world.redemption) in links(client, f"#{world.redemption.pk}")
    palette = client.get(PALETTE, {"s": "bo@fjord.example", "extended": "1"})
    assert change_url(world.bo) in palette.content.decode()


def test_the_search_needs_a_staff_sign_in(client, world):
    response = client.get(PAGE, {"q": "ana.ruiz@example.com"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


# -- bad input ----------------------------------------------------------------------------

BAD_TERMS = [
    "",
    "   ",
    "x" * 10_000,
    "@" * 300,
    "'; DROP TABLE loyalty_member; --",
    "' OR 1=1 --",
    'Robert"); --',
    "Ünïcødé ☃ 名前 🎁",
    "٣٤٥٦٧٨٩",  # Arabic-Indic digits
    "%",
    "_",
    "%_%",
    "\\",
    "abc\x00def",
    "#",
    "# ",
    "#-1",
    "#0",
    "#99999999999999999999999",
    "9" * 40,
    "+",
    "+" + "9" * 30,
    "T-",
    "t-%",
    "@",
    "a@",
    "00000000-0000-0000-0000-000000000000",
]


@pytest.mark.parametrize("term", BAD_TERMS)
def test_bad_input_answers_200_and_finds_nothing_it_should_not(admin_client, world, term):
    page = admin_client.get(PAGE, {"q": term})
    assert page.status_code == 200
    palette = admin_client.get(PALETTE, {"s": term, "extended": "1"})
    assert palette.status_code == 200
    if term.strip() in {"%", "_", "%_%", "\\"}:
        # LIKE's wildcards are searched as themselves, never as "anything".
        assert page.context["found"] == []


# -- bounded queries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "term", ["ana.ruiz@example.com", "+33612345678", "1001", "#1", "shop-10", "Lumière"]
)
def test_a_search_runs_a_bounded_number_of_queries(
    admin_client, world, term, django_assert_max_num_queries
):
    admin_client.get(PAGE, {"q": "warm up"})
    # Session and user, then per kind one exact lookup, the starts and the phone at most.
    with django_assert_max_num_queries(16):
        assert admin_client.get(PAGE, {"q": term}).status_code == 200
    with django_assert_max_num_queries(24):  # the palette's sidebar-free fragment
        assert admin_client.get(PALETTE, {"s": term, "extended": "1"}).status_code == 200


def test_the_number_of_queries_does_not_grow_with_matches(admin_client, world):
    admin_client.get(PAGE, {"q": "warm up"})
    with CaptureCount() as few:
        admin_client.get(PAGE, {"q": "many"})
    for number in range(20):
        member_make(world.fjord, f"many-{number}", email=f"many{number}@example.com")
        order_post(world.lumiere, world.ana, "5", external_id=f"MANY-{number}")
    with CaptureCount() as lots:
        admin_client.get(PAGE, {"q": "many"})
    # With matches, a kind stops at its first query that fills it: never more queries.
    assert lots.count <= few.count


class CaptureCount:
    def __enter__(self):
        from django.test.utils import CaptureQueriesContext

        self.context = CaptureQueriesContext(connection)
        self.context.__enter__()
        return self

    def __exit__(self, *exc):
        self.context.__exit__(*exc)
        self.count = len(self.context.captured_queries)


# -- the change lists' own searches -------------------------------------------------------


def test_the_ticket_list_finds_a_ticket_by_the_start_of_its_reference(admin_client, world):
    changelist = reverse("admin:customercare_ticket_changelist")
    for term in (world.ticket.reference, world.ticket.reference[:6].lower()):
        response = admin_client.get(changelist, {"q": term})
        assert response.status_code == 200
        assert [t.pk for t in response.context["cl"].result_list] == [world.ticket.pk], term
    response = admin_client.get(changelist, {"q": "T-ZZZZZZZZZZZZ"})
    assert list(response.context["cl"].result_list) == []


def test_the_redemption_list_finds_a_redemption_by_its_number(admin_client, world):
    changelist = reverse("admin:fulfillment_redemption_changelist")
    for term in (f"#{world.redemption.pk}", str(world.redemption.pk), "RDM-77"):
        response = admin_client.get(changelist, {"q": term})
        assert response.status_code == 200
        assert [r.pk for r in response.context["cl"].result_list] == [world.redemption.pk]
    for term in ("#999999", "#abc", "#99999999999999999999999"):
        response = admin_client.get(changelist, {"q": term})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []


# -- PostgreSQL: every lookup is an index scan ---------------------------------------------

SEARCH_INDEXES = {
    "merchants_merchant": {"merchant_name_trgm", "merchant_slug_trgm"},
    "merchants_store": {"store_domain_trgm"},
    "loyalty_member": {"member_email_upper", "member_external_upper", "member_phone_trgm"},
    "loyalty_order": {"order_external_upper"},
    "fulfillment_redemption": {"redemption_external_upper"},
}


# A test's tables hold a few rows: the planner would read them whole. Without sequential
# scans and plain index walks, only a bitmap scan is left, and it needs an index that
# serves the condition itself; the plan names that index.
ONLY_BITMAPS = [
    "SET LOCAL enable_seqscan = off",
    "SET LOCAL enable_indexscan = off",
    "SET LOCAL enable_indexonlyscan = off",
]


def explain(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        for setting in ONLY_BITMAPS:
            cursor.execute(setting)
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def plan(queryset) -> str:
    return explain(*queryset.query.sql_with_params())


@pytest.mark.postgres
def test_the_migrations_made_the_search_indexes():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        assert cursor.fetchone() is not None
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)",
            [list(SEARCH_INDEXES)],
        )
        made = {(table, name): definition for table, name, definition in cursor.fetchall()}
    for table, names in SEARCH_INDEXES.items():
        for name in names:
            assert (table, name) in made, f"{name} on {table}"
    assert "gin_trgm_ops" in made["merchants_merchant", "merchant_name_trgm"]
    assert "text_pattern_ops" in made["loyalty_member", "member_email_upper"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Member.objects.filter(email__iexact="ana@example.com"), "member_email_upper"),
        (lambda: Member.objects.filter(email__istartswith="ana@ex"), "member_email_upper"),
        (lambda: Member.objects.filter(external_id__iexact="c-1"), "member_external_upper"),
        (
            lambda: Member.objects.alias(digits=phone_digits()).filter(
                digits__endswith="612345678"
            ),
            "member_phone_trgm",
        ),
        (lambda: Order.objects.filter(external_id__istartswith="SHOP"), "order_external_upper"),
        (
            lambda: Redemption.objects.filter(external_id__iexact="RDM-77"),
            "redemption_external_upper",
        ),
        (
            lambda: Ticket.objects.filter(reference__startswith="T-7K"),
            "customercare_ticket_reference_",
        ),
        (lambda: Merchant.objects.filter(name__icontains="mière"), "merchant_name_trgm"),
        (lambda: Merchant.objects.filter(slug__icontains="maison"), "merchant_slug_trgm"),
        (lambda: Store.objects.filter(domain__icontains="fjord"), "store_domain_trgm"),
    ],
)
def test_each_search_lookup_uses_its_index(queryset, index):
    shown = plan(queryset().order_by()[: search.PER_KIND])
    assert index in shown, shown
    assert "Seq Scan" not in shown, shown


USED = {name for names in SEARCH_INDEXES.values() for name in names} | {
    "customercare_ticket_reference_"
}


@pytest.mark.postgres
def test_the_searches_queries_are_the_indexed_ones(admin_client, world):
    """What the search runs (not a copy of it) is planned on the indexes."""
    from django.test.utils import CaptureQueriesContext

    for term in ("ana.ruiz@example.com", world.ticket.reference[:7], "Lumière", "+33612345678"):
        with CaptureQueriesContext(connection) as captured:
            admin_client.get(PAGE, {"q": term})
        searched = [
            query["sql"]
            for query in captured.captured_queries
            if ("LIKE" in query["sql"] or "UPPER(" in query["sql"])
            and any(
                f'FROM "{table}"' in query["sql"]
                for table in ("loyalty_member", "customercare_ticket", "merchants_merchant")
            )
        ]
        assert searched, term
        for sql in searched:
            shown = explain(sql)
            assert "Seq Scan" not in shown, f"{term}: {sql}\n{shown}"
            assert any(name in shown for name in USED), f"{term}: {sql}\n{shown}"

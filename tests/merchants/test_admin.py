"""The ops staff's admin for merchants, stores, API keys and fee plans, driven over HTTP
through Django's test client: pages render, forms post, actions confirm with a reason, and
every change lands through the services (status, checklist, keys, history)."""

import datetime
import re
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from core.actors import SYSTEM, Actor
from core.exceptions import InvalidTransition
from core.fields import decrypt_text
from merchants.admin.merchant_pages import MerchantAdmin
from merchants.models import (
    ChecklistItem,
    FeePlan,
    Merchant,
    MerchantAPIKey,
    MerchantEvent,
    MerchantMembership,
    MerchantStatus,
    OnboardingChecklistItem,
    Scope,
    Store,
)
from merchants.selectors import merchant_transition_path
from merchants.services import api_keys, billing, lifecycle, stores
from tests.merchants.factories import (
    MerchantFactory,
    StaffFactory,
    UserFactory,
    complete_checklist,
    issue_key,
    staff_in,
)

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:merchants_merchant_changelist"


# -- helpers -------------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collects each <form> on a page with what a browser would submit for it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[dict, list[tuple[str, str]]]] = []
        self._fields: list[tuple[str, str]] | None = None
        self._select: tuple[str | None, bool, list] | None = None
        self._option: list | None = None
        self._textarea: list | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._fields = []
            self.forms.append((attrs, self._fields))
            return
        if self._fields is None or "disabled" in attrs:
            return
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            name = attrs.get("name")
            if not name or kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self._fields.append((name, attrs.get("value") or "on"))
                return
            self._fields.append((name, attrs.get("value") or ""))
        elif tag == "select":
            self._select = (attrs.get("name"), "multiple" in attrs, [])
        elif tag == "option" and self._select is not None:
            self._option = [attrs.get("value"), "selected" in attrs, ""]
            self._select[2].append(self._option)
        elif tag == "textarea":
            self._textarea = [attrs.get("name"), ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data
        elif self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "option":
            self._option = None
        elif tag == "select" and self._select is not None:
            name, multiple, options = self._select
            chosen = [option for option in options if option[1]]
            if not chosen and not multiple:
                chosen = options[:1]
            if name and self._fields is not None:
                for value, _, text in chosen:
                    self._fields.append((name, value if value is not None else text.strip()))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, text = self._textarea
            if name and self._fields is not None:
                self._fields.append((name, text.removeprefix("\n")))
            self._textarea = None


def form_data(response, form_id: str | None = None) -> dict[str, list[str]]:
    """What submitting a form of the page sends: the one with ``form_id``, or else the
    page's only form besides the logout button and the search box every page has."""
    parser = _FormParser()
    parser.feed(response.content.decode())
    forms = [
        fields
        for attrs, fields in parser.forms
        if (
            attrs.get("id") == form_id
            if form_id
            else attrs.get("id") != "logout-form" and attrs.get("role") != "search"
        )
    ]
    assert len(forms) == 1, f"expected one form {form_id or ''}, found {len(forms)}"
    data: dict[str, list[str]] = {}
    for name, value in forms[0]:
        if "__prefix__" not in name:
            data.setdefault(name, []).append(value)
    return data


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def login(client, user) -> None:
    client.force_login(user)


def status_of(merchant: Merchant) -> str:
    return Merchant.objects.get(pk=merchant.pk).status


def at_status(status: str, *, checklist_done: bool = False, **kwargs) -> Merchant:
    """A merchant walked along the allowed moves to ``status``; its checklist is completed
    when asked, or when the way passes through live."""
    merchant = MerchantFactory(**kwargs)
    if checklist_done or MerchantStatus.LIVE in merchant_transition_path(
        from_status=MerchantStatus.APPLIED, to_status=status
    ):
        complete_checklist(merchant)
    for step in merchant_transition_path(from_status=MerchantStatus.APPLIED, to_status=status):
        lifecycle.merchant_transition(
            merchant=merchant, to_status=step, reason="setup", actor=SYSTEM
        )
    return merchant


def post_action(client, action: str, merchants, **extra):
    """The changelist's action form, as a browser submits it (``index`` is the action bar)."""
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "index": "0", "_selected_action": [m.pk for m in merchants], **extra},
    )


@pytest.fixture
def ops_user(db):
    return staff_in("Operations")


@pytest.fixture
def ops_client(client, ops_user):
    login(client, ops_user)
    return client


def change_url(merchant: Merchant) -> str:
    return reverse("admin:merchants_merchant_change", args=[merchant.pk])


def transition_url(merchant: Merchant, to_status: str) -> str:
    return reverse("admin:merchants_merchant_transition", args=[merchant.pk, to_status])


def rich_merchant(rows: int, actor: Actor) -> Merchant:
    """A live merchant with ``rows`` stores, API keys (one per store), fee plans and portal
    users, and ``rows`` checklist items ticked by ``actor``."""
    merchant = MerchantFactory(live=True)
    for i in range(rows):
        store, _ = stores.store_create(
            merchant=merchant,
            name=f"Store {i}",
            platform="shopify",
            domain=f"shop{i}.example.com",
            actor=actor,
        )
        api_keys.api_key_issue(merchant=merchant, name=f"key {i}", store=store, actor=actor)
        billing.fee_plan_create(
            merchant=merchant,
            valid_from=datetime.date(2025, 1, 1 + i),
            monthly_platform_fee=Decimal("99.00"),
            fee_per_active_member=Decimal("0.05"),
            fee_per_redemption=Decimal("0.10"),
            reward_margin_percent=Decimal("5"),
            actor=actor,
        )
        MerchantMembership.objects.create(
            merchant=merchant,
            user=UserFactory(username=f"portal-{merchant.slug}-{i}"),
            role="owner",
        )
        item = ChecklistItem.values[i]
        lifecycle.checklist_item_reopen(merchant=merchant, item=item, reason="recheck", actor=actor)
        lifecycle.checklist_item_complete(merchant=merchant, item=item, actor=actor)
    return merchant


# -- merchant changelist -----------------------------------------------------------------


@pytest.fixture
def ten_merchants(db) -> list[Merchant]:
    merchants = [
        MerchantFactory(name=f"Shop {i:02}", slug=f"shop-{i:02}", country="US") for i in range(7)
    ]
    merchants += [
        MerchantFactory(
            live=True,
            name="Boulangerie Dupont",
            slug="dupont",
            country="FR",
            default_currency="EUR",
        ),
        MerchantFactory(
            live=True, name="Maison Roux", slug="roux", country="FR", default_currency="EUR"
        ),
        MerchantFactory(live=True, name="Northwind Outfitters", slug="northwind", country="US"),
    ]
    return merchants


def listed(response) -> set[str]:
    return {merchant.slug for merchant in response.context["cl"].result_list}


def test_merchant_changelist_lists_every_merchant_with_checklist_progress(
    admin_client, ten_merchants
):
    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert listed(response) == {merchant.slug for merchant in ten_merchants}
    content = response.content.decode()
    assert "6/6" in content  # the live ones
    assert "0/6" in content  # the fresh applications


def test_merchant_changelist_filters_by_status(admin_client, ten_merchants):
    response = admin_client.get(reverse(CHANGELIST), {"status__exact": MerchantStatus.LIVE})

    assert response.status_code == 200
    assert listed(response) == {"dupont", "roux", "northwind"}


def test_merchant_changelist_filters_by_country(admin_client, ten_merchants):
    response = admin_client.get(reverse(CHANGELIST), {"country__exact": "FR"})

    assert response.status_code == 200
    assert listed(response) == {"dupont", "roux"}


def test_merchant_changelist_combines_status_and_country_filters(admin_client, ten_merchants):
    response = admin_client.get(
        reverse(CHANGELIST), {"status__exact": MerchantStatus.LIVE, "country__exact": "US"}
    )

    assert listed(response) == {"northwind"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("northwind", {"northwind"}),
        ("Maison", {"roux"}),
        ("shop-0", {f"shop-{i:02}" for i in range(7)}),
    ],
)
def test_merchant_changelist_search_finds_by_name_or_slug(
    admin_client, ten_merchants, query, expected
):
    response = admin_client.get(reverse(CHANGELIST), {"q": query})

    assert response.status_code == 200
    assert listed(response) == expected


def test_merchant_changelist_query_count_does_not_grow_with_merchants(
    admin_client, ten_merchants, django_assert_max_num_queries
):
    admin_client.get(reverse(CHANGELIST))  # warm per-process caches (content types)

    # session, user, page count, the page itself (checklist progress is annotated).
    with django_assert_max_num_queries(4):
        response = admin_client.get(reverse(CHANGELIST))

    assert len(response.context["cl"].result_list) == 10


# -- merchant change page ----------------------------------------------------------------


def test_merchant_change_page_shows_every_inline(admin_client):
    staff = StaffFactory(username="ops-alice")
    merchant = rich_merchant(2, actor=Actor.staff(staff))

    response = admin_client.get(change_url(merchant))

    assert response.status_code == 200
    formsets = {fs.formset.prefix: fs for fs in response.context["inline_admin_formsets"]}
    assert set(formsets) == {
        "checklist",
        "stores",
        "fee_plans",
        "billing_profile",
        "brand",
        "memberships",
        "api_keys",
        "events",
    }
    assert formsets["checklist"].formset.initial_form_count() == 6
    assert formsets["stores"].formset.initial_form_count() == 2
    assert formsets["fee_plans"].formset.initial_form_count() == 2
    assert formsets["memberships"].formset.initial_form_count() == 2
    assert formsets["api_keys"].formset.initial_form_count() == 2
    assert formsets["events"].formset.initial_form_count() == merchant.events.count()
    content = response.content.decode()
    for text in (
        "Onboarding checklist",
        "shop1.example.com",
        "Merchant portal users",
        "API keys (issue one with the button at the top)",
        "History",
        "ops-alice",
        # Live merchants may be suspended or offboarded, from the object tools.
        transition_url(merchant, MerchantStatus.SUSPENDED),
        transition_url(merchant, MerchantStatus.OFFBOARDED),
        reverse("admin:merchants_merchant_checklist", args=[merchant.pk]),
        reverse("admin:merchants_merchant_issue_key", args=[merchant.pk]),
    ):
        assert text in content, text
    for key in merchant.api_keys.all():
        assert key.prefix in content


def test_merchant_change_page_query_count_is_pinned(admin_client, django_assert_max_num_queries):
    merchant = MerchantFactory(live=True)
    admin_client.get(change_url(merchant))  # warm per-process caches (content types)

    # session, user, merchant, then one query per inline (seven), and one capped count per
    # list of related records the page links to (core.admin.related).
    with django_assert_max_num_queries(11 + len(MerchantAdmin.related) + 1):
        response = admin_client.get(change_url(merchant))

    assert response.status_code == 200


def test_merchant_change_page_query_count_does_not_grow_with_inline_rows(admin_client):
    staff = StaffFactory()
    counts = []
    for rows in (1, 3):
        merchant = rich_merchant(rows, actor=Actor.staff(staff))
        admin_client.get(change_url(merchant))
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(change_url(merchant))
        assert response.status_code == 200
        counts.append(len(queries))

    # Only Django's autocomplete widget may look up its selected user, once per portal user.
    assert counts[1] - counts[0] <= 2, f"{counts[0]} queries with 1 row each, {counts[1]} with 3"


# -- adding and editing a merchant -------------------------------------------------------


def new_merchant_data(**overrides) -> dict[str, str]:
    return {
        "name": "Café Lumière",
        "slug": "cafe-lumiere",
        "legal_name": "Café Lumière SARL",
        "contact_email": "ops@cafe-lumiere.example",
        "country": "FR",
        "default_currency": "EUR",
        "timezone": "Europe/Paris",
        "_save": "Save",
        **overrides,
    }


def test_merchant_add_page_renders(admin_client):
    response = admin_client.get(reverse("admin:merchants_merchant_add"))

    assert response.status_code == 200


def test_adding_a_merchant_creates_it_applied_with_an_open_checklist_and_history(
    ops_client, ops_user
):
    response = ops_client.post(reverse("admin:merchants_merchant_add"), new_merchant_data())

    assert response.status_code == 302, response.content
    merchant = Merchant.objects.get(slug="cafe-lumiere")
    assert merchant.status == MerchantStatus.APPLIED
    assert merchant.country.code == "FR"
    assert merchant.default_currency == "EUR"
    assert str(merchant.timezone) == "Europe/Paris"
    checklist = OnboardingChecklistItem.objects.filter(merchant=merchant)
    assert sorted(checklist.values_list("item", flat=True)) == sorted(ChecklistItem.values)
    assert not checklist.filter(completed_at__isnull=False).exists()
    event = MerchantEvent.objects.get(merchant=merchant)
    assert event.kind == MerchantEvent.Kind.CREATED
    assert event.actor == ops_user
    assert event.actor_label == ops_user.username


def test_adding_a_merchant_with_an_unknown_currency_reshows_the_form(admin_client):
    response = admin_client.post(
        reverse("admin:merchants_merchant_add"), new_merchant_data(default_currency="XQQ")
    )

    assert response.status_code == 200
    assert "not an ISO 4217 currency code" in response.content.decode()
    assert not Merchant.objects.filter(slug="cafe-lumiere").exists()


def test_editing_a_merchant_saves_the_change(admin_client):
    merchant = MerchantFactory(live=True)
    data = form_data(admin_client.get(change_url(merchant)), "merchant_form")
    data["contact_email"] = ["billing@example.com"]
    data["_save"] = ["Save"]

    response = admin_client.post(change_url(merchant), data)

    assert response.status_code == 302
    merchant.refresh_from_db()
    assert merchant.contact_email == "billing@example.com"
    assert merchant.status == MerchantStatus.LIVE


def test_editing_a_merchant_goes_through_the_service_and_records_who_changed_what(
    admin_client, admin_user
):
    merchant = MerchantFactory(live=True)
    data = form_data(admin_client.get(change_url(merchant)), "merchant_form")
    data["contact_email"] = ["billing@example.com"]
    data["legal_name"] = ["Acme Trading Ltd"]
    data["_save"] = ["Save"]

    admin_client.post(change_url(merchant), data)

    event = merchant.events.get(kind=MerchantEvent.Kind.DETAILS_CHANGED)
    assert event.reason == "Changed: legal_name, contact_email"
    assert event.actor == admin_user


def test_saving_a_merchant_unchanged_records_no_event(admin_client):
    merchant = MerchantFactory(live=True)
    events = merchant.events.count()
    data = form_data(admin_client.get(change_url(merchant)), "merchant_form")
    data["_save"] = ["Save"]

    assert admin_client.post(change_url(merchant), data).status_code == 302
    assert merchant.events.count() == events


def test_the_service_refuses_to_move_the_status_as_a_detail():
    merchant = MerchantFactory(live=True)
    merchant.status = MerchantStatus.SUSPENDED
    with pytest.raises(InvalidTransition):
        lifecycle.merchant_update(merchant=merchant, changed=["status"], actor=SYSTEM)
    merchant.refresh_from_db()
    assert merchant.status == MerchantStatus.LIVE


# -- fee plan inline ---------------------------------------------------------------------


def with_new_fee_plan(data: dict, **fields: str) -> dict:
    index = int(data["fee_plans-TOTAL_FORMS"][0])
    data["fee_plans-TOTAL_FORMS"] = [str(index + 1)]
    for name, value in fields.items():
        data[f"fee_plans-{index}-{name}"] = [value]
    data["_continue"] = ["Save and continue editing"]
    return data


FEE_PLAN = {
    "valid_from": "2026-01-01",
    "monthly_platform_fee": "250.00",
    "fee_per_active_member": "0.0200",
    "fee_per_redemption": "0.15",
    "reward_margin_percent": "7.5",
}


def test_adding_a_fee_plan_inline_creates_it_and_ticks_the_checklist(ops_client, ops_user):
    merchant = at_status(MerchantStatus.IN_REVIEW)
    data = form_data(ops_client.get(change_url(merchant)), "merchant_form")

    response = ops_client.post(
        change_url(merchant), with_new_fee_plan(data, currency="USD", **FEE_PLAN)
    )

    assert response.status_code == 302, response.content
    plan = FeePlan.objects.get(merchant=merchant)
    assert plan.monthly_platform_fee == Decimal("250.00")
    assert plan.created_by == ops_user
    item = merchant.checklist.get(item=ChecklistItem.FEE_PLAN_SET)
    assert item.done
    assert item.completed_by == ops_user


def test_a_jpy_fee_plan_with_a_fractional_monthly_fee_is_refused(admin_client):
    merchant = MerchantFactory(country="JP", default_currency="JPY")
    data = form_data(admin_client.get(change_url(merchant)), "merchant_form")
    plan = {**FEE_PLAN, "monthly_platform_fee": "5000.50"}

    response = admin_client.post(
        change_url(merchant), with_new_fee_plan(data, currency="JPY", **plan)
    )

    assert response.status_code == 200
    assert "JPY has fewer decimal places than that." in response.content.decode()
    assert not FeePlan.objects.filter(merchant=merchant).exists()
    assert not merchant.checklist.get(item=ChecklistItem.FEE_PLAN_SET).done


# -- the confirmation form of the changelist actions ------------------------------------


@pytest.fixture
def quiet_client(ops_client):
    """The ops client, answering 500 instead of raising should a page fail to render, so a
    test can still check what the request left in the database."""
    ops_client.raise_request_exception = False
    return ops_client


# -- transition actions on the changelist ----------------------------------------------


MOVES = [
    ("transition_to_in_review", MerchantStatus.APPLIED, MerchantStatus.IN_REVIEW),
    ("transition_to_approved", MerchantStatus.IN_REVIEW, MerchantStatus.APPROVED),
    ("transition_to_rejected", MerchantStatus.IN_REVIEW, MerchantStatus.REJECTED),
    ("transition_to_live", MerchantStatus.APPROVED, MerchantStatus.LIVE),
    ("transition_to_live", MerchantStatus.SUSPENDED, MerchantStatus.LIVE),
    ("transition_to_suspended", MerchantStatus.LIVE, MerchantStatus.SUSPENDED),
    ("transition_to_offboarded", MerchantStatus.LIVE, MerchantStatus.OFFBOARDED),
]
MOVE_IDS = [f"{from_status}-to-{to_status}" for _, from_status, to_status in MOVES]


def confirm_action(client, action: str, merchants, **fields):
    """The confirmation form of an action, as action_form.html posts it back."""
    return client.post(
        reverse(CHANGELIST),
        {
            "action": action,
            "_selected_action": [merchant.pk for merchant in merchants],
            "apply": "Confirm",
            **fields,
        },
    )


@pytest.mark.parametrize(("action", "from_status", "to_status"), MOVES, ids=MOVE_IDS)
def test_transition_action_first_shows_the_reason_form(ops_client, action, from_status, to_status):
    merchant = at_status(from_status, checklist_done=True)

    response = post_action(ops_client, action, [merchant])

    assert response.status_code == 200
    data = form_data(response)
    assert data["action"] == [action]
    assert data["_selected_action"] == [str(merchant.pk)]
    assert "reason" in data
    assert status_of(merchant) == from_status


@pytest.mark.parametrize(("action", "from_status", "to_status"), MOVES, ids=MOVE_IDS)
def test_transition_action_without_apply_changes_nothing(
    quiet_client, action, from_status, to_status
):
    merchant = at_status(from_status, checklist_done=True)
    events_before = merchant.events.count()

    post_action(quiet_client, action, [merchant], reason="not confirmed yet")

    assert status_of(merchant) == from_status
    assert merchant.events.count() == events_before


@pytest.mark.parametrize(("action", "from_status", "to_status"), MOVES, ids=MOVE_IDS)
def test_transition_action_with_a_reason_moves_the_merchant_and_records_who_and_why(
    ops_client, ops_user, action, from_status, to_status
):
    merchant = at_status(from_status, checklist_done=True)

    response = confirm_action(
        ops_client, action, [merchant], reason="  Checked by phone with the owner "
    )

    assert response.status_code == 302
    assert response["Location"] == reverse(CHANGELIST)
    assert status_of(merchant) == to_status
    event = merchant.events.first()
    assert event.kind == MerchantEvent.Kind.STATUS_CHANGED
    assert (event.from_status, event.to_status) == (from_status, to_status)
    assert event.reason == "Checked by phone with the owner"
    assert event.actor == ops_user
    assert event.actor_label == ops_user.username
    assert messages_of(response) == [f"1 merchant(s) moved to {to_status}."]


@pytest.mark.parametrize(("action", "from_status", "to_status"), MOVES, ids=MOVE_IDS)
def test_transition_action_with_an_empty_reason_reshows_the_form(
    ops_client, action, from_status, to_status
):
    merchant = at_status(from_status, checklist_done=True)

    response = confirm_action(ops_client, action, [merchant], reason="   ")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


@pytest.mark.parametrize(("action", "from_status", "to_status"), MOVES, ids=MOVE_IDS)
def test_transition_action_with_an_empty_reason_changes_nothing(
    quiet_client, action, from_status, to_status
):
    merchant = at_status(from_status, checklist_done=True)
    events_before = merchant.events.count()

    confirm_action(quiet_client, action, [merchant], reason="   ")

    assert status_of(merchant) == from_status
    assert merchant.events.count() == events_before


def test_transition_action_refuses_an_illegal_move_with_an_error(ops_client):
    merchant = MerchantFactory()

    response = confirm_action(ops_client, "transition_to_live", [merchant], reason="skip it")

    assert response.status_code == 302
    assert status_of(merchant) == MerchantStatus.APPLIED
    assert not merchant.events.filter(kind=MerchantEvent.Kind.STATUS_CHANGED).exists()
    assert messages_of(response) == [f"{merchant}: A merchant cannot move from applied to live."]


def test_transition_action_refuses_to_go_live_with_an_incomplete_checklist(ops_client):
    merchant = at_status(MerchantStatus.APPROVED)
    lifecycle.checklist_item_complete(
        merchant=merchant, item=ChecklistItem.BUSINESS_VERIFIED, actor=SYSTEM
    )

    response = confirm_action(ops_client, "transition_to_live", [merchant], reason="launch day")

    assert status_of(merchant) == MerchantStatus.APPROVED
    assert not merchant.events.filter(to_status=MerchantStatus.LIVE).exists()
    [message] = messages_of(response)
    assert "Complete the onboarding checklist first" in message
    assert "contract_signed" in message
    assert "business_verified" not in message


def test_transition_action_moves_the_legal_merchants_and_reports_the_others(ops_client):
    applied = MerchantFactory(name="Applied Co")
    live = MerchantFactory(live=True, name="Live Co")

    response = confirm_action(
        ops_client, "transition_to_in_review", [applied, live], reason="batch review"
    )

    assert status_of(applied) == MerchantStatus.IN_REVIEW
    assert status_of(live) == MerchantStatus.LIVE
    assert messages_of(response) == [
        "Live Co: A merchant cannot move from live to in_review.",
        "1 merchant(s) moved to in_review.",
    ]


def test_offboarding_revokes_the_keys_and_deactivates_the_stores(ops_client):
    merchant = MerchantFactory(live=True)
    stores.store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="s.example.com", actor=SYSTEM
    )
    _, raw_key = issue_key(merchant)

    confirm_action(ops_client, "transition_to_offboarded", [merchant], reason="contract ended")

    assert status_of(merchant) == MerchantStatus.OFFBOARDED
    assert not merchant.stores.filter(is_active=True).exists()
    assert merchant.api_keys.get().revoked
    assert api_client(raw_key).get("/api/v1/merchant/").status_code == 401


# -- per-merchant pages: transition, checklist, issue key --------------------------------


def checklist_url(merchant: Merchant) -> str:
    return reverse("admin:merchants_merchant_checklist", args=[merchant.pk])


def issue_key_url(merchant: Merchant) -> str:
    return reverse("admin:merchants_merchant_issue_key", args=[merchant.pk])


@pytest.mark.parametrize(
    ("url_of", "field"),
    [
        (lambda merchant: transition_url(merchant, MerchantStatus.IN_REVIEW), "reason"),
        (checklist_url, "item"),
        (issue_key_url, "scopes"),
    ],
    ids=["transition", "checklist", "issue-key"],
)
def test_merchant_page_shows_its_form(ops_client, url_of, field):
    merchant = MerchantFactory(name="Acme")

    response = ops_client.get(url_of(merchant))

    assert response.status_code == 200
    assert "Acme" in response.context["title"]
    assert field in form_data(response)


def test_transition_page_moves_the_merchant_and_returns_to_its_page(ops_client, ops_user):
    merchant = MerchantFactory()

    response = ops_client.post(
        transition_url(merchant, MerchantStatus.IN_REVIEW),
        {"reason": "documents received", "apply": "Confirm"},
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(merchant)
    assert status_of(merchant) == MerchantStatus.IN_REVIEW
    event = merchant.events.first()
    assert (event.from_status, event.to_status) == (
        MerchantStatus.APPLIED,
        MerchantStatus.IN_REVIEW,
    )
    assert (event.reason, event.actor) == ("documents received", ops_user)


def test_transition_page_with_an_empty_reason_reshows_the_form_and_changes_nothing(ops_client):
    merchant = MerchantFactory()

    response = ops_client.post(transition_url(merchant, MerchantStatus.IN_REVIEW), {"reason": " "})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert status_of(merchant) == MerchantStatus.APPLIED
    assert merchant.events.count() == 1  # "created"


def test_transition_page_refuses_an_illegal_move_with_an_error(ops_client):
    merchant = MerchantFactory()

    response = ops_client.post(transition_url(merchant, MerchantStatus.LIVE), {"reason": "skip"})

    assert response.status_code == 302
    assert status_of(merchant) == MerchantStatus.APPLIED
    assert messages_of(response) == [f"{merchant}: A merchant cannot move from applied to live."]


def test_transition_page_refuses_to_go_live_with_an_incomplete_checklist(ops_client):
    merchant = at_status(MerchantStatus.APPROVED)

    response = ops_client.post(transition_url(merchant, MerchantStatus.LIVE), {"reason": "launch"})

    assert status_of(merchant) == MerchantStatus.APPROVED
    [message] = messages_of(response)
    assert "Complete the onboarding checklist first" in message


@pytest.mark.parametrize("to_status", [MerchantStatus.APPLIED, "bogus"])
def test_transition_page_of_a_status_that_is_no_move_is_not_found(ops_client, to_status):
    merchant = MerchantFactory()

    response = ops_client.post(transition_url(merchant, to_status), {"reason": "x"})

    assert response.status_code == 404
    assert status_of(merchant) == MerchantStatus.APPLIED


def test_transition_page_of_an_unknown_merchant_is_not_found(ops_client):
    response = ops_client.get(
        reverse("admin:merchants_merchant_transition", args=[999999, MerchantStatus.IN_REVIEW])
    )

    assert response.status_code == 404


def test_checklist_page_ticks_an_item_and_records_it(ops_client, ops_user):
    merchant = MerchantFactory()

    response = ops_client.post(
        checklist_url(merchant),
        {"item": "contract_signed", "done": "1", "note": "countersigned PDF on file"},
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(merchant)
    row = merchant.checklist.get(item=ChecklistItem.CONTRACT_SIGNED)
    assert row.done
    assert row.completed_by == ops_user
    assert row.note == "countersigned PDF on file"
    event = merchant.events.first()
    assert event.kind == MerchantEvent.Kind.CHECKLIST_COMPLETED
    assert (event.checklist_item, event.actor) == (ChecklistItem.CONTRACT_SIGNED, ops_user)
    assert messages_of(response) == [f"{merchant}: Contract signed done."]


def test_checklist_page_reopening_without_a_note_is_refused(ops_client):
    merchant = MerchantFactory()
    lifecycle.checklist_item_complete(
        merchant=merchant, item=ChecklistItem.CONTRACT_SIGNED, actor=SYSTEM
    )
    events_before = merchant.events.count()

    response = ops_client.post(
        checklist_url(merchant), {"item": "contract_signed", "done": "0", "note": "  "}
    )

    assert merchant.checklist.get(item=ChecklistItem.CONTRACT_SIGNED).done
    assert merchant.events.count() == events_before
    assert messages_of(response) == [f"{merchant}: Say why the item is reopened."]


def test_checklist_page_reopens_an_item_with_a_note(ops_client, ops_user):
    merchant = MerchantFactory()
    lifecycle.checklist_item_complete(
        merchant=merchant, item=ChecklistItem.CONTRACT_SIGNED, actor=SYSTEM
    )

    response = ops_client.post(
        checklist_url(merchant), {"item": "contract_signed", "done": "0", "note": "wrong version"}
    )

    assert response.status_code == 302
    row = merchant.checklist.get(item=ChecklistItem.CONTRACT_SIGNED)
    assert not row.done
    assert row.completed_by is None
    event = merchant.events.first()
    assert event.kind == MerchantEvent.Kind.CHECKLIST_REOPENED
    assert (event.checklist_item, event.reason) == (ChecklistItem.CONTRACT_SIGNED, "wrong version")
    assert event.actor == ops_user
    assert messages_of(response) == [f"{merchant}: Contract signed reopened."]


def test_tick_checklist_action_ticks_the_item_for_every_selected_merchant(ops_client, ops_user):
    merchants = [MerchantFactory(), MerchantFactory()]

    response = confirm_action(
        ops_client, "tick_checklist", merchants, item="business_verified", done="1", note=""
    )

    assert response.status_code == 302
    for merchant in merchants:
        row = merchant.checklist.get(item=ChecklistItem.BUSINESS_VERIFIED)
        assert row.done
        assert row.completed_by == ops_user


# -- issuing API keys --------------------------------------------------------------------


def api_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def shown_key(response) -> str:
    match = re.search(r'<code id="api-key">([^<]+)</code>', response.content.decode())
    assert match, "the page shows no key"
    return match.group(1)


def issue_through_admin(client, merchant: Merchant, **fields):
    """The issue-key form as the page posts it: a name, scopes, optional store and expiry."""
    data = {"name": "Shopify app", "scopes": ["read", "write"], "store": "", "expires_at": ""}
    return client.post(issue_key_url(merchant), {**data, **fields, "apply": "Confirm"})


def test_issue_key_page_shows_the_clear_key_once(ops_client, ops_user):
    merchant = MerchantFactory(live=True)

    response = issue_through_admin(ops_client, merchant, scopes=["read", "adjust"])

    assert response.status_code == 200
    raw_key = shown_key(response)
    api_key = MerchantAPIKey.objects.get(merchant=merchant)
    assert raw_key.startswith(f"{api_key.prefix}.")
    assert api_key.name == "Shopify app"
    assert api_key.scopes == [Scope.ADJUST, Scope.READ]
    assert api_key.created_by == ops_user
    event = merchant.events.first()
    assert event.kind == MerchantEvent.Kind.API_KEY_ISSUED
    assert event.actor == ops_user
    assert raw_key not in event.reason
    # Neither the merchant's page nor the key's page shows it again.
    assert raw_key not in ops_client.get(change_url(merchant)).content.decode()
    key_page = ops_client.get(reverse("admin:merchants_merchantapikey_change", args=[api_key.pk]))
    assert key_page.status_code == 200
    assert raw_key not in key_page.content.decode()


def test_issued_key_is_stored_only_as_a_hash(ops_client):
    merchant = MerchantFactory(live=True)
    raw_key = shown_key(issue_through_admin(ops_client, merchant))
    secret = raw_key.partition(".")[2]

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {MerchantAPIKey._meta.db_table}")
        rows = cursor.fetchall()

    assert len(rows) == 1
    for column in rows[0]:
        assert raw_key not in str(column)
        assert secret not in str(column)
    assert MerchantAPIKey.objects.get().is_valid(raw_key)


def test_issued_key_authenticates_against_the_api(ops_client):
    merchant = MerchantFactory(live=True)
    raw_key = shown_key(issue_through_admin(ops_client, merchant))

    response = api_client(raw_key).get("/api/v1/merchant/")

    assert response.status_code == 200
    assert response.json()["slug"] == merchant.slug


def test_issue_key_can_bind_the_key_to_one_of_the_merchants_stores(ops_client):
    merchant = MerchantFactory(live=True)
    store, _ = stores.store_create(
        merchant=merchant, name="Ours", platform="custom", domain="ours.example.com", actor=SYSTEM
    )

    response = issue_through_admin(ops_client, merchant, store=str(store.pk))

    assert response.status_code == 200
    assert MerchantAPIKey.objects.get().store == store


def test_issue_key_refuses_a_store_of_another_merchant(ops_client):
    merchant = MerchantFactory(live=True)
    other = MerchantFactory(live=True)
    foreign_store, _ = stores.store_create(
        merchant=other, name="Theirs", platform="custom", domain="theirs.example.com", actor=SYSTEM
    )

    response = issue_through_admin(ops_client, merchant, store=str(foreign_store.pk))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not MerchantAPIKey.objects.exists()


def test_issue_key_to_a_rejected_merchant_shows_the_error_and_issues_nothing(ops_client):
    merchant = at_status(MerchantStatus.REJECTED)

    response = issue_through_admin(ops_client, merchant)

    assert response.status_code == 200
    assert "A rejected merchant cannot get API keys." in response.content.decode()
    assert not MerchantAPIKey.objects.exists()


# -- API key admin -----------------------------------------------------------------------


KEY_CHANGELIST = "admin:merchants_merchantapikey_changelist"


def test_revoke_action_first_asks_for_confirmation_and_leaves_the_key_working(ops_client):
    api_key, raw_key = issue_key(MerchantFactory(live=True))

    response = ops_client.post(
        reverse(KEY_CHANGELIST),
        {"action": "revoke", "index": "0", "_selected_action": [api_key.pk]},
    )

    assert response.status_code == 200
    assert api_key.prefix in response.content.decode()
    data = form_data(response)
    assert data["action"] == ["revoke"]
    assert data["_selected_action"] == [api_key.pk]
    assert "reason" in data
    api_key.refresh_from_db()
    assert not api_key.revoked
    assert api_client(raw_key).get("/api/v1/merchant/").status_code == 200


def test_revoke_action_revokes_the_key_records_it_and_the_api_refuses_it(ops_client, ops_user):
    merchant = MerchantFactory(live=True)
    api_key, raw_key = issue_key(merchant, name="POS")
    assert api_client(raw_key).get("/api/v1/merchant/").status_code == 200

    response = ops_client.post(
        reverse(KEY_CHANGELIST),
        {
            "action": "revoke",
            "_selected_action": [api_key.pk],
            "reason": "leaked in a support ticket",
            "apply": "Confirm",
        },
    )

    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked
    assert api_key.revoked_at is not None
    event = merchant.events.first()
    assert event.kind == MerchantEvent.Kind.API_KEY_REVOKED
    assert event.reason == f"{api_key.prefix} (POS): leaked in a support ticket"
    assert event.actor == ops_user
    assert messages_of(response) == ["1 key(s) revoked."]
    assert api_client(raw_key).get("/api/v1/merchant/").status_code == 401


def test_api_keys_cannot_be_added_from_the_key_admin(admin_client):
    assert admin_client.get(reverse("admin:merchants_merchantapikey_add")).status_code == 403
    changelist = admin_client.get(reverse(KEY_CHANGELIST))
    assert changelist.status_code == 200
    assert not changelist.context["has_add_permission"]


# -- store admin -------------------------------------------------------------------------


def raw_webhook_secret(store: Store) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT webhook_secret FROM {Store._meta.db_table} WHERE id = %s", [store.pk]
        )
        return cursor.fetchone()[0]


def add_store_through_admin(client, merchant: Merchant, **fields):
    data = form_data(client.get(reverse("admin:merchants_store_add")), "store_form")
    data.update(
        merchant=[str(merchant.pk)],
        name=["Main shop"],
        platform=["shopify"],
        domain=["Shop.Example.com "],
        _save=["Save"],
    )
    data.update({name: [value] for name, value in fields.items()})
    return client.post(reverse("admin:merchants_store_add"), data)


def test_adding_a_store_with_no_secret_generates_one_stored_encrypted(ops_client):
    merchant = MerchantFactory(live=True)

    response = add_store_through_admin(ops_client, merchant, new_webhook_secret="")

    assert response.status_code == 302, response.content
    store = Store.objects.get(merchant=merchant)
    assert store.domain == "shop.example.com"
    assert len(store.webhook_secret) >= 32
    raw = raw_webhook_secret(store)
    assert raw != store.webhook_secret
    assert store.webhook_secret not in raw
    assert decrypt_text(raw) == store.webhook_secret


def test_adding_a_store_keeps_the_secret_the_platform_issued(ops_client):
    merchant = MerchantFactory(live=True)

    add_store_through_admin(ops_client, merchant, new_webhook_secret="shpss_platform_secret")

    store = Store.objects.get(merchant=merchant)
    assert store.webhook_secret == "shpss_platform_secret"
    assert "shpss_platform_secret" not in raw_webhook_secret(store)


def test_editing_a_store_with_a_blank_secret_keeps_the_current_one(ops_client):
    merchant = MerchantFactory(live=True)
    store, secret = stores.store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="s.example.com", actor=SYSTEM
    )
    url = reverse("admin:merchants_store_change", args=[store.pk])
    data = form_data(ops_client.get(url), "store_form")
    assert data["new_webhook_secret"] == [""]  # never rendered back
    data.update(name=["Renamed shop"], _save=["Save"])

    response = ops_client.post(url, data)

    assert response.status_code == 302, response.content
    store.refresh_from_db()
    assert store.name == "Renamed shop"
    assert store.webhook_secret == secret


def test_a_store_added_on_the_merchant_page_gets_a_secret_through_the_service(admin_client):
    merchant = MerchantFactory(live=True)
    data = form_data(admin_client.get(change_url(merchant)), "merchant_form")
    index = int(data["stores-TOTAL_FORMS"][0])
    data["stores-TOTAL_FORMS"] = [str(index + 1)]
    for name, value in {
        "name": "Second shop",
        "platform": "woocommerce",
        "domain": "two.example.com",
        "is_active": "on",
        "new_webhook_secret": "wc_platform_secret",
    }.items():
        data[f"stores-{index}-{name}"] = [value]
    data["_save"] = ["Save"]

    response = admin_client.post(change_url(merchant), data)

    assert response.status_code == 302, response.content[:500]
    store = Store.objects.get(merchant=merchant, name="Second shop")
    assert store.webhook_secret == "wc_platform_secret"
    assert "wc_platform_secret" not in raw_webhook_secret(store)


def test_rotate_webhook_secret_action_shows_the_new_secret_once(ops_client):
    merchant = MerchantFactory(live=True)
    store, old_secret = stores.store_create(
        merchant=merchant, name="Shop", platform="shopify", domain="s.example.com", actor=SYSTEM
    )

    response = ops_client.post(
        reverse("admin:merchants_store_changelist"),
        {"action": "rotate_webhook_secret", "index": "0", "_selected_action": [store.pk]},
    )

    assert response.status_code == 200
    store.refresh_from_db()
    assert store.webhook_secret != old_secret
    assert f">{store.webhook_secret}</code>" in response.content.decode()
    assert decrypt_text(raw_webhook_secret(store)) == store.webhook_secret
    store_page = ops_client.get(reverse("admin:merchants_store_change", args=[store.pk]))
    assert store.webhook_secret not in store_page.content.decode()


def test_merchants_cannot_be_deleted_only_offboarded(admin_client):
    merchant = MerchantFactory(live=True)

    response = admin_client.get(reverse("admin:merchants_merchant_delete", args=[merchant.pk]))

    assert response.status_code == 403
    assert Merchant.objects.filter(pk=merchant.pk).exists()


# -- permissions -------------------------------------------------------------------------


@pytest.fixture
def finance_client(client):
    login(client, staff_in("Finance"))
    return client


def test_finance_staff_can_view_merchants(finance_client):
    merchant = MerchantFactory(live=True)

    changelist = finance_client.get(reverse(CHANGELIST))
    change_page = finance_client.get(change_url(merchant))

    assert changelist.status_code == 200
    assert listed(changelist) == {merchant.slug}
    assert change_page.status_code == 200
    assert change_page.context["title"] == "View merchant"


def test_finance_staff_are_not_offered_the_transition_actions(finance_client):
    MerchantFactory()

    response = finance_client.get(reverse(CHANGELIST))

    action_form = response.context["action_form"]
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert not any(name.startswith("transition_to_") for name in offered)
    assert "tick_checklist" not in offered


def test_finance_staff_get_403_on_the_transition_page(finance_client):
    merchant = at_status(MerchantStatus.APPROVED, checklist_done=True)
    url = transition_url(merchant, MerchantStatus.LIVE)

    assert finance_client.get(url).status_code == 403
    assert finance_client.post(url, {"reason": "launch"}).status_code == 403
    assert status_of(merchant) == MerchantStatus.APPROVED


def test_finance_staff_cannot_move_a_merchant_through_the_action(finance_client):
    merchant = MerchantFactory()

    post_action(finance_client, "transition_to_in_review", [merchant], reason="x", apply="Confirm")

    assert status_of(merchant) == MerchantStatus.APPLIED


def test_finance_staff_get_403_on_the_checklist_and_issue_key_pages(finance_client):
    merchant = MerchantFactory(live=True)

    assert finance_client.get(checklist_url(merchant)).status_code == 403
    assert (
        finance_client.post(issue_key_url(merchant), {"name": "x", "scopes": ["read"]}).status_code
        == 403
    )
    assert not MerchantAPIKey.objects.exists()


def test_staff_without_a_group_cannot_see_the_merchant_changelist(client):
    login(client, StaffFactory())
    MerchantFactory()

    assert client.get(reverse(CHANGELIST)).status_code == 403


def test_non_staff_users_are_sent_to_the_login_page(client):
    login(client, UserFactory())

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))

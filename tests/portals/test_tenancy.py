"""Cross-tenant harness: a signed-in user of merchant B never reaches merchant A's data
through any portal URL.

``TABLE`` has one row per URL of the ``portals`` namespace (read from Django's resolver:
a new portal URL without a row fails ``test_every_portal_url_has_a_row``). A row is the
URL's arguments for an object of merchant A (``None`` for a page without arguments). B's
owner, who may open every page, asks for A's object: 404, by GET and by POST, and A's
object is unchanged. A page without arguments must show B's data, never A's. Guessed and
nonexistent ids are 404 too.
"""

from collections.abc import Callable

import pytest
from django.urls import reverse

from merchants.models import Invoice, MerchantMembership
from tests.portals.conftest import Side
from tests.portals.factories import signed_in
from tests.portals.urltable import portal_url_names

pytestmark = pytest.mark.django_db

Args = Callable[[Side], dict] | None

TABLE: dict[str, Args] = {
    "dashboard": None,
    "choose": None,
    "brand_css": None,
    "members": None,
    "member": lambda a: {"external_id": a.member.external_id},
    "team": None,
    "team_role": lambda a: {"membership_id": a.membership("analyst").pk},
    "team_remove": lambda a: {"membership_id": a.membership("analyst").pk},
    "account": None,
    "report_csv": None,
    "report_zip": None,
    "monthly_reports": None,
    "monthly_report_draft": None,
    "referrals": None,
    "monthly_report_pdf": lambda a: {"public_id": a.monthly_report().public_id},
    "invoices": None,
    "member_exports": None,
    "member_export": lambda a: {"public_id": member_export(a).public_id},
    "invoice_pdf": lambda a: {"public_id": a.invoice().public_id},
    "webhooks": None,
    "webhook": lambda a: {"endpoint_id": webhook_endpoint(a).pk},
    "webhook_manage": lambda a: {"endpoint_id": webhook_endpoint(a).pk},
    "view_as_end": None,
}

# URLs whose arguments name no object (a table of the report): like a page without
# arguments, B gets B's own figures.
OWN_ARGS: dict[str, dict] = {"report_csv": {"table": "points"}}
# Pages that only take a POST (a GET is 405 for everyone).
POST_ONLY = {"monthly_report_draft", "view_as_end"}

# Arguments that name nothing of anyone's: each URL with arguments, and what to guess.
GUESSES: dict[str, list[dict]] = {
    "member": [{"external_id": "no-such-member"}, {"external_id": "0"}],
    "team_role": [{"membership_id": 999_999_999}, {"membership_id": 0}],
    "team_remove": [{"membership_id": 999_999_999}, {"membership_id": 0}],
    "invoice_pdf": [
        {"public_id": "00000000-0000-0000-0000-000000000000"},
        {"public_id": "3f1d2c4b-8a7e-4c55-9b0a-1e2f3a4b5c6d"},
    ],
    "webhook": [{"endpoint_id": 999_999_999}, {"endpoint_id": 0}],
    "member_export": [
        {"public_id": "00000000-0000-0000-0000-000000000000"},
        {"public_id": "5b2c0a9e-3f41-4d8e-9c6a-7e1f2d3c4b5a"},
    ],
    "webhook_manage": [{"endpoint_id": 999_999_999}, {"endpoint_id": 0}],
    "monthly_report_pdf": [
        {"public_id": "00000000-0000-0000-0000-000000000000"},
        {"public_id": "7d6e1c8a-5b1f-4f43-9a57-2f3b7d2c9e11"},
    ],
}


def member_export(side: Side):
    """The side's members CSV of today (made once)."""
    from django.utils import timezone

    from portals.member_exports import member_export_make
    from portals.models import MemberExport

    return member_export_make(merchant=side.merchant, now=timezone.now()) or (
        MemberExport.objects.get(merchant=side.merchant)
    )


def webhook_endpoint(side: Side):
    """The side's webhook endpoint (made once)."""
    from core.actors import SYSTEM
    from merchants.models import WebhookEndpoint
    from merchants.services.webhook_endpoints import webhook_endpoint_create

    endpoint = WebhookEndpoint.objects.filter(merchant=side.merchant).first()
    if endpoint is None:
        endpoint, _ = webhook_endpoint_create(
            merchant=side.merchant,
            url=f"http://127.0.0.1:9999/{side.merchant.slug}",
            event_types=["member.created"],
            actor=SYSTEM,
        )
    return endpoint


WITH_ARGS = sorted(name for name, args in TABLE.items() if args is not None)
WITHOUT_ARGS = sorted(name for name, args in TABLE.items() if args is None)


def markers(side: Side) -> list[str]:
    """Text only ``side``'s pages show."""
    return [
        side.merchant.name,
        side.member.external_id,
        side.member.email,
        side.owner.email,
        *Invoice.objects.filter(merchant=side.merchant)
        .exclude(number="")
        .values_list("number", flat=True),
    ]


def test_every_portal_url_has_a_row():
    names = portal_url_names()
    assert sorted(names - set(TABLE)) == [], "portal URLs with no row in TABLE"
    assert sorted(set(TABLE) - names) == [], "rows of URLs that do not exist"
    assert set(GUESSES) == set(WITH_ARGS)


@pytest.mark.parametrize("name", WITH_ARGS)
def test_another_merchants_object_is_404_by_get_and_post(pair, name):
    a, b = pair
    client = signed_in(b.owner)
    url = reverse(f"portals:{name}", kwargs=TABLE[name](a))
    memberships = list(MerchantMembership.objects.filter(merchant=a.merchant).values("pk", "role"))

    got = client.get(url)
    posted = client.post(url, {"role": "owner"})

    assert got.status_code == 404
    assert posted.status_code == 404
    for text in markers(a):
        assert text not in got.content.decode()
    assert list(MerchantMembership.objects.filter(merchant=a.merchant).values("pk", "role")) == (
        memberships
    )


@pytest.mark.parametrize("name", WITH_ARGS)
def test_the_same_url_for_ones_own_object_is_not_404(pair, name):
    """The control: the row's arguments are right, so the 404 above is the tenancy's."""
    a, _ = pair
    client = signed_in(a.owner)
    assert client.get(reverse(f"portals:{name}", kwargs=TABLE[name](a))).status_code == 200


@pytest.mark.parametrize("name", WITH_ARGS)
def test_guessed_and_nonexistent_ids_are_404(pair, name):
    _, b = pair
    client = signed_in(b.owner)
    for kwargs in GUESSES[name]:
        assert client.get(reverse(f"portals:{name}", kwargs=kwargs)).status_code == 404


@pytest.mark.parametrize("name", WITHOUT_ARGS)
def test_pages_without_arguments_show_only_the_users_merchant(pair, name):
    a, b = pair
    client = signed_in(b.owner)
    url = reverse(f"portals:{name}", kwargs=OWN_ARGS.get(name))
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
        response = client.post(url, follow=True)
    else:
        response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode(errors="replace")
    for text in markers(a):
        assert text not in page


def test_an_unknown_report_table_is_404(pair):
    _, b = pair
    client = signed_in(b.analyst)
    for table in ("nope", "points-x", "members_by_tier"):
        assert client.get(reverse("portals:report_csv", args=[table])).status_code == 404


def test_the_member_list_search_finds_nothing_of_another_merchant(pair):
    a, b = pair
    client = signed_in(b.support)
    for query in (a.member.external_id, a.member.email, "alpha"):
        response = client.get(reverse("portals:members"), {"q": query})
        assert response.context["page"].paginator.count == 0
        assert reverse("portals:member", args=[a.member.external_id]) not in (
            response.content.decode()
        )
    page = client.get(reverse("portals:members")).content.decode()
    assert b.member.external_id in page


def test_a_merchant_parameter_in_the_query_changes_nothing(pair):
    a, b = pair
    client = signed_in(b.owner)
    for param in ("merchant", "merchant_id", "membership"):
        page = client.get(
            reverse("portals:members"), {param: a.merchant.pk, "q": ""}
        ).content.decode()
        assert b.member.external_id in page
        assert a.member.external_id not in page

"""Any two related records are at most two clicks apart in the admin: from a record's page,
following its real links (a link to the other record, or to a list that shows it), on the
demo data."""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from customercare.models import Ticket
from fulfillment.models import Redemption, SupplierOrder
from loyalty.models import AchievementCompletion, LedgerEntry, Member, Order, Referral, Refund
from merchants.models import Invoice, MerchantAPIKey, MerchantMembership, Store

pytestmark = pytest.mark.seeded_demo

HREF = re.compile(r'href="(/admin/[^"#]*)"')
# Links that lead away from the records: signing out, the sidebar's lists and the
# page's own sorting, history and add pages.
SKIP = re.compile(r"/admin/(logout|password_change|jsi18n)|/add/|/history/|_popup=")


def page_of(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[quote(obj.pk)])


def links(client, url: str, cache: dict) -> set[str]:
    if url not in cache:
        response = client.get(url)
        assert response.status_code == 200, url
        cache[url] = {
            href.replace("&amp;", "&")
            for href in HREF.findall(response.content.decode())
            if not SKIP.search(href)
        }
    return cache[url]


def clicks(client, start: str, target: str, cache: dict) -> int | None:
    """How many clicks from ``start`` reach ``target``'s page: 1 when ``start`` links to
    it, 2 when a page it links to does; None beyond."""
    target_path = urlsplit(target).path
    first = links(client, start, cache)
    if any(urlsplit(href).path == target_path for href in first):
        return 1
    for href in first:
        # The sidebar lists every list unfiltered: they show a page of all rows, which is
        # not a path to this record. Only links that carry a filter, or a record's page.
        if "?" not in href and href.rstrip("/").split("/")[-1] != "change":
            continue
        if any(urlsplit(next_href).path == target_path for next_href in links(client, href, cache)):
            return 2
    return None


def pairs() -> list[tuple[str, object, object]]:
    """(what, from, to) for every kind of relation the issue names, both ways, picked
    from the demo's rows."""
    member = (
        Member.objects.filter(pk__in=Redemption.objects.values("member"))
        .filter(pk__in=Ticket.objects.values("member"))
        .order_by("pk")
        .first()
    ) or Member.objects.filter(pk__in=Redemption.objects.values("member")).first()
    merchant = member.merchant
    redemption = Redemption.objects.filter(member=member).order_by("pk").first()
    order = Order.objects.filter(refunds__isnull=False).order_by("pk").first()
    ticket = Ticket.objects.filter(member__merchant=merchant).order_by("pk").first()
    found = [
        ("merchant → store", merchant, Store.objects.filter(merchant=merchant).first()),
        ("merchant → program", merchant, merchant.programs.first()),
        ("merchant → member", merchant, member),
        ("merchant → order", merchant, Order.objects.filter(merchant=merchant).first()),
        ("merchant → redemption", merchant, redemption),
        ("merchant → ticket", merchant, ticket),
        ("merchant → invoice", merchant, Invoice.objects.filter(merchant=merchant).first()),
        (
            "merchant → API key",
            merchant,
            MerchantAPIKey.objects.filter(merchant=merchant).first(),
        ),
        (
            "merchant → portal user",
            merchant,
            MerchantMembership.objects.filter(merchant=merchant).first(),
        ),
        ("member → merchant", member, merchant),
        ("member → ledger entry", member, LedgerEntry.objects.filter(member=member).first()),
        ("member → order", member, Order.objects.filter(member=member).first()),
        ("member → redemption", member, redemption),
        ("member → ticket", member, Ticket.objects.filter(member=member).first()),
        (
            "member → achievement",
            *_with(AchievementCompletion.objects.order_by("pk").first(), "member"),
        ),
        ("member → referral", *_with(Referral.objects.order_by("pk").first(), "advocate")),
        ("redemption → member", redemption, member),
        ("redemption → merchant", redemption, merchant),
        ("redemption → reward", redemption, redemption.reward),
        (
            "redemption → supplier attempt",
            redemption,
            SupplierOrder.objects.filter(redemption=redemption).first(),
        ),
        ("order → ledger entry", order, LedgerEntry.objects.filter(order=order).first()),
        ("order → refund", order, Refund.objects.filter(order=order).first()),
        ("order → member", order, order.member),
        ("ledger entry → member", *_reverse(LedgerEntry.objects.first(), "member")),
    ]
    if ticket is not None:
        found += [
            ("ticket → member", ticket, ticket.member),
            ("ticket → merchant", ticket, ticket.merchant),
        ]
    ticket_with_redemption = Ticket.objects.filter(redemption__isnull=False).first()
    if ticket_with_redemption is not None:
        found += [
            ("ticket → redemption", ticket_with_redemption, ticket_with_redemption.redemption),
            ("redemption → ticket", ticket_with_redemption.redemption, ticket_with_redemption),
        ]
    return [(what, a, b) for what, a, b in found if a is not None and b is not None]


def _with(obj, field: str) -> tuple:
    return (getattr(obj, field), obj) if obj is not None else (None, None)


def _reverse(obj, field: str) -> tuple:
    return (obj, getattr(obj, field)) if obj is not None else (None, None)


def test_every_related_pair_is_at_most_two_clicks_apart(admin_client):
    cache: dict = {}
    checked = pairs()
    too_far = [
        f"{what}: {page_of(a)} to {page_of(b)}"
        for what, a, b in checked
        if clicks(admin_client, page_of(a), page_of(b), cache) is None
    ]
    assert too_far == []
    assert len(checked) >= 24  # the demo has every kind of record the check needs

"""One search box for the ops console: a member, an order, a redemption, a ticket, a
merchant or a store, across all merchants (the provider's staff work for every one).

- **The term's shape decides the queries** (``Term``): an email (``@``) looks up members'
  emails; digits look up phones (by the end of their digits, ``loyalty.member_search``)
  and record numbers; ``#12`` a redemption's or an order's number; ``T-7K…`` (or a bare
  reference of six characters or more) the tickets whose reference starts so; anything
  else external ids (exactly, then by their start), merchants' names and slugs and
  stores' domains (a substring of three characters or more).
- **Every query is one index lookup with a LIMIT**, so its cost does not grow with the
  tables (the migrations ``*_search_indexes`` name each index; PostgreSQL only, SQLite
  scans its small embedded tables). Case never matters: ``UPPER(col)`` indexes with
  ``text_pattern_ops`` serve the exact and the prefix lookups, trigram GIN indexes on
  ``UPPER(col)`` the substrings. No query orders its rows (``order_by()`` drops the
  models' default ordering): a sort would read every match before the first five, and an
  ordered index would walk the whole table.
- **Staff see only what their group may see**: a kind of record is searched only for the
  user who may view its admin (``has_view_or_change_permission`` on the site's registry).
- At most ``PER_KIND`` rows of a kind and ``TOTAL`` in all; a term longer than any
  searched value, or with a NUL, finds nothing rather than an error.

``search`` is django-unfold's command palette callback (``UNFOLD["COMMAND"]``);
``search_page`` the same results as a page, for a browser without JavaScript (the
sidebar's box submits to it)."""

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.exceptions import NotRegistered
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from unfold.dataclasses import SearchResult

from core.admin.search import record_number
from customercare.models import Ticket
from customercare.models.tickets import reference_prefix
from fulfillment.models import Redemption
from loyalty.member_search import phone_digits, phone_search_digits
from loyalty.models import Member, Order
from merchants.models import Merchant, Store

PER_KIND = 5
TOTAL = 25
# The longest value searched (an email, 254); a longer term matches nothing.
MAX_TERM = 254
# A trigram index finds a substring of three characters or more; a prefix of fewer would
# match too many rows to be worth showing.
MIN_PART = 3


@dataclass(frozen=True)
class Term:
    """What staff typed, read for each kind of record."""

    text: str
    number: int | None  # "#12" or "12": a record's number
    numbered: bool  # "#12": only a number, never an external id's start
    email: bool
    phone_digits: str | None
    reference: str | None  # the start of a ticket reference
    public_id: uuid.UUID | None

    @property
    def long_enough(self) -> bool:
        return len(self.text) >= MIN_PART


def term_read(raw: str) -> Term | None:
    text = " ".join(raw.split())
    if not text or len(text) > MAX_TERM or "\x00" in text:
        return None
    try:
        public_id = uuid.UUID(text) if len(text) in (32, 36) else None
    except ValueError:
        public_id = None
    return Term(
        text=text,
        number=record_number(text),
        numbered=text.startswith("#"),
        email="@" in text,
        phone_digits=phone_search_digits(text),
        reference=reference_prefix(text),
        public_id=public_id,
    )


def first_rows(querysets: Iterable[QuerySet], limit: int = PER_KIND) -> list[Model]:
    """The rows of each query in turn, none twice, until there are ``limit``: a query runs
    only while the ones before it found fewer."""
    found: dict[Any, Model] = {}
    for queryset in querysets:
        if len(found) >= limit:
            break
        for row in queryset[:limit]:
            found.setdefault(row.pk, row)
    return list(found.values())[:limit]


# -- each kind: its queries, in the order they are tried, and how a row reads -------------


def members_found(term: Term) -> Iterable[QuerySet]:
    members = Member.objects.select_related("merchant").order_by()
    text = term.text
    if term.email:
        yield members.filter(email__iexact=text)  # member_email_upper
    if not term.numbered:
        yield members.filter(external_id__iexact=text)  # member_external_upper
    if term.phone_digits:
        yield members.alias(digits=phone_digits()).filter(  # member_phone_trgm
            digits__endswith=term.phone_digits
        )
    if term.long_enough and not term.numbered and term.phone_digits is None:
        yield members.filter(email__istartswith=text)  # member_email_upper
        yield members.filter(external_id__istartswith=text)  # member_external_upper


def orders_found(term: Term) -> Iterable[QuerySet]:
    orders = Order.objects.select_related("merchant", "member").order_by()
    if term.number is not None:
        yield orders.filter(pk=term.number)
    yield orders.filter(external_id__iexact=term.text)  # order_external_upper
    if term.long_enough and not term.numbered:
        yield orders.filter(external_id__istartswith=term.text)  # order_external_upper


def redemptions_found(term: Term) -> Iterable[QuerySet]:
    redemptions = Redemption.objects.select_related("merchant", "member", "reward").order_by()
    if term.number is not None:
        yield redemptions.filter(pk=term.number)
    if term.public_id is not None:
        yield redemptions.filter(public_id=term.public_id)
    yield redemptions.filter(external_id__iexact=term.text)  # redemption_external_upper
    if term.long_enough and not term.numbered:
        yield redemptions.filter(external_id__istartswith=term.text)


def tickets_found(term: Term) -> Iterable[QuerySet]:
    if term.reference:
        # The reference's unique column has Django's varchar_pattern_ops index ("_like").
        tickets = Ticket.objects.select_related("merchant").order_by()
        yield tickets.filter(reference__startswith=term.reference)


def merchants_found(term: Term) -> Iterable[QuerySet]:
    if term.long_enough:
        # merchant_name_trgm, merchant_slug_trgm: one bitmap each, ORed.
        merchants = Merchant.objects.order_by()
        yield merchants.filter(name__icontains=term.text) | merchants.filter(
            slug__icontains=term.text
        )


def stores_found(term: Term) -> Iterable[QuerySet]:
    if term.long_enough:
        stores = Store.objects.select_related("merchant").order_by()
        yield stores.filter(domain__icontains=term.text)


def _joined(*parts: str) -> str:
    return " · ".join(part for part in parts if part)


def member_result(member: Member) -> tuple[str, str]:
    who = _joined(member.full_name, member.email or member.phone) or member.external_id
    return f"{who} — {member.merchant.name}", f"Member {member.external_id}"


def order_result(order: Order) -> tuple[str, str]:
    who = order.member.full_name or order.member.email or order.member.external_id
    return f"{_joined(order.external_id, who)} — {order.merchant.name}", f"Order #{order.pk}"


def redemption_result(redemption: Redemption) -> tuple[str, str]:
    member = redemption.member
    what = f"{redemption.reward} x{redemption.quantity}"
    who = member.full_name or member.email or member.external_id
    return (
        f"{_joined(what, who)} — {redemption.merchant.name}",
        f"Redemption #{redemption.pk} ({redemption.get_status_display().lower()})",
    )


def ticket_result(ticket: Ticket) -> tuple[str, str]:
    return (
        f"{ticket.subject} — {ticket.merchant.name}",
        f"Ticket {ticket.reference} ({ticket.get_status_display().lower()})",
    )


def merchant_result(merchant: Merchant) -> tuple[str, str]:
    return _joined(merchant.name, merchant.slug), f"Merchant ({merchant.get_status_display()})"


def store_result(store: Store) -> tuple[str, str]:
    return f"{_joined(store.name, store.domain)} — {store.merchant.name}", "Store"


@dataclass(frozen=True)
class Kind:
    model: type[Model]
    title: str  # the heading of its results on the search page
    icon: str  # a Material Symbols name, as unfold's palette shows
    found: Callable[[Term], Iterable[QuerySet]]
    reads: Callable[[Any], tuple[str, str]]


KINDS = (
    Kind(Member, "Members", "person", members_found, member_result),
    Kind(Order, "Orders", "receipt_long", orders_found, order_result),
    Kind(Redemption, "Redemptions", "redeem", redemptions_found, redemption_result),
    Kind(Ticket, "Tickets", "support_agent", tickets_found, ticket_result),
    Kind(Merchant, "Merchants", "storefront", merchants_found, merchant_result),
    Kind(Store, "Stores", "language", stores_found, store_result),
)


def _site() -> AdminSite:
    from django.contrib import admin

    return admin.site


def may_view(site: AdminSite, request: HttpRequest, model: type[Model]) -> bool:
    try:
        model_admin = site.get_model_admin(model)
    except NotRegistered:
        return False
    return model_admin.has_view_or_change_permission(request)


@dataclass(frozen=True)
class Found:
    kind: Kind
    results: list[SearchResult]


def search_by_kind(request: HttpRequest, raw: str, site: AdminSite | None = None) -> list[Found]:
    """The records ``raw`` finds that the user may view, by kind."""
    site = site or _site()
    term = term_read(raw)
    if term is None:
        return []
    found: list[Found] = []
    left = TOTAL
    for kind in KINDS:
        if left <= 0:
            break
        if not may_view(site, request, kind.model):
            continue
        rows = first_rows(kind.found(term), min(PER_KIND, left))
        if not rows:
            continue
        opts = kind.model._meta
        results = []
        for row in rows:
            title, description = kind.reads(row)
            link = reverse(f"{site.name}:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
            results.append(
                SearchResult(title=title, description=description, link=link, icon=kind.icon)
            )
        found.append(Found(kind, results))
        left -= len(results)
    return found


def search(request: HttpRequest, search_term: str) -> list[SearchResult]:
    """django-unfold's command palette callback (``UNFOLD["COMMAND"]["search_callback"]``).
    unfold lowercases the term; no lookup here cares."""
    return [result for found in search_by_kind(request, search_term) for result in found.results]


def search_page(site: AdminSite, request: HttpRequest) -> TemplateResponse:
    """``/admin/search/all/?q=…``: the palette's results as a page, for a browser without
    JavaScript."""
    query = request.GET.get("q", "")
    found = search_by_kind(request, query, site) if query.strip() else []
    context = {
        **site.each_context(request),
        "title": f"Search: {query}" if query.strip() else "Search",
        "query": query,
        "searched": bool(query.strip()),
        "found": found,
        "too_long": len(query) > MAX_TERM,
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/search_all.html", context)

"""The members pages: a searchable list, and one member with balances, ledger, orders,
redemptions and tickets. Read-only, for every role on the team."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from customercare.selectors import member_ticket_list
from fulfillment.selectors import redemption_list
from loyalty.ledger_words import entry_line
from loyalty.selectors import (
    ledger_entry_list,
    member_get,
    member_search,
    order_list,
    program_active,
    tier_list,
)
from portals import roles
from portals.access import portal_view
from portals.forms import MemberFilterForm

MEMBERS_PER_PAGE = 25
# The member page shows the latest rows of each list; the admin keeps the full history.
LATEST = 50


def _points_name(merchant) -> str:
    program = program_active(merchant=merchant)
    return program.points_name if program else "points"


@portal_view(roles=roles.MEMBERS)
def member_list(request: HttpRequest) -> HttpResponse:
    merchant = request.portal.merchant
    form = MemberFilterForm(request.GET or None, tiers=tier_list(merchant=merchant))
    filters = form.cleaned_data if form.is_valid() else {}
    members = member_search(
        merchant=merchant,
        query=filters.get("q", ""),
        tier_id=filters.get("tier"),
        status=filters.get("status", ""),
    )
    page = Paginator(members, MEMBERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return TemplateResponse(
        request,
        "portals/members/list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "points_name": _points_name(merchant),
            "filtered": bool(filters and any(filters.values())),
        },
    )


@portal_view(roles=roles.MEMBERS)
def member_detail(request: HttpRequest, external_id: str) -> HttpResponse:
    merchant = request.portal.merchant
    member = member_get(merchant=merchant, external_id=external_id)
    points_name = _points_name(merchant)
    redemptions = list(redemption_list(merchant=merchant, member=member)[:LATEST])
    rewards = {str(r.public_id): r.reward.name for r in redemptions}
    entries = ledger_entry_list(merchant=merchant, member=member).select_related(
        "order", "activity"
    )[:LATEST]
    return TemplateResponse(
        request,
        "portals/members/detail.html",
        {
            "member": member,
            "points_name": points_name,
            "lines": [entry_line(e, points_name=points_name, rewards=rewards) for e in entries],
            "orders": list(order_list(merchant=merchant, member=member)[:LATEST]),
            "redemptions": redemptions,
            "tickets": list(member_ticket_list(merchant=merchant, member=member)[:LATEST]),
            "latest": LATEST,
        },
    )

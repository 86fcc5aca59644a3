"""The team page (owners only): the merchant's portal users, inviting one, changing a
role, removing someone. Every change goes through ``merchants.services.team``."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from core.exceptions import DomainError
from merchants.selectors import membership_get, membership_list
from merchants.services.team import (
    membership_may_leave_owners,
    membership_remove,
    membership_role_change,
    portal_user_invite,
)
from portals import roles
from portals.access import portal_view
from portals.forms import InviteForm, RoleForm


def _team_page(request: HttpRequest, invite: InviteForm, status: int = 200) -> HttpResponse:
    team = list(membership_list(merchant=request.portal.merchant))
    owners = sum(1 for m in team if m.role == roles.OWNER)
    rows = [
        {
            "membership": m,
            "is_you": m.user_id == request.user.pk,
            "may_leave": membership_may_leave_owners(membership=m, owners=owners),
        }
        for m in team
    ]
    return TemplateResponse(
        request, "portals/team/list.html", {"rows": rows, "invite": invite}, status=status
    )


@portal_view(roles=roles.TEAM)
def team(request: HttpRequest) -> HttpResponse:
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = portal_user_invite(
                merchant=request.portal.merchant,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.portal.actor(),
            )
        except DomainError as error:
            form.add_error("email" if error.field in (None, "email") else None, error.detail)
        else:
            messages.success(
                request,
                f"Invitation sent to {membership.user.email}. "
                "Their link to choose a password works for a few days.",
            )
            return redirect("portals:team")
    return _team_page(request, form, status=400 if form.errors else 200)


@portal_view(roles=roles.TEAM)
def team_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = membership_get(merchant=request.portal.merchant, pk=membership_id)
    form = RoleForm(request.POST or None, initial={"role": membership.role})
    if request.method == "POST" and form.is_valid():
        try:
            membership_role_change(
                merchant=request.portal.merchant,
                membership_id=membership.pk,
                role=form.cleaned_data["role"],
                actor=request.portal.actor(),
            )
        except DomainError as error:
            form.add_error("role", error.detail)
        else:
            messages.success(
                request, f"{membership.user.email} is now {form.cleaned_data['role']}."
            )
            return redirect("portals:team")
    return TemplateResponse(
        request,
        "portals/team/role.html",
        {"membership": membership, "form": form},
        status=400 if form.errors else 200,
    )


@portal_view(roles=roles.TEAM)
def team_remove(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = membership_get(merchant=request.portal.merchant, pk=membership_id)
    error = None
    if request.method == "POST":
        try:
            membership_remove(
                merchant=request.portal.merchant,
                membership_id=membership.pk,
                actor=request.portal.actor(),
            )
        except DomainError as refused:
            error = refused.detail
        else:
            messages.success(request, f"{membership.user.email} no longer has access.")
            if membership.user_id == request.user.pk:
                return redirect("portals:dashboard")
            return redirect("portals:team")
    return TemplateResponse(
        request,
        "portals/team/remove.html",
        {"membership": membership, "error": error, "is_you": membership.user_id == request.user.pk},
        status=409 if error else 200,
    )

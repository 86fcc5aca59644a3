"""Signing in to the member portal without a password, and signing out.

- From the store: ``login/store?store=<public id>&token=<widget token>``. The token is the
  storefront widget's (``integrations.widget.tokens``: the store's HMAC of the member's
  external id and an expiry at most ten minutes ahead), checked in constant time against
  the store's secrets. A good one starts the session and redirects to the home, so the
  token leaves the address bar and the history; a bad one gets a page offering the email
  sign-in.
- By email: ``login/`` asks for an address. Whatever was typed, the answer is the same
  page ("if it is a member's address, a link is on its way"), after the same work: the
  request only throttles (per address and per client address) and queues a task, for
  every well-formed address, and the task looks the member up and sends the link
  (``portals.member_signin_email``), so not even the time taken to answer tells whether
  the address is a member's. The email's link (``login/link/<token>``) is valid
  fifteen minutes; opening it shows a "Continue" button, and only its POST signs in, once,
  since mail scanners open every link of a message.
"""

import hashlib
import uuid

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from core.client_address import client_ip
from integrations.widget.exceptions import TokenRefused
from integrations.widget.tokens import token_verify
from loyalty.models import Member, MemberStatus
from merchants.models import Store
from merchants.selectors import store_webhook_secrets
from portals.member_session import (
    email_link_member,
    email_link_use,
    frame_context,
    member_sign_in,
    member_sign_out,
    public_page,
    safe_next,
)
from portals.tasks import send_member_signin_email

# Sign-in emails asked for one address, and from one client address, per window.


class EmailForm(forms.Form):
    email = forms.EmailField(label=_("Your email address"), max_length=254)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def _render(request: HttpRequest, template: str, status: int = 200, **context) -> HttpResponse:
    return render(
        request,
        f"portals/member/{template}",
        frame_context(request, request.member_frame, **context),
        status=status,
    )


def _spend(key: str, rate: tuple[int, int]) -> bool:
    """Count one request under ``key``; False once the window's budget is spent."""
    limit, seconds = rate
    cache.add(key, 0, timeout=seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between the two calls
        cache.add(key, 1, timeout=seconds)
        count = 1
    return count <= limit


def _throttled(request: HttpRequest, email: str) -> bool:
    address = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    slug = request.merchant.slug
    by_ip = _spend(
        f"member-signin-ip:{client_ip(request)}",
        settings.MEMBER_SIGNIN_IP_RATE,
    )
    by_address = _spend(
        f"member-signin-email:{slug}:{address}",
        settings.MEMBER_SIGNIN_EMAIL_RATE,
    )
    return not (by_ip and by_address)


@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def member_login(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    merchant = request.merchant
    if request.method != "POST":
        if request.member is not None:
            return HttpResponseRedirect(safe_next(request, merchant, request.GET.get("next")))
        form = EmailForm(initial={"next": request.GET.get("next", "")})
        return _render(request, "login.html", form=form)
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _render(request, "login.html", status=400, form=form)
    email = form.cleaned_data["email"]
    if _throttled(request, email):
        return _render(request, "login.html", status=429, form=form, throttled=True)
    # The same work and the same page whether or not the address is a member's: the task
    # looks the member up, and sends the message only to a member's address.
    send_member_signin_email.delay(
        merchant.pk,
        email,
        safe_next(request, merchant, form.cleaned_data["next"]),
        request.member_frame.language,
        uuid.uuid4().hex,
    )
    return _render(request, "login_sent.html", email=email)


@require_http_methods(["GET", "HEAD", "POST"])
@public_page
def member_login_link(request: HttpRequest, merchant_slug: str, token: str) -> HttpResponse:
    merchant = request.merchant
    next_path = safe_next(request, merchant, request.GET.get("next"))
    if request.method != "POST":
        if email_link_member(merchant=merchant, token=token) is None:
            return _render(request, "link_refused.html", status=400, form=EmailForm())
        return _render(request, "login_continue.html", token=token, next=next_path)
    member = email_link_use(merchant=merchant, token=token)
    if member is None:
        return _render(request, "link_refused.html", status=400, form=EmailForm())
    member_sign_in(request, member=member)
    return HttpResponseRedirect(next_path)


@require_http_methods(["GET", "HEAD"])
@public_page
def member_login_store(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    merchant = request.merchant
    store_id = _store_id(request)
    store = (
        Store.objects.filter(merchant=merchant, is_active=True, public_id=store_id).first()
        if store_id is not None
        else None
    )
    member = None
    if store is not None:
        now = timezone.now()
        try:
            verified = token_verify(
                request.GET.get("token"),
                store_public_id=store.public_id,
                secrets=store_webhook_secrets(store=store, at=now),
                at=now,
            )
        except TokenRefused:
            verified = None
        if verified is not None:
            member = Member.objects.filter(
                merchant=merchant, external_id=verified.external_id, status=MemberStatus.ACTIVE
            ).first()
    if member is None:
        return _render(request, "link_refused.html", status=400, form=EmailForm())
    member_sign_in(request, member=member)
    return HttpResponseRedirect(reverse("member:home", kwargs={"merchant_slug": merchant.slug}))


def _store_id(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.GET.get("store", ""))
    except ValueError:
        return None


@require_POST
@public_page
def member_logout(request: HttpRequest, merchant_slug: str) -> HttpResponse:
    everywhere = request.POST.get("everywhere") == "1"
    member_sign_out(request, merchant=None if everywhere else request.merchant)
    return HttpResponseRedirect(
        reverse("member:login", kwargs={"merchant_slug": request.merchant.slug}) + "?out=1"
    )

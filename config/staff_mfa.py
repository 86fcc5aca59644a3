"""The admin's second factor: a TOTP app and recovery codes for provider staff, with
django-allauth's MFA (the same ``Authenticator`` rows, code checks and recovery codes the
merchant portal's owners use); nothing here computes a code.

The sign-in, step by step:

1. Username and password: Django's admin form, with django-axes in front of it.
2. A staff user with an authenticator is *not* signed in yet: the session keeps a pending
   sign-in (who, where to go next, when it started) for ``PENDING_SECONDS``, and the code
   page asks for the app's 6-digit code or one recovery code. Only a right code signs in
   (``django.contrib.auth.login``), so django-axes forgets the failures only then.
3. A wrong code is a failed sign-in for django-axes, counted with the wrong passwords of
   that username and address (``user_login_failed``): at ``AXES_FAILURE_LIMIT`` the pair
   is locked out and the pending sign-in is dropped. Knowing the password does not buy
   more guesses: the password step never resets the count, only a complete sign-in does.
   A code is accepted once (allauth marks a used TOTP code for its whole window; a
   recovery code is spent).
4. Without an authenticator, where ``STAFF_MFA_REQUIRED`` (production by default), the
   pending sign-in goes to the enrolment page (QR code, the secret in text, a code to
   confirm), then shows the recovery codes once and signs in. The site refuses every page
   to a signed-in staff user who has none meanwhile (``mfa_satisfied``), so a session
   that predates the rule, or whose authenticator was reset, must sign in again.

Staff manage their own second factor from "Two-factor authentication" in the account menu
(set it up, new recovery codes, switch it off where it is not required); superusers reset
a colleague's from the Staff users list (``staff_second_factor_reset``).
"""

import logging
import time
from typing import Any
from urllib.parse import quote, urlencode

import segno
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret, validate_totp_code
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model, login, logout
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import LoginView
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from unfold.widgets import BASE_INPUT_CLASSES

logger = logging.getLogger(__name__)

PENDING_KEY = "staff_mfa_pending"
SECRET_KEY = "staff_mfa_secret"
# How long a password typed in stays good for the code or enrolment step.
PENDING_SECONDS = 5 * 60
# Longer than any code: a 6-digit TOTP code, an 8-digit recovery code. More is refused
# before it is compared.
CODE_MAX_LENGTH = 16


# -- who needs what ----------------------------------------------------------------------------


def required() -> bool:
    return settings.STAFF_MFA_REQUIRED


def has_totp(user: Any) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.TOTP).exists()


def mfa_satisfied(user: Any) -> bool:
    """Whether a signed-in staff user may use the admin as far as the second factor goes:
    always, unless it is required and they have none."""
    return not required() or has_totp(user)


# -- the pending sign-in -----------------------------------------------------------------------


def pending_start(request: HttpRequest, user: Any, next_url: str) -> None:
    request.session.cycle_key()
    request.session[PENDING_KEY] = {
        "user": user.pk,
        "backend": getattr(user, "backend", settings.AUTHENTICATION_BACKENDS[1]),
        "next": next_url,
        "at": int(time.time()),
    }


def pending_user(request: HttpRequest) -> Any | None:
    """The user whose password was right a moment ago, while the pending sign-in lasts."""
    pending = request.session.get(PENDING_KEY)
    if not isinstance(pending, dict):
        return None
    if int(time.time()) - int(pending.get("at", 0)) > PENDING_SECONDS:
        pending_drop(request)
        return None
    user = get_user_model().objects.filter(pk=pending.get("user")).first()
    if user is None or not (user.is_active and user.is_staff):
        pending_drop(request)
        return None
    return user


def pending_drop(request: HttpRequest) -> None:
    request.session.pop(PENDING_KEY, None)
    request.session.pop(SECRET_KEY, None)


def pending_finish(request: HttpRequest, user: Any) -> str:
    """Sign the pending user in; returns where they were going."""
    pending = request.session.get(PENDING_KEY) or {}
    next_url = pending.get("next") or reverse("admin:index")
    pending_drop(request)
    login(request, user, backend=pending.get("backend"))
    return next_url


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("admin:index")


# -- step 1: the password ----------------------------------------------------------------------


class StaffLoginView(LoginView):
    """Django's login view, which stops after the password for a staff user who has (or
    must set up) a second factor."""

    def form_valid(self, form: AdminAuthenticationForm) -> HttpResponse:
        user = form.get_user()
        if has_totp(user):
            pending_start(self.request, user, self.get_success_url())
            return HttpResponseRedirect(reverse("admin:staff_mfa_verify"))
        if required():
            pending_start(self.request, user, self.get_success_url())
            return HttpResponseRedirect(reverse("admin:staff_mfa_enrol"))
        return super().form_valid(form)


def login_view(site: Any, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The site's sign-in page: ``AdminSite.login`` with the view above."""
    if request.user.is_authenticated and request.user.is_staff and not mfa_satisfied(request.user):
        # Signed in before the second factor was required, or since reset: start again.
        logout(request)
        messages.info(request, "Sign in again to set up two-factor authentication.")
    if request.method == "GET" and site.has_permission(request):
        return HttpResponseRedirect(reverse("admin:index", current_app=site.name))
    context = {
        **site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "username": request.user.get_username(),
        **(extra_context or {}),
    }
    request.current_app = site.name
    return StaffLoginView.as_view(
        extra_context=context,
        authentication_form=site.login_form or AdminAuthenticationForm,
        template_name=site.login_template or "admin/login.html",
    )(request)


# -- step 2: the code --------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=CODE_MAX_LENGTH,
        strip=True,
        help_text="The 6-digit code of your authenticator app, or one of your recovery codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
                "class": " ".join(BASE_INPUT_CLASSES),
            }
        ),
        error_messages={
            "required": "Enter the code your authenticator app shows.",
            "max_length": "That is not a code: enter the 6 digits your app shows.",
        },
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].replace(" ", "").replace("-", "")
        if not (code.isascii() and code.isdigit()):
            raise forms.ValidationError("A code is made of digits only.")
        return code


def code_accept(user: Any, code: str) -> str | None:
    """Which of the user's authenticators accepts ``code`` (and spends it): "totp",
    "recovery_codes", or None. allauth refuses a TOTP code already used in its window."""
    for authenticator in Authenticator.objects.filter(
        user_id=user.pk, type__in=[Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES]
    ).order_by("type"):
        if authenticator.wrap().validate_code(code):
            authenticator.record_usage()
            return authenticator.type
    return None


def _code_failed(request: HttpRequest, user: Any) -> HttpResponse | None:
    """Count a wrong code as django-axes counts a wrong password; the lockout page once
    the limit is reached."""
    credentials = {"username": user.get_username()}
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    if getattr(request, "axes_locked_out", False):
        pending_drop(request)
        return get_lockout_response(request, None, credentials)
    return None


def _unauthenticated_page(
    request: HttpRequest, site: Any, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    return TemplateResponse(
        request, template, {**site.each_context(request), **context}, status=status
    )


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def verify(request: HttpRequest, site: Any) -> HttpResponse:
    user = pending_user(request)
    if user is None:
        messages.info(request, "Your sign-in took too long. Please sign in again.")
        return HttpResponseRedirect(reverse("admin:login"))
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        pending_drop(request)
        return get_lockout_response(request, None, credentials)
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid() and code_accept(user, form.cleaned_data["code"]):
            return HttpResponseRedirect(_safe_next(request, pending_finish(request, user)))
        if form.has_error("code", "required"):
            pass  # nothing typed: not an attempt
        else:
            locked = _code_failed(request, user)
            if locked is not None:
                return locked
            if form.is_valid():
                form.add_error("code", "That code is not right, or it was used already.")
    return _unauthenticated_page(
        request,
        site,
        "admin/staff_mfa/verify.html",
        {"title": "Two-factor authentication", "form": form, "username": user.get_username()},
    )


# -- enrolment ---------------------------------------------------------------------------------


def totp_url(user: Any, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code: the back office
    as the issuer, so staff tell it from a merchant portal's entry."""
    issuer = f"{settings.PROVIDER_NAME} back office"
    label = f"{issuer}:{user.get_username()}"
    params = {"secret": secret, "issuer": issuer}
    if mfa_settings.TOTP_DIGITS != 6:
        params["digits"] = mfa_settings.TOTP_DIGITS
    if mfa_settings.TOTP_PERIOD != 30:
        params["period"] = mfa_settings.TOTP_PERIOD
    return f"otpauth://totp/{quote(label)}?{urlencode(params, quote_via=quote)}"


def totp_qr_svg(url: str) -> str:
    """The QR code as an inline ``<svg>`` element (the policy allows no data: image), dark
    on white whatever the admin's theme, so a phone reads it in dark mode too."""
    return segno.make(url, error="m").svg_inline(
        omitsize=True,  # a viewBox, so the stylesheet sizes it without cropping
        border=4,
        dark="#000",
        light="#fff",
        title="QR code for your authenticator app",
    )


def _enrolling_user(request: HttpRequest, site: Any) -> Any | None:
    pending = pending_user(request)
    if pending is not None:
        return pending
    if request.user.is_authenticated and site.has_permission(request):
        return request.user
    return None


@transaction.atomic
def totp_enrol(user: Any, secret: str) -> list[str]:
    """Activate the app and the recovery codes (allauth's own), and return the codes;
    they are shown once."""
    Authenticator.objects.filter(user_id=user.pk).delete()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user)
    codes.mark_as_viewed()
    return codes.generate_codes()


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def enrol(request: HttpRequest, site: Any) -> HttpResponse:
    user = _enrolling_user(request, site)
    if user is None:
        return HttpResponseRedirect(reverse("admin:login"))
    if has_totp(user):
        if request.user.is_authenticated:
            return HttpResponseRedirect(reverse("admin:staff_mfa"))
        return HttpResponseRedirect(reverse("admin:staff_mfa_verify"))
    secret = request.session.get(SECRET_KEY)
    if not secret:
        secret = request.session[SECRET_KEY] = generate_totp_secret()
    form = CodeForm(request.POST or None)
    form.fields["code"].help_text = "The 6-digit code the app shows once you have added it."
    if request.method == "POST" and form.is_valid():
        if validate_totp_code(secret, form.cleaned_data["code"]):
            codes = totp_enrol(user, secret)
            request.session.pop(SECRET_KEY, None)
            logger.info("Staff user %s set up two-factor authentication", user.get_username())
            next_url = reverse("admin:index")
            if not request.user.is_authenticated:
                next_url = pending_finish(request, user)
            return TemplateResponse(
                request,
                "admin/staff_mfa/recovery_codes.html",
                {
                    **site.each_context(request),
                    "title": "Your recovery codes",
                    "codes": codes,
                    "next": _safe_next(request, next_url),
                },
            )
        form.add_error("code", "That code is not right: check the app's clock and try again.")
    url = totp_url(user, secret)
    return _unauthenticated_page(
        request,
        site,
        "admin/staff_mfa/enrol.html",
        {
            "title": "Set up two-factor authentication",
            "form": form,
            "secret": secret,
            "qr_svg": totp_qr_svg(url),
            "required": required(),
            "signed_in": request.user.is_authenticated,
            "username": user.get_username(),
        },
    )


# -- the staff user's own page ------------------------------------------------------------------


class PasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        max_length=4096,
        widget=forms.PasswordInput(
            attrs={"autocomplete": "current-password", "class": " ".join(BASE_INPUT_CLASSES)}
        ),
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


@sensitive_post_parameters("password")
@never_cache
def manage(request: HttpRequest, site: Any) -> HttpResponse:
    """Two-factor authentication for the signed-in staff user: its state, new recovery
    codes, and switching it off where it is not required (each with the password again)."""
    user = request.user
    totp = has_totp(user)
    form = PasswordForm(request.POST or None, user=user)
    codes: list[str] | None = None
    if request.method == "POST" and totp:
        what = request.POST.get("do")
        if what == "off" and required():
            messages.error(request, "Two-factor authentication is required here.")
            return HttpResponseRedirect(reverse("admin:staff_mfa"))
        if what in {"off", "codes"} and form.is_valid():
            if what == "off":
                Authenticator.objects.filter(user_id=user.pk).delete()
                logger.info("Staff user %s switched two-factor off", user.get_username())
                messages.success(request, "Two-factor authentication is off.")
                return HttpResponseRedirect(reverse("admin:staff_mfa"))
            codes = recovery_codes_renew(user)
            form = PasswordForm(user=user)
    rc = Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES
    ).first()
    return TemplateResponse(
        request,
        "admin/staff_mfa/manage.html",
        {
            **site.each_context(request),
            "title": "Two-factor authentication",
            "has_totp": totp,
            "required": required(),
            "form": form,
            "codes": codes,
            "unused_codes": len(rc.wrap().get_unused_codes()) if rc else 0,
        },
    )


@transaction.atomic
def recovery_codes_renew(user: Any) -> list[str]:
    Authenticator.objects.filter(user_id=user.pk, type=Authenticator.Type.RECOVERY_CODES).delete()
    codes = RecoveryCodes.activate(user)
    codes.mark_as_viewed()
    return codes.generate_codes()


def staff_second_factor_reset(*, user: Any, actor: Any) -> int:
    """Remove a staff user's authenticator and recovery codes (they lost their phone): with
    ``STAFF_MFA_REQUIRED`` they set up a new one at their next sign-in. Returns how many
    were removed; the caller records who did it."""
    removed, _ = Authenticator.objects.filter(user_id=user.pk).delete()
    logger.warning(
        "Second factor of staff user %s reset by %s", user.get_username(), actor.get_username()
    )
    return removed


def account_link(request: HttpRequest) -> str:
    return reverse("admin:staff_mfa")


def password_change_link(request: HttpRequest) -> str:
    return reverse("admin:password_change")


def urls(site: Any) -> list:
    def bind(view):
        def bound(request: HttpRequest) -> HttpResponse:
            return view(request, site)

        return bound

    return [
        path("two-factor/", site.admin_view(bind(manage)), name="staff_mfa"),
        path("two-factor/code/", bind(verify), name="staff_mfa_verify"),
        path("two-factor/set-up/", bind(enrol), name="staff_mfa_enrol"),
    ]

"""The webhook pages (owners only): the merchant's endpoints, adding one (its secret
shown once), editing, disabling and enabling, rotating the secret (shown once), sending
a test event, the delivery log and replays. Every change goes through
``merchants.services.webhook_endpoints``; another merchant's endpoint is a 404 (the selector)."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from core.exceptions import DomainError
from merchants.models import WebhookEndpoint
from merchants.services import webhook_endpoints
from merchants.webhooks.selectors import (
    webhook_attempt_list,
    webhook_deliveries_of,
    webhook_endpoint_get,
    webhook_endpoint_list,
)
from portals import roles
from portals.access import portal_view
from portals.webhook_forms import DisableForm, EndpointForm, ReplayForm


def _refuse(form, error: DomainError) -> None:
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.detail)


@portal_view(roles=roles.WEBHOOKS)
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    secret = created = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = webhook_endpoints.webhook_endpoint_create(
                merchant=request.portal.merchant,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                actor=request.portal.actor(),
            )
        except DomainError as error:
            _refuse(form, error)
        else:
            form = EndpointForm()
    return TemplateResponse(
        request,
        "portals/webhooks/list.html",
        {
            "endpoints": list(webhook_endpoint_list(merchant=request.portal.merchant)),
            "form": form,
            "created": created,
            "secret": secret,
        },
        status=400 if form.errors else 200,
    )


def _detail(
    request: HttpRequest, endpoint: WebhookEndpoint, form: EndpointForm, status: int = 200
) -> HttpResponse:
    attempts = webhook_attempt_list(endpoint=endpoint)
    return TemplateResponse(
        request,
        "portals/webhooks/detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "rows": [
                {
                    "attempt": a,
                    "may_replay": webhook_endpoints.webhook_delivery_may_replay(
                        delivery=a.delivery
                    ),
                }
                for a in attempts
            ],
        },
        status=status,
    )


@portal_view(roles=roles.WEBHOOKS)
def webhook(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = webhook_endpoint_get(merchant=request.portal.merchant, pk=endpoint_id)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
    }
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            webhook_endpoints.webhook_endpoint_update(
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
                actor=request.portal.actor(),
            )
        except DomainError as error:
            endpoint.refresh_from_db()
            _refuse(form, error)
        else:
            messages.success(request, "The endpoint is saved.")
            return redirect("portals:webhook", endpoint.pk)
    return _detail(request, endpoint, form, status=400 if form.errors else 200)


@portal_view(roles=roles.WEBHOOKS)
def webhook_manage(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    """Disable or enable, rotate the secret, send a test event, replay deliveries."""
    endpoint = webhook_endpoint_get(merchant=request.portal.merchant, pk=endpoint_id)
    disable = DisableForm(request.POST if request.POST.get("action") == "disable" else None)
    context = {"endpoint": endpoint, "disable": disable, "secret": None, "error": None}
    if request.method != "POST":
        return TemplateResponse(request, "portals/webhooks/manage.html", context)
    action, actor = request.POST.get("action"), request.portal.actor()
    try:
        if action == "disable" and disable.is_valid():
            webhook_endpoints.webhook_endpoint_disable(
                endpoint=endpoint, reason=disable.cleaned_data["reason"], actor=actor
            )
            messages.success(request, "The endpoint is disabled: nothing is sent to it.")
        elif action == "enable":
            webhook_endpoints.webhook_endpoint_enable(endpoint=endpoint, actor=actor)
            messages.success(request, "The endpoint is enabled.")
        elif action == "rotate":
            context["secret"] = webhook_endpoints.webhook_endpoint_secret_rotate(
                endpoint=endpoint, actor=actor
            )
            return TemplateResponse(request, "portals/webhooks/manage.html", context)
        elif action == "test":
            webhook_endpoints.webhook_test_send(endpoint=endpoint, actor=actor)
            messages.success(request, "A test event is on its way; see the delivery log.")
        elif action == "replay":
            replayed = _replay(request, endpoint)
            messages.success(request, f"{replayed} event(s) sent again.")
        else:
            return TemplateResponse(request, "portals/webhooks/manage.html", context, status=400)
    except DomainError as error:
        context["error"] = error.detail
        return TemplateResponse(request, "portals/webhooks/manage.html", context, status=409)
    return redirect("portals:webhook", endpoint.pk)


def _replay(request: HttpRequest, endpoint: WebhookEndpoint) -> int:
    ids = [int(value) for value in request.POST.getlist("deliveries") if value.isdigit()]
    form = ReplayForm({"deliveries": ids}, choices=ids)
    if not form.is_valid():
        return 0
    replayed = 0
    for delivery in webhook_deliveries_of(endpoint=endpoint, pks=form.cleaned_data["deliveries"]):
        if webhook_endpoints.webhook_delivery_may_replay(delivery=delivery):
            webhook_endpoints.webhook_delivery_replay(
                delivery=delivery, actor=request.portal.actor()
            )
            replayed += 1
    return replayed

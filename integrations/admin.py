"""The inbox of platform webhooks: each delivery with what became of it, a replay, and each
store's connection page (the URL and secret to paste into the platform, the topics to
subscribe, and the latest deliveries, which show the connection works)."""

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from core.actors import Actor
from core.admin.actions import ConfirmActions
from core.admin.buttons import NO_SAVE_BUTTONS
from core.admin.rights import page_action_allowed
from integrations import services
from integrations.models import InboxDelivery, InboxStatus
from merchants.models import Platform, Store

REPLAY_PERMISSION = "integrations.replay_inboxdelivery"
SECRET_PERMISSION = "merchants.set_webhook_secret"

SETUP = {
    Platform.SHOPIFY: {
        "steps": [
            "In the Shopify admin, open Settings → Notifications → Webhooks (or the app's "
            "configuration, for a Shopify app).",
            "For each topic below, create a webhook: format JSON, the URL below, the latest "
            "API version.",
            "Shopify signs every webhook with one secret and shows it under the list of "
            "webhooks (an app's client secret for an app): paste it into this store's "
            "“new webhook secret” field. The secret below is then that one.",
        ],
        "topics": [
            ("orders/create", "earns when the order is paid"),
            ("orders/paid", "earns a paid order"),
            ("orders/fulfilled", "earns, for stores that earn on fulfilment"),
            ("orders/cancelled", "takes back what the order earned"),
            ("refunds/create", "takes back the refunded share"),
            ("customers/create", "creates the member"),
            ("customers/update", "updates the member"),
            ("customers/data_request", "opens a ticket with the member's data (mandatory)"),
            ("customers/redact", "anonymises the member (mandatory)"),
            ("shop/redact", "stops the store and erases its data (mandatory)"),
        ],
    },
    Platform.WOOCOMMERCE: {
        "steps": [
            "In WordPress, open WooCommerce → Settings → Advanced → Webhooks → Add webhook.",
            "For each topic below: status Active, the URL below as the delivery URL, the "
            "secret below, API version WP REST API Integration v3.",
            "Save: WooCommerce pings the URL once, and the ping is answered at once.",
        ],
        "topics": [
            ("Order created", "earns when paid"),
            ("Order updated", "earns once paid, takes back refunds and cancellations"),
            ("Customer created", "creates the member"),
            ("Customer updated", "updates the member"),
        ],
    },
}


WEBHOOK_URL_NAMES = {
    Platform.SHOPIFY: "api-shopify-webhooks",
    Platform.WOOCOMMERCE: "api-woocommerce-webhooks",
}


class ReplayForm(forms.Form):
    pass


def webhook_url(request: HttpRequest, store: Store) -> str | None:
    name = {
        Platform.SHOPIFY: "api-shopify-webhooks",
        Platform.WOOCOMMERCE: "api-woocommerce-webhooks",
    }
    if store.platform not in name:
        return None
    return request.build_absolute_uri(reverse(name[store.platform], args=[store.public_id]))


@admin.register(InboxDelivery)
class InboxDeliveryAdmin(ConfirmActions, ModelAdmin):
    list_display = ["received_at", "store_link", "topic", "outcome_badge", "attempts"]
    list_filter = ["status", "received_at"]
    list_select_related = ["store", "merchant"]
    search_fields = ["=delivery_id", "topic", "store__domain", "store__name", "merchant__name"]
    show_full_result_count = False
    actions = ["replay"]
    page_actions = {"replay": REPLAY_PERMISSION}
    change_form_template = "admin/integrations/inboxdelivery/change_form.html"
    fieldsets = [
        (None, {"fields": ["store_link", "merchant", "topic", "delivery_id", "received_at"]}),
        ("Outcome", {"fields": ["outcome_badge", "result_text", "attempts", "processed_at"]}),
        ("As received", {"fields": ["headers_text", "body_text"]}),
    ]

    class Media:
        css = {"all": ["integrations/admin.css"]}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY_PERMISSION)

    @admin.display(description="Store", ordering="store__name")
    def store_link(self, delivery: InboxDelivery) -> str:
        return format_html(
            '<a href="{}">{}</a> <a href="{}">(connection)</a>',
            reverse("admin:merchants_store_change", args=[delivery.store_id]),
            delivery.store.name,
            reverse("admin:integrations_inboxdelivery_connect", args=[delivery.store_id]),
        )

    @admin.display(description="Outcome", ordering="status")
    def outcome_badge(self, delivery: InboxDelivery) -> str:
        text = delivery.outcome or "Waiting to be processed."
        if len(text) > 160:
            text = text[:157] + "…"
        return format_html(
            '<span class="inbox-status inbox-status--{}">{}</span> {}',
            delivery.status,
            delivery.get_status_display(),
            text,
        )

    @admin.display(description="What it touched")
    def result_text(self, delivery: InboxDelivery) -> str:
        labels = {"order": "Order", "member": "Member", "ticket": "Ticket", "refunds": "Refunds"}
        parts = [
            f"{labels[key]}: {', '.join(value) if isinstance(value, list) else value}"
            for key, value in delivery.result.items()
            if key in labels and value
        ]
        return "; ".join(parts) or "-"

    @admin.display(description="Headers")
    def headers_text(self, delivery: InboxDelivery) -> str:
        return format_html(
            '<pre tabindex="0" aria-label="Headers">{}</pre>',
            "\n".join(f"{k}: {v}" for k, v in sorted(delivery.headers.items())),
        )

    @admin.display(description="Body")
    def body_text(self, delivery: InboxDelivery) -> str:
        try:
            shown = json.dumps(json.loads(delivery.body), indent=2, ensure_ascii=False)
        except ValueError:
            shown = delivery.body
        return format_html(
            '<pre class="inbox-body" tabindex="0" aria-label="Body">{}</pre>', shown[:100_000]
        )

    @admin.action(description="Process again", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet) -> TemplateResponse | None:
        actor = Actor.staff(request.user)
        return self.confirm_then_apply(
            request,
            queryset,
            form=self.confirm_form(ReplayForm, request),
            title="Process these deliveries again?",
            action="replay",
            call=lambda delivery, _: services.delivery_replay(delivery=delivery, actor=actor),
            summary=lambda n: (
                f"{n} deliver{'y' if n == 1 else 'ies'} queued to be processed again."
            ),
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None
    ) -> HttpResponse:
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        delivery = self.get_object(request, object_id)
        if delivery is not None and page_action_allowed(self.page_actions, request, "replay"):
            extra["staff_actions"] = [
                (
                    reverse("admin:integrations_inboxdelivery_act", args=[delivery.pk, "replay"]),
                    "Process again",
                )
            ]
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self) -> list:
        return [
            *self.page_action_urls(),
            path(
                "connect/<int:store_id>/",
                self.admin_site.admin_view(self.connect_view),
                name="integrations_inboxdelivery_connect",
            ),
            *super().get_urls(),
        ]

    def connect_view(self, request: HttpRequest, store_id: int) -> HttpResponse:
        """A store's connection page: what to paste into the platform, and whether
        deliveries arrive."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        store = get_object_or_404(Store.objects.select_related("merchant"), pk=store_id)
        recent = InboxDelivery.objects.filter(store=store).order_by("-received_at", "-id")[:10]
        show_secret = request.user.has_perm(SECRET_PERMISSION)
        if store.platform not in SETUP:
            messages.warning(
                request,
                f"{store.get_platform_display()} stores send orders through the store API: "
                "they have no webhooks to set up.",
            )
        return TemplateResponse(
            request,
            "admin/integrations/inboxdelivery/connect.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": f"Connect {store.name}",
                "store": store,
                "url": webhook_url(request, store),
                "secret": store.webhook_secret if show_secret else None,
                "setup": SETUP.get(store.platform),
                "recent": recent,
                "inbox_url": reverse("admin:integrations_inboxdelivery_changelist")
                + f"?store__id__exact={store.pk}",
                "waiting": InboxStatus.RECEIVED,
            },
        )

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        return lookup == "store__id__exact" or super().lookup_allowed(lookup, value, request)

"""Webhook endpoints and their deliveries, for Operations: the endpoint with its latest
attempts, disabling and enabling, a test event, replays. The merchant's owners add and
edit endpoints in the portal (the secret is theirs: it is never shown here). Every
action calls a service in ``merchants.services.webhook_endpoints``."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from core.actors import Actor
from core.admin.filters import queue_filter
from core.exceptions import DomainError
from merchants.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from merchants.queues import deliveries_failing
from merchants.services import webhook_endpoints

REPLAY = "merchants.replay_webhookdelivery"


class AttemptInline(TabularInline):
    model = WebhookAttempt
    fk_name = "endpoint"
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-id"]
    fields = ["attempted_at", "delivery", "number", "response_status", "error", "duration_ms"]
    readonly_fields = fields
    verbose_name_plural = "Latest attempts"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("delivery")

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class _Replays:
    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(REPLAY)

    def _each(self, request: HttpRequest, objects, call, done: str) -> None:
        count = 0
        for obj in objects:
            try:
                call(obj)
            except DomainError as error:
                self.message_user(request, f"{obj}: {error.detail}", messages.ERROR)
            else:
                count += 1
        if count:
            self.message_user(request, done.format(count=count), messages.SUCCESS)


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(_Replays, ModelAdmin):
    list_display = ["url", "merchant", "status", "failing_since", "created_at"]
    list_filter = ["status"]
    search_fields = ["url", "description", "merchant__name", "merchant__slug"]
    list_select_related = ["merchant"]
    fields = [
        "merchant",
        "url",
        "description",
        "event_types",
        "status",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [AttemptInline]
    actions = ["disable_endpoints", "enable_endpoints", "send_test_event"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Disable the endpoints", permissions=["change"])
    def disable_endpoints(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor.staff(request.user)
        reason = f"Disabled by {actor.label} (operations)"
        self._each(
            request,
            queryset,
            lambda e: webhook_endpoints.webhook_endpoint_disable(
                endpoint=e, reason=reason, actor=actor
            ),
            "{count} endpoint(s) disabled.",
        )

    @admin.action(description="Enable the endpoints", permissions=["change"])
    def enable_endpoints(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor.staff(request.user)
        self._each(
            request,
            queryset,
            lambda e: webhook_endpoints.webhook_endpoint_enable(endpoint=e, actor=actor),
            "{count} endpoint(s) enabled.",
        )

    @admin.action(description="Send a test event", permissions=["replay"])
    def send_test_event(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor.staff(request.user)
        self._each(
            request,
            queryset,
            lambda e: webhook_endpoints.webhook_test_send(endpoint=e, actor=actor),
            "A test event is on its way to {count} endpoint(s).",
        )


class DeliveryAttemptInline(AttemptInline):
    fk_name = "delivery"
    fields = [
        "attempted_at",
        "number",
        "response_status",
        "error",
        "duration_ms",
        "request_headers",
        "request_body",
        "response_body",
    ]
    readonly_fields = fields
    verbose_name_plural = "Attempts"


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_Replays, ModelAdmin):
    list_display = ["id", "event", "endpoint", "merchant", "status", "attempts", "next_attempt_at"]
    list_filter = [
        queue_filter(
            title="failing",
            parameter_name="failing",
            label="Refused (retrying or given up)",
            rows=deliveries_failing,
        ),
        "status",
    ]
    search_fields = ["subject", "endpoint__url", "merchant__name"]
    list_select_related = ["event", "endpoint", "merchant"]
    fields = [
        "merchant",
        "endpoint",
        "event",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "replayed_at",
    ]
    readonly_fields = fields
    inlines = [DeliveryAttemptInline]
    actions = ["replay_deliveries"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Send the events again", permissions=["replay"])
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = Actor.staff(request.user)
        self._each(
            request,
            queryset.select_related("endpoint"),
            lambda d: webhook_endpoints.webhook_delivery_replay(delivery=d, actor=actor),
            "{count} event(s) sent again.",
        )

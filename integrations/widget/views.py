"""The storefront widget's two URLs, HTTP only.

``/widget/v1/{store_public_id}.js`` is the script the store puts on its pages: the code in
``integrations/static/integrations/widget/widget.js`` wrapped with the store's configuration
(program, brand colours, texts, endpoints) as data. The same for every visitor of the
store, so public and cached for five minutes, with an ETag.

``/widget/v1/{store_public_id}/member.json?token=…`` is what the script asks for a signed-in
customer: the member's summary, readable cross-origin by the store's own https origin
only, and never stored by a cache. The token is the store's signature (``tokens.py``). It
travels in the query so that the request stays simple (no preflight, no cookie); it is in
the shop's page already, lives ten minutes at most and reads nothing but this summary.
"""

import functools
import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.utils.http import quote_etag
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.selectors import MemberReward
from core.exceptions import NotFound
from core.i18n import supported_language
from integrations.widget.selectors import (
    MemberView,
    WidgetStore,
    widget_colours_for,
    widget_member_get,
    widget_store_get,
)
from integrations.widget.texts import widget_texts
from integrations.widget.tokens import token_verify
from loyalty.models import MemberStatus
from merchants.models import Store
from merchants.selectors import store_webhook_secrets

CODE = Path(__file__).resolve().parent.parent / "static" / "integrations" / "widget" / "widget.js"
SCRIPT_TYPE = "text/javascript; charset=utf-8"
SCRIPT_CACHE = "public, max-age=300"
# The member portal's address for a merchant (portals owns the pages; this is their root).
PORTAL_PATH = "/m/{slug}/"
# JSON as JavaScript: U+2028 and U+2029 end a line in older engines; <, > and & are escaped
# too, so the configuration stays inert even where someone pastes the script inline.
_SCRIPT_ESCAPES = {
    ord("<"): "\\u003C",
    ord(">"): "\\u003E",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


@functools.cache
def widget_code() -> str:
    """The script's code as served: without its opening comment (for whoever maintains
    it), comment-only lines, blank lines and indentation, which every shop's visitor would
    otherwise download. Read once per process (a deployment restarts them)."""
    code = CODE.read_text(encoding="utf-8")
    if code.startswith("/*"):
        code = code[code.index("*/") + 2 :]
    lines = (line.strip() for line in code.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//"))


def _portal_url(request: HttpRequest, store: Store) -> str:
    return request.build_absolute_uri(PORTAL_PATH.format(slug=store.merchant.slug))


def _cross_origin(response: HttpResponse) -> None:
    # The store's page loads these from another site; a store that isolates its pages
    # (Cross-Origin-Embedder-Policy) may still.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"


def store_origins(store: Store) -> set[str]:
    """The origins whose pages may read a member's summary: the store's own domain, over
    https. ``WIDGET_ALLOW_HTTP_ORIGINS`` (off unless a setting turns it on) adds plain http,
    for a shop tried out on a developer's machine."""
    domain = store.domain.strip().lower().rstrip(".")
    origins = {f"https://{domain}"}
    if getattr(settings, "WIDGET_ALLOW_HTTP_ORIGINS", False):
        origins.add(f"http://{domain}")
    return origins


def script_config(request: HttpRequest, widget: WidgetStore, language: str) -> dict:
    store, program = widget.store, widget.program
    with translation.override(language):
        texts = widget_texts()
    return {
        "version": 1,
        "store": str(store.public_id),
        "endpoint": request.build_absolute_uri(reverse("widget-member", args=[store.public_id])),
        "portal": _portal_url(request, store),
        "program": program.name,
        "points_name": program.points_name,
        "currency": program.currency,
        "language": language,
        "colours": widget_colours_for(widget=widget),
        "texts": texts,
    }


@require_safe
def widget_script(request: HttpRequest, store_public_id: str) -> HttpResponse:
    try:
        widget = widget_store_get(public_id=store_public_id)
    except NotFound:
        return HttpResponseNotFound("/* No store has that id. */\n", content_type=SCRIPT_TYPE)
    language = supported_language(request.GET.get("lang"))
    config = json.dumps(
        script_config(request, widget, language), ensure_ascii=False, separators=(",", ":")
    ).translate(_SCRIPT_ESCAPES)
    body = render_to_string(
        "integrations/widget/widget.js", {"code": widget_code(), "config": config}
    ).encode()
    etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
    response = HttpResponse(body, content_type=SCRIPT_TYPE)
    response["ETag"] = etag
    response["Cache-Control"] = SCRIPT_CACHE
    _cross_origin(response)
    return get_conditional_response(request, etag=etag, response=response)


def _reward(reward: MemberReward) -> dict:
    return {
        "id": reward.item.reward_id,
        "name": reward.item.reward.name,
        "brand": reward.item.reward.brand.name,
        "points": reward.min_points,
        "from": reward.min_points != reward.max_points,
    }


def member_json(view: MemberView, *, currency: str) -> dict:
    member = view.member
    progress = view.next_tier
    return {
        "state": "member",
        "member": {
            "first_name": member.first_name,
            "locale": member.locale,
            "points": member.points_balance,
            "pending_points": member.pending_points,
        },
        "tier": {"name": view.tier.name} if view.tier else None,
        "at_top_tier": view.at_top_tier,
        "next_tier": {
            "name": progress.tier.name,
            "basis": progress.basis,
            "remaining": f"{progress.remaining.normalize():f}",
            "currency": currency,
            "percent": progress.percent,
        }
        if progress
        else None,
        "rewards": [_reward(reward) for reward in view.rewards],
        "rewards_affordable": view.rewards_affordable,
        "next_reward": {
            **_reward(view.next_reward),
            "remaining": max(view.next_reward.min_points - member.points_balance, 0),
        }
        if view.next_reward
        else None,
    }


class WidgetMemberView(APIView):
    """The signed-in customer's summary for the widget. The token authenticates; no API
    key, no session (the script sends no cookies)."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    throttle_classes = ()
    renderer_classes = (JSONRenderer,)
    http_method_names = ["get", "head"]
    store: Store | None = None

    @extend_schema(exclude=True)
    def get(self, request: Request, store_public_id: str) -> Response:
        widget = widget_store_get(public_id=store_public_id)
        store = self.store = widget.store
        now = timezone.now()
        token = token_verify(
            request.query_params.get("token"),
            store_public_id=store.public_id,
            secrets=store_webhook_secrets(store=store, at=now),
            at=now,
        )
        portal = _portal_url(request, store)
        view = widget_member_get(widget=widget, external_id=token.external_id, at=now)
        if view is None:
            # A customer the store knows and we do not (yet): invited to join, not an error.
            return Response({"state": "join", "portal": portal})
        if view.member.status != MemberStatus.ACTIVE:
            return Response({"state": "on_hold", "portal": portal})
        with translation.override(supported_language(view.member.locale)):
            data = member_json(view, currency=widget.program.currency)
        return Response({**data, "portal": portal})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A member's points and name: never kept by a browser or a shared cache, errors
        # included (a refused token must not be replayed from a cache either).
        response["Cache-Control"] = "private, no-store"
        origin = request.headers.get("Origin", "")
        if self.store is not None and origin.lower() in store_origins(self.store):
            response["Access-Control-Allow-Origin"] = origin
        patch_vary_headers(response, ["Origin"])
        _cross_origin(response)
        return response

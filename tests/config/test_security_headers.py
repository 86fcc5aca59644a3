"""The security headers every response carries: a Content-Security-Policy on every HTML
page (strict everywhere, a little looser only where a path needs it) and a
Permissions-Policy that switches off the browser features no page uses.

That the pages still work under these headers is checked in a real browser, in
``test_csp_browser.py``."""

import re

import pytest
from django.test import Client

from customercare.links import ticket_token
from fulfillment.services import delivery
from tests.customercare.factories import care_merchant, member_of, ticket_open
from tests.fulfillment.test_delivery import delivered

pytestmark = pytest.mark.django_db

STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
OFF = ("camera", "microphone", "geolocation", "payment", "usb", "serial", "hid", "midi")


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def member_pages() -> dict[str, tuple[str, str]]:
    """Each member-facing page: (method, path)."""
    redemption = delivered()
    ticket = ticket_open(member_of(care_merchant(), 300))
    claim = f"/claim/{delivery.claim_token(redemption)}/"
    return {
        "claim page": ("get", claim),
        "claim page, code shown": ("post", claim),
        "claim page, bad link": ("get", "/claim/nonsense/"),
        "ticket page": ("get", f"/care/t/{ticket_token(ticket)}/"),
        "ticket page, bad link": ("get", "/care/t/nonsense/"),
        "help page": ("get", f"/care/help/{ticket.merchant.slug}/"),
        "terms page": ("get", f"/care/help/{ticket.merchant.slug}/terms/"),
    }


def test_the_member_pages_get_the_strict_policy(client):
    for name, (method, path) in member_pages().items():
        response = getattr(client, method)(path)

        assert response["Content-Type"].startswith("text/html"), name
        assert policy(response) == STRICT, name


def test_the_member_pages_carry_no_inline_script_or_style(client):
    for name, (method, path) in member_pages().items():
        html = getattr(client, method)(path).content.decode()

        assert "<script" not in html, name
        assert "<style" not in html, name
        assert not re.search(r"\sstyle\s*=", html), name
        assert not re.search(r"\son[a-z]+\s*=", html), name
        assert re.search(r'<link rel="stylesheet" href="/static/[^"]+\.css">', html), name


def test_the_admin_adds_inline_styles_alpines_eval_and_a_hashed_script_only(client):
    directives = policy(client.get("/admin/login/"))

    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["script-src"][:2] == ["'self'", "'unsafe-eval'"]
    assert [
        source for source in directives["script-src"][2:] if not source.startswith("'sha256-")
    ] == []
    assert "'unsafe-inline'" not in directives["script-src"]
    others = {
        name: sources
        for name, sources in directives.items()
        if name not in ("style-src", "script-src")
    }
    assert others == {
        name: sources for name, sources in STRICT.items() if name not in ("style-src", "script-src")
    }


def test_the_api_docs_add_data_images_only_and_run_no_inline_script(client):
    response = client.get("/api/docs/")

    assert policy(response) == {**STRICT, "img-src": ["'self'", "data:"]}
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html


def test_an_admin_lookalike_path_gets_no_admin_relaxation(client):
    response = client.get("/adminx/")

    assert policy(response) == STRICT


@pytest.mark.parametrize(
    "path", ["/healthz", "/api/v1/merchant/", "/admin/login/", "/claim/nonsense/", "/api/docs/"]
)
def test_every_response_switches_off_the_unused_browser_features(client, path):
    response = client.get(path)

    features = dict(
        re.fullmatch(r"([a-z-]+)=\((.*)\)", item.strip()).groups()
        for item in response["Permissions-Policy"].split(",")
    )
    for feature in OFF:
        assert features[feature] == "", feature


def test_a_static_file_carries_the_headers_too():
    response = Client().get("/static/fulfillment/claim.css")

    assert response.status_code == 200
    assert "camera=()" in response["Permissions-Policy"]

"""The SSRF guard: only public addresses, https unless allowed, checked on save and
again before each request."""

import socket

import pytest

from core.actors import SYSTEM
from merchants.exceptions import UnsafeWebhookURL
from merchants.services import webhook_endpoints
from merchants.webhooks.address import url_target
from tests.merchants.factories import MerchantFactory


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://10.0.0.1/hooks", "private"),
        ("http://192.168.1.20/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hooks", "loopback"),
        ("http://127.0.0.1:8000/hooks", "loopback"),
        ("http://localhost/hooks", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://224.0.0.1/", "multicast"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://240.0.0.1/", "reserved"),
        ("http://100.64.0.1/", "not public"),
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_refused(settings, url, why):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(UnsafeWebhookURL) as refused:
        url_target(url)
    assert why in refused.value.detail
    assert refused.value.field == "url"


def test_loopback_is_allowed_only_with_the_setting(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    assert url_target("http://127.0.0.1:8000/x?y=1").address == "127.0.0.1"
    assert url_target("http://127.0.0.1:8000/x?y=1").path == "/x?y=1"
    with pytest.raises(UnsafeWebhookURL):
        url_target("http://10.0.0.1/")  # private stays refused


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False

    def resolve(host, port, *args, **kwargs):
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(UnsafeWebhookURL):
        url_target("https://hooks.example.com/")


def test_a_public_name_resolves_to_the_address_the_request_will_use(monkeypatch):
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port, *a, **k: [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", port))
        ],
    )
    target = url_target("https://hooks.example.com/in")
    assert (target.host, target.port, target.address) == ("hooks.example.com", 443, "93.184.215.14")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://example.com/", "https"),
        ("https://user:pw@example.com/", "password"),
        ("https://example.com:22/", "port"),
        ("not a url", "https"),
    ],
)
def test_the_form_of_the_url_is_checked(url, why):
    with pytest.raises(UnsafeWebhookURL) as refused:
        url_target(url)
    assert why in refused.value.detail


def test_plain_http_needs_the_setting(settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    with pytest.raises(UnsafeWebhookURL) as refused:
        url_target("http://127.0.0.1/")
    assert "https" in refused.value.detail


@pytest.mark.django_db
def test_an_endpoint_with_an_unsafe_url_is_not_saved(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    merchant = MerchantFactory()
    with pytest.raises(UnsafeWebhookURL) as refused:
        webhook_endpoints.webhook_endpoint_create(
            merchant=merchant,
            url="http://169.254.169.254/",
            event_types=["member.created"],
            actor=SYSTEM,
        )
    assert refused.value.field == "url"

"""The cached verification of API keys: a verified key is answered from this process for a
few seconds, and a revocation is refused on the very next request, whichever process
revoked it."""

import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.actors import SYSTEM
from merchants import selectors
from merchants.models import Merchant, MerchantAPIKey, MerchantStatus
from merchants.services import api_keys, lifecycle
from tests.conftest import assert_problem
from tests.merchants.factories import MerchantFactory, issue_key

URL = "/api/v1/merchant/"


def client_with(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


def key_queries(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if "merchantapikey" in q["sql"]]


@pytest.mark.django_db
def test_a_verified_key_is_answered_without_reading_it_again():
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    client = client_with(raw_key)
    assert client.get(URL).status_code == 200
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL)
    assert response.status_code == 200
    assert response.json()["api_key"]["prefix"] == api_key.prefix
    assert key_queries(captured) == []


@pytest.mark.django_db
def test_each_request_gets_its_own_key_and_merchant_instances():
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    first = selectors.api_key_authenticate(raw_key=raw_key)
    second = selectors.api_key_authenticate(raw_key=raw_key)
    assert first == second == api_key
    assert first is not second
    assert first.merchant is not second.merchant
    assert second.merchant == api_key.merchant


@pytest.mark.django_db
def test_a_wrong_secret_under_a_cached_prefix_is_refused():
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    assert client_with(raw_key).get(URL).status_code == 200
    wrong = f"{api_key.prefix}.{'x' * 32}"
    assert_problem(client_with(wrong).get(URL), 401, "invalid_api_key")


@pytest.mark.django_db
def test_a_revoked_key_is_refused_on_the_next_request():
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    client = client_with(raw_key)
    assert client.get(URL).status_code == 200
    assert client.get(URL).status_code == 200  # from the cache
    api_keys.api_key_revoke(api_key=api_key, reason="leaked", actor=SYSTEM)
    assert_problem(client.get(URL), 401, "invalid_api_key")


@pytest.mark.django_db
def test_a_suspended_merchant_is_refused_on_the_next_request_and_welcome_back_after():
    merchant = MerchantFactory(live=True)
    _, raw_key = issue_key(merchant)
    client = client_with(raw_key)
    feed = "/api/v1/members/changes/"
    assert client.get(feed).status_code == 200
    assert client.get(feed).status_code == 200  # from the cache
    lifecycle.merchant_transition(
        merchant=merchant, to_status=MerchantStatus.SUSPENDED, reason="unpaid", actor=SYSTEM
    )
    assert_problem(client.get(feed), 403, "merchant_not_active")
    assert client.get(URL).json()["status"] == "suspended"
    lifecycle.merchant_transition(
        merchant=merchant, to_status=MerchantStatus.LIVE, reason="paid", actor=SYSTEM
    )
    assert client.get(feed).status_code == 200


@pytest.mark.django_db
def test_a_revocation_committed_while_a_request_read_the_key_is_not_cached(monkeypatch):
    """The request read the key before the revocation and answers with it; what it cached
    is dead once the revocation commits."""
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    verify = MerchantAPIKey.is_valid

    def revoked_meanwhile(self, key):
        monkeypatch.setattr(MerchantAPIKey, "is_valid", verify)
        api_keys.api_key_revoke(api_key=api_key, actor=SYSTEM)
        return verify(self, key)

    monkeypatch.setattr(MerchantAPIKey, "is_valid", revoked_meanwhile)
    client = client_with(raw_key)
    assert client.get(URL).status_code == 200
    assert_problem(client.get(URL), 401, "invalid_api_key")


@pytest.mark.django_db(transaction=True)
def test_a_revocation_by_another_connection_is_refused_on_the_next_request():
    """Another worker (a thread with its own database connection here; a process sharing
    the Redis cache in production) revokes the key this process has cached."""
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    client = client_with(raw_key)
    assert client.get(URL).status_code == 200
    assert client.get(URL).status_code == 200

    failures: list[BaseException] = []

    def revoke_elsewhere() -> None:
        try:
            key = MerchantAPIKey.objects.select_related("merchant").get(pk=api_key.pk)
            api_keys.api_key_revoke(api_key=key, reason="leaked", actor=SYSTEM)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connections.close_all()

    other = threading.Thread(target=revoke_elsewhere)
    other.start()
    other.join(timeout=30)
    assert not failures
    assert MerchantAPIKey.objects.get(pk=api_key.pk).revoked
    assert_problem(client.get(URL), 401, "invalid_api_key")


@pytest.mark.django_db
def test_the_cached_entry_lapses(monkeypatch):
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    assert selectors.api_key_authenticate(raw_key=raw_key) == api_key
    MerchantAPIKey.objects.filter(pk=api_key.pk).update(name="renamed")
    assert selectors.api_key_authenticate(raw_key=raw_key).name == "test key"
    monkeypatch.setattr(selectors, "API_KEY_CACHE_SECONDS", 0.0)
    selectors._verified.clear()
    assert selectors.api_key_authenticate(raw_key=raw_key).name == "renamed"
    assert selectors.api_key_authenticate(raw_key=raw_key).name == "renamed"


@pytest.mark.django_db
def test_a_cached_keys_merchant_reads_its_configuration_version_fresh():
    """The token that says whether the program changed is never taken from the cache."""
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    assert selectors.api_key_authenticate(raw_key=raw_key) == api_key
    Merchant.objects.filter(pk=api_key.merchant_id).update(config_version="changed")
    cached = selectors.api_key_authenticate(raw_key=raw_key)
    assert cached.from_cache
    assert cached.merchant.config_version == "changed"

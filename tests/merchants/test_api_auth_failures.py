"""Failed authentications (a bad, malformed or missing API key) are counted per client
address; once an address has spent its budget (``API_AUTH_FAILURE_RATE``) it gets 429
``throttled`` with ``Retry-After`` until the window ends, even with a correct key, so
keys cannot be guessed. The suite's settings give a budget no other test reaches; these
tests set a small one."""

import pytest
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.test import APIClient

from merchants.api.throttling import auth_failure_record, auth_failures_check
from tests.conftest import assert_problem

pytestmark = pytest.mark.django_db

URL = "/api/v1/merchant/"
ADDRESS = "203.0.113.7"
BAD_KEY = "AbCd1234.not-a-real-secret"


@pytest.fixture(autouse=True)
def budget_of_three(settings):
    cache.clear()
    settings.API_AUTH_FAILURE_RATE = (3, 60)
    settings.TRUSTED_PROXY_COUNT = 0
    yield
    cache.clear()


def client_from(address: str, authorization: str | None = None, **meta: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=address, **meta)
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client


def assert_blocked(response) -> None:
    assert_problem(response, 429, "throttled")
    assert 1 <= int(response["Retry-After"]) <= 60


def spend_budget(address: str = ADDRESS, **meta: str) -> None:
    for _ in range(3):
        response = client_from(address, f"Bearer {BAD_KEY}", **meta).get(URL)
        assert_problem(response, 401, "invalid_api_key")


def test_bad_keys_from_one_address_get_429_once_the_budget_is_spent(db):
    spend_budget()

    response = client_from(ADDRESS, f"Bearer {BAD_KEY}").get(URL)

    assert_blocked(response)


def test_a_blocked_address_is_refused_even_with_a_correct_key(tenant):
    spend_budget()

    response = client_from(ADDRESS, f"Bearer {tenant.raw_key}").get(URL)

    assert_blocked(response)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Basic dXNlcjpwYXNz", id="other-scheme"),
        pytest.param("Bearer two parts", id="malformed"),
        pytest.param("Bearer caf\u00e9", id="not-ascii"),
    ],
)
def test_missing_and_malformed_keys_count_as_failures(tenant, authorization):
    for _ in range(3):
        response = client_from(ADDRESS, authorization).post(URL, {}, format="json")
        assert response.status_code == 401, response.content

    assert_blocked(client_from(ADDRESS, f"Bearer {tenant.raw_key}").get(URL))


def test_bad_keys_sent_to_the_schema_count_too(tenant):
    for _ in range(3):
        response = client_from(ADDRESS, f"Bearer {BAD_KEY}").get("/api/schema/")
        assert_problem(response, 401, "invalid_api_key")

    assert_blocked(client_from(ADDRESS, f"Bearer {tenant.raw_key}").get(URL))


def test_successful_requests_spend_none_of_the_budget(tenant):
    good = client_from(ADDRESS, f"Bearer {tenant.raw_key}")
    for _ in range(10):
        assert good.get(URL).status_code == 200

    spend_budget()

    assert_blocked(good.get(URL))


def test_other_addresses_keep_their_own_budget(tenant):
    spend_budget()

    assert client_from("198.51.100.9", f"Bearer {tenant.raw_key}").get(URL).status_code == 200
    assert_problem(
        client_from("198.51.100.9", f"Bearer {BAD_KEY}").get(URL), 401, "invalid_api_key"
    )


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(tenant):
    for n in range(3):
        response = client_from(
            ADDRESS, f"Bearer {BAD_KEY}", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}"
        ).get(URL)
        assert_problem(response, 401, "invalid_api_key")

    response = client_from(
        ADDRESS, f"Bearer {tenant.raw_key}", HTTP_X_FORWARDED_FOR="192.0.2.99"
    ).get(URL)

    assert_blocked(response)


def test_behind_a_trusted_proxy_the_address_it_saw_is_the_client(settings, tenant):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.5"
    spend_budget(proxy, HTTP_X_FORWARDED_FOR="198.51.100.1")

    blocked = client_from(proxy, f"Bearer {tenant.raw_key}", HTTP_X_FORWARDED_FOR="198.51.100.1")
    # What the client wrote itself, left of the entry the proxy added, is not believed.
    spoofed = client_from(
        proxy, f"Bearer {tenant.raw_key}", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.1"
    )
    neighbour = client_from(proxy, f"Bearer {tenant.raw_key}", HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert_blocked(blocked.get(URL))
    assert_blocked(spoofed.get(URL))
    assert neighbour.get(URL).status_code == 200


def test_an_ipv6_client_is_counted_by_its_64_bit_prefix(tenant):
    for suffix in ("1", "2", "3"):
        response = client_from(f"2001:db8:0:1::{suffix}", f"Bearer {BAD_KEY}").get(URL)
        assert_problem(response, 401, "invalid_api_key")

    same_prefix = client_from("2001:db8:0:1::ffff", f"Bearer {tenant.raw_key}").get(URL)
    other_prefix = client_from("2001:db8:0:2::1", f"Bearer {tenant.raw_key}").get(URL)

    assert_blocked(same_prefix)
    assert other_prefix.status_code == 200


def test_the_budget_comes_back_when_the_window_ends(db):
    start = 1_800_000_000.0  # the start of a minute
    for _ in range(3):
        auth_failure_record(address=ADDRESS, now=start + 10)

    with pytest.raises(Throttled) as refused:
        auth_failures_check(address=ADDRESS, now=start + 50)
    auth_failures_check(address=ADDRESS, now=start + 60)

    assert refused.value.wait == 10

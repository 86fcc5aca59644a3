import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory

from core.actors import SYSTEM
from core.exceptions import DomainError, NotFound
from merchants.api.throttling import APIKeyRateThrottle
from merchants.api.views import MerchantAPIView
from merchants.exceptions import InvalidScope, MerchantNotActive
from merchants.models import Merchant, MerchantAPIKey, MerchantEvent, MerchantStatus, Scope
from merchants.selectors import api_key_get, store_get
from merchants.services import api_keys, lifecycle, stores
from tests.conftest import assert_not_found, assert_problem
from tests.merchants.factories import MerchantFactory, issue_key

URL = "/api/v1/merchant/"


def client_with(raw_key: str, scheme: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {raw_key}")
    return client


@pytest.mark.django_db
def test_key_is_never_stored_in_clear():
    api_key, raw_key = issue_key(MerchantFactory(live=True))
    secret = raw_key.split(".", 1)[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM merchants_merchantapikey")
        rows = cursor.fetchall()
    assert rows
    assert not any(secret in str(value) for row in rows for value in row)
    assert raw_key.startswith(api_key.prefix + ".")


@pytest.mark.django_db
def test_merchant_endpoint_returns_the_keys_merchant(tenant_pair):
    for tenant in (tenant_pair.a, tenant_pair.b):
        response = tenant.client.get(URL)
        assert response.status_code == 200
        body = response.json()
        assert body["slug"] == tenant.merchant.slug
        assert body["default_currency"] == tenant.merchant.default_currency
        assert body["status"] == "live"
        assert body["api_key"]["prefix"] == tenant.api_key.prefix


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "Bearer nope.nope",
        "Bearer abcdefgh.wrongsecretwrongsecretwrongsecret",
        "Bearer nodot",
        "Bearer ",
        "Bearer a b",
        "Bearer \u00e9t\u00e9.x",
    ],
)
def test_unknown_or_malformed_keys_get_401_problem(header):
    MerchantFactory(live=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(URL)
    assert response.status_code == 401
    body = assert_problem(response, 401, response.json()["code"])
    assert body["code"] in {"invalid_api_key", "invalid_authorization", "not_authenticated"}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_missing_key_gets_401_not_authenticated():
    assert_problem(APIClient().get(URL), 401, "not_authenticated")


@pytest.mark.django_db
def test_a_valid_secret_with_another_keys_prefix_is_refused(tenant_pair):
    prefix_a = tenant_pair.a.raw_key.split(".")[0]
    secret_b = tenant_pair.b.raw_key.split(".")[1]
    assert_problem(client_with(f"{prefix_a}.{secret_b}").get(URL), 401, "invalid_api_key")


@pytest.mark.django_db
def test_revoked_key_gets_401_and_revoking_again_changes_nothing(tenant):
    api_keys.api_key_revoke(api_key=tenant.api_key, reason="leaked", actor=SYSTEM)
    assert_problem(tenant.client.get(URL), 401, "invalid_api_key")
    api_keys.api_key_revoke(api_key=tenant.api_key, actor=SYSTEM)
    assert tenant.merchant.events.filter(kind=MerchantEvent.Kind.API_KEY_REVOKED).count() == 1


@pytest.mark.django_db
def test_expired_key_gets_401(tenant):
    MerchantAPIKey.objects.filter(pk=tenant.api_key.pk).update(
        expiry_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    assert_problem(tenant.client.get(URL), 401, "invalid_api_key")


@pytest.mark.django_db
def test_last_used_at_is_recorded_at_most_once_a_minute(tenant):
    assert tenant.api_key.last_used_at is None
    tenant.client.get(URL)
    tenant.api_key.refresh_from_db()
    first = tenant.api_key.last_used_at
    assert first is not None
    tenant.client.get(URL)
    tenant.api_key.refresh_from_db()
    assert tenant.api_key.last_used_at == first


@pytest.mark.django_db
def test_read_only_key_cannot_write(tenant):
    _, raw_key = issue_key(tenant.merchant, scopes=[Scope.READ])
    client = client_with(raw_key)
    assert client.get(URL).status_code == 200
    assert_problem(client.post(URL, {}), 403, "insufficient_scope")


@pytest.mark.django_db
def test_write_only_key_cannot_read(tenant):
    _, raw_key = issue_key(tenant.merchant, scopes=[Scope.WRITE])
    assert_problem(client_with(raw_key).get(URL), 403, "insufficient_scope")


class Probe(MerchantAPIView):
    """A store API view as later apps write them: closed to merchants that are not active."""

    def get(self, request):
        return Response({"merchant": self.merchant.slug})


class ThreePerMinute(APIKeyRateThrottle):
    rate = "3/min"


class ThrottledProbe(Probe):
    throttle_classes = [ThreePerMinute]


def call(view, raw_key: str):
    request = APIRequestFactory().get("/api/v1/probe/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    response = view.as_view()(request)
    response.render()
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (MerchantStatus.APPLIED, False),
        (MerchantStatus.IN_REVIEW, False),
        (MerchantStatus.APPROVED, True),
        (MerchantStatus.LIVE, True),
        (MerchantStatus.SUSPENDED, False),
    ],
)
def test_api_is_open_to_approved_and_live_merchants_only(status, allowed):
    merchant = MerchantFactory()
    _, raw_key = issue_key(merchant)
    Merchant.objects.filter(pk=merchant.pk).update(status=status)
    response = call(Probe, raw_key)
    if allowed:
        assert response.status_code == 200
        assert response.data == {"merchant": merchant.slug}
    else:
        assert_problem(response, 403, "merchant_not_active")
    # The merchant endpoint answers every status, so an integrator can check their key.
    assert client_with(raw_key).get(URL).json()["status"] == status


@pytest.mark.django_db
def test_throttling_is_per_key(tenant_pair):
    cache.clear()
    for _ in range(3):
        assert call(ThrottledProbe, tenant_pair.a.raw_key).status_code == 200
    throttled = call(ThrottledProbe, tenant_pair.a.raw_key)
    assert_problem(throttled, 429, "throttled")
    assert int(throttled["Retry-After"]) > 0
    assert call(ThrottledProbe, tenant_pair.b.raw_key).status_code == 200


@pytest.mark.django_db
def test_issue_refuses_unknown_or_empty_scopes_and_keeps_nothing():
    merchant = MerchantFactory(live=True)
    for scopes in (["read", "admin"], [], "read,,bogus"):
        with pytest.raises(InvalidScope):
            issue_key(merchant, scopes=scopes)
    assert not MerchantAPIKey.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [MerchantStatus.REJECTED, MerchantStatus.OFFBOARDED])
def test_no_keys_for_rejected_or_offboarded_merchants(status):
    merchant = MerchantFactory()
    Merchant.objects.filter(pk=merchant.pk).update(status=status)
    merchant.refresh_from_db()
    with pytest.raises(MerchantNotActive):
        issue_key(merchant)


@pytest.mark.django_db
def test_a_key_cannot_be_bound_to_another_merchants_store(tenant_pair):
    store_b, _ = stores.store_create(
        merchant=tenant_pair.b.merchant,
        name="B",
        platform="custom",
        domain="b.example",
        actor=SYSTEM,
    )
    with pytest.raises(DomainError):
        issue_key(tenant_pair.a.merchant, store=store_b)


@pytest.mark.django_db
def test_store_bound_key_reports_its_store(tenant):
    store, _ = stores.store_create(
        merchant=tenant.merchant, name="S", platform="shopify", domain="s.example", actor=SYSTEM
    )
    _, raw_key = issue_key(tenant.merchant, store=store)
    assert client_with(raw_key).get(URL).json()["api_key"]["store"] == str(store.public_id)


@pytest.mark.django_db
def test_selectors_never_return_another_merchants_rows(tenant_pair):
    store_a, _ = stores.store_create(
        merchant=tenant_pair.a.merchant,
        name="A",
        platform="custom",
        domain="a.example",
        actor=SYSTEM,
    )
    assert store_get(merchant=tenant_pair.a.merchant, pk=store_a.pk) == store_a
    with pytest.raises(NotFound):
        store_get(merchant=tenant_pair.b.merchant, pk=store_a.pk)
    with pytest.raises(NotFound):
        api_key_get(merchant=tenant_pair.b.merchant, pk=tenant_pair.a.api_key.pk)


@pytest.mark.django_db
def test_another_merchants_object_is_a_404_problem(tenant_pair):
    """The cross-tenant pattern later endpoints follow, shown on a store lookup view."""

    class StoreProbe(MerchantAPIView):
        def get(self, request, pk):
            return Response({"domain": store_get(merchant=self.merchant, pk=pk).domain})

    store_a, _ = stores.store_create(
        merchant=tenant_pair.a.merchant,
        name="A",
        platform="custom",
        domain="a.example",
        actor=SYSTEM,
    )

    def get(raw_key):
        request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        response = StoreProbe.as_view()(request, pk=store_a.pk)
        response.render()
        return response

    assert get(tenant_pair.a.raw_key).data == {"domain": "a.example"}
    assert_not_found(get(tenant_pair.b.raw_key))


@pytest.mark.django_db
def test_domain_errors_become_problems_with_their_code_and_field(tenant):
    class Failing(MerchantAPIView):
        def get(self, request):
            lifecycle.merchant_transition(
                merchant=self.merchant, to_status=MerchantStatus.APPLIED, reason="x", actor=SYSTEM
            )

    request = APIRequestFactory().get("/", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}")
    response = Failing.as_view()(request)
    response.render()
    body = assert_problem(response, 409, "invalid_transition", attr="to_status")
    assert body["from_status"] == "live"


@pytest.mark.django_db
def test_validation_errors_list_every_offending_field(tenant):
    class Echo(MerchantAPIView):
        class Input(serializers.Serializer):
            total = serializers.DecimalField(max_digits=10, decimal_places=2)
            currency = serializers.CharField(max_length=3)

        def post(self, request):
            self.Input(data=request.data).is_valid(raise_exception=True)
            return Response({})

    request = APIRequestFactory().post(
        "/", {"total": "abc"}, format="json", HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}"
    )
    response = Echo.as_view()(request)
    response.render()
    body = assert_problem(response, 400, "invalid_input")
    assert {e["attr"] for e in body["errors"]} == {"total", "currency"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "parse_error"),
        (b"total=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ],
)
def test_unparseable_bodies_are_4xx_problems(tenant, body, content_type, status, code):
    class Echo(MerchantAPIView):
        def post(self, request):
            return Response(dict(request.data))

    request = APIRequestFactory().generic(
        "POST", "/", body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {tenant.raw_key}"
    )
    response = Echo.as_view()(request)
    response.render()
    assert_problem(response, status, code)


@pytest.mark.django_db
def test_wrong_method_is_a_405_problem(tenant):
    _, raw_key = issue_key(tenant.merchant, scopes=[Scope.READ, Scope.WRITE])
    assert_problem(client_with(raw_key).delete(URL), 405, "method_not_allowed")

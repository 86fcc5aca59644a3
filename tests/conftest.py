"""Fixtures every app's tests share.

Cross-tenant checks: ``tenant_pair`` gives two live merchants, each with an API client
holding its own key. An endpoint test fetches merchant A's object with ``tenant_pair.b``'s
client and expects 404 (``assert_not_found``): another merchant's object never exists.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from merchants.models import Merchant, MerchantAPIKey, Scope
from tests.merchants.factories import MerchantFactory, issue_key


def pytest_sessionfinish(session, exitstatus):
    """The scratch folders the test settings made for this process's files go too."""
    from django.conf import settings

    for folder in (settings.MEDIA_ROOT, settings.CARE_ATTACHMENT_ROOT):
        if Path(folder).name.startswith(("loyalty-test-media-", "loyalty-test-care-")):
            shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"]
    if "postgresql" in engine:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@dataclass
class Tenant:
    merchant: Merchant
    api_key: MerchantAPIKey
    raw_key: str
    client: APIClient


def make_tenant(merchant: Merchant, scopes=(Scope.READ, Scope.WRITE, Scope.ADJUST)) -> Tenant:
    api_key, raw_key = issue_key(merchant, scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return Tenant(merchant=merchant, api_key=api_key, raw_key=raw_key, client=client)


@dataclass
class TenantPair:
    a: Tenant
    b: Tenant


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant(MerchantFactory(live=True))


@pytest.fixture
def tenant_pair(db) -> TenantPair:
    return TenantPair(
        a=make_tenant(MerchantFactory(live=True, country="US", default_currency="USD")),
        b=make_tenant(MerchantFactory(live=True, country="FR", default_currency="EUR")),
    )


def assert_problem(response, status: int, code: str, attr: str | None = None) -> dict:
    """The response is an RFC 9457 problem document with this status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.content)
    assert body["status"] == status
    assert body["code"] == code, body
    assert body["type"].endswith(code)
    assert body["title"]
    assert isinstance(body["errors"], list)
    assert body["errors"]
    if attr is not None:
        assert attr in [error["attr"] for error in body["errors"]], body
    return body


def assert_not_found(response) -> None:
    assert_problem(response, 404, "not_found")


@pytest.fixture
def vendor() -> str:
    return connection.vendor

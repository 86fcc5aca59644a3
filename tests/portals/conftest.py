import pytest
from django.core.cache import cache

from tests.merchants.factories import MerchantFactory


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and used TOTP codes live in the cache: each test starts clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def merchant(db):
    return MerchantFactory(live=True, name="Acme Coffee")


@pytest.fixture
def other_merchant(db):
    return MerchantFactory(live=True, name="Bolt Bikes")

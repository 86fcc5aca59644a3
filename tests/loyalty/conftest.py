import pytest

from tests.loyalty.apihelpers import program_for


@pytest.fixture
def program(tenant):
    """The tenant's merchant with an active program (14 pending days, 1 point per unit)."""
    return program_for(tenant.merchant)

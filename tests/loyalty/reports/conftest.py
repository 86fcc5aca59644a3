import pytest


@pytest.fixture(autouse=True)
def no_settle_delay(settings):
    """The job reads every committed row at once (its settle delay has its own tests)."""
    settings.REPORT_AGGREGATES_SETTLE_SECONDS = 0

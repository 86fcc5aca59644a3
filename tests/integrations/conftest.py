import pytest

from tests.loyalty.factories import program_merchant


@pytest.fixture
def merchant(db):
    """A live USD merchant whose program earns 1 point per dollar, at once."""
    merchant, _ = program_merchant()
    return merchant


@pytest.fixture
def deliver(django_capture_on_commit_callbacks):
    """Run what a request enqueued on commit (the inbox's processing task), as a worker
    would once the request's transaction commits."""

    def run(post, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    return run

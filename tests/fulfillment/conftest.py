"""Fixtures of the fulfillment tests."""

from collections.abc import Iterator

import pytest

from tests.fulfillment.adapters.aggregator import Aggregator, serve


@pytest.fixture
def aggregator() -> Iterator[Aggregator]:
    """A fake aggregator listening on 127.0.0.1, on a free port, for one test."""
    state = Aggregator(api_key="agg-secret-key-7f3a")
    server, thread = serve(state)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""A real HTTP receiver on 127.0.0.1 (a thread of ``http.server``, not a mock) and an
endpoint of a merchant pointing at it."""

import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.core.cache import cache

from core.actors import SYSTEM
from merchants.models import WebhookEndpoint, WebhookEventType
from merchants.services import webhook_endpoints
from tests.loyalty.factories import program_merchant


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next status of ``script`` (then ``then``)."""

    host: str
    port: int
    script: list[int] = field(default_factory=list)
    then: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks"

    def answer(self) -> int:
        return self.script.pop(0) if self.script else self.then

    def succeeded(self) -> list[Received]:
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(host="127.0.0.1", port=0)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            state.received.append(
                Received(
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
            )
            status = state.answer()
            self.send_response(status)
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "text/plain")
            self.end_headers()
            self.wfile.write(f"answer {status}".encode())

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def shop():
    merchant, _ = program_merchant(pending_days=0)
    return merchant


def endpoint_make(merchant, url: str, types=None) -> tuple[WebhookEndpoint, str]:
    return webhook_endpoints.webhook_endpoint_create(
        merchant=merchant,
        url=url,
        event_types=list(types or WebhookEventType.values),
        description="CRM",
        actor=SYSTEM,
    )

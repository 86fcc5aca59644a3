"""A small gift-card aggregator on 127.0.0.1 that speaks the http_json protocol, for the
adapter's tests.

SKUs steer it: ``ASYNC...`` orders are submitted and delivered at the next GET,
``SHIP...`` orders are delivered with tracking instead of codes, ``REJECT`` is refused
with a 422. ``script`` holds what the next requests get instead of the normal answer.
"""

import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class Step:
    """What the next request gets. ``status``: answer it without doing anything.
    Otherwise the request is handled as usual (an order is placed), then the answer waits
    ``delay`` seconds and is ``raw`` when given."""

    status: int | None = None
    delay: float = 0.0
    raw: bytes | None = None


@dataclass
class Aggregator:
    api_key: str
    base_url: str = ""
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    placements: Counter[str] = field(default_factory=Counter)
    script: deque[Step] = field(default_factory=deque)
    seen: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)
    replay_holds_order: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def by_ref(self, ref: str) -> dict[str, Any] | None:
        return next((order for order in self.orders.values() if order["id"] == ref), None)


def deliver(order: dict[str, Any], quantity: int) -> None:
    order["status"] = "delivered"
    if order["sku"].startswith("SHIP"):
        order["tracking"] = {"carrier": "UPS", "number": f"1Z{order['id']}"}
        return
    order["codes"] = [
        {"code": f"{order['id']}-{i}", "pin": "1234", "expires_on": "2099-12-31"}
        for i in range(quantity)
    ]


def make_handler(state: Aggregator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def answer(self, status: int, payload: Any, step: Step | None = None) -> None:
            if step is not None and step.delay:
                time.sleep(step.delay)
            body = step.raw if step is not None and step.raw is not None else None
            if body is None:
                body = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting

        def read_json(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def handle_one(self, method: str) -> None:
            body = self.read_json() if method == "POST" else None
            with state.lock:
                state.seen.append((method, self.path, dict(self.headers), body))
                step = state.script.popleft() if state.script else None
            if self.headers.get("Authorization") != f"Bearer {state.api_key}":
                self.answer(401, {"error": {"message": "bad credentials"}})
                return
            if step is not None and step.status is not None:
                self.answer(step.status, {"error": {"message": "scripted"}})
                return
            parts = [unquote(part) for part in self.path.strip("/").split("/")]
            if parts[:1] != ["v1"]:
                self.answer(404, {"error": {"message": "no such path"}})
                return
            parts = parts[1:]
            if method == "POST" and parts == ["orders"]:
                self.place(body, step)
            elif method == "GET" and len(parts) == 2 and parts[0] == "orders":
                self.lookup(parts[1], step)
            elif method == "POST" and len(parts) == 3 and parts[2] == "cancel":
                self.cancel(parts[1], step)
            else:
                self.answer(404, {"error": {"message": "no such path"}})

        def place(self, body: dict[str, Any], step: Step | None) -> None:
            key = self.headers.get("Idempotency-Key")
            if not key or body.get("idempotency_key") != key:
                self.answer(400, {"error": {"message": "Idempotency-Key is required"}})
                return
            if body["sku"] == "REJECT":
                self.answer(422, {"error": {"message": "unknown sku REJECT"}})
                return
            with state.lock:
                order = state.orders.get(key)
                if order is not None:
                    replay = order if state.replay_holds_order else {"error": "key used"}
                    self.answer(409, replay, step)
                    return
                order = {
                    "id": f"AGG-{len(state.orders) + 1}",
                    "sku": body["sku"],
                    "quantity": body["quantity"],
                    "status": "submitted",
                    "codes": [],
                    "tracking": None,
                    "cost": str(Decimal(body["face_value"]) * body["quantity"] * Decimal("0.95")),
                    "error": None,
                }
                if not body["sku"].startswith("ASYNC"):
                    deliver(order, body["quantity"])
                state.orders[key] = order
                state.placements[key] += 1
                snapshot = json.loads(json.dumps(order))
            self.answer(201, snapshot, step)

        def lookup(self, key: str, step: Step | None) -> None:
            with state.lock:
                order = state.orders.get(key)
                if order is not None and order["status"] == "submitted":
                    deliver(order, order["quantity"])
                snapshot = json.loads(json.dumps(order))
            if snapshot is None:
                self.answer(404, {"error": {"message": "no such order"}}, step)
            else:
                self.answer(200, snapshot, step)

        def cancel(self, ref: str, step: Step | None) -> None:
            with state.lock:
                order = state.by_ref(ref)
                if order is None:
                    status = 404
                elif order["status"] != "submitted":
                    status = 409
                else:
                    order["status"], status = "cancelled", 200
            self.answer(status, {"id": ref}, step)

        def do_POST(self) -> None:
            self.handle_one("POST")

        def do_GET(self) -> None:
            self.handle_one("GET")

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up


def serve(state: Aggregator) -> tuple[QuietServer, threading.Thread]:
    server = QuietServer(("127.0.0.1", 0), make_handler(state))
    host, port = server.server_address[:2]
    state.base_url = f"http://{host}:{port}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    return server, thread

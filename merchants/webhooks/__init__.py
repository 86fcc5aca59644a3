"""Outbound webhooks: the events of the outbox delivered to the merchant's endpoints.

- ``address``: where a request may go (the SSRF guard), checked when an endpoint is saved
  and again, resolving the name, before every request;
- ``transport``: one HTTP request to the address that was checked, nothing else;
- ``delivery``: the dispatcher (outbox rows become deliveries, due deliveries are sent,
  signed per Standard Webhooks, retried, logged; endpoints that keep failing are
  disabled).

The writes that staff and owners make (endpoints, replays, test events) and
``event_publish`` are services in ``merchants.services`` (``webhook_endpoints``,
``outbox``).
"""

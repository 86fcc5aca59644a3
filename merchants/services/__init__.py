"""Every write to merchant data. Each function owns its transaction and records an event.
``event_publish`` is the exception: it writes in its caller's transaction (the outbox).

Status changes are compare-and-swap updates (``filter(status=old).update(status=new)``): two
staff members acting at once cannot both move the same merchant from the same status.

- ``history``: ``merchant_event_record``, the one writer of a merchant's events;
- ``lifecycle``: a merchant created, its onboarding checklist, its status
  (``merchant_transition``, the only way it changes), its details and portal brand;
- ``stores``: stores and their webhook secrets;
- ``api_keys``: keys issued, revoked, and touched when used;
- ``team``: the merchant portal's team: memberships, invitations, second factors;
- ``billing``: fee plans and usage records;
- ``outbox``: ``event_publish`` and ``events_publish_once``, and the nudge to deliver;
- ``webhook_endpoints``: the merchant's webhook endpoints, replays and test sends.
"""

"""Ticket events are append-only in the database too (``core.append_only``): ``UPDATE`` and
``DELETE`` are refused, except clearing the actor of a deleted user or key."""

from django.db import migrations

from core.append_only import ACTOR_COLUMNS, append_only


class Migration(migrations.Migration):
    dependencies = [
        ("customercare", "0003_ticket_event_message_api_key"),
    ]

    operations = [append_only("customercare", {"TicketEvent": ACTOR_COLUMNS})]

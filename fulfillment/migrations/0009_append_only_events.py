"""Redemption events and code reveals are append-only in the database too
(``core.append_only``): ``UPDATE`` and ``DELETE`` are refused, except clearing the actor
of a deleted user or key (a reveal's ``user``)."""

from django.db import migrations

from core.append_only import ACTOR_COLUMNS, append_only


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0008_redemptionevent_api_key_actor_label"),
    ]

    operations = [
        append_only("fulfillment", {"RedemptionEvent": ACTOR_COLUMNS, "CodeReveal": ("user_id",)})
    ]

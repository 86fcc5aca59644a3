"""Merchant events are append-only in the database too (``core.append_only``): ``UPDATE`` and
``DELETE`` are refused, except clearing the actor of a deleted user or key."""

from django.db import migrations

from core.append_only import ACTOR_COLUMNS, append_only


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0010_merchant_event_details_changed"),
    ]

    operations = [append_only("merchants", {"MerchantEvent": ACTOR_COLUMNS})]

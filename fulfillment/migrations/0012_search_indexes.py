"""The ops console's search (``config.search``) on PostgreSQL: a redemption's external id
across all merchants, exactly or by its start, whatever the case, served by a btree on
``UPPER(external_id)`` with ``text_pattern_ops``. Built concurrently and on PostgreSQL
only (``core.postgres_only``); not in the model's ``Meta``."""

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.models import Index
from django.db.models.functions import Upper

from core.postgres_only import PostgresOnly


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("fulfillment", "0011_redemption_merchant_changed")]

    operations = [
        PostgresOnly(
            AddIndexConcurrently(
                "redemption",
                Index(
                    OpClass(Upper("external_id"), name="text_pattern_ops"),
                    name="redemption_external_upper",
                ),
            )
        ),
    ]

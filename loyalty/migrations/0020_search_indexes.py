"""The ops console's search (``config.search``) on PostgreSQL, across all merchants (the
indexes that start with ``merchant`` serve one merchant's lookups only):

- a member's email and external id, and an order's external id, exactly or by their start,
  whatever the case (``UPPER(col) = UPPER(term)`` / ``LIKE UPPER('term%')``): btrees on
  ``UPPER(col)`` with ``text_pattern_ops``, which serve both, in any collation;
- a member's phone by the end of its digits (``loyalty.member_search``): a trigram index
  on the same digits expression.

Built concurrently (no write lock on a live table) and on PostgreSQL only
(``core.postgres_only``); not in the models' ``Meta``."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.models import Index
from django.db.models.functions import Upper

from core.postgres_only import PostgresOnly
from loyalty.member_search import phone_digits


def upper_pattern(column: str, name: str) -> Index:
    return Index(OpClass(Upper(column), name="text_pattern_ops"), name=name)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [
        ("loyalty", "0019_referrals_identity"),
        ("merchants", "0022_search_indexes"),  # pg_trgm
    ]

    operations = [
        PostgresOnly(AddIndexConcurrently("member", upper_pattern("email", "member_email_upper"))),
        PostgresOnly(
            AddIndexConcurrently("member", upper_pattern("external_id", "member_external_upper"))
        ),
        PostgresOnly(
            AddIndexConcurrently(
                "member",
                GinIndex(OpClass(phone_digits(), name="gin_trgm_ops"), name="member_phone_trgm"),
            )
        ),
        PostgresOnly(
            AddIndexConcurrently("order", upper_pattern("external_id", "order_external_upper"))
        ),
    ]

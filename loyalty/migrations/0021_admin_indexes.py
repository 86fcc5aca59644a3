"""The ops console at scale (``bench/admin.py``: a million members, ten million ledger
entries):

- the member list's search by the start of a last name
  (``loyalty.member_search.member_search_results``): on PostgreSQL a btree on
  ``UPPER(last_name)`` with ``text_pattern_ops`` like the email's and the external id's
  of ``0020_search_indexes``, built concurrently (no write lock on a live table) and on
  PostgreSQL only (``core.postgres_only``), not in the model's ``Meta``;
- the home's money cards, every merchant's entry aggregates of the last week: an index on
  their day (in ``ReportEntryDay.Meta``)."""

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models
from django.db.models.functions import Upper

from core.postgres_only import PostgresOnly


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("loyalty", "0020_search_indexes")]

    operations = [
        PostgresOnly(
            AddIndexConcurrently(
                "member",
                models.Index(
                    OpClass(Upper("last_name"), name="text_pattern_ops"),
                    name="member_last_name_upper",
                ),
            )
        ),
        migrations.AddIndex(
            model_name="reportentryday",
            index=models.Index(fields=["day"], name="report_entry_day_day"),
        ),
    ]

"""The ops console's search (``config.search``) on PostgreSQL: the ``pg_trgm`` extension,
and trigram indexes for a substring of a merchant's name or slug and of a store's domain
(``UPPER(col) LIKE UPPER('%term%')``, Django's ``icontains``). Built concurrently (no
write lock on a live table) and on PostgreSQL only (``core.postgres_only``); not in the
models' ``Meta``."""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper

from core.postgres_only import PostgresOnly


def trigram(column: str, name: str) -> GinIndex:
    return GinIndex(OpClass(Upper(column), name="gin_trgm_ops"), name=name)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY runs outside a transaction

    dependencies = [("merchants", "0021_brand_sender")]

    operations = [
        TrigramExtension(),  # does nothing on a database other than PostgreSQL
        PostgresOnly(AddIndexConcurrently("merchant", trigram("name", "merchant_name_trgm"))),
        PostgresOnly(AddIndexConcurrently("merchant", trigram("slug", "merchant_slug_trgm"))),
        PostgresOnly(AddIndexConcurrently("store", trigram("domain", "store_domain_trgm"))),
    ]

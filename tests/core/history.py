"""Rewriting append-only rows, for a test's fixture only (a report over past weeks needs
events dated in the past; the services write them now). The database refuses an
``UPDATE`` of those rows (``core.append_only``): here its triggers are off for the one
statement, in a savepoint."""

from django.db import connection, transaction
from django.db.models import QuerySet


def backdate(queryset: QuerySet, **values) -> int:
    table = queryset.model._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
            try:
                return queryset.update(**values)
            finally:
                cursor.execute("SET LOCAL session_replication_role = origin")
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
            [table],
        )
        triggers = cursor.fetchall()
        for name, _ in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
        try:
            return queryset.update(**values)
        finally:
            for _, sql in triggers:
                cursor.execute(sql)

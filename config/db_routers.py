"""The database router: report reads may go to the replica, everything else to the primary.

The rules (which reads, why never a write, why not inside a transaction) are in
``core.replica``; this class only answers Django's four questions with them.
"""

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from core.replica import REPLICA_ALIAS, reads_from_replica, reports_db

_ALIASES = frozenset({DEFAULT_DB_ALIAS, REPLICA_ALIAS})


class ReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        # An object read from the replica fetches its related rows there too (a prefetch,
        # a reverse relation), so that one report sees one moment of the data.
        instance = hints.get("instance")
        from_replica = getattr(getattr(instance, "_state", None), "db", None) == REPLICA_ALIAS
        if reads_from_replica(model) or from_replica:
            return reports_db()
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        # Always the primary, even for an object read from the replica (Django's own
        # choice, without a router, would be the database the object came from).
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: an object from either may point to one
        # from the other.
        if obj1._state.db in _ALIASES and obj2._state.db in _ALIASES:
            return True
        return None

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool:
        # A standby replays the primary's schema; migrating it is neither needed nor possible.
        return db == DEFAULT_DB_ALIAS

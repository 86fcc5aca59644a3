"""Several inserts and updates written at once, at the end of a service's transaction.

On PostgreSQL the whole batch is one statement: a chain of data-modifying CTEs, where a
row inserted earlier in the batch is referenced by ``(SELECT id FROM wN)``. That is one
round trip and no ORM query compilation for what is otherwise five to eight statements
(an order, its lines, the member's balances, the ledger entry, its lot, the rule
awards). Elsewhere (SQLite) the same operations run one ORM save at a time, in order.

The instances are built as for ``save()``: field defaults, ``auto_now``/``auto_now_add``
and foreign keys to unsaved instances of the same batch all work; afterwards every
inserted instance has its primary key and is no longer "adding". Constraint violations
raise ``IntegrityError`` on both paths. A reference to an unsaved instance must point at
an instance inserted earlier in the batch on its own (``insert``), not in a list.
"""

# The SQL below is put together from model metadata only (tables, columns, CTE names);
# every value is a parameter.
# ruff: noqa: S608

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model


@dataclass(frozen=True)
class _Insert:
    objs: tuple[Model, ...]


@dataclass(frozen=True)
class _Update:
    obj: Model
    fields: tuple[str, ...]


class WriteBatch:
    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._ops: list[_Insert | _Update] = []

    def insert(self, obj: Model) -> Model:
        self._ops.append(_Insert((obj,)))
        return obj

    def insert_many(self, objs: Iterable[Model]) -> list[Model]:
        objs = list(objs)
        if objs:
            if len({type(obj) for obj in objs}) != 1:
                raise ValueError("insert_many takes instances of one model")
            self._ops.append(_Insert(tuple(objs)))
        return objs

    def update(self, obj: Model, fields: Sequence[str]) -> None:
        if obj.pk is None:
            raise ValueError("update needs a saved instance")
        self._ops.append(_Update(obj, tuple(fields)))

    def execute(self) -> None:
        """Write everything queued, then empty the batch."""
        ops, self._ops = self._ops, []
        if not ops:
            return
        if connections[self.using].vendor == "postgresql":
            self._execute_statement(ops)
        else:
            self._execute_orm(ops)

    def _execute_orm(self, ops: list[_Insert | _Update]) -> None:
        for op in ops:
            if isinstance(op, _Update):
                op.obj.save(update_fields=op.fields, using=self.using)
            elif len(op.objs) == 1:
                op.objs[0].save(force_insert=True, using=self.using)
            else:
                type(op.objs[0])._default_manager.using(self.using).bulk_create(op.objs)

    def _execute_statement(self, ops: list[_Insert | _Update]) -> None:
        connection = connections[self.using]
        quote = connection.ops.quote_name
        ctes: list[str] = []
        params: list[Any] = []
        inserted: dict[int, tuple[str, str]] = {}  # id(obj) -> (cte name, pk column)
        outputs: list[tuple[str, _Insert]] = []
        for number, op in enumerate(ops):
            name = f"w{number}"
            meta = (op.obj if isinstance(op, _Update) else op.objs[0])._meta
            table = quote(meta.db_table)
            pk_column = quote(meta.pk.column)
            if isinstance(op, _Update):
                assignments = []
                for field_name in op.fields:
                    field = meta.get_field(field_name)
                    value = field.pre_save(op.obj, add=False)
                    assignments.append(f"{quote(field.column)} = %s")
                    params.append(field.get_db_prep_save(value, connection))
                params.append(meta.pk.get_db_prep_save(op.obj.pk, connection))
                ctes.append(
                    f"{name} AS (UPDATE {table} SET {', '.join(assignments)} "
                    f"WHERE {pk_column} = %s)"
                )
                continue
            fields = [
                field
                for field in meta.concrete_fields
                if not (field.primary_key and getattr(op.objs[0], field.attname) is None)
            ]
            rows = []
            for obj in op.objs:
                values = []
                for field in fields:
                    target = field.get_cached_value(obj, None) if field.is_relation else None
                    if target is not None and target.pk is None:
                        ref = inserted.get(id(target))
                        if ref is None:
                            raise ValueError(
                                f"{meta.label}.{field.name} points at an instance that is "
                                "neither saved nor inserted earlier in the batch on its own"
                            )
                        values.append(f"(SELECT {ref[1]} FROM {ref[0]})")
                        continue
                    if target is not None:
                        # Not setattr: that would drop the cached instance.
                        obj.__dict__[field.attname] = target.pk
                    value = field.pre_save(obj, add=True)
                    values.append("%s")
                    params.append(field.get_db_prep_save(value, connection))
                rows.append(f"({', '.join(values)})")
            columns = ", ".join(quote(field.column) for field in fields)
            ctes.append(
                f"{name} AS (INSERT INTO {table} ({columns}) VALUES {', '.join(rows)} "
                f"RETURNING {pk_column})"
            )
            if len(op.objs) == 1:
                inserted[id(op.objs[0])] = (name, pk_column)
            outputs.append((name, op))
        selects = ", ".join(
            f"ARRAY(SELECT {quote(op.objs[0]._meta.pk.column)} FROM {name})" for name, op in outputs
        )
        sql = f"WITH {', '.join(ctes)} SELECT {selects or 'NULL'}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        for (_, op), pks in zip(outputs, row or (), strict=False):
            for obj, pk in zip(op.objs, pks, strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = self.using
        # Foreign-key attributes follow the instances they point at, as after save().
        for _, op in outputs:
            for obj in op.objs:
                for field in obj._meta.concrete_fields:
                    if field.is_relation and getattr(obj, field.attname) is None:
                        target = field.get_cached_value(obj, None)
                        if target is not None:
                            obj.__dict__[field.attname] = target.pk

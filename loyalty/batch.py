"""Several inserts and updates written at once, at the end of a service's transaction.

On PostgreSQL the whole batch is one statement: a chain of data-modifying CTEs, where a
row inserted earlier in the batch is referenced by ``(SELECT id FROM wN)``. That is one
round trip and no ORM query compilation for what is otherwise five to eight statements
(an order, its lines, the member's balances, the ledger entry, its lot, the rule
awards). Elsewhere (SQLite) the same operations run as ORM saves, in order.

Operations that stand alone are grouped: updates of the same fields of one model become
one multi-row ``UPDATE ... FROM (VALUES ...)``, and inserts of one model that neither
point at nor are pointed at by other unsaved rows of the batch become one multi-row
``INSERT`` (``bulk_update``/``bulk_create`` on SQLite). So a scheduled job writes the
balances and entries of a whole batch of members in one statement.

The instances are built as for ``save()``: field defaults, ``auto_now``/``auto_now_add``
and foreign keys to unsaved instances of the same batch all work; afterwards every
inserted instance has its primary key and is no longer "adding". A multi-row insert takes
its keys from the table's sequence first, in a CTE of its own (an array: row ``i`` gets
element ``i``), and writes them explicitly, so which key belongs to which instance never
rests on the order in which PostgreSQL inserts or returns rows. Constraint violations
raise ``IntegrityError`` on both paths. A reference to an unsaved instance must point at
an instance inserted earlier in the batch on its own (``insert``), not in a list. An
instance updated twice is written once, with the union of the fields.
"""

# The SQL below is put together from model metadata only (tables, columns, types, CTE
# names); every value is a parameter.
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
    objs: tuple[Model, ...]
    fields: tuple[str, ...]


def _relations(obj: Model) -> Iterable[tuple[Any, Model]]:
    for field in obj._meta.concrete_fields:
        if field.is_relation:
            target = field.get_cached_value(obj, None)
            if target is not None:
                yield field, target


def _group(ops: list[_Insert | _Update]) -> list[_Insert | _Update]:
    """Merge the operations that stand alone (see the module docstring); the others keep
    their place. Groups take the place of their first member."""
    referenced = {
        id(target)
        for op in ops
        for obj in op.objs
        for _, target in _relations(obj)
        if target.pk is None
    }
    grouped: list[_Insert | _Update | list] = []
    slots: dict[tuple, list] = {}
    for op in ops:
        obj = op.objs[0]
        if isinstance(op, _Update):
            key: tuple = ("update", type(obj), op.fields)
        elif (
            len(op.objs) == 1
            and id(obj) not in referenced
            and not any(target.pk is None for _, target in _relations(obj))
        ):
            key = ("insert", type(obj))
        else:
            grouped.append(op)
            continue
        if key not in slots:
            slots[key] = []
            grouped.append(slots[key])
        slots[key].append(op)
    merged: list[_Insert | _Update] = []
    for entry in grouped:
        if not isinstance(entry, list):
            merged.append(entry)
        elif isinstance(entry[0], _Update):
            merged.append(_Update(tuple(op.objs[0] for op in entry), entry[0].fields))
        else:
            merged.append(_Insert(tuple(op.objs[0] for op in entry)))
    return merged


class WriteBatch:
    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._ops: list[_Insert | _Update] = []
        self._updates: dict[int, _Update] = {}

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
        earlier = self._updates.get(id(obj))
        if earlier is not None:
            # One row is written once per statement: widen the earlier update.
            index = next(i for i, op in enumerate(self._ops) if op is earlier)
            merged = _Update(earlier.objs, tuple(dict.fromkeys(earlier.fields + tuple(fields))))
            self._ops[index] = merged
            self._updates[id(obj)] = merged
            return
        op = _Update((obj,), tuple(fields))
        self._ops.append(op)
        self._updates[id(obj)] = op

    def execute(self) -> None:
        """Write everything queued, then empty the batch."""
        ops, self._ops, self._updates = self._ops, [], {}
        if not ops:
            return
        ops = _group(ops)
        if connections[self.using].vendor == "postgresql":
            self._execute_statement(ops)
        else:
            self._execute_orm(ops)

    def _execute_orm(self, ops: list[_Insert | _Update]) -> None:
        for op in ops:
            manager = type(op.objs[0])._default_manager.using(self.using)
            if isinstance(op, _Update):
                if len(op.objs) == 1:
                    op.objs[0].save(update_fields=op.fields, using=self.using)
                else:
                    for obj in op.objs:  # what save() does before an update
                        for name in op.fields:
                            field = obj._meta.get_field(name)
                            setattr(obj, field.attname, field.pre_save(obj, add=False))
                    manager.bulk_update(op.objs, op.fields)
            elif len(op.objs) == 1:
                op.objs[0].save(force_insert=True, using=self.using)
            else:
                manager.bulk_create(op.objs)

    def _execute_statement(self, ops: list[_Insert | _Update]) -> None:
        connection = connections[self.using]
        quote = connection.ops.quote_name
        ctes: list[str] = []
        params: list[Any] = []
        inserted: dict[int, tuple[str, str]] = {}  # id(obj) -> (cte name, pk column)
        outputs: list[tuple[str, _Insert]] = []
        for number, op in enumerate(ops):
            name = f"w{number}"
            meta = op.objs[0]._meta
            table = quote(meta.db_table)
            pk_column = quote(meta.pk.column)
            if isinstance(op, _Update):
                fields = [meta.get_field(field_name) for field_name in op.fields]
                rows = []
                for obj in op.objs:
                    values = [f"%s::{meta.pk.db_type(connection)}"]
                    params.append(meta.pk.get_db_prep_save(obj.pk, connection))
                    for field in fields:
                        value = field.pre_save(obj, add=False)
                        values.append(f"%s::{field.db_type(connection)}")
                        params.append(field.get_db_prep_save(value, connection))
                    rows.append(f"({', '.join(values)})")
                aliases = ", ".join(f"c{index}" for index in range(len(fields)))
                assignments = ", ".join(
                    f"{quote(field.column)} = v.c{index}" for index, field in enumerate(fields)
                )
                ctes.append(
                    f"{name} AS (UPDATE {table} SET {assignments} "
                    f"FROM (VALUES {', '.join(rows)}) AS v(pk, {aliases}) "
                    f"WHERE {table}.{pk_column} = v.pk)"
                )
                continue
            fields = [
                field
                for field in meta.concrete_fields
                if not (field.primary_key and getattr(op.objs[0], field.attname) is None)
            ]
            keys = None
            if len(op.objs) > 1 and meta.pk not in fields:
                # The keys first, then the rows with their own key each (see the docstring).
                keys = f"k{number}"
                ctes.append(
                    f"{keys} AS (SELECT ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                    f"FROM generate_series(1, {len(op.objs)})) AS pks)"
                )
                params.extend([table, meta.pk.column])
            rows = []
            for row_number, obj in enumerate(op.objs, start=1):
                values = [] if keys is None else [f"(SELECT pks[{row_number}] FROM {keys})"]
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
            columns = ", ".join(
                quote(field.column) for field in ([meta.pk] if keys else []) + fields
            )
            ctes.append(
                f"{name} AS (INSERT INTO {table} ({columns}) VALUES {', '.join(rows)} "
                f"RETURNING {pk_column})"
            )
            if len(op.objs) == 1:
                inserted[id(op.objs[0])] = (name, pk_column)
                # One row: the one key it returns is its own.
                outputs.append((f"ARRAY(SELECT {pk_column} FROM {name})", op))
            elif keys is not None:
                outputs.append((f"(SELECT pks FROM {keys})", op))
            else:  # the instances brought their own keys
                outputs.append(("NULL", op))
        selects = ", ".join(select for select, _ in outputs)
        sql = f"WITH {', '.join(ctes)} SELECT {selects or 'NULL'}"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        for (_, op), pks in zip(outputs, row or (), strict=False):
            for obj, pk in zip(op.objs, pks or [obj.pk for obj in op.objs], strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = self.using
        # Foreign-key attributes follow the instances they point at, as after save().
        for _, op in outputs:
            for obj in op.objs:
                for field, target in _relations(obj):
                    if getattr(obj, field.attname) is None:
                        obj.__dict__[field.attname] = target.pk

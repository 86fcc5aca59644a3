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

A batch may hang on a gate (``gate``, PostgreSQL only): one row's guarded, relative
UPDATE, first in the statement, which locks the row and moves it; every other write of
the batch happens only if it held, and may use the values it left in the row
(``Returned``). The row is locked, written and, outside a transaction, committed within
the one statement: no round trip of the client happens while it is held.
"""

# The SQL below is put together from model metadata only (tables, columns, types, CTE
# names); every value is a parameter.
# ruff: noqa: S608

import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from django.db import connections
from django.db.models import Field, Model

from loyalty.batch_values import Returned, array_literal, as_is_test, markers, resolved


@dataclass(frozen=True)
class _Gate:
    obj: Model
    add: dict[str, Any]
    latest: dict[str, Any]
    assign: dict[str, Any]
    equal: dict[str, Any]
    below: dict[str, Any]
    exists: tuple[tuple[type[Model], dict[str, Any]], ...]

    @property
    def written(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*self.add, *self.latest, *self.assign]))


@dataclass(frozen=True)
class _Insert:
    objs: tuple[Model, ...]


@dataclass(frozen=True)
class _Update:
    objs: tuple[Model, ...]
    fields: tuple[str, ...]


_DB_TYPES: dict[tuple[Any, str], str | None] = {}


@functools.cache
def _relation_fields(model: type[Model]) -> tuple[Any, ...]:
    return tuple(field for field in model._meta.concrete_fields if field.is_relation)


def _relations(obj: Model) -> Iterable[tuple[Any, Model]]:
    fields = _relation_fields(type(obj))
    for field in fields:
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
        elif not any(
            id(one) in referenced or any(target.pk is None for _, target in _relations(one))
            for one in op.objs
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
            merged.append(_Insert(tuple(one for op in entry for one in op.objs)))
    return merged


class WriteBatch:
    def __init__(self, using: str = "default") -> None:
        self.using = using
        self._ops: list[_Insert | _Update] = []
        self._updates: dict[int, _Update] = {}
        self._gate: _Gate | None = None
        self._when_written: list[Callable[[], None]] = []

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

    def gate(
        self,
        obj: Model,
        *,
        add: dict[str, Any] | None = None,
        latest: dict[str, Any] | None = None,
        assign: dict[str, Any] | None = None,
        equal: dict[str, Any] | None = None,
        below: dict[str, Any] | None = None,
        exists: Iterable[tuple[type[Model], dict[str, Any]]] = (),
    ) -> None:
        """Hang the batch on one UPDATE of ``obj``'s row (see the module): it holds when,
        on the row as PostgreSQL locks it (before this update), each ``equal`` field has
        the value given (None: is null), each ``below`` field is under the value given,
        and each of ``exists`` (a model and field values) finds a row as of the
        statement's start. It adds each ``add`` value to its field, keeps the later of
        each ``latest`` field and its value, and sets each ``assign`` field. An update of
        ``obj`` queued before is dropped: the gate writes the row. ``obj`` gets the
        values the row was left with."""
        if obj.pk is None:
            raise ValueError("a gate needs a saved instance")
        earlier = self._updates.pop(id(obj), None)
        self._ops = [op for op in self._ops if op is not earlier]
        self._gate = _Gate(
            obj=obj,
            add=dict(add or {}),
            latest=dict(latest or {}),
            assign=dict(assign or {}),
            equal=dict(equal or {}),
            below=dict(below or {}),
            exists=tuple(exists),
        )

    def when_written(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once ``execute`` has written the batch (in the caller's
        transaction: what it enqueues waits for the commit with ``on_commit``); never when
        a gate kept it from being written."""
        self._when_written.append(callback)

    def absorb(self, other: "WriteBatch") -> None:
        """Queue what ``other`` holds after what this batch holds, and empty ``other``."""
        if other._gate is not None:
            raise ValueError("a gated batch is executed on its own")
        for op in other._ops:
            if isinstance(op, _Update):
                self.update(op.objs[0], op.fields)
            else:
                self._ops.append(op)
        self._when_written.extend(other._when_written)
        other._ops, other._updates, other._when_written = [], {}, []

    def execute(self) -> bool:
        """Write everything queued, then empty the batch. False when its gate did not
        hold: nothing was written."""
        ops, self._ops, self._updates = self._ops, [], {}
        gate, self._gate = self._gate, None
        callbacks, self._when_written = self._when_written, []
        if ops or gate is not None:
            ops = _group(ops)
            if connections[self.using].vendor == "postgresql":
                if not self._execute_statement(ops, gate):
                    return False
            elif gate is not None:
                raise NotImplementedError("a gated batch runs on PostgreSQL only")
            else:
                self._execute_orm(ops)
        for callback in callbacks:
            callback()
        return True

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

    def _execute_statement(self, ops: list[_Insert | _Update], gate: _Gate | None) -> bool:
        connection = connections[self.using]
        statement = _Statement(connection)
        if gate is not None:
            statement.gate("wg", gate)
        for number, op in enumerate(ops):
            if isinstance(op, _Update):
                statement.update(f"w{number}", op)
            else:
                statement.insert(f"w{number}", op)
        with connection.cursor() as cursor:
            cursor.execute(statement.sql(), statement.params)
            row = cursor.fetchone()
        if gate is not None:
            held, *values = row[: 1 + len(gate.written)]
            row = row[1 + len(gate.written) :]
            if not held:
                return False
            returned = dict(zip(gate.written, values, strict=True))
            for name, value in returned.items():
                setattr(gate.obj, gate.obj._meta.get_field(name).attname, value)
            for obj, attname, value in statement.marked:
                obj.__dict__[attname] = resolved(value, returned)
        for (_, op), pks in zip(statement.outputs, row or (), strict=False):
            for obj, pk in zip(op.objs, pks or [obj.pk for obj in op.objs], strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = self.using
        # Foreign-key attributes follow the instances they point at, as after save().
        for _, op in statement.outputs:
            for obj in op.objs:
                for field, target in _relations(obj):
                    if getattr(obj, field.attname) is None:
                        obj.__dict__[field.attname] = target.pk
        return True


class _Statement:
    """The chain of CTEs of one batch on PostgreSQL, and its parameters.

    Rows of several instances travel as one array parameter a column, read back with
    ``unnest``: a statement of a few dozen parameters that PostgreSQL parses and plans in
    no time, where a ``VALUES`` list of a thousand rows (a parameter a value) took longer
    to plan than to run. A ``VALUES`` row remains for an instance alone and for rows that
    point at an instance inserted earlier in the statement."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.quote = connection.ops.quote_name
        self.ctes: list[str] = []
        self.params: list[Any] = []
        self.inserted: dict[int, tuple[str, str]] = {}  # id(obj) -> (cte name, pk column)
        self.outputs: list[tuple[str, _Insert]] = []
        self.heads: list[str] = []  # the gate's: whether it held, then what it returned
        self.gate_name: str | None = None
        self.gate_columns: dict[str, str] = {}  # field name -> column
        self.held = ""  # the condition every write after the gate hangs on
        self.marked: list[tuple[Model, str, Any]] = []  # values holding ``Returned``

    def _prepared(self, field: Any, value: Any) -> Any:
        as_is = as_is_test(field)
        if as_is is not None and as_is(value):
            return value
        return field.get_db_prep_save(value, self.connection)

    def sql(self) -> str:
        selects = ", ".join([*self.heads, *(select for select, _ in self.outputs)])
        return f"WITH {', '.join(self.ctes)} SELECT {selects or 'NULL'}"

    def gate(self, name: str, gate: _Gate) -> None:
        meta = gate.obj._meta
        table = self.quote(meta.db_table)

        def column(field_name: str) -> tuple[Any, str]:
            field = meta.get_field(field_name)
            return field, self.quote(field.column)

        sets = []
        for forms, values in (
            ("{c} = {t}.{c} + %s::{k}", gate.add),
            ("{c} = GREATEST({t}.{c}, %s::{k})", gate.latest),
            ("{c} = %s::{k}", gate.assign),
        ):
            for field_name, value in values.items():
                field, col = column(field_name)
                sets.append(forms.format(c=col, t=table, k=self._db_type(field)))
                self.params.append(self._prepared(field, value))
        wheres = [f"{table}.{self.quote(meta.pk.column)} = %s"]
        self.params.append(gate.obj.pk)
        for field_name, value in gate.equal.items():
            field, col = column(field_name)
            if value is None:
                wheres.append(f"{table}.{col} IS NULL")
            else:
                wheres.append(f"{table}.{col} = %s::{self._db_type(field)}")
                self.params.append(self._prepared(field, value))
        for field_name, value in gate.below.items():
            field, col = column(field_name)
            wheres.append(f"{table}.{col} < %s::{self._db_type(field)}")
            self.params.append(self._prepared(field, value))
        for model, values in gate.exists:
            other = self.quote(model._meta.db_table)
            matches = []
            for field_name, value in values.items():
                field = model._meta.get_field(field_name)
                matches.append(f"{other}.{self.quote(field.column)} = %s::{self._db_type(field)}")
                self.params.append(self._prepared(field, value))
            wheres.append(f"EXISTS (SELECT 1 FROM {other} WHERE {' AND '.join(matches)})")
        self.gate_columns = {
            field_name: self.quote(meta.get_field(field_name).column) for field_name in gate.written
        }
        returning = ", ".join(f"{table}.{col}" for col in self.gate_columns.values()) or "1"
        self.ctes.append(
            f"{name} AS (UPDATE {table} SET {', '.join(sets)} "
            f"WHERE {' AND '.join(wheres)} RETURNING {returning})"
        )
        self.gate_name = name
        self.held = f"EXISTS (SELECT FROM {name})"
        self.heads = [
            self.held,
            *(f"(SELECT {col} FROM {name})" for col in self.gate_columns.values()),
        ]

    def _returned_ref(self, obj: Model, field: Any, value: Any) -> "_Ref | None":
        """The SQL of a value that holds what the gate returned, or None when it holds
        none of it."""
        if isinstance(value, Returned):
            self.marked.append((obj, field.attname, value))
            return _Ref(f"(SELECT {self.gate_columns[value.field]} FROM {self.gate_name})")
        if not isinstance(value, dict | list):
            return None
        found = list(markers(value))
        if not found:
            return None
        self.marked.append((obj, field.attname, value))
        sql = "%s::jsonb"
        params: list[Any] = [field.get_db_prep_save(resolved(value, {}), self.connection)]
        for path, field_name in found:
            returned = f"(SELECT {self.gate_columns[field_name]} FROM {self.gate_name})"
            sql = f"jsonb_set({sql}, %s::text[], to_jsonb({returned}))"
            params.append(list(path))
        return _Ref(sql, tuple(params))

    def _db_type(self, field: Any) -> str | None:
        """``field.db_type``, kept: a foreign key's builds a new field each time."""
        key = (field, self.connection.vendor)
        try:
            return _DB_TYPES[key]
        except KeyError:
            db_type = _DB_TYPES[key] = field.db_type(self.connection)
            return db_type

    def _array_type(self, field: Any) -> str | None:
        """The array type a column of ``field``'s values travels as, or None when its
        values are arrays themselves (which do not stack into one)."""
        db_type = self._db_type(field)
        if db_type is None or "[" in db_type:
            return None
        return f"{db_type}[]"

    def update(self, name: str, op: _Update) -> None:
        meta = op.objs[0]._meta
        table = self.quote(meta.db_table)
        fields = [meta.get_field(field_name) for field_name in op.fields]
        columns = [[self._prepared(meta.pk, obj.pk) for obj in op.objs]]
        for field in fields:
            columns.append(
                [self._prepared(field, field.pre_save(obj, add=False)) for obj in op.objs]
            )
        aliases = ", ".join(f"c{index}" for index in range(len(fields)))
        types = [self._array_type(field) for field in [meta.pk, *fields]]
        if len(op.objs) > 1 and all(types):
            source = f"unnest({', '.join(f'%s::{kind}' for kind in types)})"
            self.params.extend(array_literal(column) for column in columns)
        else:
            rows = []
            for values in zip(*columns, strict=True):
                rows.append(
                    "("
                    + ", ".join(f"%s::{self._db_type(field)}" for field in [meta.pk, *fields])
                    + ")"
                )
                self.params.extend(values)
            source = f"(VALUES {', '.join(rows)})"
        assignments = ", ".join(
            f"{self.quote(field.column)} = v.c{index}" for index, field in enumerate(fields)
        )
        held = f" AND {self.held}" if self.held else ""
        self.ctes.append(
            f"{name} AS (UPDATE {table} SET {assignments} FROM {source} AS v(pk, {aliases}) "
            f"WHERE {table}.{self.quote(meta.pk.column)} = v.pk{held})"
        )

    def insert(self, name: str, op: _Insert) -> None:
        meta = op.objs[0]._meta
        table = self.quote(meta.db_table)
        pk_column = self.quote(meta.pk.column)
        fields = [
            field
            for field in meta.concrete_fields
            if not (field.primary_key and getattr(op.objs[0], field.attname) is None)
        ]
        keys = None
        if len(op.objs) > 1 and meta.pk not in fields:
            # The keys first, then the rows with their own key each (see the module).
            keys = f"k{name}"
            self.ctes.append(
                f"{keys} AS (SELECT ARRAY(SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                f"FROM generate_series(1, {len(op.objs)})) AS pks)"
            )
            self.params.extend([table, meta.pk.column])
        columns = ", ".join(
            self.quote(field.column) for field in ([meta.pk] if keys else []) + fields
        )
        types = [self._array_type(field) for field in fields] if len(op.objs) > 1 else [None]
        by_column = self._columns(fields, op.objs) if all(types) else None
        held = f" WHERE {self.held}" if self.held else ""
        if by_column is not None:
            aliases = [f"c{index}" for index in range(len(fields))]
            arrays = ", ".join(f"%s::{kind}" for kind in types)
            self.params.extend(array_literal(column) for column in by_column)
            if keys:
                selected = ", ".join([f"{keys}.pks[v.n]", *(f"v.{a}" for a in aliases)])
                source = f"unnest({arrays}) WITH ORDINALITY AS v({', '.join(aliases)}, n), {keys}"
            else:
                selected = ", ".join(f"v.{a}" for a in aliases)
                source = f"unnest({arrays}) AS v({', '.join(aliases)})"
            self.ctes.append(
                f"{name} AS (INSERT INTO {table} ({columns}) SELECT {selected} FROM {source}{held})"
            )
        else:
            lines = []
            for row_number, obj in enumerate(op.objs, start=1):
                marks = [] if keys is None else [f"(SELECT pks[{row_number}] FROM {keys})"]
                for field, value in zip(fields, self._row(meta, fields, obj), strict=True):
                    if isinstance(value, _Ref):
                        marks.append(value.sql)
                        self.params.extend(value.params)
                    else:
                        # Hung on a gate, the row is a SELECT's: its values are typed here,
                        # as INSERT ... VALUES would type them by the columns.
                        marks.append(f"%s::{self._db_type(field)}" if held else "%s")
                        self.params.append(value)
                lines.append(f"({', '.join(marks)})")
            rows = f"VALUES {', '.join(lines)}"
            if held:
                rows = f"SELECT * FROM ({rows}) AS v{held}"
            self.ctes.append(
                f"{name} AS (INSERT INTO {table} ({columns}) {rows} RETURNING {pk_column})"
            )
        if len(op.objs) == 1:
            self.inserted[id(op.objs[0])] = (name, pk_column)
            # One row: the one key it returns is its own.
            self.outputs.append((f"ARRAY(SELECT {pk_column} FROM {name})", op))
        elif keys is not None:
            self.outputs.append((f"(SELECT pks FROM {keys})", op))
        else:  # the instances brought their own keys
            self.outputs.append(("NULL", op))

    def _row(self, meta: Any, fields: list[Any], obj: Model) -> list[Any]:
        """One row's values, or the CTE of the unsaved instance a value points at."""
        values: list[Any] = []
        for field in fields:
            target = field.get_cached_value(obj, None) if field.is_relation else None
            if target is not None and target.pk is None:
                ref = self.inserted.get(id(target))
                if ref is None:
                    raise ValueError(
                        f"{meta.label}.{field.name} points at an instance that is "
                        "neither saved nor inserted earlier in the batch on its own"
                    )
                values.append(_Ref(f"(SELECT {ref[1]} FROM {ref[0]})"))
                continue
            if target is not None:
                # Not setattr: that would drop the cached instance.
                obj.__dict__[field.attname] = target.pk
            value = field.pre_save(obj, add=True)
            ref = self._returned_ref(obj, field, value) if self.gate_name else None
            values.append(ref if ref is not None else self._prepared(field, value))
        return values

    def _columns(self, fields: list[Any], objs: Sequence[Model]) -> list[list[Any]] | None:
        """The values of many rows, a column at a time; None when a row points at an
        unsaved instance (its key is not known yet)."""
        columns = []
        for field in fields:
            if field.is_relation:
                values = []
                for obj in objs:
                    target = field.get_cached_value(obj, None)
                    if target is not None:
                        if target.pk is None:
                            return None
                        obj.__dict__[field.attname] = target.pk
                    values.append(obj.__dict__[field.attname])
            elif type(field).pre_save is Field.pre_save:
                values = list(map(attrgetter(field.attname), objs))
            else:
                values = [field.pre_save(obj, add=True) for obj in objs]
            if self.gate_name and any(any(markers(value)) for value in values):
                return None  # row by row, each with what the gate returned
            as_is = as_is_test(field)
            prepare = field.get_db_prep_save
            connection = self.connection
            if as_is is None:
                columns.append([prepare(value, connection) for value in values])
            else:
                columns.append(
                    [value if as_is(value) else prepare(value, connection) for value in values]
                )
        return columns


@dataclass(frozen=True)
class _Ref:
    """A value that is SQL of the statement's own: the key of a row inserted earlier in
    it, or what its gate returned."""

    sql: str
    params: tuple[Any, ...] = ()

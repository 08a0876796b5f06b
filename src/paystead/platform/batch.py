"""Independent writes sent together: one round trip on PostgreSQL.

A :class:`Batch` collects INSERTs and keyed UPDATEs that do not read each other's
results (a payment, its outbox event, its risk assessment; a journal entry, its
postings, the idempotent response). :meth:`Batch.execute` sends them in the caller's
transaction:

- on PostgreSQL as **one statement**: every write but the last is a data-modifying CTE
  (``WITH w0 AS (INSERT ...), w1 AS (UPDATE ...) INSERT ...``). All of them run or
  none does; foreign keys between them (postings to their entry) are checked at the end
  of the statement, so they hold. The statement is built once per shape (which tables,
  which columns, how many rows) and cached, so SQLAlchemy reuses its compiled form;
- on SQLite (no data-modifying CTEs) as one statement per write, in order, as before.

The last write's parameters are its column names prefixed with :data:`MAIN`, so a
statement hook that reads an INSERT's parameters (the outbox insert,
``telemetry.database``) finds them when it comes last.

One compare-and-set may lead the batch as its :meth:`~Batch.guard`: the other writes
happen only if it updated a row, and ``execute`` returns whether it did (on SQLite it
runs first and the rest only then). Other writes whose result decides what happens
next (a claim) do not belong in a batch, nor do updates of hot rows that must be
locked in a fixed order (ledger balance slots): within one statement PostgreSQL gives
no order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

#: ("insert", table, columns, rows) or ("update" / "guard", table, key columns, set columns).
_Shape = tuple[str, sa.Table, tuple[str, ...], int | tuple[str, ...]]

_CACHE_LIMIT = 512
_combined: dict[tuple[_Shape, ...], Any] = {}
_single: dict[tuple[str, sa.Table, tuple[str, ...]], Any] = {}


def _bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


class Batch:
    __slots__ = ("_ops",)

    def __init__(self) -> None:
        #: (shape, parameter rows or (key, values)) per write, in order.
        self._ops: list[tuple[_Shape, Any]] = []

    def __len__(self) -> int:
        return len(self._ops)

    def insert(self, table: sa.Table, row: Mapping[str, Any]) -> None:
        """``INSERT INTO table`` one row."""
        self._ops.append((("insert", table, tuple(row), 1), (row,)))

    def insert_many(self, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """``INSERT INTO table`` several rows (all with the same columns)."""
        if rows:
            self._ops.append((("insert", table, tuple(rows[0]), len(rows)), tuple(rows)))

    def update(self, table: sa.Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """``UPDATE table SET values WHERE`` every ``key`` column equals its value."""
        self._ops.append((("update", table, tuple(key), tuple(values)), (key, values)))

    def guard(self, table: sa.Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> None:
        """A compare-and-set the batch depends on (``UPDATE table SET values WHERE`` every
        ``key`` column equals its value), added first: the other writes happen only if
        it updated a row, and :meth:`execute` says whether it did. On PostgreSQL the
        others become ``INSERT ... SELECT ... WHERE EXISTS`` / ``UPDATE ... AND EXISTS``
        on its ``RETURNING``; the last write must then be an INSERT or an UPDATE of a row
        that exists, since its row count is the answer. No write may touch the guard's
        row (nor any row twice): one statement cannot update a row twice."""
        if self._ops and self._ops[0][0][0] == "guard":
            raise ValueError("a batch has one guard")
        self._ops.insert(0, (("guard", table, tuple(key), tuple(values)), (key, values)))

    async def execute(self, conn: AsyncConnection) -> bool:
        """Send the writes in ``conn``'s transaction (see the module doc), then forget
        them. False when the guard updated no row (then nothing else was written)."""
        ops, self._ops = self._ops, []
        if not ops:
            return True
        if conn.dialect.name == "postgresql" and len(ops) > 1:
            result = await conn.execute(_statement(tuple(s for s, _ in ops)), _parameters(ops))
            return ops[0][0][0] != "guard" or bool(result.rowcount)
        for shape, data in ops:
            if shape[0] == "guard":
                key, values = data
                result = await conn.execute(
                    _single_statement(shape), {**values, **{f"w_{k}": v for k, v in key.items()}}
                )
                if not result.rowcount:
                    return False
                continue
            if shape[0] == "insert":
                rows = list(data)
                await conn.execute(_single_statement(shape), rows if len(rows) > 1 else rows[0])
            else:
                key, values = data
                await conn.execute(
                    _single_statement(shape), {**values, **{f"w_{k}": v for k, v in key.items()}}
                )
        return True


def _single_statement(shape: _Shape) -> Any:
    kind, table, columns, _ = shape
    kind = "update" if kind == "guard" else kind
    cache_key = (kind, table, columns)
    statement = _single.get(cache_key)
    if statement is None:
        if kind == "insert":
            statement = table.insert()
        else:
            statement = table.update().where(
                *(table.c[c] == _bind(f"w_{c}", table.c[c]) for c in columns)
            )
        if len(_single) < _CACHE_LIMIT:
            _single[cache_key] = statement
    return statement


#: The prefix of the last (main) write's parameters: ``m_data``, ``m_type``...
MAIN = "m_"


def _prefix(index: int, shape: _Shape, last: bool) -> str:
    """Bind names, never a bare column name: SQLAlchemy would take a parameter named
    like a column as a value for that column in every write of the statement."""
    return MAIN if last else f"o{index}_"


def _writes(index: int, shape: _Shape, last: bool, guard: Any = None) -> list[Any]:
    """The statements for one write: a row per INSERT (SQLAlchemy renders no multi-row
    VALUES for tables with an autoincrement key), one UPDATE; each conditional on
    ``guard`` (an EXISTS) when there is one."""
    kind, table, columns, extent = shape
    p = _prefix(index, shape, last)
    if kind == "insert":
        assert isinstance(extent, int)
        if extent == 1:
            rows = [[f"{p}{c}" for c in columns]]
        else:
            rows = [[f"{p}{r}_{c}" for c in columns] for r in range(extent)]
        if guard is None:
            return [
                table.insert().values(
                    {c: _bind(n, table.c[c]) for c, n in zip(columns, row, strict=True)}
                )
                for row in rows
            ]
        return [
            table.insert().from_select(
                columns,
                sa.select(*(_bind(n, table.c[c]) for c, n in zip(columns, row, strict=True))).where(
                    guard
                ),
            )
            for row in rows
        ]
    assert isinstance(extent, tuple)
    update = (
        table.update()
        .where(*(table.c[c] == _bind(f"{p}w_{c}", table.c[c]) for c in columns))
        .values({c: _bind(f"{p}{c}", table.c[c]) for c in extent})
    )
    if kind == "guard":
        return [update.returning(table.c[columns[0]])]
    return [update if guard is None else update.where(guard)]


def _statement(shapes: tuple[_Shape, ...]) -> Any:
    statement = _combined.get(shapes)
    if statement is None:
        last = len(shapes) - 1
        ctes: list[Any] = []
        guard = None
        if shapes[0][0] == "guard":
            cte = _writes(0, shapes[0], False)[0].cte("g")
            ctes.append(cte)
            guard = sa.exists(sa.select(sa.literal(1)).select_from(cte))
        start = len(ctes)
        writes = [
            w
            for i, shape in enumerate(shapes[start:], start)
            for w in _writes(i, shape, i == last, guard)
        ]
        main = writes.pop()
        ctes.extend(w.cte(f"w{n}") for n, w in enumerate(writes))
        statement = main.add_cte(*ctes)
        if len(_combined) < _CACHE_LIMIT:
            _combined[shapes] = statement
    return statement


def _parameters(ops: list[tuple[_Shape, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    last = len(ops) - 1
    for index, (shape, data) in enumerate(ops):
        p = _prefix(index, shape, index == last)
        if shape[0] == "insert":
            rows = data
            if len(rows) == 1:
                params.update({f"{p}{c}": v for c, v in rows[0].items()})
            else:
                for r, row in enumerate(rows):
                    params.update({f"{p}{r}_{c}": v for c, v in row.items()})
        else:
            key, values = data
            params.update({f"{p}w_{c}": v for c, v in key.items()})
            params.update({f"{p}{c}": v for c, v in values.items()})
    return params

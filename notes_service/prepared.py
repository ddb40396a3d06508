"""Statements compiled once and run on the driver's cursor, for the few hottest statements.

SQLAlchemy's execution of a Core statement (an execution context, the parameters and rows
through their type processors, a result object) costs about 50 µs; SQLite runs a small indexed
statement in 10–25 µs. A chart's 304 runs three such statements and little else, so that
overhead is most of its cost. :class:`Prepared` keeps what SQLAlchemy compiled (the SQL text
of the connection's dialect, the type processors of every parameter and column) and runs the
text on the cursor of the same :class:`~sqlalchemy.engine.Connection`:

- the Connection still owns the transaction: it is begun and committed through SQLAlchemy, so
  the ``begin`` and ``commit`` listeners of :mod:`notes_service.extensions` (SQLite's lock and
  durability, PostgreSQL's relaxed audit commits) run as for any statement;
- ``before_cursor_execute`` listeners see each statement (the write lock an insert takes, the
  tests' query counts);
- a driver error is raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError`, with a lost
  connection invalidated, as an executed statement's would be.

Statements with expanding ``IN`` parameters are not supported (their SQL varies per call).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict


@dataclass
class _Form:
    """A statement compiled for one dialect (and, for an insert, one set of columns)."""

    sql: str
    compiled: Any
    #: Parameter names in the order the SQL's ``?`` markers take them, or None (named ones).
    order: tuple[str, ...] | None
    binders: tuple[tuple[str, Callable], ...]
    #: The types of the selected columns (none for a textual statement).
    types: tuple
    #: (position, result processor) of each selected column that has one (the others keep the
    #: driver's value as it is), set at the first run from the cursor's description, as
    #: SQLAlchemy does: some depend on the type the database reports (PostgreSQL's numeric
    #: types).
    readers: tuple[tuple[int, Callable], ...] | None = None

    def parameters(self, values: dict) -> Sequence | dict:
        params = self.compiled.construct_params(values)
        for name, process in self.binders:
            params[name] = process(params[name])
        return params if self.order is None else [params[name] for name in self.order]

    def rows(self, cursor, dialect) -> list[tuple]:
        raw = cursor.fetchall()
        if not self.types:  # a textual statement: its columns' types are unknown
            return [tuple(row) for row in raw]
        if self.readers is None:
            processors = (kind.dialect_impl(dialect).result_processor(dialect, described[1])
                          for kind, described in zip(self.types, cursor.description, strict=True))
            self.readers = tuple((position, read) for position, read in enumerate(processors)
                                 if read is not None)
        readers = self.readers
        if not readers:
            return [tuple(row) for row in raw]
        rows = []
        for row in raw:
            row = list(row)
            for position, read in readers:
                if row[position] is not None:
                    row[position] = read(row[position])
            rows.append(tuple(row))
        return rows


class Prepared:
    """A Core statement, built by ``build`` on first use, run on a Connection's cursor.

    ``build`` is called once; the statement is compiled once per dialect and, for an insert,
    per set of column names given.
    """

    def __init__(self, build: Callable[[], Any]):
        self._build = build
        self._statement = None
        self._forms: dict[tuple, _Form] = {}

    def _form(self, dialect, column_keys: tuple[str, ...] | None) -> _Form:
        key = (dialect.name, dialect.driver, column_keys)
        form = self._forms.get(key)
        if form is None:
            if self._statement is None:
                self._statement = self._build()
            form = self._forms[key] = self._compile(dialect, column_keys)
        return form

    def _compile(self, dialect, column_keys: tuple[str, ...] | None) -> _Form:
        statement = self._statement
        compiled = statement.compile(dialect=dialect,
                                     column_keys=list(column_keys) if column_keys else None)
        binders = []
        for name, bind in compiled.binds.items():
            if bind.expanding:
                raise ValueError(f"{name}: an expanding IN parameter cannot be prepared")
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binders.append((name, process))
        # A select's columns, or an insert's RETURNING ones.
        types = tuple(column.type for column in getattr(statement, "exported_columns", ()))
        order = tuple(compiled.positiontup) if compiled.positional else None
        return _Form(compiled.string, compiled, order, tuple(binders), types)

    def _cursor(self, connection: Connection, form: _Form, parameters, many: bool):
        if not connection.in_transaction():
            connection.begin()  # its listeners run: BEGIN, or BEGIN IMMEDIATE, on SQLite
        fairy = connection.connection
        cursor = fairy.cursor()
        dialect = connection.dialect
        try:
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, form.sql, parameters, None, many)
            if many:
                cursor.executemany(form.sql, parameters)
            else:
                cursor.execute(form.sql, parameters)
        except dialect.loaded_dbapi.Error as error:
            try:
                cursor.close()
            except dialect.loaded_dbapi.Error:
                pass  # a lost connection's cursor may not close: the first error is the one
            lost = dialect.is_disconnect(error, fairy.dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(form.sql, parameters, error,
                                          dialect.loaded_dbapi.Error, dialect=dialect,
                                          connection_invalidated=lost) from error
        return cursor

    def rows(self, connection: Connection, values: dict) -> list[tuple]:
        """Run the (selecting) statement with ``values``; every row, through the column types."""
        form = self._form(connection.dialect, None)
        cursor = self._cursor(connection, form, form.parameters(values), many=False)
        try:
            return form.rows(cursor, connection.dialect)
        finally:
            cursor.close()

    def first(self, connection: Connection, values: dict) -> tuple | None:
        """The statement's first row, or None."""
        found = self.rows(connection, values)
        return found[0] if found else None

    def insert(self, connection: Connection, row: dict) -> tuple:
        """Run the (inserting, returning) statement with the values of ``row``; the row it
        returns, through the column types."""
        form = self._form(connection.dialect, tuple(row))
        cursor = self._cursor(connection, form, form.parameters(row), many=False)
        try:
            return form.rows(cursor, connection.dialect)[0]
        finally:
            cursor.close()

    def write(self, connection: Connection, rows: list[dict]) -> None:
        """Run the (inserting, updating or deleting) statement once per set of values in
        ``rows``, which share their keys (an insert is compiled for those columns)."""
        form = self._form(connection.dialect, tuple(rows[0]))
        parameters = [form.parameters(row) for row in rows]
        if len(parameters) == 1:
            self._cursor(connection, form, parameters[0], many=False).close()
        else:
            self._cursor(connection, form, parameters, many=True).close()


@cache
def column_keys(model) -> tuple[str, ...]:
    """The keys of ``model``'s column attributes, in the mapper's order (its primary key's
    first): the columns to select for :func:`as_loaded`."""
    return tuple(attr.key for attr in model.__mapper__.column_attrs)


def holds_nothing(session) -> bool:
    """Whether ``session`` holds no object yet: then a prepared row may be attached with
    :func:`as_loaded`. One that does (an app context that already loaded or added objects, as
    in tests) should run the ORM statement, which reconciles the row with the objects it holds
    and flushes pending changes first."""
    return not (session.identity_map or session.new)


def as_loaded(session, model, values):
    """A persistent ``model`` object of ``session`` holding ``values`` (of every column
    attribute: a mapping of their keys, or a row in :func:`column_keys` order), as a query
    would have loaded it: made without calling its ``__init__``, every column loaded and
    committed, no history (a change is flushed as an UPDATE of that column). Loading a
    prepared row this way costs a fraction of SQLAlchemy's execution and loading of the ORM
    statement."""
    obj = model.__mapper__.class_manager.new_instance()
    instance_dict(obj).update(values if isinstance(values, Mapping)
                              else zip(column_keys(model), values))
    make_transient_to_detached(obj)
    session.add(obj)
    return obj

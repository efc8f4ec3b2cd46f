"""Hot statements as plain SQL on the session's DBAPI connection.

The delivery worker's store pass runs the same few small statements many times a second;
SQLAlchemy's per-statement work (the compiled cache, expanding IN lists, a bind or result
processor per value) cost several times what SQLite or PostgreSQL take to run them. Those
statements are written as SQL text, run in the session's transaction, and a codec per
dialect does what the column types do (rows.py, types.py): the same stored values, the same
values back (UUIDs, aware UTC datetimes, bools, NULL as None).

Only the drivers hookmail ships with: sqlite3 and psycopg 3 (settings accept no other).
Statements are put together from constant text and placeholders only (`noqa: S608` where
ruff can't tell); every value is a parameter.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Boolean, ColumnElement, Connection, Uuid
from sqlalchemy.orm import Session

from hookmail.adapters.notify import pg_notify
from hookmail.adapters.sql.types import UtcDateTime
from hookmail.adapters.sql.writes import READ_AHEAD, touch


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


class Codec(Protocol):
    """How one dialect's driver takes and gives the values of hookmail's column types."""

    def sql(self, text: str) -> str:
        """`text`, written with `?` placeholders, as this driver takes it."""
        ...

    def uuid(self, value: UUID | None) -> Any: ...
    def uuid_from(self, value: Any) -> UUID | None: ...
    def when(self, value: datetime | None) -> Any: ...
    def when_from(self, value: Any) -> datetime | None: ...

    def among(self, column: str, values: Sequence[Any], *, negate: bool = False) -> str:
        """A condition: `column` is (or with `negate`, is not) one of `values` (encoded,
        at least one); its parameters are params_among(values)."""
        ...

    def params_among(self, values: Sequence[Any]) -> list[Any]: ...

    # SQL fragments
    true: str
    skip_locked: str  # row locks for a queue; empty where writers are serialised


class _Sqlite:
    """SQLAlchemy's storage on SQLite: UUIDs as 32 hex digits, datetimes as naive UTC text
    "YYYY-MM-DD HH:MM:SS.ffffff" (so text order is time order), booleans as 0/1."""

    true = "1"
    skip_locked = ""  # SQLite serialises writers (BEGIN IMMEDIATE, engine.py)

    def sql(self, text: str) -> str:
        return text

    def uuid(self, value: UUID | None) -> str | None:
        return None if value is None else value.hex

    def uuid_from(self, value: str | None) -> UUID | None:
        return None if value is None else UUID(hex=value)

    # (datetime.replace() costs more than the formatting; the offset is written and read)
    def when(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return _aware(value).isoformat(" ", "microseconds").removesuffix("+00:00")

    def when_from(self, value: str | None) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value + "+00:00")

    def among(self, column: str, values: Sequence[Any], *, negate: bool = False) -> str:
        return f"{column} {'NOT IN' if negate else 'IN'} ({', '.join('?' * len(values))})"

    def params_among(self, values: Sequence[Any]) -> list[Any]:
        return list(values)


class _Postgres:
    """psycopg 3: native uuid and timestamptz; a list is an array parameter."""

    true = "true"
    skip_locked = " FOR UPDATE OF delivery_jobs SKIP LOCKED"

    def sql(self, text: str) -> str:
        return _format_style(text)

    def uuid(self, value: UUID | None) -> UUID | None:
        return value

    def uuid_from(self, value: UUID | None) -> UUID | None:
        return value

    def when(self, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    def when_from(self, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    def among(self, column: str, values: Sequence[Any], *, negate: bool = False) -> str:
        return f"{column} <> ALL(?)" if negate else f"{column} = ANY(?)"

    def params_among(self, values: Sequence[Any]) -> list[Any]:
        return [list(values)]


@cache
def _format_style(text: str) -> str:
    return text.replace("%", "%%").replace("?", "%s")


_CODECS: dict[str, Codec] = {"sqlite": _Sqlite(), "postgresql": _Postgres()}


# A session's codec and the connection of its transaction, kept in session.info:
# session.get_bind() and session.connection() go through SQLAlchemy's transaction state
# machinery, and a hot statement asks for both several times.
_CODEC = "hookmail_raw_codec"
_CONNECTION = "hookmail_raw_connection"


def codec(session: Session) -> Codec:
    found: Codec | None = session.info.get(_CODEC)
    if found is None:
        found = session.info[_CODEC] = _CODECS[session.get_bind().dialect.name]
    return found


def _connection(session: Session) -> Connection:
    """session.connection(): the connection of the session's transaction, begun if need be.
    The one found last time serves while it is open and in its transaction (a session's
    transaction ends by closing the connection it took, or giving it back to its bind)."""
    known: Connection | None = session.info.get(_CONNECTION)
    if known is not None and not known.closed and known.in_transaction():
        return known
    connection = session.info[_CONNECTION] = session.connection()
    return connection


def _run(session: Session, text: str, params: Any, *, many: bool = False) -> list[Any]:
    """Run `text` in the session's transaction (begun as engine.py says, if need be); the
    rows it returns. As with the session's own execute(), pending ORM changes are flushed
    first; a driver error is handled as SQLAlchemy handles its own statements' (wrapped in
    sqlalchemy.exc, a lost connection invalidated), so callers see no difference."""
    if session.autoflush:
        session.flush()
    connection = _connection(session)
    statement = codec(session).sql(text)
    if postgres(session):
        return _send(connection, [(statement, params, many)])[0]
    return on_driver(connection, statement, params, many=many)


def on_driver(
    connection: Connection, statement: str, params: Any, *, many: bool = False
) -> list[Any]:
    """`statement` on the driver's own cursor of `connection`, without SQLAlchemy's
    execution context (ten times the cost of a small statement); a driver error is wrapped
    in sqlalchemy.exc as SQLAlchemy would. The rows it returns."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(statement, params)
            return []
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []
    except Exception as exc:
        connection._handle_dbapi_exception(exc, statement, params, cursor, None)
        raise  # not reached: the above raises
    finally:
        cursor.close()


# PostgreSQL: each statement is a round trip to the server (a few of them for each message
# on the accept path, a dozen for each store pass of the delivery worker), and on a busy
# machine the round trips, not the statements, are the cost. Writes are kept back, on the
# connection, and sent with whatever comes next, in one psycopg pipeline: the next
# statement whose rows are wanted (_run), any statement of SQLAlchemy's (engine.py's
# hook), or the commit, so BEGIN, a group commit's INSERTs, its NOTIFY and COMMIT are one
# round trip. A write's error surfaces there, in the same transaction, which then rolls back.
DEFERRED = "hookmail_deferred_writes"
_Statement = tuple[str, Any, bool]  # SQL, parameters, and whether they are rows of an executemany


def postgres(session: Session) -> bool:
    """Whether the session is on PostgreSQL (where writes are kept back, see _send)."""
    return codec(session) is _CODECS["postgresql"]


def _defer(session: Session, text: str, params: Any, *, many: bool = False) -> None:
    if session.autoflush:
        session.flush()  # ORM changes made before this write are written before it
    info = _connection(session).info
    info.setdefault(DEFERRED, []).append((codec(session).sql(text), params, many))


def _send(
    connection: Any, reads: Sequence[_Statement] = (), *, commit: bool = False
) -> list[list[Any]]:
    """The writes kept back, then `reads` (the rows of each are returned), then COMMIT if
    asked, in one pipeline: one round trip. A transaction that has yet to begin and ends
    here (a group commit of the SMTP worker) is one statement if it can be (see
    _one_statement), else BEGIN ... COMMIT in that same round trip (psycopg would send its
    own BEGIN and wait for it: it is switched to autocommit, which it allows only then,
    for the pipeline's time). One read and nothing else is a plain execute (a pipeline
    costs the client more than the statement)."""
    pending: list[_Statement] = connection.info.pop(DEFERRED, [])
    driver = connection.connection.driver_connection
    whole = commit and not driver.autocommit and driver.info.transaction_status == _IDLE
    single = _one_statement(pending) if whole and not reads else None
    writes = driver.cursor()
    cursors = [driver.cursor() for _ in reads]
    statement, params = "", None
    try:
        if whole:
            driver.autocommit = True
        if single is not None:  # a transaction of its own (autocommit): no BEGIN, no COMMIT
            statement, params = single
            writes.execute(statement, params)
            return []
        if not pending and not commit and len(reads) == 1 and not reads[0][2]:
            statement, params, _many = reads[0]
            cursors[0].execute(statement, params)
        else:
            with driver.pipeline():
                if whole:
                    writes.execute("BEGIN")
                for statement, params, many in pending:
                    for row in params if many else (params,):  # an executemany's rows, queued
                        writes.execute(statement, row)
                for cursor, (statement, params, many) in zip(cursors, reads, strict=True):
                    for row in params if many else (params,):
                        cursor.execute(statement, row)
                if commit:
                    statement, params = "COMMIT", None
                    writes.execute(statement)
        return [_rows(cursor) for cursor in cursors]
    except Exception as exc:
        if whole and driver.info.transaction_status != _IDLE:
            driver.rollback()  # what failed skipped the COMMIT: the transaction is left open
        if single is not None:
            params = None  # a whole batch of mail (bodies, addresses): not for the error's text
        connection._handle_dbapi_exception(exc, statement, params, writes, None)
        raise  # not reached: the above raises
    finally:
        if whole and not driver.closed:
            driver.autocommit = False
        writes.close()
        for cursor in cursors:
            cursor.close()


_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE (psycopg is imported only where it is used)
_TUPLES_OK = 2  # psycopg.pq.ExecStatus.TUPLES_OK: the statement returned rows


def _rows(cursor: Any) -> list[Any]:
    """The rows of a psycopg cursor's statement; none if it returns none. (Its description
    would tell too, but makes an object per column on each call.)"""
    result = cursor.pgresult
    if result is None or result.status != _TUPLES_OK:
        return []
    rows: list[Any] = cursor.fetchall()
    return rows


_NOTIFY = _format_style(pg_notify("")[0])  # a notice's statement, as psycopg takes it
_MOST_VALUES = 65_535  # parameters of one PostgreSQL statement


def _one_statement(pending: list[_Statement]) -> tuple[str, list[Any]] | None:
    """A transaction made of INSERTs and NOTIFYs only (the SMTP worker's group commit) as
    one statement: the INSERTs as data-modifying WITH queries, the NOTIFYs the SELECT.
    Run in autocommit it is its own transaction, all or nothing as BEGIN ... COMMIT was:
    one execute, where five were each a send (and a wake-up of the server). Safe because
    an INSERT reads no row another one writes (a foreign key is checked at the end of the
    statement, a unique index at each row, as before). None for any other transaction."""
    inserts: list[str] = []
    notices: list[str] = []
    values: list[Any] = []
    heard: list[Any] = []
    for text, params, many in pending:
        if many:
            return None
        if text.startswith("INSERT INTO "):
            inserts.append(text)
            values.extend(params)
        elif text == _NOTIFY:
            notices.append("pg_notify(%s, '')")
            heard.extend(params)
        else:
            return None
    if not inserts or len(values) + len(heard) > _MOST_VALUES:
        return None
    last = f"SELECT {', '.join(notices)}" if notices else inserts.pop()
    if not inserts:
        return last, values + heard
    ahead = ", ".join(f"w{n} AS ({text})" for n, text in enumerate(inserts))
    return f"WITH {ahead} {last}", values + heard


def send_deferred(connection: Any) -> None:
    """Send the writes kept back on `connection` (a SQLAlchemy Connection), if any: before a
    statement of SQLAlchemy's runs on it, or a commit."""
    if not connection.invalidated and connection.info.get(DEFERRED):
        _send(connection)


def drop_deferred(connection: Any) -> None:
    """Forget the writes kept back: the transaction rolled back. (A connection lost and
    invalidated has no info to reach: the pool's checkin drops them.)"""
    if not connection.invalidated:
        connection.info.pop(DEFERRED, None)


def commit(session: Session, statements: Sequence[tuple[str, Sequence[Any]]] = ()) -> bool:
    """PostgreSQL: send the writes kept back, `statements` (NOTIFYs) and COMMIT in one
    round trip; True when done so (the session's commit then has nothing left to send).
    False elsewhere, or with nothing to send: the caller runs `statements` and commits."""
    if not postgres(session):
        return False
    connection = _connection(session)
    if not connection.info.get(DEFERRED) and not statements:
        return False
    sql = codec(session).sql
    queued = connection.info.setdefault(DEFERRED, [])
    queued.extend((sql(text), params, False) for text, params in statements)
    _send(connection, commit=True)
    return True


def fetch(session: Session, text: str, params: Sequence[Any]) -> list[Any]:
    """The rows of a query."""
    return _run(session, text, params)


def fetch_together(
    session: Session, queries: Sequence[tuple[str, Sequence[Any]]]
) -> list[list[Any]]:
    """The rows of each of `queries`; on PostgreSQL sent together, with the writes kept
    back, in one round trip."""
    if not postgres(session):
        return [_run(session, text, params) for text, params in queries]
    if session.autoflush:
        session.flush()
    sql = codec(session).sql
    return _send(_connection(session), [(sql(text), params, False) for text, params in queries])


# What a statement read ahead, for the reads that follow it in its transaction: the claim
# of the delivery pass reads its jobs' messages and webhooks in its own round trip (see
# SqlJobRepository.claim_due); the repositories' reads take them from here. Served only in
# the transaction that read them (not after its commit or rollback), and only while it has
# written nothing since: a write (raw, or the ORM's) forgets them (writes.touch), and so do
# ORM changes not yet flushed, so a read after a write reads the store, as it always did.
_Stash = tuple[Any, dict[str, dict[Any, Any]]]  # the transaction, and what it read by kind


def read_ahead(session: Session, kind: str, found: Mapping[Any, Any]) -> None:
    """Keep `found` (objects by id) for the next read of `kind` in this transaction."""
    transaction = session.get_transaction()
    stash: _Stash | None = session.info.get(READ_AHEAD)
    if stash is None or stash[0] is not transaction:
        stash = session.info[READ_AHEAD] = (transaction, {})
    stash[1].setdefault(kind, {}).update(found)


def read_back(session: Session, kind: str, ids: Set[Any]) -> dict[Any, Any] | None:
    """The objects of `ids` read ahead, if every one was (each is given back once); else
    None, and the caller reads the store."""
    stash: _Stash | None = session.info.get(READ_AHEAD)
    if stash is None:
        return None
    written = session.new or session.dirty or session.deleted  # ORM changes not yet flushed
    if stash[0] is not session.get_transaction() or written:
        session.info.pop(READ_AHEAD)  # another transaction's, or changed since
        return None
    kept = stash[1].get(kind)
    if not kept or not ids <= kept.keys():
        return None
    return {key: kept.pop(key) for key in ids}


def write(session: Session, table: str, kind: str, text: str, params: Sequence[Any]) -> None:
    """One statement that writes `table` ("insert" or "change", for the notices); kept
    back on PostgreSQL (see _send)."""
    _write(session, text, params)
    touch(session, table, kind)


def _write(session: Session, text: str, params: Any, *, many: bool = False) -> None:
    if postgres(session):
        _defer(session, text, params, many=many)
    else:
        _run(session, text, params, many=many)


# rows of one multi-row INSERT on PostgreSQL (a statement takes at most 65 535 values)
_ROWS_A_STATEMENT = 256


def write_many(
    session: Session, table: str, kind: str, text: str, rows: Iterable[Sequence[Any]]
) -> None:
    """One statement run for each of `rows` (an executemany). One row is one execute; an
    INSERT of several rows on PostgreSQL is one statement with a VALUES row each (cheaper
    for the server than a statement each); on PostgreSQL all are kept back (see _send)."""
    rows = list(rows)
    if len(rows) == 1:
        _write(session, text, rows[0])
    elif postgres(session) and text.endswith(")") and " VALUES (" in text:
        head, _, group = text.rpartition(" VALUES ")
        for start in range(0, len(rows), _ROWS_A_STATEMENT):  # PostgreSQL: < 65 536 values
            chunk = rows[start : start + _ROWS_A_STATEMENT]
            _write(
                session,
                f"{head} VALUES {', '.join([group] * len(chunk))}",
                [value for row in chunk for value in row],
            )
    else:
        _write(session, text, rows, many=True)
    touch(session, table, kind)


def blobs_in_place(session: Session) -> bool:
    """Whether big values can be written into their row in place (SQLite's blob I/O)."""
    return codec(session) is _CODECS["sqlite"]


_BLOB_CHUNK = 1024 * 1024


def insert_with_blob(
    session: Session, table: str, column: str, text: str, params: Sequence[Any], blob: bytes
) -> None:
    """SQLite: insert a row whose last parameter is `zeroblob(len(blob))`, then write `blob`
    into it in place, a chunk at a time (incremental blob I/O): the value is never copied
    into a bound parameter nor into the row's record."""
    if session.autoflush:
        session.flush()
    connection = _connection(session)
    driver = connection.connection.driver_connection
    cursor = driver.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(text, (*params, len(blob)))
        with driver.blobopen(table, column, cursor.lastrowid) as stored:  # type: ignore[union-attr]
            view = memoryview(blob)
            for start in range(0, len(view), _BLOB_CHUNK):
                stored.write(view[start : start + _BLOB_CHUNK])
    except Exception as exc:
        connection._handle_dbapi_exception(exc, text, params, cursor, None)
        raise  # not reached: the above raises
    finally:
        cursor.close()
    touch(session, table, "insert")


class Reader:
    """The columns a statement reads: their SQL, and rows decoded as the column types
    would, with attribute access by column name (or label) like SQLAlchemy's rows."""

    def __init__(self, *columns: ColumnElement[Any]) -> None:
        self.sql = ", ".join(_qualified(column) for column in columns)
        self.names = [str(column.key) for column in columns]
        row = namedtuple("row", self.names)  # type: ignore[misc]
        self._make: Callable[[Iterable[Any]], Any] = row._make
        self._kinds = [_kind(column) for column in columns]

    def decode(self, codec: Codec, rows: Iterable[Sequence[Any]]) -> list[Any]:
        by_kind = {"uuid": codec.uuid_from, "when": codec.when_from, "bool": _bool}
        convert = [(i, by_kind[kind]) for i, kind in enumerate(self._kinds) if kind]
        decoded = []
        for row in rows:
            values = list(row)
            for index, function in convert:
                values[index] = function(values[index])
            decoded.append(self._make(values))
        return decoded


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _qualified(column: ColumnElement[Any]) -> str:
    element: Any = getattr(column, "element", column)  # a label's column
    table = getattr(element, "table", None)
    name = f"{table.name}.{element.name}" if table is not None else str(element)
    return name if column.key == element.name else f"{name} AS {column.key}"


def _kind(column: ColumnElement[Any]) -> str | None:
    kind = column.type
    if isinstance(kind, Uuid):
        return "uuid"
    if isinstance(kind, UtcDateTime):
        return "when"
    if isinstance(kind, Boolean):
        return "bool"
    return None

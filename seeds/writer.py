"""Bulk writes of column batches into the operational database, fast on each dialect.

Batches are dicts of column name -> NumPy array (or list) in the generator's own
representation: integers and ids as int64, timestamps as int64 microseconds since the
epoch (UTC), money and other NUMERIC(·,2) values as int64 hundredths, dates as int64 days
since the epoch, NULL as `NULL` (the smallest int64) in all of those; booleans as bool
arrays; text as lists or object arrays with None for NULL.

Fast paths:
- SQLite: the raw sqlite3 connection, `executemany` inside one transaction, with the
  journal and fsync relaxed while a fresh database is loaded. Timestamps are written as
  Django writes them ('YYYY-MM-DD HH:MM:SS.ffffff', UTC), NUMERIC as decimal text (which
  SQLite stores with NUMERIC affinity, as it does for Django), booleans as 0/1.
- PostgreSQL: psycopg COPY of CSV written by Arrow (vectorized, exact decimals); bulk
  updates through COPY into a temporary table and one UPDATE ... FROM.
- Anything else: SQLAlchemy `insert()` / `update()` with executemany.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

NULL = np.iinfo(np.int64).min
_SQLITE_BATCH = 50_000


def _as_int64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _decimal(values, type_: sa.Numeric) -> pa.Array:
    """Exact decimal128 from scaled integers, without a float in between."""
    v = _as_int64(values)
    mask = v == NULL
    buf = np.empty((len(v), 2), dtype=np.int64)
    buf[:, 0] = np.where(mask, 0, v)
    buf[:, 1] = buf[:, 0] >> 63
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    scale = type_.scale if type_.scale is not None else 2
    return pa.Array.from_buffers(
        pa.decimal128(type_.precision or 12, scale), len(v), [validity, pa.py_buffer(buf)]
    )


def arrow_column(column: sa.Column, values) -> pa.Array:
    """One column of a batch as an Arrow array of the column's SQL type."""
    type_ = column.type
    if isinstance(type_, sa.DateTime):
        v = _as_int64(values)
        return pa.array(v, mask=v == NULL).cast(pa.timestamp("us", tz="UTC"))
    if isinstance(type_, sa.Date):
        v = _as_int64(values)
        return pa.array(v, mask=v == NULL).cast(pa.int32()).cast(pa.date32())
    if isinstance(type_, sa.Numeric) and not isinstance(type_, sa.Float):
        return _decimal(values, type_)
    if isinstance(type_, sa.Boolean):
        return pa.array(np.asarray(values, dtype=bool))
    if isinstance(type_, sa.Integer):
        v = _as_int64(values)
        return pa.array(v, mask=(v == NULL) if (v == NULL).any() else None)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.cast(pa.string())
    return pa.array(values, type=pa.string())


def arrow_table(table: sa.Table, data: Mapping[str, object]) -> pa.Table:
    """A batch as an Arrow table with the columns in `data` (in the table's order)."""
    names = [c.name for c in table.columns if c.name in data]
    unknown = set(data) - set(names)
    if unknown:
        raise KeyError(f"{table.name}: unknown columns {sorted(unknown)}")
    return pa.table({n: arrow_column(table.c[n], data[n]) for n in names})


def _sqlite_values(array: pa.Array | pa.ChunkedArray) -> list:
    type_ = array.type
    if pa.types.is_timestamp(type_):
        return pc.strftime(array, "%Y-%m-%d %H:%M:%S").to_pylist()
    if pa.types.is_date(type_):
        return pc.strftime(array, "%Y-%m-%d").to_pylist()
    if pa.types.is_decimal(type_):
        return pc.cast(array, pa.string()).to_pylist()
    if pa.types.is_boolean(type_):
        return pc.cast(array, pa.int64()).to_pylist()
    return array.to_pylist()


class Writer:
    """Writes batches through one open SQLAlchemy connection (inside its transaction)."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.dialect = conn.dialect.name
        self.rows_written: dict[str, int] = {}
        self.rows_updated: dict[str, int] = {}

    # -- raw DBAPI connection ---------------------------------------------------------
    def _dbapi(self):
        return self.conn.connection.driver_connection

    # -- inserts --------------------------------------------------------------------
    def insert(self, table: sa.Table, data: Mapping[str, object]) -> int:
        """Insert a batch; returns the number of rows."""
        batch = arrow_table(table, data)
        n = batch.num_rows
        if n == 0:
            return 0
        if self.dialect == "sqlite":
            self._sqlite_insert(table, batch)
        elif self.dialect == "postgresql" and self.conn.dialect.driver == "psycopg":
            self._pg_copy(table.name, batch)
        else:
            self.conn.execute(table.insert(), batch.to_pylist())
        self.rows_written[table.name] = self.rows_written.get(table.name, 0) + n
        return n

    def _sqlite_insert(self, table: sa.Table, batch: pa.Table) -> None:
        names = batch.column_names
        sql = (
            f'INSERT INTO "{table.name}" ({", ".join(names)}) '
            f'VALUES ({", ".join("?" * len(names))})'
        )
        cur = self._dbapi().cursor()
        for offset in range(0, batch.num_rows, _SQLITE_BATCH):
            part = batch.slice(offset, _SQLITE_BATCH)
            columns = [_sqlite_values(part.column(i)) for i in range(len(names))]
            cur.executemany(sql, zip(*columns, strict=True))
        cur.close()

    def _pg_copy(self, name: str, batch: pa.Table, *, temp: bool = False) -> None:
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, pacsv.WriteOptions(include_header=False))
        columns = ", ".join(f'"{c}"' for c in batch.column_names)
        target = name if temp else f'"{name}"'
        with self._dbapi().cursor() as cur:
            with cur.copy(f"COPY {target} ({columns}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(buf.getbuffer())

    # -- updates --------------------------------------------------------------------
    def update(self, table: sa.Table, data: Mapping[str, object]) -> int:
        """Update rows by `id`: set every other column in `data`; returns the row count."""
        batch = arrow_table(table, data)
        n = batch.num_rows
        if n == 0:
            return 0
        sets = [c for c in batch.column_names if c != "id"]
        if self.dialect == "sqlite":
            sql = (
                f'UPDATE "{table.name}" SET {", ".join(f"{c} = ?" for c in sets)} WHERE id = ?'
            )
            columns = [_sqlite_values(batch.column(c)) for c in [*sets, "id"]]
            cur = self._dbapi().cursor()
            cur.executemany(sql, zip(*columns, strict=True))
            cur.close()
        elif self.dialect == "postgresql" and self.conn.dialect.driver == "psycopg":
            cols = ", ".join(f'"{c}"' for c in batch.column_names)
            self.conn.exec_driver_sql(
                f'CREATE TEMP TABLE _seeds_update ON COMMIT DROP AS '
                f'SELECT {cols} FROM "{table.name}" WITH NO DATA'
            )
            self._pg_copy("_seeds_update", batch, temp=True)
            assignments = ", ".join(f'"{c}" = u."{c}"' for c in sets)
            self.conn.exec_driver_sql(
                f'UPDATE "{table.name}" AS t SET {assignments} '
                f"FROM _seeds_update AS u WHERE t.id = u.id"
            )
            self.conn.exec_driver_sql("DROP TABLE _seeds_update")
        else:
            stmt = (
                table.update()
                .where(table.c.id == sa.bindparam("_id"))
                .values({c: sa.bindparam(c) for c in sets})
            )
            records = batch.to_pylist()
            for r in records:
                r["_id"] = r.pop("id")
            self.conn.execute(stmt, records)
        self.rows_updated[table.name] = self.rows_updated.get(table.name, 0) + n
        return n

    # -- small helpers -----------------------------------------------------------------
    def delete_ids(self, table: sa.Table, ids: Iterable[int]) -> int:
        ids = [int(i) for i in ids]
        total = 0
        for offset in range(0, len(ids), 5000):
            part = ids[offset : offset + 5000]
            total += self.conn.execute(table.delete().where(table.c.id.in_(part))).rowcount
        return total


def tune_sqlite_for_bulk_load(conn: sa.Connection) -> None:
    """A fresh demo database: no rollback journal on disk, no fsync per page.

    A crash mid-way leaves a half-written file, which `generate --force` replaces; the
    durability an application needs comes back with the next connection's defaults.
    """
    conn.exec_driver_sql("PRAGMA journal_mode = MEMORY")
    conn.exec_driver_sql("PRAGMA synchronous = OFF")
    conn.exec_driver_sql("PRAGMA cache_size = -65536")

"""Arrow streams from the source into DuckDB: read ahead by a thread, seen as a view.

`prefetch` overlaps reading the source with DuckDB's ingest through a bounded queue
(memory: at most `depth` batches); `registered` shows a stream to DuckDB under a name for
the statements that consume it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

_DONE = object()
#: How often a blocked side looks whether the other one stopped.
_POLL_S = 0.1


class _ReadAhead:
    """The reader thread and its queue: `produce` runs in the thread, `consume` in DuckDB's."""

    def __init__(self, reader: pa.RecordBatchReader, depth: int) -> None:
        self.reader = reader
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.produce, name="extract-reader", daemon=True)

    def _put(self, item: object) -> bool:
        """Queue `item` unless the consumer stopped first; whether it was queued."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue  # the consumer is slower: wait, unless it stopped
        return False

    def produce(self) -> None:
        try:
            for batch in self.reader:
                if not self._put(batch):
                    return
            item: object = _DONE
        except BaseException as exc:  # handed to the consumer, which re-raises it
            item = exc
        self._put(item)

    def consume(
        self,
        on_batch: Callable[[pa.RecordBatch], None] | None,
        errors: list[BaseException] | None,
    ) -> Iterator[pa.RecordBatch]:
        self.thread.start()
        try:
            while (item := self.queue.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                if on_batch is not None:
                    on_batch(item)
                yield item
        except BaseException as exc:
            if errors is not None:
                errors.append(exc)
            raise
        finally:
            self.stop.set()
            self.thread.join(timeout=30)


def prefetch(
    reader: pa.RecordBatchReader,
    *,
    depth: int = 4,
    on_batch: Callable[[pa.RecordBatch], None] | None = None,
    errors: list[BaseException] | None = None,
) -> pa.RecordBatchReader:
    """The same stream, read ahead by a thread into a queue of at most `depth` batches.

    Reading the source and writing DuckDB then overlap, and memory stays bounded by
    `depth` batches. `on_batch` runs in the consuming thread for each batch (counting,
    and the tests' crash injection). An error on either side stops the other; an error
    raised in the stream is also appended to `errors`, because the consumer (DuckDB)
    reports it wrapped in its own exception.
    """
    ahead = _ReadAhead(reader, depth)
    return pa.RecordBatchReader.from_batches(reader.schema, ahead.consume(on_batch, errors))


def unregister(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Drop the view `name` of a stream, if DuckDB still has it."""
    try:
        con.unregister(name)
    except duckdb.Error:
        pass  # an aborted transaction refuses it; the rollback's cleanup unregisters it


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, data) -> Iterator[str]:
    """`data` (an Arrow reader or table) as DuckDB's view `name` while the block runs."""
    con.register(name, data)
    try:
        yield name
    finally:
        unregister(con, name)

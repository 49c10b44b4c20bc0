"""The Connection table, written in batches off the connect path.

A connect storm must not queue on the database: each process collects opens and closes
and writes them together every CONNECTION_LOG_FLUSH_SECONDS (one transaction, in order).
If the database is down the batch is kept and retried; rows a killed process never
closed are closed by the sweep task (realtime.tasks.sweep_connections).
"""

import asyncio
import logging
from collections import deque

from realtime import store

logger = logging.getLogger("realtime.connlog")

# How often buffered opens/closes are written: short enough that the admin and
# /api/connections/ are current, long enough to batch a storm into a few transactions.
CONNECTION_LOG_FLUSH_SECONDS = 0.2
# Most buffered records kept while the database is down (beyond: the oldest are dropped,
# which only loses log rows, never messages).
CONNECTION_LOG_MAX_BACKLOG = 100_000


class ConnectionLog:
    def __init__(self):
        self.pending = deque(maxlen=CONNECTION_LOG_MAX_BACKLOG)
        self.wake = asyncio.Event()
        self.flushed = asyncio.Event()

    def opened(self, **row):
        self.pending.append(("open", row))
        self.wake.set()

    def closed(self, connection_id, code):
        self.pending.append(("close", {"id": connection_id, "code": code}))
        self.wake.set()

    async def flush_now(self):
        """Writes what is pending (process shutdown, tests)."""
        batch = list(self.pending)
        if batch:
            await store.run_sync(store.write_connection_log, batch)
            for _ in batch:
                self.pending.popleft()

    async def run(self):
        while True:
            await self.wake.wait()
            await asyncio.sleep(CONNECTION_LOG_FLUSH_SECONDS)
            self.wake.clear()
            batch = list(self.pending)
            try:
                await store.run_sync(store.write_connection_log, batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("connection log not written (%s); retrying", exc)
                self.wake.set()
                await asyncio.sleep(1.0)
                continue
            for _ in batch:
                self.pending.popleft()
            if self.pending:
                self.wake.set()
            self.flushed.set()
            self.flushed.clear()

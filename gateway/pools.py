"""asyncpg pools whose callers get a connection in the order they asked for one.

asyncpg hands out connections through an asyncio queue: a connection released for the
caller that waited longest can be taken first by one that has just arrived, and the one it
was released for queues again at the back. Under load a few callers waited many times the
median: 128 tasks on 10 connections (scratch test), median wait 210 ms, p99 640 ms and
max 0.9-1.1 s; with a FIFO semaphore in front, p99 260 ms and max 270 ms. In `make bench`'s
mixed load such waits passed DB_TIMEOUT (5 s) and were answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg


class FairPool:
    """An asyncpg pool behind a FIFO gate of its size. Work that may queue behind requests
    (the collector) uses `pool` directly: it then only competes as asyncpg lets it."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # asyncio.Semaphore serves its waiters first come, first served (tests/test_pools.py)
        self._gate = asyncio.Semaphore(pool.get_max_size())

    async def take(self, seconds: float) -> asyncpg.Connection:
        """A connection within `seconds` (else TimeoutError); give it back with give()."""
        async with asyncio.timeout(seconds):  # not acquire(timeout=): a task per call on 3.11
            await self._gate.acquire()
            try:
                connection: asyncpg.Connection = await self.pool.acquire()
            except BaseException:
                self._gate.release()
                raise
        return connection

    async def give(self, connection: asyncpg.Connection, seconds: float) -> None:
        try:
            await self.pool.release(connection, timeout=seconds)
        finally:
            self._gate.release()

    @contextlib.asynccontextmanager
    async def acquire(self, seconds: float) -> AsyncIterator[asyncpg.Connection]:
        connection = await self.take(seconds)
        try:
            yield connection
        finally:
            await self.give(connection, seconds)

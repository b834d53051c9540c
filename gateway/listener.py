"""The LISTEN connection: cache evictions and catalogue reloads pushed by PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from gateway.cache import BarrierHandler, Cache, barrier
from gateway.migrate import RELOAD_CHANNEL

log = logging.getLogger("gateway.listener")

TABLE_CHANNEL = "table_changed"


class Listener:
    """Keeps one connection subscribed; while it is down the cache is bypassed."""

    def __init__(
        self,
        database_url: str,
        cache: Cache,
        reload: Callable[[asyncpg.Connection], Awaitable[None]],
        *,
        ping_every: float = 2.0,
        timeout: float = 2.0,
    ) -> None:
        self.database_url = database_url
        self.cache = cache
        self.reload = reload
        self.ping_every = ping_every
        self.timeout = timeout
        self.connected = asyncio.Event()
        self._reloads: set[asyncio.Task[None]] = set()
        self._connection: asyncpg.Connection | None = None
        # handlers and their items, for the next barrier round trip
        self._waiting: dict[BarrierHandler, list[Any]] = {}
        self._barrier_task: asyncio.Task[None] | None = None

    def after_barrier(self, handler: BarrierHandler, item: object) -> None:
        """Call handler(True, items) once every NOTIFY of a transaction committed before this
        call has been handled, handler(False, items) if that cannot be known (no connection,
        or it failed); items are those registered with the same handler before the round
        trip began. A round trip on the LISTEN connection does it: PostgreSQL delivers the
        pending notifications before it answers. Concurrent callers share round trips, and
        each handler runs once per round trip for all of its items (a cache hit costs an
        append, not a callback of its own)."""
        if self._connection is None:
            handler(False, [item])
            return
        items = self._waiting.get(handler)
        if items is not None:  # the round trip that will serve them has not begun
            items.append(item)
        else:
            self._waiting[handler] = [item]
        if self._barrier_task is None or self._barrier_task.done():  # or it died
            self._barrier_task = asyncio.get_running_loop().create_task(self._run_barriers())

    async def _run_barriers(self) -> None:
        while self._waiting:
            waiting, self._waiting = self._waiting, {}
            ok = False
            connection = self._connection
            try:
                if connection is not None:
                    await connection.execute("select 1", timeout=self.timeout)  # simple protocol
                    await asyncio.sleep(0)  # run the notification callbacks queued before
                    ok = True
            except Exception as error:  # noqa: BLE001 - the session loop reconnects
                log.warning("cache barrier failed: %r", error)
            finally:  # also when cancelled: every item gets its answer
                for handler, items in waiting.items():
                    try:
                        handler(ok, items)
                    except Exception:  # one failing handler must not starve the others
                        log.exception("cache barrier handler failed")

    def _on_table(self, _conn: object, _pid: int, _channel: str, table: str) -> None:
        self.cache.table_changed(table)

    def _on_reload(self, conn: object, _pid: int, _channel: str, version: str) -> None:
        log.info("function layer re-applied", extra={"fields": {"version": version}})
        assert isinstance(conn, asyncpg.Connection)
        task = asyncio.get_running_loop().create_task(self.reload(conn))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    async def run(self) -> None:
        delay = 0.1
        while True:
            try:
                await self._session()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure means: reconnect
                log.warning("listener connection lost: %r", error)
            self.cache.listener_lost()
            self.connected.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _session(self) -> None:
        connection = await asyncpg.connect(
            self.database_url,
            timeout=self.timeout,
            server_settings={"application_name": "gateway-listener"},
        )
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c: lost.set())
        try:
            await connection.add_listener(TABLE_CHANNEL, self._on_table)
            await connection.add_listener(RELOAD_CHANNEL, self._on_reload)
            await self.reload(connection)  # the layer may have changed while we were away
            self._connection = connection
            self.cache.listener_ready()
            self.connected.set()
            log.info("listening for evictions")
            while not lost.is_set():
                try:
                    await asyncio.wait_for(lost.wait(), self.ping_every)
                except TimeoutError:
                    if not await barrier(self.after_barrier):  # the keep-alive ping
                        raise ConnectionError("listener connection does not answer") from None
            raise ConnectionError("listener connection terminated")
        finally:
            self._connection = None
            connection.terminate()

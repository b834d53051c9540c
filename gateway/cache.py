"""Generic result cache in Redis: keyed by function, arguments and function-layer version.

Freshness rules:
- time: an entry lives until the valid_until the database reports (capped by CACHE_MAX_TTL);
- writes: table triggers NOTIFY table_changed; the listener evicts every entry that
  read that table (Redis set "<prefix>:deps:<table>");
- while the listener is down, or Redis failed to evict, the cache is bypassed and,
  before it is used again, every entry under the prefix is dropped (rate-limit and login
  counters stay);
- a read first makes sure every NOTIFY committed before it has arrived (a shared round
  trip on the LISTEN connection, CACHE_BARRIER), then waits for the evictions under way
  of the tables it depends on;
- a burst of identical reads shares one Redis GET, and a burst of identical misses runs the
  function once (single flight). A read joins only a GET sent after every eviction it must
  see had completed: reads are grouped by key and by the eviction counts of their tables;
- a GET's answer is kept in memory under those counts for RECENT_AGE seconds, and never past
  the entry's expiry in Redis (small bodies, RECENT_BYTES in all): a later read of the same
  key under the same counts gets it without a GET. No eviction of its tables has arrived
  since it was read, so it is what a GET would return; the age bounds how long a Redis that
  stopped, or was flushed by hand, goes unnoticed;
- a result computed while an eviction of its tables arrived is not stored.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("gateway.cache")

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"

EVICT_SCRIPT = """
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('UNLINK', KEYS[1])
return #keys
"""

# KEYS[1]: the entry; KEYS[2..]: the dependency sets of the tables it read
# ARGV: head, body, the entry's ttl (ms), the sets' ttl (s), when it expires (unix ms)
STORE_SCRIPT = """
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'b', ARGV[2], 'e', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[1])
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return 1
"""

COUNT_SCRIPT = """
local counts = {}
for i, key in ipairs(KEYS) do
  local by = tonumber(ARGV[i + 1])
  counts[i] = redis.call('INCRBY', key, by)
  if counts[i] == by then redis.call('EXPIRE', key, ARGV[1]) end
end
return counts
"""

REDIS_ERRORS = (RedisError, OSError, asyncio.TimeoutError)

# GET answers kept in memory for RECENT_AGE seconds: bodies up to RECENT_BODY bytes,
# RECENT_BYTES in all, each entry counted with RECENT_ENTRY bytes more for its key, counts
# and objects (about 550 measured); expired ones are swept every RECENT_AGE, and all are
# dropped when the budget is reached. A GET cost redis-py about 390,000 instructions, 6 % of
# the gateway's time under a load of cache hits, where a GET served 60 hits
RECENT_AGE = 0.25
RECENT_BODY = 256 * 1024
RECENT_BYTES = 16 * 1024 * 1024
RECENT_ENTRY = 1024

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """A function result as JSON text, and until when time alone cannot change it."""

    body: bytes
    valid_until: float | None = None  # unix time; None means no time limit
    truncated: bool = False  # more rows than the function's max_rows
    total: int | None = None  # what the function's total= companion counted

    def head(self) -> bytes:
        """What goes with the body in its Redis hash (field "h"; the body is field "b", kept
        apart so that megabytes of body are never copied to join them)."""
        total = "" if self.total is None else str(self.total)
        return f"{int(self.truncated)}:{total}".encode()

    @classmethod
    def load(cls, head: bytes, body: bytes) -> Result:
        truncated, _, total = head.decode().partition(":")
        return cls(body, None, truncated == "1", int(total) if total else None)


Compute = Callable[[], Awaitable[Result]]


# a rate-limit key takes up to limit / AHEAD_SHARE counts from Redis in advance, at most
# AHEAD_MAX: with a limit of 65,536 or more, a key at 5,000 requests/s goes to Redis about
# 5 times a second (at most 64 in advance: 80 times, and most requests waited for one)
AHEAD_SHARE = 64
AHEAD_MAX = 1024

Counting = tuple[list[str], int, list[int] | None, "asyncio.Future[list[int] | None]"]


def settle(waiters: list[asyncio.Future[T]], value: T) -> None:
    """Give every waiter still waiting the value (a cancelled one is left alone)."""
    for waiter in waiters:
        if not waiter.done():
            waiter.set_result(value)


# handler(ok, items): called at the end of a barrier round trip with the items registered
# for it; ok is False when freshness is unknown
BarrierHandler = Callable[[bool, list[Any]], None]
# registers an item for the handler's call at the end of the next barrier round trip
# (Listener.after_barrier)
AfterBarrier = Callable[[BarrierHandler, Any], None]


def _settle_barrier(ok: bool, waiters: list[asyncio.Future[bool]]) -> None:
    settle(waiters, ok)


async def barrier(after_barrier: AfterBarrier) -> bool:
    """Wait for the end of the next barrier round trip: False when freshness is unknown."""
    waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    after_barrier(_settle_barrier, waiter)  # its own future: see settle
    return await waiter


class Detour(enum.Enum):
    """Why a read was not answered by a GET sent at the end of the barrier."""

    SKIP_CACHE = "skip"  # the barrier failed, or Redis did: compute and do not store
    LONG_WAY = "long way"  # evictions under way, Redis down or to be flushed first


Found = Result | None | Detour
# a read waiting for the barrier: its key, the tables it depends on and its future
BarrierRead = tuple[str, tuple[str, ...], "asyncio.Future[Found]"]


def reads_of(reads: list[BarrierRead]) -> list[asyncio.Future[Found]]:
    return [read for _, _, read in reads]


class Cache:
    def __init__(
        self,
        client: aioredis.Redis | None,
        *,
        prefix: str,
        max_ttl: int,
        retry_after: float,
    ) -> None:
        self.client = client
        # EVALSHA, falling back to EVAL once after a script flush or a Redis restart
        self._evict_script = client.register_script(EVICT_SCRIPT) if client else None
        self._count_script = client.register_script(COUNT_SCRIPT) if client else None
        self._store_script = client.register_script(STORE_SCRIPT) if client else None
        self.prefix = prefix
        self.max_ttl = max_ttl
        self.retry_after = retry_after
        self.version = ""
        self.listening = False  # the eviction listener is connected and subscribed
        self.needs_flush = True  # evictions may have been missed: drop everything first
        self.redis_down_until = 0.0
        self.generation = 0  # bumped when the listener drops or reconnects
        self.table_evictions: defaultdict[str, int] = defaultdict(int)
        self.pending_evictions: defaultdict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self.flights: dict[tuple[str, tuple[int, ...]], asyncio.Future[Result]] = {}
        # reads waiting for the GET of their (key, stamp) that is on its way
        self.reads: dict[tuple[str, tuple[int, ...]], list[asyncio.Future[Found]]] = {}
        self.redis_reads = 0  # GETs really sent (tests, metrics)
        # results on their way into Redis, served to reads of the same key and stamp meanwhile
        self.storing: dict[tuple[str, tuple[int, ...]], Result] = {}
        # GET answers under the stamp they were read with, and until when (monotonic) they
        # may be used
        self.recent: dict[tuple[str, tuple[int, ...]], tuple[Result, float]] = {}
        self.recent_bytes = 0
        self.recent_age = RECENT_AGE
        self._swept_at = 0.0  # monotonic
        self._tasks: set[asyncio.Task[None]] = set()
        # stores on their way, per table read: an eviction of the table waits for them
        self.store_tasks: defaultdict[str, set[asyncio.Task[None]]] = defaultdict(set)
        self._counts: list[Counting] = []
        # rate-limit counts taken from Redis in advance: key -> [counts left, expiry]
        self._ahead: dict[str, list[float]] = {}
        self.count_calls = 0  # count scripts sent (tests, metrics)
        # small look-ups (auth) remembered with the eviction counts of the table they read
        self.memo: dict[object, tuple[tuple[int, ...], object]] = {}
        self.memo_hits = 0  # (tests, metrics)
        self._counting: asyncio.Task[None] | None = None
        self.computations = 0  # how many times a function really ran (tests, metrics)
        self._flush_lock = asyncio.Lock()
        # calls back once the evictions of writes committed before the call are known
        self.after_barrier: AfterBarrier | None = None
        self._on_barrier = self._reads_after_barrier  # one bound method, made once
        # the loop the cache serves, known at its first read: asyncio.get_running_loop()
        # makes a getpid() system call on Python 3.11 (py-spy under a load of cache hits:
        # 2.4 % of the gateway's samples on that one line)
        self._loop: asyncio.AbstractEventLoop | None = None

    def key(self, function: str, args: dict[str, object]) -> str:
        canonical = orjson.dumps(args, option=orjson.OPT_SORT_KEYS, default=str)
        digest = hashlib.sha256(canonical).hexdigest()[:32]
        # "v2": entries are hashes (head, body); a gateway of the old format sharing this
        # Redis would meet WRONGTYPE on the other's keys
        return f"{self.prefix}:v2:{self.version}:{function}:{digest}"  # flush() matches :v2:

    def deps_key(self, table: str) -> str:
        return f"{self.prefix}:deps:{table}"

    def _stamp(self, tables: tuple[str, ...]) -> tuple[int, ...]:
        return (self.generation, *(self.table_evictions[t] for t in tables))

    async def remembered(self, key: object, table: str, look_up: Callable[[], Awaitable[T]]) -> T:
        """look_up()'s value, kept in memory until a write to `table` (its NOTIFY), with
        the freshness of a cached result: the barrier first, then the table's eviction
        count must be the one the value was looked up under. Without the listener or the
        barrier (CACHE_BARRIER=off) it looks up every time."""
        stamp = None
        if self.listening and self.after_barrier is not None and await barrier(self.after_barrier):
            stamp = self._stamp((table,))
            kept = self.memo.get(key)
            if kept is not None and kept[0] == stamp:
                self.memo_hits += 1
                return kept[1]  # type: ignore[return-value]
        value = await look_up()
        if stamp is not None and self._stamp((table,)) == stamp:
            if len(self.memo) >= 10_000:
                self.memo.clear()
            self.memo[key] = (stamp, value)
        return value

    def _bypassed(self) -> bool:
        """No Redis, no listener, or Redis failed less than REDIS_RETRY_AFTER ago."""
        return self.client is None or not self.listening or time.monotonic() < self.redis_down_until

    async def _usable(self) -> bool:
        if self._bypassed():
            return False
        if self.needs_flush:
            return await self.flush()
        return True

    def _redis_failed(self, error: BaseException, *, lost_eviction: bool = False) -> None:
        if time.monotonic() >= self.redis_down_until:
            log.warning("redis unavailable, bypassing the cache: %r", error)
        self.redis_down_until = time.monotonic() + self.retry_after
        if lost_eviction:
            self.needs_flush = True

    async def get_or_compute(
        self, key: str, tables: tuple[str, ...], compute: Compute
    ) -> tuple[Result, str]:
        """Return the cached result or compute it once for all concurrent callers."""
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        read: asyncio.Future[Found] = loop.create_future()
        if self.after_barrier is not None and self.listening:
            # the barrier and the GET it lets through as one wait: a hit is resumed once
            self.after_barrier(self._on_barrier, (key, tables, read))
        else:
            read.set_result(Detour.LONG_WAY)
        try:
            found = await read
            if found is Detour.LONG_WAY:
                found = await self._read_the_long_way(key, tables)
        except REDIS_ERRORS as error:
            self._redis_failed(error)
            found = Detour.SKIP_CACHE
        if isinstance(found, Result):
            return found, HIT
        if found is None:
            return await self._single_flight(key, tables, compute, store=True), MISS
        return await self._single_flight(key, tables, compute, store=False), BYPASS

    def _reads_after_barrier(self, ok: bool, reads: list[BarrierRead]) -> None:
        """Run at the end of a barrier round trip for the reads registered before it began:
        join or send the GET of each key under the eviction counts of now, or send the read
        the long way."""
        if not ok:
            settle(reads_of(reads), Detour.SKIP_CACHE)
            return
        long_way = self._bypassed() or self.needs_flush
        stamps: dict[tuple[str, ...], tuple[int, ...] | None] = {}  # None: the long way
        # the key and tables of the read before, and the GET it joined or the result it got
        # from memory: reads of one memoised call share the key and tables objects
        last_key: str | None = None
        last_tables: tuple[str, ...] | None = None
        joined: list[asyncio.Future[Found]] | Result | None = None
        try:
            for key, tables, read in reads:
                if read.done():  # its request was cancelled
                    continue
                if joined is not None and key is last_key and tables is last_tables:
                    if type(joined) is list:  # a read of the same entry
                        joined.append(read)
                    else:
                        read.set_result(joined)
                    continue
                last_key, last_tables, joined = key, tables, None
                if tables in stamps:
                    stamp = stamps[tables]
                else:
                    evicting = long_way or any(self.pending_evictions[t] for t in tables)
                    stamp = stamps[tables] = None if evicting else self._stamp(tables)
                if stamp is None:
                    read.set_result(Detour.LONG_WAY)
                else:
                    joined = self._join_read(key, stamp, read)
        except Exception:  # no read of the batch is left unanswered (the listener logs it)
            settle(reads_of(reads), Detour.SKIP_CACHE)
            raise

    async def _read_the_long_way(self, key: str, tables: tuple[str, ...]) -> Found:
        """After the barrier, or without one: wait for the evictions under way of the
        tables, flush first if one is due, then read."""
        # what this read must see: the evictions known now (the barrier made sure those of
        # writes committed before the call are), and the counts that identify them
        stamp = self._stamp(tables)
        evicting = [task for t in tables for task in self.pending_evictions[t]]
        if evicting:  # bounded by the Redis timeout
            await asyncio.wait(evicting)
        if not await self._usable():
            return Detour.SKIP_CACHE
        read: asyncio.Future[Found] = asyncio.get_running_loop().create_future()
        self._join_read(key, stamp, read)
        return await read

    def _join_read(
        self, key: str, stamp: tuple[int, ...], read: asyncio.Future[Found]
    ) -> list[asyncio.Future[Found]] | Result:
        """Answer the read (its own future: cancelling one cancels no other) from the result
        landing in Redis or a GET's answer kept, or join it to the GET of its key and stamp,
        sending one if none is on its way; return the result it got, or the reads waiting
        for that GET."""
        slot = (key, stamp)
        landing = self.storing.get(slot)
        if landing is not None:  # computed after the evictions this read must see
            read.set_result(landing)
            return landing
        kept = self.recent.get(slot)
        if kept is not None:
            if kept[1] > time.monotonic():  # read after those evictions, and not expired
                read.set_result(kept[0])
                return kept[0]
            self._forget(slot)
        waiting = self.reads.get(slot)
        if waiting is not None:
            waiting.append(read)
        else:
            waiting = self.reads[slot] = [read]
            self._spawn(self._get(key, stamp))
        return waiting

    def _spawn(self, work: Coroutine[object, object, None]) -> asyncio.Task[None]:
        """A background task, referenced until done."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _keep(self, slot: tuple[str, tuple[int, ...]], result: Result, expires: float) -> None:
        """Keep a GET's answer until the entry expires (unix time), for recent_age seconds at
        most (on the monotonic clock: a step of the wall clock cannot lengthen it)."""
        now = time.monotonic()
        left = min(expires - time.time(), self.recent_age)
        if len(result.body) > RECENT_BODY or left <= 0:
            return
        if now - self._swept_at >= self.recent_age:  # drop the expired ones
            self._swept_at = now
            for old in [k for k, (_, until) in self.recent.items() if until <= now]:
                self._forget(old)
        size = len(result.body) + RECENT_ENTRY
        if self.recent_bytes + size > RECENT_BYTES:
            self._forget_all()
        self._forget(slot)
        self.recent[slot] = (result, now + left)
        self.recent_bytes += size

    def _forget(self, slot: tuple[str, tuple[int, ...]]) -> None:
        kept = self.recent.pop(slot, None)
        if kept is not None:
            self.recent_bytes -= len(kept[0].body) + RECENT_ENTRY

    def _forget_all(self) -> None:
        self.recent.clear()
        self.recent_bytes = 0

    async def _get(self, key: str, stamp: tuple[int, ...]) -> None:
        assert self.client is not None
        self.redis_reads += 1
        try:
            head, body, expires = await self.client.hmget(key, ["h", "b", "e"])
            result = None if head is None or body is None else Result.load(head, body)
            if result is not None and expires is not None and expires.isdigit():
                self._keep((key, stamp), result, int(expires) / 1000)  # a gateway >= 0.9.5's
        except BaseException as error:
            for read in self.reads.pop((key, stamp), []):
                if not read.done():
                    read.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        settle(self.reads.pop((key, stamp), []), result)

    async def _single_flight(
        self, key: str, tables: tuple[str, ...], compute: Compute, *, store: bool
    ) -> Result:
        stamp = self._stamp(tables)
        flight_key = (key, stamp)
        running = self.flights.get(flight_key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self.flights[flight_key] = future
        try:
            self.computations += 1
            result = await compute()
            future.set_result(result)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: followers re-raise it themselves
            raise
        finally:
            self.flights.pop(flight_key, None)
        if store and self._stamp(tables) == stamp:
            # the caller does not wait for Redis (megabytes take milliseconds); until the
            # entry has landed, reads of the same key and stamp get this result from memory
            self.storing[(key, stamp)] = result
            task = self._spawn(self._store_then_forget(key, tables, result, stamp))
            for table in tables:
                self.store_tasks[table].add(task)
                task.add_done_callback(self.store_tasks[table].discard)
        return result

    async def _store_then_forget(
        self, key: str, tables: tuple[str, ...], result: Result, stamp: tuple[int, ...]
    ) -> None:
        try:
            await self._store(key, tables, result, stamp)
        finally:
            self.storing.pop((key, stamp), None)

    async def _store(
        self, key: str, tables: tuple[str, ...], result: Result, stamp: tuple[int, ...]
    ) -> None:
        now = time.time()
        ttl = float(self.max_ttl)
        if result.valid_until is not None:
            ttl = min(ttl, result.valid_until - now)
        if ttl < 0.001 or self.client is None or self._stamp(tables) != stamp:
            return
        try:
            # one script, atomic as MULTI/EXEC was, and one command instead of 2 + 2 per
            # table, each of which cost redis-py about as much CPU as a whole script call
            assert self._store_script is not None
            ttl_ms = max(1, int(ttl * 1000))
            # the expiry as this gateway sees it: a little before Redis's, never after
            expires_ms = int(now * 1000) + ttl_ms
            await self._store_script(
                keys=[key, *(self.deps_key(table) for table in tables)],
                args=[result.head(), result.body, ttl_ms, self.max_ttl * 2, expires_ms],
            )
            if self._stamp(tables) != stamp:
                # an eviction arrived while the entry was on its way, and its script may have
                # run before the entry landed: drop the entry, it may predate that write
                await self.client.unlink(key)
        except REDIS_ERRORS as error:
            # a half-written entry without its dependency could outlive an eviction
            self._redis_failed(error, lost_eviction=True)

    def table_changed(self, table: str) -> asyncio.Task[None]:
        """A write to `table` committed. Count it now (results being computed are then
        not stored) and drop every entry that read it."""
        self.table_evictions[table] += 1
        task = asyncio.get_running_loop().create_task(self._evict(table))
        pending = self.pending_evictions[table]
        pending.add(task)
        task.add_done_callback(pending.discard)
        # A store on its way may land after the eviction's script ran; it removes its entry
        # itself when it sees the new count, and the readers that must not see it wait for it.
        for store in self.store_tasks[table]:
            pending.add(store)
            store.add_done_callback(pending.discard)
        return task

    async def _evict(self, table: str) -> None:
        try:
            if self._evict_script is not None:
                await self._evict_script(keys=[self.deps_key(table)])
        except REDIS_ERRORS as error:
            self._redis_failed(error, lost_eviction=True)

    async def flush(self) -> bool:
        """Drop every entry under the prefix; True when the cache may be used again."""
        if self.client is None:
            return False
        async with self._flush_lock:
            if not self.needs_flush:
                return True
            # stores on their way remove their entry themselves: the generation moved
            stores = {task for tasks in self.store_tasks.values() for task in tasks}
            if stores:
                await asyncio.wait(stores, timeout=self.retry_after)
            try:
                # entries and their dependency sets only: rate-limit and login counters
                # under the same prefix must survive (a flush reset them before)
                batch: list[bytes] = []
                for pattern in (f"{self.prefix}:v2:*", f"{self.deps_key('')}*"):
                    async for name in self.client.scan_iter(match=pattern, count=1000):
                        batch.append(name)
                        if len(batch) >= 1000:
                            await self.client.unlink(*batch)
                            batch.clear()
                    if batch:
                        await self.client.unlink(*batch)
                        batch.clear()
            except REDIS_ERRORS as error:
                self._redis_failed(error)
                return False
            self.needs_flush = False
            log.info("cache flushed: evictions may have been missed")
            return True

    def listener_lost(self) -> None:
        self.listening = False
        self.needs_flush = True
        self.generation += 1
        self._forget_all()  # kept under the old generation: never read again

    def listener_ready(self) -> None:
        self.generation += 1
        self.needs_flush = True
        self.listening = True

    async def ping(self) -> bool:
        if self.client is None:
            return False
        try:
            return bool(await self.client.ping())
        except REDIS_ERRORS:
            return False

    def take_one_ahead(self, key: str) -> bool:
        """take_ahead for one key: True when it was counted in memory."""
        left = self._ahead.get(key)
        if left is not None and left[0] >= 1:
            left[0] -= 1
            return True
        return False

    def take_ahead(self, keys: list[str]) -> list[int]:
        """Count one request against counts taken from Redis in advance, key by key; return
        the positions of the keys that had none left (to be counted in Redis)."""
        return [i for i, key in enumerate(keys) if not self.take_one_ahead(key)]

    async def count(
        self, keys: list[str], ttl: int, limits: list[int] | None = None
    ) -> list[int] | None:
        """Add one to each counter (created with a ttl) and return the new values; None while
        Redis is unavailable. Concurrent calls are batched: one script adds up what arrived
        while the previous batch was on its way, and each call still gets its own count.
        With limits (one per key), up to limit / 64 (at most 1,024) more are added in advance,
        as far as the limit allows, for take_ahead to hand out without asking Redis."""
        if self.client is None or time.monotonic() < self.redis_down_until:
            return None
        counted: asyncio.Future[list[int] | None] = asyncio.get_running_loop().create_future()
        self._counts.append((keys, ttl, limits, counted))
        if self._counting is None or self._counting.done():
            self._counting = asyncio.get_running_loop().create_task(self._count_batches())
        return await counted  # its own future: a cancelled caller cancels only this one

    def _keep_ahead(
        self,
        names: list[str],
        totals: list[int],
        extra: dict[str, int],
        limit_of: dict[str, int],
        ttl: int,
    ) -> None:
        """Keep the counts a batch took in advance that are within their key's limit."""
        now = time.time()
        if len(self._ahead) > 10_000:  # keys of past windows
            self._ahead = {k: v for k, v in self._ahead.items() if v[1] > now}
        for name, total in zip(names, totals, strict=True):
            taken = extra.get(name, 0)
            if not taken:
                continue
            usable = min(taken, max(0, limit_of[name] - (int(total) - taken)))
            if usable:
                left = self._ahead.get(name)
                self._ahead[name] = [(left[0] if left else 0) + usable, now + ttl]

    async def _count_batches(self) -> None:
        assert self.client is not None
        while self._counts:
            batch, self._counts = self._counts, []
            waiters = [counted for _, _, _, counted in batch]
            if time.monotonic() < self.redis_down_until:
                settle(waiters, None)
                continue
            added: dict[str, int] = {}
            limit_of: dict[str, int] = {}
            for keys, _, limits, _ in batch:
                for i, key in enumerate(keys):
                    added[key] = added.get(key, 0) + 1
                    if limits is not None:
                        limit_of[key] = limits[i]
            extra = {key: min(AHEAD_MAX, limit // AHEAD_SHARE) for key, limit in limit_of.items()}
            names = list(added)
            ttl = max(ttl for _, ttl, _, _ in batch)
            by = [added[name] + extra.get(name, 0) for name in names]
            try:
                assert self._count_script is not None
                self.count_calls += 1
                totals = await self._count_script(keys=names, args=[ttl, *by])
            except BaseException as error:
                settle(waiters, None)  # nobody waits forever: unknown means "allowed"
                if not isinstance(error, REDIS_ERRORS):
                    raise
                self._redis_failed(error)
                continue
            last = {
                name: int(total) - added[name] - extra.get(name, 0)
                for name, total in zip(names, totals, strict=True)
            }
            self._keep_ahead(names, totals, extra, limit_of, ttl)
            for keys, _, _, counted in batch:  # in arrival order, as single INCRs would have
                values = []
                for key in keys:
                    last[key] += 1
                    values.append(last[key])
                if not counted.done():
                    counted.set_result(values)

"""Cache freshness: time, writes (from psql too), bursts, Redis and listener faults."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway import cache as cache_module
from gateway import migrate as migrate_module
from gateway.app import LISTENER, init_app
from gateway.cache import RECENT_AGE, RECENT_BODY, RECENT_ENTRY, Result
from gateway.keys import CACHE
from gateway.migrate import apply_functions
from gateway.routes import ROUTES, Route
from tests.conftest import make_config, psql, wait_until
from tests.servers import embedded_redis

URL = "/stats/registrations"


async def get(client, path: str = URL, **params: str) -> tuple[str, object]:
    response = await client.get(path, params=params)
    assert response.status == 200, await response.text()
    return response.headers["X-Cache"], await response.json()


def total(body: object) -> int:
    assert isinstance(body, list)
    return sum(item["registrations"] for item in body)


async def test_miss_then_hit_with_the_same_body(client) -> None:
    first = await get(client)
    second = await get(client)
    assert first[0] == "MISS" and second[0] == "HIT"
    assert first[1] == second[1]
    other = await get(client, as_of="2025-01-01T00:00:00Z")
    assert other[0] == "MISS"


async def test_psql_write_is_seen_on_the_next_read(client, database_url: str) -> None:
    assert (await get(client))[0] == "MISS"
    status, body = await get(client)
    assert status == "HIT" and total(body) == 0
    psql(
        database_url,
        "insert into data.users (name, created_at) values ('dba', now() - interval '35 days')",
    )
    status, body = await get(client)
    assert status == "MISS" and total(body) == 1
    psql(database_url, "update data.users set created_at = now() - interval '500 days'")
    status, body = await get(client)
    assert status == "MISS" and total(body) == 0
    psql(database_url, "update data.users set created_at = now() - interval '60 days'")
    assert total((await get(client))[1]) == 1
    psql(database_url, "delete from data.users")
    status, body = await get(client)
    assert status == "MISS" and total(body) == 0


async def test_every_write_is_seen_by_the_read_right_after_it(client, database_url, db) -> None:
    """No sleeping between write and read: the read must never return the entry from
    before the write, whether the write comes from psql or from another connection."""
    insert = "insert into data.users (name, created_at) values ('w', now() - interval '40 days')"
    for i in range(1, 16):
        if i % 2:
            psql(database_url, insert)
        else:
            await db.execute(insert)
        status, body = await get(client)
        assert status == "MISS" and total(body) == i, (i, status)
        assert (await get(client))[0] == "HIT"


async def test_entry_expires_when_a_registration_leaves_the_window(client, db) -> None:
    await db.execute(
        "insert into data.users (name, created_at)"
        " values ('leaving', now() - interval '12 months' + interval '1.5 seconds')"
    )
    status, body = await get(client)
    assert status == "MISS" and total(body) == 1
    cache = client.app[CACHE]
    ttl = await cache.client.pttl(cache.key("monthly_registrations", {}))
    assert 0 < ttl <= 1500
    status, body = await get(client)
    assert status == "HIT" and total(body) == 1
    await asyncio.sleep(1.7)
    status, body = await get(client)
    assert status == "MISS" and total(body) == 0


@pytest.fixture
async def slow_function(database_url: str) -> AsyncIterator[Route]:
    connection = await asyncpg.connect(database_url)
    await connection.execute(
        "create function api.test_slow_count(pause float8 default 0.3) returns bigint"
        " language sql stable as $$ select count(*) from data.users, pg_sleep(pause) $$;"
        " comment on function api.test_slow_count(float8) is 'slow count\n@http cache=users'"
    )
    yield Route("GET", "/test/slow", "test_slow_count", "test")
    await connection.execute("drop function api.test_slow_count(float8)")
    await connection.close()


async def test_burst_of_identical_misses_runs_once(
    aiohttp_client, database_url: str, redis_url: str, slow_function: Route, db
) -> None:
    client = await aiohttp_client(
        init_app(make_config(database_url, redis_url), (*ROUTES, slow_function))
    )
    cache = client.app[CACHE]
    before = cache.computations
    results = await asyncio.gather(*(get(client, "/test/slow") for _ in range(25)))
    assert cache.computations - before == 1
    assert {body for _, body in results} == {0}
    assert {status for status, _ in results} == {"MISS"}
    assert (await get(client, "/test/slow"))[0] == "HIT"


async def test_write_during_a_computation_is_not_cached(
    aiohttp_client, database_url: str, redis_url: str, slow_function: Route, db
) -> None:
    client = await aiohttp_client(
        init_app(make_config(database_url, redis_url), (*ROUTES, slow_function))
    )
    slow = asyncio.create_task(get(client, "/test/slow", pause="0.5"))
    await asyncio.sleep(0.2)  # the computation has its snapshot: 0 users
    await db.execute("insert into data.users (name) values ('late')")
    assert (await slow)[1] == 0
    status, body = await get(client, "/test/slow", pause="0.5")
    assert (status, body) == ("MISS", 1)


@pytest.fixture
async def own_redis_client(aiohttp_client, database_url: str, db):
    with embedded_redis() as redis:
        config = make_config(database_url, redis.url, REDIS_TIMEOUT="0.2")
        client = await aiohttp_client(init_app(config))
        yield client, redis


async def test_redis_stopped_mid_run(own_redis_client, database_url: str) -> None:
    client, redis = own_redis_client
    assert (await get(client))[0] == "MISS"
    assert (await get(client))[0] == "HIT"
    redis.stop()
    await asyncio.sleep(RECENT_AGE + 0.1)  # the last GET's answer, kept in memory, aged out
    for _ in range(5):
        status, body = await get(client)
        assert status == "BYPASS" and total(body) == 0
    health = await (await client.get("/health")).json()
    assert health["status"] == "degraded" and health["redis"]["ok"] is False
    psql(
        database_url,
        "insert into data.users (name, created_at) values ('n', now() - interval '40 days')",
    )
    status, body = await get(client)
    assert status == "BYPASS" and total(body) == 1
    redis.start()  # same port, no gateway restart
    await asyncio.sleep(0.3)
    assert (await get(client))[0] == "MISS"
    status, body = await get(client)
    assert status == "HIT" and total(body) == 1


async def test_frozen_redis_never_serves_an_entry_whose_eviction_failed(
    own_redis_client, database_url: str
) -> None:
    client, redis = own_redis_client
    await get(client)
    assert (await get(client))[0] == "HIT"
    os.kill(redis.process.pid, signal.SIGSTOP)  # Redis hangs: it keeps its data
    try:
        psql(
            database_url,
            "insert into data.users (name, created_at) values ('n', now() - interval '40 days')",
        )
        await wait_until(lambda: client.app[CACHE].needs_flush)  # the eviction timed out
        status, body = await get(client)
        assert status == "BYPASS" and total(body) == 1
    finally:
        os.kill(redis.process.pid, signal.SIGCONT)
    await asyncio.sleep(0.3)
    status, body = await get(client)
    assert status == "MISS" and total(body) == 1  # the stale entry was flushed
    assert (await get(client))[0] == "HIT"


async def test_listener_loss_bypasses_and_reconnect_flushes(client, database_url: str) -> None:
    cache = client.app[CACHE]
    await get(client)
    assert (await get(client))[0] == "HIT"
    generation = cache.generation
    psql(
        database_url,
        "select pg_terminate_backend(pid) from pg_stat_activity"
        " where application_name = 'gateway-listener' and datname = current_database();"
        " insert into data.users (name, created_at) values ('n', now() - interval '40 days')",
    )
    await wait_until(lambda: cache.generation >= generation + 2 and cache.listening)
    status, body = await get(client)
    assert status == "MISS" and total(body) == 1
    assert client.app[LISTENER].connected.is_set()


async def test_listener_down_means_bypass(client) -> None:
    cache = client.app[CACHE]
    await get(client)
    cache.listener_lost()
    assert (await get(client))[0] == "BYPASS"
    cache.listener_ready()
    assert (await get(client))[0] == "MISS"


async def test_new_function_layer_version_changes_the_key(
    client, database_url: str, tmp_path: Path
) -> None:
    cache = client.app[CACHE]
    await get(client)
    assert (await get(client))[0] == "HIT"
    old = cache.version
    changed = tmp_path / "functions"
    shutil.copytree(migrate_module.FUNCTIONS_DIR, changed)
    (changed / "zz_extra.sql").write_text(
        "create function api.extra() returns int language sql as $$ select 1 $$;"
    )
    try:
        new = await apply_functions(database_url, "UTC", changed)
        assert new != old
        await wait_until(lambda: cache.version == new)
        assert (await get(client))[0] == "MISS"
    finally:
        await apply_functions(database_url, "UTC")


async def test_a_burst_of_hits_shares_redis_reads(client) -> None:
    cache = client.app[CACHE]
    cache.recent_age = 0  # no GET answers kept: each barrier round trip reads Redis
    assert (await get(client))[0] in {"MISS", "HIT"}
    before = cache.redis_reads
    results = await asyncio.gather(*(get(client) for _ in range(40)))
    assert {status for status, _ in results} == {"HIT"}
    assert len({str(body) for _, body in results}) == 1
    assert 1 <= cache.redis_reads - before < 40  # shared, yet at least one real GET


async def test_a_get_answer_serves_the_next_reads_until_a_write(client, db) -> None:
    cache = client.app[CACHE]
    cache.recent_age = 30  # longer than the test: only a write or the expiry ends it
    assert (await get(client))[0] == "MISS"
    await wait_until(lambda: not cache.storing)  # the entry has landed in Redis
    before = cache.redis_reads
    assert (await get(client))[0] == "HIT"  # a GET, whose answer is kept
    assert cache.redis_reads == before + 1
    for _ in range(3):
        status, body = await get(client)
        assert status == "HIT" and total(body) == 0
    burst = await asyncio.gather(*(get(client) for _ in range(10)))  # one round, mostly
    assert {status for status, _ in burst} == {"HIT"}
    assert cache.redis_reads == before + 1  # from memory
    await db.execute(
        "insert into data.users (name, created_at) values ('w', now() - interval '40 days')"
    )
    status, body = await get(client)  # the eviction count moved: not the kept answer
    assert status == "MISS" and total(body) == 1
    await wait_until(lambda: not cache.storing)
    for _ in range(3):
        status, body = await get(client)
        assert status == "HIT" and total(body) == 1
    assert cache.redis_reads == before + 3  # the miss's and one more


async def test_a_kept_get_answer_ages_out(client) -> None:
    cache = client.app[CACHE]
    cache.recent_age = 1.0
    await get(client)
    await wait_until(lambda: not cache.storing)
    assert (await get(client))[0] == "HIT"
    before = cache.redis_reads
    assert (await get(client))[0] == "HIT"
    assert cache.redis_reads == before
    await asyncio.sleep(1.1)
    assert (await get(client))[0] == "HIT"
    assert cache.redis_reads == before + 1  # read from Redis again


async def test_a_kept_get_answer_is_not_served_past_its_entry_expiry(client, db) -> None:
    cache = client.app[CACHE]
    cache.recent_age = 30
    await db.execute(
        "insert into data.users (name, created_at)"
        " values ('leaving', now() - interval '12 months' + interval '1.5 seconds')"
    )
    assert (await get(client))[0] == "MISS"
    await wait_until(lambda: not cache.storing)
    assert (await get(client))[0] == "HIT"  # a GET: kept until the entry expires
    before = cache.redis_reads
    status, body = await get(client)
    assert status == "HIT" and total(body) == 1 and cache.redis_reads == before
    await asyncio.sleep(1.7)
    status, body = await get(client)
    assert status == "MISS" and total(body) == 0


async def test_kept_answers_are_swept_and_held_to_their_budget(client, monkeypatch) -> None:
    cache = client.app[CACHE]
    cache.recent_age = 0.1
    far = time.time() + 60
    one = Result(b"[1]")
    size = len(one.body) + RECENT_ENTRY  # what an entry is counted
    for n in range(100):
        cache._keep((f"k{n}", (0,)), one, far)
    assert len(cache.recent) == 100 and cache.recent_bytes == 100 * size
    await asyncio.sleep(0.15)
    cache._keep(("last", (0,)), one, far)  # the expired ones are swept first
    assert list(cache.recent) == [("last", (0,))] and cache.recent_bytes == size
    cache._keep(("big", (0,)), Result(b"x" * (RECENT_BODY + 1)), far)
    cache._keep(("gone", (0,)), one, time.time() - 1)  # its entry has expired
    assert list(cache.recent) == [("last", (0,))]
    monkeypatch.setattr(cache_module, "RECENT_BYTES", 3 * size)
    for n in range(2):
        cache._keep((f"more{n}", (0,)), one, far)
    assert len(cache.recent) == 3 and cache.recent_bytes == 3 * size
    cache._keep(("over", (0,)), one, far)  # over the budget: all dropped first
    assert list(cache.recent) == [("over", (0,))] and cache.recent_bytes == size


async def test_an_entry_without_its_expiry_is_read_from_redis_each_time(client) -> None:
    # written by a gateway before 0.9.5 (no field "e"): its answers are not kept
    cache = client.app[CACHE]
    cache.recent_age = 30
    await get(client)  # the cache is flushed and in use
    key = cache.key("test_old_entry", {})
    await cache.client.hset(key, mapping={"h": b"0:", "b": b"[1]"})
    await cache.client.expire(key, 60)

    async def never() -> Result:
        raise AssertionError("computed: the entry was not read")

    before = cache.redis_reads
    for _ in range(2):
        result, status = await cache.get_or_compute(key, ("users",), never)
        assert (result.body, status) == (b"[1]", "HIT")
    assert cache.redis_reads == before + 2
    await cache.client.unlink(key)


async def test_an_eviction_during_the_store_drops_the_entry(client) -> None:
    # The eviction's script can run before the entry lands in Redis: the store checks the
    # eviction counts again afterwards and removes what it wrote.
    cache = client.app[CACHE]
    tables = ("users",)
    stamp = cache._stamp(tables)
    cache.table_evictions["users"] += 1  # as if a NOTIFY arrived meanwhile
    key = cache.key("test_store_race", {"n": 1})
    await cache._store(key, tables, Result(b"1"), stamp)
    assert await cache.client.exists(key) == 0
    fresh = cache._stamp(tables)
    await cache._store(key, tables, Result(b"1"), fresh)
    assert await cache.client.exists(key) == 1
    await cache.client.unlink(key)


async def test_a_barrier_serves_only_what_was_registered_before_it_began(client) -> None:
    # Reads are handed to their handler together, once per round trip; a read registered
    # while a round trip is on its way must wait for the next one (a write committed after
    # that round trip began may not have been announced before it ended)
    listener = client.app[LISTENER]
    calls: list[tuple[bool, list[int]]] = []

    def handler(ok: bool, items: list[int]) -> None:
        calls.append((ok, list(items)))

    listener.after_barrier(handler, 1)
    listener.after_barrier(handler, 2)
    for _ in range(10_000):  # until their round trip has begun (it is too short to sleep)
        if not listener._waiting:
            break
        await asyncio.sleep(0)
    assert not listener._waiting and calls == []  # begun, and on its way
    listener.after_barrier(handler, 3)
    await wait_until(lambda: len(calls) == 2)
    assert calls == [(True, [1, 2]), (True, [3])]


async def test_a_cancelled_barrier_answers_its_items_and_the_next_one_runs(client) -> None:
    listener = client.app[LISTENER]
    calls: list[tuple[bool, list[int]]] = []

    def handler(ok: bool, items: list[int]) -> None:
        calls.append((ok, list(items)))

    running = listener._barrier_task  # a keep-alive round trip: let it end first
    await wait_until(lambda: running is None or running.done())
    listener.after_barrier(handler, 1)
    task = listener._barrier_task
    assert task is not None
    await asyncio.sleep(0)  # its round trip begins
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert calls == [(False, [1])]  # answered: freshness unknown
    listener.after_barrier(handler, 2)  # a new task serves it
    await wait_until(lambda: len(calls) == 2)
    assert calls[1] == (True, [2])


async def test_a_read_the_barrier_handler_fails_on_is_computed_not_stranded(
    client, monkeypatch
) -> None:
    cache = client.app[CACHE]
    await get(client)  # the cache is flushed and in use: reads go by the barrier's handler

    def broken(*_args: object) -> None:
        raise RuntimeError("join failed")

    monkeypatch.setattr(cache, "_join_read", broken)

    async def compute() -> Result:
        return Result(b"7")

    result, status = await asyncio.wait_for(
        cache.get_or_compute(cache.key("test_stranded", {}), ("users",), compute), 5
    )
    assert (result.body, status) == (b"7", "BYPASS")


async def test_interleaved_reads_of_two_entries_get_their_own(client) -> None:
    # reads of one barrier round trip join the GET of the read before them when it is of the
    # same entry; interleaved with another entry's, each still gets its own body
    cache = client.app[CACHE]
    await get(client)  # the cache is flushed and in use
    tables = ("users",)
    keys = {name: cache.key("test_interleaved", {"n": name}) for name in "ab"}
    for name, key in keys.items():
        await cache._store(key, tables, Result(name.encode()), cache._stamp(tables))

    async def never() -> Result:
        raise AssertionError("computed: the entry was not read")

    before = cache.redis_reads
    order = "aabaabba"
    found = await asyncio.gather(
        *(cache.get_or_compute(keys[name], tables, never) for name in order)
    )
    assert [(result.body.decode(), status) for result, status in found] == [
        (name, "HIT") for name in order
    ]
    assert 2 <= cache.redis_reads - before <= len(order)

"""Faults survived: PostgreSQL restarted and Redis stopped in the middle of a load, and the
collector killed in the middle of a run."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.app import init_app
from gateway.cache import RECENT_AGE
from gateway.keys import CACHE
from gateway.migrate import migrate
from gateway.servers import EmbeddedPostgres
from tests.conftest import make_config, psql, wait_until
from tests.fake_github import FakeGitHub, serve
from tests.servers import embedded_redis

URL = "/stats/registrations"


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of the test's own, which it may stop and start."""
    with tempfile.TemporaryDirectory(prefix="gw-fault-pg-") as folder:
        os.chmod(folder, 0o755)
        server = EmbeddedPostgres(Path(folder) / "data").start()
        asyncio.run(migrate(server.url, "UTC"))
        try:
            yield server
        finally:
            server.stop("immediate")


async def load(client, stop: asyncio.Event, results: list[tuple[int, str, float, object]]) -> None:
    """One client of a load: requests until told to stop (bounded by the test's duration)."""
    while not stop.is_set():
        started = time.monotonic()
        response = await client.get(URL)
        body = await response.json()
        results.append(
            (response.status, response.headers.get("X-Cache", ""), time.monotonic() - started, body)
        )
        await asyncio.sleep(0.005)


def total(body: object) -> int:
    return sum(item["registrations"] for item in body) if isinstance(body, list) else -1


async def test_postgres_restarted_mid_load(aiohttp_client, own_postgres, redis_url) -> None:
    client = await aiohttp_client(
        init_app(make_config(own_postgres.url, redis_url, DB_TIMEOUT="2"))
    )
    cache = client.app[CACHE]
    psql(
        own_postgres.url,
        "insert into data.users (name, created_at) values ('a', now() - interval '40 days')",
    )
    await wait_until(lambda: cache.listening)
    stop, results = asyncio.Event(), []
    workers = [asyncio.create_task(load(client, stop, results)) for _ in range(8)]
    await asyncio.sleep(0.5)
    await asyncio.to_thread(own_postgres.stop, "fast")
    down_at = len(results)
    await asyncio.sleep(1.5)
    outage = results[down_at:]
    await asyncio.to_thread(own_postgres.start)
    await wait_until(lambda: cache.listening, limit=20)
    # a write right after the restart: the next reads must see it
    psql(
        own_postgres.url,
        "insert into data.users (name, created_at) values ('b', now() - interval '40 days')",
    )
    after_write = len(results)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*workers)

    statuses = {status for status, *_ in results}
    assert statuses <= {200, 503}, [r for r in results if r[0] not in (200, 503)][:3]
    failed = [r for r in outage if r[0] == 503]
    assert failed, "the outage produced no 503"
    assert max(seconds for status, _, seconds, _ in failed) < 2.5  # quick, no hang
    assert all(isinstance(body, dict) and body["error"] for status, _, _, body in failed)
    tail = results[after_write + 8 :]  # requests sent after the write was committed
    assert tail and all(status == 200 and total(body) == 2 for status, _, _, body in tail)
    assert any(cache_state == "HIT" for _, cache_state, _, _ in tail)  # the cache is back


async def test_redis_stopped_mid_load(aiohttp_client, database_url, db) -> None:
    with embedded_redis() as redis:
        client = await aiohttp_client(
            init_app(make_config(database_url, redis.url, REDIS_TIMEOUT="0.2"))
        )
        await db.execute(
            "insert into data.users (name, created_at) values ('a', now() - interval '40 days')"
        )
        stop, results = asyncio.Event(), []
        workers = [asyncio.create_task(load(client, stop, results)) for _ in range(8)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(redis.stop)
        await asyncio.sleep(RECENT_AGE + 0.1)  # GET answers kept in memory age out
        stopped_at = len(results)
        await asyncio.sleep(1.0)
        restarted_at = len(results)
        await asyncio.to_thread(redis.start)
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*workers)
    assert all(status == 200 and total(body) == 1 for status, _, _, body in results)
    during = results[stopped_at + 8 : restarted_at]
    assert during and all(state == "BYPASS" for _, state, _, _ in during)
    assert results[-1][1] == "HIT"  # hits resumed without a restart


async def test_collector_killed_mid_run_then_completed(pool, tmp_path) -> None:
    fake = FakeGitHub()
    fake.latency = 0.02
    for login in ("alpha", "beta", "gamma"):
        account = fake.add_user(login)
        fake.add_repos(login, 20)
        await pool.execute("select api.github_account_upsert($1, $2, null)", account.id, login)
    async with serve(fake) as base:
        env = {
            **os.environ,
            "DATABASE_URL": pool._connect_args[0],
            "GITHUB_API_URL": base,
            "GITHUB_TOKEN": "t",
        }
        command = [sys.executable, "-m", "gateway.cli", "collect", "--once"]
        victim = await asyncio.create_subprocess_exec(
            *command, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        await wait_until(lambda: len(fake.requests) >= 30, limit=30)
        victim.send_signal(signal.SIGKILL)
        await victim.wait()
        half = await pool.fetchval("select count(*) from data.github_repo_stats")
        assert half < 60
        survivor = await asyncio.create_subprocess_exec(
            *command, env=env, stderr=asyncio.subprocess.DEVNULL
        )
        assert await survivor.wait() == 0
    rows = await pool.fetch("select repo_id, day from data.github_repo_stats")
    assert len(rows) == 60 == len({(r["repo_id"], r["day"]) for r in rows})
    runs = await pool.fetch("select * from data.collector_runs order by id")
    assert runs[-1]["finished_at"] is not None and runs[-1]["errors"] == 0
    assert runs[0]["finished_at"] is None  # the killed run stays visible as unfinished

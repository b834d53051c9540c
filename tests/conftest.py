from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from gateway.app import init_app
from gateway.config import Config
from gateway.github import GitHub, Settings
from gateway.migrate import FUNCTIONS_DIR, apply_functions, migrate
from gateway.servers import pg_tool
from tests.fake_github import FakeGitHub, serve
from tests.servers import create_database, drop_database, postgres_server, redis_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def database_url(pg_server: str) -> Iterator[str]:
    url = create_database(pg_server)
    asyncio.run(migrate(url, "UTC"))
    yield url
    drop_database(pg_server, url)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


def make_config(database_url: str, redis_url: str | None, **extra: str) -> Config:
    values = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url or "",
        "CACHE_PREFIX": f"t{uuid.uuid4().hex[:10]}",
        "REDIS_RETRY_AFTER": "0.2",
        "JWT_SECRET": "test-secret-that-is-long-enough-0123456789",
        # every test client is one address: tests/test_ratelimit.py sets real limits
        "RATE_LIMIT_PER_IP": "1000000",
        "RATE_LIMIT_PER_TOKEN": "1000000",
        **extra,
    }
    return Config.from_mapping(values)


@pytest.fixture
def config(database_url: str, redis_url: str) -> Config:
    return make_config(database_url, redis_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, as a DBA would have; the users table starts empty."""
    connection = await asyncpg.connect(database_url)
    await connection.execute("truncate data.users, data.posts restart identity")
    yield connection
    await connection.close()


@pytest.fixture
async def client(aiohttp_client, config: Config, db: asyncpg.Connection):
    return await aiohttp_client(init_app(config))


@pytest.fixture
async def rpc_layer(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """The function layer plus tests/sql/rpc_examples.sql, re-applied as a deploy would;
    the original layer is restored afterwards."""
    layer = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, layer)
    shutil.copy(Path(__file__).parent / "sql" / "rpc_examples.sql", layer / "zz_rpc_examples.sql")
    version = await apply_functions(database_url, "UTC", layer)
    yield version
    await apply_functions(database_url, "UTC")


async def wait_until(condition: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


def psql(database_url: str, sql: str) -> str:
    """Run SQL through the real psql client, as a DBA would."""
    result = subprocess.run(
        [pg_tool("psql"), database_url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


# --- GitHub: the fake server, and the collector's client on the fake's clock --------


class FakeClock:
    """The collector's clock is the fake's: sleeping advances it, instantly."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self.slept = 0.0

    def now(self) -> dt.datetime:
        return self.fake.now

    async def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.fake.advance(seconds=seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=12)
    await pool.execute(
        "delete from data.github_accounts; delete from data.github_etags;"
        " delete from data.collector_runs"
    )
    yield pool
    await pool.close()


@pytest.fixture
async def github_fake() -> AsyncIterator[tuple[FakeGitHub, str]]:
    fake = FakeGitHub()
    fake.monotonic = lambda: fake.now.timestamp()  # retry-after on the same clock
    async with serve(fake) as base:
        yield fake, base


@pytest.fixture
async def make_github(github_fake, pool):
    fake, base = github_fake
    sessions: list[aiohttp.ClientSession] = []

    def factory(**settings: object) -> GitHub:
        session = aiohttp.ClientSession()
        sessions.append(session)
        options = {"api_url": base, "token": "t", "timeout": 2.0, "retries": 4, "backoff": 0.01}
        options.update(settings)
        return GitHub(session, pool, Settings(**options), FakeClock(fake))  # type: ignore[arg-type]

    yield factory
    for session in sessions:
        await session.close()

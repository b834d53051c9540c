"""Backup and restore with pg_dump/pg_restore, as the README documents it: a round trip."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import asyncpg

from gateway.migrate import apply_functions
from gateway.servers import pg_tool
from tests.servers import create_database, drop_database

CHECKS = [
    "select count(*) from data.users",
    "select count(*) from data.posts",
    "select count(*) from data.accounts",
    "select sum(registrations) from api.monthly_registrations('2026-01-01')",
    "select api.users_count()",
    "select api.version()",
    "select md5(string_agg(u::text, ',' order by u.id)) from data.users u",
]


async def snapshot(url: str) -> list[object]:
    connection = await asyncpg.connect(url)
    try:
        return [await connection.fetchval(sql) for sql in CHECKS]
    finally:
        await connection.close()


def test_dump_and_restore_round_trip(database_url: str, pg_server: str, tmp_path: Path) -> None:
    async def fill() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(
                "insert into data.users (name, email, created_at)"
                " select 'backup ' || g, 'b' || g || '@example.com', '2025-01-01'::timestamptz + g * interval '1 day'"
                " from generate_series(1, 300) g;"
                " insert into data.posts (user_id, title, content)"
                " select id, 'post', 'text' from data.users where name like 'backup %'"
            )
        finally:
            await connection.close()

    asyncio.run(fill())
    dump = tmp_path / "app.dump"
    subprocess.run(
        [pg_tool("pg_dump"), "--format=custom", "--file", str(dump), database_url], check=True
    )
    restored = create_database(pg_server)
    try:
        result = subprocess.run(
            [
                pg_tool("pg_restore"),
                "--no-owner",
                "--exit-on-error",
                "--dbname",
                restored,
                str(dump),
            ],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stderr
        assert asyncio.run(snapshot(restored)) == asyncio.run(snapshot(database_url))
        # the restored database takes the function layer again, as a deploy would
        asyncio.run(apply_functions(restored, "UTC"))
        assert asyncio.run(snapshot(restored)) == asyncio.run(snapshot(database_url))
    finally:
        drop_database(pg_server, restored)

        async def clean() -> None:
            connection = await asyncpg.connect(database_url)
            try:
                await connection.execute("delete from data.users where name like 'backup %'")
            finally:
                await connection.close()

        asyncio.run(clean())

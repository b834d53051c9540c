"""Migrations and the function layer: fresh and upgraded databases end identical."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import asyncpg
import pytest

from gateway import migrate as migrate_module
from gateway.migrate import apply_functions, function_layer_version, migrate, run_dbmate
from gateway.servers import pg_tool
from tests.servers import create_database, drop_database


def schema_dump(url: str) -> str:
    result = subprocess.run(
        [pg_tool("pg_dump"), "--schema-only", "--no-owner", "--restrict-key=fixed", url],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def rows(url: str, sql: str) -> list[tuple[object, ...]]:
    async def fetch() -> list[tuple[object, ...]]:
        connection = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


@pytest.fixture
def two_databases(pg_server: str):
    fresh, upgraded = create_database(pg_server), create_database(pg_server)
    yield fresh, upgraded
    drop_database(pg_server, fresh)
    drop_database(pg_server, upgraded)


def test_fresh_and_upgraded_databases_are_identical(
    two_databases: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh, upgraded = two_databases
    asyncio.run(migrate(fresh, "UTC"))

    # upgraded: one migration at a time, then an older layer (other settings), then this one
    migrations = sorted(migrate_module.MIGRATIONS_DIR.glob("*.sql"))
    assert len(migrations) >= 2
    step_dir = tmp_path / "migrations"
    step_dir.mkdir()
    monkeypatch.setattr(migrate_module, "MIGRATIONS_DIR", step_dir)
    for migration in migrations:
        shutil.copy(migration, step_dir)
        run_dbmate(upgraded, "up")
    run_dbmate(upgraded, "rollback")
    run_dbmate(upgraded, "up")
    asyncio.run(apply_functions(upgraded, "Europe/Paris"))
    asyncio.run(apply_functions(upgraded, "UTC"))

    assert schema_dump(fresh) == schema_dump(upgraded)
    settings = "select name, value from data.settings order by name"
    assert rows(fresh, settings) == rows(upgraded, settings)
    version = "select api.version()"
    assert rows(fresh, version) == rows(upgraded, version) == [(function_layer_version(),)]


def test_every_migration_rolls_back_and_reapplies(two_databases: tuple[str, str]) -> None:
    url, _ = two_databases
    asyncio.run(migrate(url, "UTC"))
    before = schema_dump(url)
    count = len(list(migrate_module.MIGRATIONS_DIR.glob("*.sql")))
    for _ in range(count):
        run_dbmate(url, "rollback")
    assert rows(url, "select count(*) from pg_namespace where nspname = 'data'") == [(0,)]
    asyncio.run(migrate(url, "UTC"))
    assert schema_dump(url) == before


def test_function_layer_is_idempotent_and_transactional(database_url: str, tmp_path: Path) -> None:
    first = asyncio.run(apply_functions(database_url, "UTC"))
    assert asyncio.run(apply_functions(database_url, "UTC")) == first
    broken = tmp_path / "functions"
    shutil.copytree(migrate_module.FUNCTIONS_DIR, broken)
    (broken / "zz_broken.sql").write_text("create function api.broken( returns int;")
    with pytest.raises(migrate_module.MigrationError):
        asyncio.run(apply_functions(database_url, "UTC", broken))
    # the failed apply left the previous layer in place
    assert rows(database_url, "select api.version()") == [(first,)]
    assert rows(database_url, "select count(*) from api.monthly_registrations()") == [(12,)]


def test_version_changes_with_the_sources(tmp_path: Path) -> None:
    sources = sorted(migrate_module.FUNCTIONS_DIR.glob("*.sql"))
    copy = tmp_path / "f.sql"
    copy.write_text(sources[0].read_text() + "\n-- changed\n")
    assert function_layer_version(sources) != function_layer_version([copy, *sources[1:]])
    assert function_layer_version(sources).startswith(migrate_module.__version__ + "+")


def test_unknown_timezone_is_refused(database_url: str) -> None:
    with pytest.raises(migrate_module.MigrationError, match="unknown time zone"):
        asyncio.run(apply_functions(database_url, "Mars/Olympus"))

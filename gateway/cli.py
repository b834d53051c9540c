"""Command line: run the gateway (with embedded servers when no URLs are set), migrate, psql."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import uvloop
from aiohttp import web

from gateway import logs
from gateway.config import Config, ConfigError
from gateway.migrate import MigrationError, apply_functions, migrate
from gateway.servers import EmbeddedPostgres, EmbeddedRedis, pg_tool, tune_malloc

log = logging.getLogger("gateway.cli")


def state_file(config: Config) -> Path:
    return config.data_dir / "servers.json"


@contextlib.contextmanager
def servers(config: Config) -> Iterator[Config]:
    """Start the embedded servers the configuration does not name; stop them after."""
    started: list[EmbeddedPostgres | EmbeddedRedis] = []
    try:
        if not config.database_url:
            postgres = EmbeddedPostgres(config.data_dir / "postgres").start()
            started.append(postgres)
            config = dataclasses.replace(config, database_url=postgres.url)
            log.info("embedded postgresql started", extra={"fields": {"port": postgres.port}})
        if not config.redis_url:
            redis = EmbeddedRedis(config.data_dir / "redis").start()
            started.append(redis)
            config = dataclasses.replace(config, redis_url=redis.url)
            log.info("embedded redis started", extra={"fields": {"port": redis.port}})
        state = {"database_url": config.database_url, "redis_url": config.redis_url}
        state_file(config).parent.mkdir(parents=True, exist_ok=True)
        state_file(config).write_text(json.dumps(state))
        yield config
    finally:
        state_file(config).unlink(missing_ok=True)
        for server in reversed(started):
            server.stop()


def development_secret(config: Config) -> Config:
    """`make run` without JWT_SECRET: one generated once and kept in DATA_DIR."""
    if config.jwt_secret:
        return config
    path = config.data_dir / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
        log.info("generated a development JWT_SECRET", extra={"fields": {"file": str(path)}})
    return dataclasses.replace(config, jwt_secret=path.read_text().strip())


def command_run(config: Config) -> None:
    config = development_secret(config)
    with servers(config) as config:
        assert config.database_url
        version = asyncio.run(migrate(config.database_url, config.app_timezone))
        log.info("database ready", extra={"fields": {"version": version}})
        env = {
            **os.environ,
            "DATABASE_URL": config.database_url,
            "REDIS_URL": config.redis_url or "",
        }
        collector = subprocess.Popen([sys.executable, "-m", "gateway.cli", "collect"], env=env)
        try:
            command_serve(config)
        finally:
            collector.terminate()
            try:
                collector.wait(10)
            except subprocess.TimeoutExpired:
                collector.kill()


def command_serve(config: Config) -> None:
    """Serve HTTP until SIGINT/SIGTERM; requests in flight get SHUTDOWN_TIMEOUT to finish."""
    if not config.database_url:
        raise ConfigError("DATABASE_URL is required for serve")
    from gateway.app import init_app

    print(f"serving on http://{config.host}:{config.port}", flush=True)
    uvloop.install()  # libuv's event loop: measurably more requests per second than asyncio's
    tune_malloc()  # megabyte bodies reuse freed memory instead of fresh pages from the kernel
    app = init_app(config)
    app.on_startup.append(tune_gc)
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        shutdown_timeout=10,
        # aiohttp's default, 128, overflowed when a few hundred clients connected at once:
        # the kernel dropped their SYNs, and each retried after 1 s, then 3 s (ListenDrops
        # in `nstat`; wrk counted it as timeouts). The kernel caps it at net.core.somaxconn.
        backlog=LISTEN_BACKLOG,
    )


LISTEN_BACKLOG = 2048


async def tune_gc(_app: web.Application) -> None:
    """Once started: move what the imports and start-up built into the permanent generation,
    and collect the young generation less often. Requests make short-lived objects; with
    Python's defaults, full collections kept walking a few hundred thousand long-lived ones
    (the cache-hit rate of `make bench` was about a third lower)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def command_migrate(config: Config, functions_only: bool) -> None:
    if not config.database_url:
        raise ConfigError("DATABASE_URL is required for migrate")
    if functions_only:
        print(asyncio.run(apply_functions(config.database_url, config.app_timezone)))
    else:
        print(asyncio.run(migrate(config.database_url, config.app_timezone)))


async def _collect(config: Config, once: bool) -> None:
    import aiohttp
    import asyncpg

    from gateway import collector
    from gateway.app import github_settings
    from gateway.github import GitHub, RealClock

    assert config.database_url
    size = config.github_concurrency + 2
    pool = await asyncpg.create_pool(config.database_url, min_size=1, max_size=size)
    try:
        async with aiohttp.ClientSession() as session:
            github = GitHub(session, pool, github_settings(config), RealClock())
            if once:
                summary = await collector.collect(github, pool)
                print(summary if summary else "another collector is running")
            else:
                await collector.forever(
                    github, pool, config.collect_at, github.clock, config.database_url
                )
    finally:
        await pool.close()


def command_collect(config: Config, once: bool) -> None:
    """Collect GitHub statistics: once now, or daily at COLLECT_AT (catching up at start)."""
    with the_database(config) as url:
        asyncio.run(_collect(dataclasses.replace(config, database_url=url), once))


@contextlib.contextmanager
def the_database(config: Config) -> Iterator[str]:
    """DATABASE_URL; else the database `gateway run` uses, running or started for the while."""
    url = config.database_url
    if not url and state_file(config).exists():
        url = json.loads(state_file(config).read_text())["database_url"]
    if url:
        yield url
        return
    with servers(dataclasses.replace(config, redis_url="unused")) as running:
        assert running.database_url
        asyncio.run(migrate(running.database_url, running.app_timezone))
        yield running.database_url


def command_psql(config: Config, extra: list[str]) -> int:
    with the_database(config) as url:
        return subprocess.call([pg_tool("psql"), url, *extra])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start servers if needed, migrate, serve (what `make run` does)")
    sub.add_parser("serve", help="serve HTTP on DATABASE_URL and REDIS_URL, nothing else")
    migrate_parser = sub.add_parser(
        "migrate", help="apply migrations and functions to DATABASE_URL"
    )
    migrate_parser.add_argument(
        "--functions-only", action="store_true", help="rebuild the api schema only (no dbmate)"
    )
    collect = sub.add_parser("collect", help="GitHub collector: daily at COLLECT_AT, or --once")
    collect.add_argument("--once", action="store_true", help="one run now, then exit")
    sub.add_parser(
        "psql", help="psql on the database that `gateway run` uses (psql options follow)"
    )
    options, extra = parser.parse_known_args(argv)
    if extra and options.command != "psql":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        config = Config.from_env()
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    logs.setup(config.log_level)
    try:
        if options.command == "run":
            command_run(config)
        elif options.command == "serve":
            command_serve(config)
        elif options.command == "collect":
            command_collect(config, options.once)
        elif options.command == "migrate":
            command_migrate(config, options.functions_only)
        elif options.command == "psql":
            return command_psql(config, extra)
    except (ConfigError, MigrationError, ImportError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""The application factory: pools and clients in cleanup contexts, routes from the table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway import auth, calls, collector, docs, pages, ratelimit
from gateway.cache import Cache
from gateway.catalogue import Catalogue
from gateway.config import Config, ConfigError
from gateway.errors import Handler, error_response
from gateway.github import GitHub, Settings
from gateway.keys import (
    CACHE,
    CATALOGUE,
    CONFIG,
    GITHUB,
    LIMITER,
    POOL,
    READ_POOL,
    ROUTES_KEY,
    VERIFIED,
)
from gateway.listener import Listener
from gateway.logs import AccessLogger
from gateway.pools import FairPool
from gateway.routes import ROUTES, Route

log = logging.getLogger("gateway")
LISTENER: web.AppKey[Listener] = web.AppKey("listener")


async def create_pool(config: Config, *, read_only: bool) -> asyncpg.Pool:
    settings = {
        "application_name": "gateway-read" if read_only else "gateway",
        "timezone": config.app_timezone,
        "statement_timeout": str(config.statement_timeout_ms),
    }
    if read_only:  # every statement is its own read-only transaction: no BEGIN round trip
        settings["default_transaction_read_only"] = "on"
    assert config.database_url, "DATABASE_URL is required"
    pool: asyncpg.Pool = await asyncpg.create_pool(
        config.database_url,
        min_size=config.db_pool_min,
        max_size=config.db_pool_max,
        timeout=config.db_timeout,
        server_settings=settings,
        reset=keep_session if read_only else None,
        init=text_as_bytes if read_only else None,
    )
    return pool


async def text_as_bytes(connection: asyncpg.Connection) -> None:
    """On the read-only pool, text values arrive as their UTF-8 bytes: the JSON body of a call
    goes to Redis and the client as it came, instead of being decoded to str and encoded back
    (two more copies of what can be megabytes)."""
    await connection.set_type_codec(
        "text", schema="pg_catalog", encoder=str.encode, decoder=bytes, format="binary"
    )


async def keep_session(connection: asyncpg.Connection) -> None:
    """Release a read-only connection without asyncpg's reset query (RESET ALL, UNLISTEN *,
    CLOSE ALL, pg_advisory_unlock_all), a round trip that doubled the database's work per
    GET. That pool only runs the gateway's own single statements calling STABLE or IMMUTABLE
    functions, which leave no session state behind unless one calls set_config(..., false)
    or takes a session advisory lock, which api functions must not do (see the README)."""
    if connection.is_in_transaction():  # never, with single statements; but be sure
        await connection.execute("rollback")


async def postgres_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    app[POOL] = FairPool(await create_pool(config, read_only=False))
    app[READ_POOL] = FairPool(await create_pool(config, read_only=True))
    app[CATALOGUE] = await Catalogue.load(app[POOL].pool)
    yield
    await app[READ_POOL].pool.close()
    await app[POOL].pool.close()


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    client = None
    if config.redis_url:
        # A bounded pool where a request waits (up to REDIS_TIMEOUT) for a free connection:
        # redis-py's default pool raises when its 100 connections are in use, which looked
        # like Redis being down (bypass, then flush) under a few hundred clients.
        pool = aioredis.BlockingConnectionPool.from_url(
            config.redis_url,
            max_connections=64,
            timeout=config.redis_timeout,
            socket_timeout=config.redis_timeout,
            socket_connect_timeout=config.redis_timeout,
            retry=Retry(NoBackoff(), 0),  # a failure means bypass, at once: no retries
        )
        client = aioredis.Redis(connection_pool=pool)
    cache = Cache(
        client,
        prefix=config.cache_prefix,
        max_ttl=config.cache_max_ttl,
        retry_after=config.redis_retry_after,
    )
    cache.version = app[CATALOGUE].version
    app[CACHE] = cache
    app[LIMITER].cache = cache
    yield
    if client is not None:
        await client.aclose()
        await client.connection_pool.aclose()  # a pool given to the client is ours to close


async def github_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    async with aiohttp.ClientSession() as session:
        app[GITHUB] = GitHub(session, app[POOL].pool, github_settings(config))
        yield


def github_settings(config: Config) -> Settings:
    return Settings(
        api_url=config.github_api_url,
        token=config.github_token,
        concurrency=config.github_concurrency,
        timeout=config.github_timeout,
        retries=config.github_retries,
    )


def guarded(handler: Handler, level: str) -> Handler:
    """A built-in handler behind the route's auth level."""
    if level == auth.PUBLIC:
        return handler

    async def guard(request: web.Request) -> web.StreamResponse:
        await auth.authenticate(request, level)
        return await handler(request)

    return guard


async def listener_ctx(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    assert config.database_url

    async def reload(connection: asyncpg.Connection) -> None:
        catalogue = await Catalogue.load(connection)
        app[CATALOGUE].replace_with(catalogue)
        app[CACHE].version = catalogue.version

    listener = Listener(config.database_url, app[CACHE], reload, timeout=config.db_timeout)
    app[LISTENER] = listener
    if config.cache_barrier:
        app[CACHE].after_barrier = listener.after_barrier
    task = asyncio.create_task(listener.run())
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(listener.connected.wait(), config.db_timeout)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def health(request: web.Request) -> web.Response:
    """PostgreSQL and Redis, reported separately; 503 when PostgreSQL is down."""
    app = request.app
    started = time.perf_counter()
    try:
        async with app[POOL].acquire(1.0) as connection:
            await connection.fetchval("select api.version()", timeout=1.0)
        postgres = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 2)}
    except Exception as error:  # noqa: BLE001 - any failure is "down"
        postgres = {"ok": False, "error": type(error).__name__}
    started = time.perf_counter()
    redis_ok = await app[CACHE].ping()
    redis = {"ok": redis_ok}
    if redis_ok:
        redis["ms"] = round((time.perf_counter() - started) * 1000, 2)
    body = {
        "status": "ok" if postgres["ok"] and redis_ok else "degraded" if postgres["ok"] else "down",
        "postgres": postgres,
        "redis": redis,
        "cache": {"listening": app[CACHE].listening, "version": app[CACHE].version},
    }
    return web.json_response(body, status=200 if postgres["ok"] else 503)


MAX_BODY = 1024 * 1024
MAX_URL = 16384


def front(handler: Handler, limiter: ratelimit.Limiter) -> Handler:
    """What every request meets first, around every route's handler: the URL length limit,
    the rate limits, and every exception as the one JSON error shape. A wrapper, not an
    aiohttp middleware: with one, aiohttp adds a middleware of its own and runs both on
    every request (11,000 instructions of a cache hit's 263,000, measured with callgrind)."""

    async def fronted(request: web.Request) -> web.StreamResponse:
        try:
            if len(request.raw_path) > MAX_URL:
                raise web.HTTPRequestURITooLong()
            counting = limiter.check(request)
            if counting is not None:  # to be counted in Redis
                await counting
            return await handler(request)
        except Exception as error:  # noqa: BLE001 - each kind is mapped in error_response
            return error_response(request, error)

    fronted.__name__ = getattr(handler, "__name__", "handler")
    return fronted


async def not_routed(request: web.Request) -> web.StreamResponse:
    """The last route, any method and path: no other route has the path (404), or none has
    it with this method (405, with Allow)."""
    allowed: set[str] = set()
    this = request.match_info.route.resource
    for resource in request.app.router.resources():
        if resource is not this:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


CATCH_ALL = r"/{path:[\s\S]*}"  # any path, also one with a newline (%0A) in it


def init_app(config: Config, routes: tuple[Route, ...] = ROUTES) -> web.Application:
    if not config.jwt_secret:
        raise ConfigError("JWT_SECRET is required (at least 32 characters)")
    limiter = ratelimit.Limiter(config)
    app = web.Application(
        client_max_size=MAX_BODY,
        # parse long request lines, so that they are answered in JSON (gateway.app.front)
        handler_args={
            "max_line_size": MAX_BODY,
            "max_field_size": 65536,
            "access_log_class": AccessLogger,  # JSON lines, API tokens masked
        },
    )
    app[CONFIG] = config
    app[LIMITER] = limiter
    app[ROUTES_KEY] = routes
    app[VERIFIED] = {}
    app.cleanup_ctx.extend([postgres_ctx, redis_ctx, listener_ctx, github_ctx])
    builtins: dict[str, Handler] = {
        "health": health,
        "openapi": docs.openapi_json,
        "token": auth.token_handler,
        "track": collector.track_handler,
    }
    for route in routes:
        if route.builtin:
            handle = guarded(builtins[route.builtin], route.auth)
        else:
            handle = calls.handler(route)
        app.router.add_route(route.method, route.path, front(handle, limiter))
    for path, handle in docs.routes() + pages.routes(routes):  # GET and HEAD
        app.router.add_get(path, front(handle, limiter))
    app.router.add_route("*", CATCH_ALL, front(not_routed, limiter))  # the last
    return app

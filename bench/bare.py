"""The baseline of `make bench`'s gateway rows: bare aiohttp handlers, one process like the
gateway, default event loop, no logging.

    python -m bench.bare PORT BODY_FILE DATABASE_URL

- GET /stats/registrations: the bytes of BODY_FILE from memory, as JSON (the cache-hit baseline);
- GET /rpc/bench_ping: `select api.bench_ping()` on an asyncpg pool of the gateway's default
  size (2 to 10 connections), as JSON (the generic-call baseline).
"""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
from aiohttp import web

POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")


def make_app(body: bytes, database_url: str) -> web.Application:
    async def registrations(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def ping(request: web.Request) -> web.Response:
        value = await request.app[POOL].fetchval("select api.bench_ping()")
        return web.Response(text=json.dumps(value), content_type="application/json")

    async def pool(app: web.Application) -> AsyncIterator[None]:
        app[POOL] = await asyncpg.create_pool(database_url, min_size=2, max_size=10)
        yield
        await app[POOL].close()

    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_get("/stats/registrations", registrations)
    app.router.add_get("/rpc/bench_ping", ping)
    return app


def main() -> None:
    port, body_file, database_url = sys.argv[1:]
    app = make_app(Path(body_file).read_bytes(), database_url)
    web.run_app(app, host="127.0.0.1", port=int(port), access_log=None, print=None)


if __name__ == "__main__":
    main()

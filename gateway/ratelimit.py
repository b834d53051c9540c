"""Request rate limits per client address and per presented credential, counted in Redis.

Fixed windows of RATE_LIMIT_WINDOW seconds; over the limit: 429 with Retry-After. While
Redis is unavailable the limits are not enforced (requests are served, as the cache is).

A count that goes to Redis also takes up to limit / 64 (at most 1,024) counts in advance, as
far as the limit allows; the next requests of that key are counted against them in memory.
The limit is never exceeded, across gateways too; with several gateways a client can be
refused by one while another still holds counts taken for it (at most limit / 64 per gateway
and key).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable

from aiohttp import web

from gateway.cache import Cache
from gateway.errors import ApiError
from gateway.keys import CACHE, CONFIG

EXEMPT = ("/health", "/assets/", "/docs/assets/", "/docs/static/")


def credential(request: web.Request) -> str | None:
    """A short hash of the API token or bearer token the request carries (valid or not)."""
    headers = request.headers
    presented = headers.get("X-API-Token", "").strip()
    if not presented:
        authorization = headers.get("Authorization")
        if authorization is None:
            return None
        scheme, _, value = authorization.partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else ""
    if not presented:
        return None
    return hashlib.sha256(presented.encode(errors="replace")).hexdigest()[:24]


def check(request: web.Request) -> Awaitable[None] | None:
    """Count the request. None when nothing is left to wait for: counted in memory against
    counts taken in advance (no coroutine), or not counted (exempt path, limits off); else
    what to await, which counts in Redis (not while Redis is down) and raises ApiError 429
    when a limit is exceeded."""
    app = request.app
    config = app[CONFIG]
    per_ip, per_token = config.rate_limit_per_ip, config.rate_limit_per_token
    if not (per_ip or per_token) or request.path.startswith(EXEMPT):
        return None
    window = config.rate_limit_window
    index = int(time.time() // window)
    token = credential(request) if per_token else None
    cache = app[CACHE]
    keys: list[str] = []
    limits: list[int] = []
    if per_ip:
        ip_key = f"{config.cache_prefix}:rl:ip:{request.remote}:{index}"
        if token is None:  # one key: counted here unless Redis must count it
            if cache.take_one_ahead(ip_key):
                return None
            return _count(cache, [ip_key], [per_ip], window, index)
        keys.append(ip_key)
        limits.append(per_ip)
    if token:
        keys.append(f"{config.cache_prefix}:rl:tok:{token}:{index}")
        limits.append(per_token)
    if not keys:
        return None
    # keys with a count taken in advance are counted here; the others go to Redis (a key
    # counted in Redis again while it still held counts would climb too fast)
    missing = cache.take_ahead(keys)
    if not missing:
        return None
    return _count(cache, [keys[i] for i in missing], [limits[i] for i in missing], window, index)


async def _count(cache: Cache, keys: list[str], limits: list[int], window: int, index: int) -> None:
    counts = await cache.count(keys, window, limits)
    if counts and any(n > limit for n, limit in zip(counts, limits, strict=True)):
        wait = max(1, int((index + 1) * window - time.time()) + 1)
        raise ApiError(
            429,
            "too many requests; slow down",
            code="PGRST429",
            headers={"Retry-After": str(wait)},
        )

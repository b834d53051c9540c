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

from aiohttp import web

from gateway.errors import ApiError
from gateway.keys import CACHE, CONFIG

EXEMPT = ("/health", "/assets/", "/docs/assets/", "/docs/static/")


def credential(request: web.Request) -> str | None:
    """A short hash of the API token or bearer token the request carries (valid or not)."""
    presented = request.headers.get("X-API-Token", "").strip()
    if not presented:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else ""
    if not presented:
        return None
    return hashlib.sha256(presented.encode(errors="replace")).hexdigest()[:24]


async def check(request: web.Request) -> None:
    """Count the request; ApiError 429 when a limit is exceeded."""
    config = request.app[CONFIG]
    if request.path.startswith(EXEMPT):
        return
    window = config.rate_limit_window
    index = int(time.time() // window)
    checks: list[tuple[str, int]] = []
    if config.rate_limit_per_ip:
        checks.append(
            (f"{config.cache_prefix}:rl:ip:{request.remote}:{index}", config.rate_limit_per_ip)
        )
    token = credential(request) if config.rate_limit_per_token else None
    if token:
        checks.append(
            (f"{config.cache_prefix}:rl:tok:{token}:{index}", config.rate_limit_per_token)
        )
    if not checks:
        return
    cache = request.app[CACHE]
    # keys with a count taken in advance are counted here; the others go to Redis (a key
    # counted in Redis again while it still held counts would climb too fast)
    missing = cache.take_ahead([key for key, _ in checks])
    if not missing:
        return
    counted = [checks[i] for i in missing]
    counts = await cache.count([key for key, _ in counted], window, [limit for _, limit in counted])
    if counts and any(n > limit for n, (_, limit) in zip(counts, counted, strict=True)):
        wait = max(1, int((index + 1) * window - time.time()) + 1)
        raise ApiError(
            429,
            "too many requests; slow down",
            code="PGRST429",
            headers={"Retry-After": str(wait)},
        )

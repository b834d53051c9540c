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
from gateway.config import Config
from gateway.errors import ApiError

EXEMPT = ("/health", "/assets/", "/docs/assets/", "/docs/static/")
TOKEN, AUTHORIZATION = "X-API-Token", "Authorization"  # the credentials counted


def credential(request: web.Request) -> str | None:
    """A short hash of the API token or bearer token the request carries (valid or not)."""
    headers = request.headers
    presented = headers.get(TOKEN, "").strip()
    if not presented:
        authorization = headers.get(AUTHORIZATION)
        if authorization is None:
            return None
        scheme, _, value = authorization.partition(" ")
        presented = value.strip() if scheme.lower() == "bearer" else ""
    if not presented:
        return None
    return hashlib.sha256(presented.encode(errors="replace")).hexdigest()[:24]


class Limiter:
    """The rate limits of one app: its settings, read once, and the Redis key of each address
    in the current window, built once per window (a request without a credential, the most
    common kind, then costs a header look-up, a dict look-up and a count in memory)."""

    def __init__(self, config: Config) -> None:
        self.per_ip = config.rate_limit_per_ip
        self.per_token = config.rate_limit_per_token
        self.window = config.rate_limit_window
        self.prefix = config.cache_prefix
        self.on = bool(self.per_ip or self.per_token)
        self.cache: Cache | None = None  # set when the app starts (gateway.app.redis_ctx)
        self._index = -1  # the current window's number
        self._ends = 0.0  # when it ends (unix time)
        self._ip_keys: dict[str | None, str] = {}  # address -> its key in the current window

    def _window(self, now: float) -> int:
        index = int(now // self.window)
        if index != self._index:
            self._index = index
            self._ends = (index + 1) * self.window
            self._ip_keys = {}
        return index

    def check(self, request: web.Request) -> Awaitable[None] | None:
        """Count the request. None when nothing is left to wait for: counted in memory
        against counts taken in advance (no coroutine), or not counted (exempt path, limits
        off); else what to await, which counts in Redis (not while Redis is down) and raises
        ApiError 429 when a limit is exceeded."""
        if not self.on or request.path.startswith(EXEMPT):
            return None
        cache = self.cache
        assert cache is not None, "the app has not started"
        now = time.time()
        index = self._index if now < self._ends else self._window(now)
        headers = request.headers
        token = None
        if self.per_token and (TOKEN in headers or AUTHORIZATION in headers):
            token = credential(request)
        keys: list[str] = []
        limits: list[int] = []
        if self.per_ip:
            remote = request.remote
            ip_key = self._ip_keys.get(remote)
            if ip_key is None:
                if len(self._ip_keys) >= 100_000:  # a window with very many addresses
                    self._ip_keys = {}
                ip_key = self._ip_keys[remote] = f"{self.prefix}:rl:ip:{remote}:{index}"
            if token is None:  # one key: counted here unless Redis must count it
                if cache.take_one_ahead(ip_key):
                    return None
                return _count(cache, [ip_key], [self.per_ip], self.window, index)
            keys.append(ip_key)
            limits.append(self.per_ip)
        if token:
            keys.append(f"{self.prefix}:rl:tok:{token}:{index}")
            limits.append(self.per_token)
        if not keys:
            return None
        # keys with a count taken in advance are counted here; the others go to Redis (a key
        # counted in Redis again while it still held counts would climb too fast)
        missing = cache.take_ahead(keys)
        if not missing:
            return None
        return _count(
            cache, [keys[i] for i in missing], [limits[i] for i in missing], self.window, index
        )


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

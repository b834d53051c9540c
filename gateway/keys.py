"""Typed application keys: every shared object the app holds is declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.cache import Cache
    from gateway.catalogue import Catalogue
    from gateway.config import Config
    from gateway.github import GitHub
    from gateway.pools import FairPool
    from gateway.ratelimit import Limiter
    from gateway.routes import Route

CONFIG: web.AppKey[Config] = web.AppKey("config")
POOL: web.AppKey[FairPool] = web.AppKey("pool")
READ_POOL: web.AppKey[FairPool] = web.AppKey("read_pool")  # default_transaction_read_only
CACHE: web.AppKey[Cache] = web.AppKey("cache")
CATALOGUE: web.AppKey[Catalogue] = web.AppKey("catalogue")
GITHUB: web.AppKey[GitHub] = web.AppKey("github")
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter")  # the rate limits
ROUTES_KEY: web.AppKey[tuple[Route, ...]] = web.AppKey("routes")
# bearer tokens whose signature and claims were verified: token -> (account id, expiry)
VERIFIED: web.AppKey[dict[str, tuple[int, float]]] = web.AppKey("verified_tokens")

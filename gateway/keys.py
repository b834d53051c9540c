"""Typed application keys: every shared object the app holds is declared here."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from gateway.cache import Cache
    from gateway.catalogue import Catalogue
    from gateway.config import Config

CONFIG: web.AppKey[Config] = web.AppKey("config")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
CACHE: web.AppKey[Cache] = web.AppKey("cache")
CATALOGUE: web.AppKey[Catalogue] = web.AppKey("catalogue")

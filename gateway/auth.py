"""Who is calling: API tokens for owners, JWTs for operators, and the login that issues JWTs.

Passwords are argon2 hashes (PostgreSQL has no argon2), checked here; everything else about
accounts (tokens, roles, existence) is decided by api functions.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass

import asyncpg
import jwt
from aiohttp import web
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.exceptions import RedisError

from gateway.bodies import json_object
from gateway.config import Config
from gateway.errors import ApiError
from gateway.keys import CACHE, CONFIG, POOL, READ_POOL, VERIFIED

log = logging.getLogger("gateway.auth")

PUBLIC, OWNER, OPERATOR, ADMIN = "public", "owner", "operator", "admin"
LEVELS = (PUBLIC, OWNER, OPERATOR, ADMIN)
OPERATOR_ROLES = {"admin", "operator"}
HASHER = PasswordHasher()
# verified when the username is unknown, so that both failures take the same time
DUMMY_HASH = HASHER.hash("no such operator: the same work as a real check")


@dataclass(frozen=True)
class Caller:
    account_id: int
    role: str


def hash_password(password: str) -> str:
    if not password or len(password) > 1024:
        raise ApiError(400, "password must be 1 to 1024 characters", details="password")
    return HASHER.hash(password)


def _unauthorized(message: str, scheme: str) -> ApiError:
    return ApiError(401, message, code="PGRST301", headers={"WWW-Authenticate": scheme})


async def authenticate(request: web.Request, level: str) -> Caller | None:
    """The caller, as `level` demands; 401 when unknown, 403 when not allowed."""
    if level == PUBLIC:
        return None
    if level == OWNER:
        return await _by_api_token(request)
    if level in (OPERATOR, ADMIN):
        caller = await _by_jwt(request)
        if level == ADMIN and caller.role != "admin":
            raise ApiError(403, "this route needs the admin role", code="PGRST302")
        return caller
    raise ApiError(500, "route has an unknown auth level")


async def _by_api_token(request: web.Request) -> Caller:
    token = request.headers.get("X-API-Token", "").strip()
    if not token:
        raise _unauthorized("missing API token: send it in the X-API-Token header", "X-API-Token")

    async def look_up() -> Caller | None:
        row = await _lookup(request, "select * from api.account_by_token($1)", token)
        return Caller(row["id"], _text(row["role"]) or "") if row else None

    key = ("token", hashlib.sha256(token.encode(errors="replace")).digest())
    caller = await request.app[CACHE].remembered(key, "accounts", look_up)
    if caller is None:
        raise _unauthorized("unknown API token", "X-API-Token")
    return caller


async def _by_jwt(request: web.Request) -> Caller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("missing bearer token: send Authorization: Bearer <JWT>", "Bearer")
    account_id = _account_of(request.app, token.strip())

    async def look_up() -> str | None:
        row = await _lookup(request, "select api.account_role($1) as role", account_id)
        return _text(row["role"]) if row else None

    # remembered until data.accounts changes: no pool connection for a known operator
    role = await request.app[CACHE].remembered(("role", account_id), "accounts", look_up)
    if role not in OPERATOR_ROLES:  # deleted since the token was issued
        raise _unauthorized("invalid or expired token", 'Bearer error="invalid_token"')
    return Caller(account_id, role)


VERIFIED_MAX = 10_000  # tokens kept verified per gateway (all forgotten when full)


def _account_of(app: web.Application, token: str) -> int:
    """The account a bearer token names. Its signature and claims are verified once (PyJWT
    took about 6 % of the gateway's CPU in make bench's mixed load, verifying the same token
    on every request); its expiry is checked on every request."""
    verified = app[VERIFIED]
    known = verified.get(token)
    if known is not None and time.time() < known[1]:
        return known[0]
    try:
        claims = jwt.decode(
            token,
            app[CONFIG].jwt_secret,
            algorithms=["HS256"],
            options={"require": ["exp", "iat", "sub"]},
        )
        account_id, expires = int(claims["sub"]), float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError):  # exp of 10**400
        raise _unauthorized("invalid or expired token", 'Bearer error="invalid_token"') from None
    if len(verified) >= VERIFIED_MAX:
        verified.clear()
    verified[token] = (account_id, expires)
    return account_id


async def _lookup(request: web.Request, sql: str, *args: object) -> asyncpg.Record | None:
    """One row of a STABLE auth function, on the read-only pool: no reset query after it,
    which made every authenticated request three round trips before its own call."""
    async with request.app[READ_POOL].acquire(request.app[CONFIG].db_timeout) as conn:
        return await conn.fetchrow(sql, *args)


def _text(value: object) -> str | None:
    """Text from the read-only pool arrives as bytes (gateway.app.text_as_bytes)."""
    return value.decode() if isinstance(value, bytes) else value  # type: ignore[return-value]


def issue_token(config: Config, account_id: int, role: str) -> dict[str, object]:
    now = int(time.time())
    expires = config.jwt_expire_minutes * 60
    claims = {"sub": str(account_id), "role": role, "iat": now, "exp": now + expires}
    token = jwt.encode(claims, config.jwt_secret, algorithm="HS256")
    return {"access_token": token, "token_type": "bearer", "expires_in": expires}


async def _credentials(request: web.Request) -> tuple[str, str]:
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()
        if form.get("grant_type", "password") != "password":
            raise ApiError(400, "grant_type must be password", code="unsupported_grant_type")
        username, password = form.get("username"), form.get("password")
    elif request.content_type == "application/json":
        body = await json_object(request)
        username, password = body.get("username"), body.get("password")
    else:
        raise ApiError(400, "send JSON or an OAuth2 password form")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        raise ApiError(400, "username and password are required")
    return username, password


class LoginThrottle:
    """Failed logins per (username, client address), counted in Redis over a window."""

    def __init__(self, request: web.Request, username: str) -> None:
        config = request.app[CONFIG]
        self.cache = request.app[CACHE]
        self.limit = config.login_max_failures
        self.window = config.login_window_seconds
        who = hashlib.sha256(f"{username.lower()}\0{request.remote}".encode()).hexdigest()[:32]
        self.key = f"{config.cache_prefix}:login:{who}"

    async def check(self) -> None:
        if self.cache.client is None:
            return
        try:
            failures = int(await self.cache.client.get(self.key) or 0)
            if failures >= self.limit:
                wait = max(1, int(await self.cache.client.ttl(self.key)))
                raise ApiError(
                    429,
                    "too many failed logins; try again later",
                    code="PGRST429",
                    headers={"Retry-After": str(wait)},
                )
        except (TimeoutError, RedisError, OSError) as error:
            log.warning("login throttle unavailable (redis): %r", error)

    async def failed(self) -> None:
        # the window starts at the first failure: the counter is created with its ttl
        await self.cache.count([self.key], self.window)

    async def succeeded(self) -> None:
        if self.cache.client is None:
            return
        try:
            await self.cache.client.delete(self.key)
        except (TimeoutError, RedisError, OSError) as error:
            log.warning("login throttle unavailable (redis): %r", error)


async def token_handler(request: web.Request) -> web.Response:
    """POST /auth/token: username and password (JSON or OAuth2 form) -> a JWT."""
    username, password = await _credentials(request)
    throttle = LoginThrottle(request, username)
    await throttle.check()
    config = request.app[CONFIG]
    async with request.app[POOL].acquire(config.db_timeout) as connection:
        row = await connection.fetchrow("select * from api.operator_credentials($1)", username)
    stored = row["password_hash"] if row else DUMMY_HASH
    loop = asyncio.get_running_loop()
    try:
        await loop.run_in_executor(None, HASHER.verify, stored, password)
        ok = row is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or row is None:
        await throttle.failed()
        raise ApiError(401, "invalid username or password", code="PGRST301")
    await throttle.succeeded()
    log.info("login", extra={"fields": {"account_id": row["id"]}})
    return web.json_response(issue_token(config, row["id"], row["role"]))

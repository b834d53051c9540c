"""One error shape for every response, and the one place errors become HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

log = logging.getLogger("gateway.errors")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error with a status and a message that is safe to show to the caller."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details = details
        self.hint = hint
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {
            "error": self.message,
            "code": self.code,
            "message": self.message,
            "details": self.details,
            "hint": self.hint,
        }
        return web.json_response(body, status=self.status, headers=self.headers)


# SQLSTATEs raised by PostgreSQL itself, with a message of ours: theirs may leak internals.
SQLSTATE_STATUS: dict[str, tuple[int, str]] = {
    "23505": (409, "conflict: the value already exists"),
    "23503": (400, "a referenced row does not exist"),
    "23502": (400, "a required value is missing"),
    "23514": (400, "a value breaks a data rule"),
    "22001": (400, "a value is too long"),
    "22003": (400, "a number is out of range"),
    "22007": (400, "a date or time is malformed"),
    "22008": (400, "a date or time is out of range"),
    "22P02": (400, "a value is malformed"),
    "22023": (400, "an argument has an invalid value"),
    "22021": (400, "a text value holds an invalid character"),
    "57014": (504, "the query took too long and was cancelled"),
    "40001": (503, "the database was busy; try again"),
    "40P01": (503, "the database was busy; try again"),
    "53300": (503, "the database has too many connections; try again"),
    "57P01": (503, "the database is restarting; try again"),
    "57P03": (503, "the database is starting; try again"),
}


def from_database(error: asyncpg.PostgresError) -> ApiError:
    state = getattr(error, "sqlstate", None) or ""
    if state in SQLSTATE_STATUS:
        status, message = SQLSTATE_STATUS[state]
        return ApiError(status, message, code=state)
    if state.startswith("08"):
        return unavailable()
    if state.startswith("22"):
        return ApiError(400, "an argument has an invalid value", code=state)
    log.error("database error %s: %s", state, error)
    return ApiError(500, "internal error", code=state or None)


def unavailable() -> ApiError:
    return ApiError(
        503, "the database is unavailable; try again", code="PGRST001", headers={"Retry-After": "1"}
    )


CONNECTION_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception into the one JSON error shape."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = {404: "not found", 405: "method not allowed", 413: "request body too large"}
        text = message.get(error.status, error.reason.lower())
        response = ApiError(error.status, text).response()
        if error.status == 405 and "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except asyncpg.PostgresError as error:
        return from_database(error).response()
    except CONNECTION_ERRORS:
        return unavailable().response()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return ApiError(500, "internal error").response()

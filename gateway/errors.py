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


# SQLSTATE -> HTTP status, as PostgREST maps them (docs.postgrest.org, "Errors"), except:
# 57014 (statement timeout) is 504, and 40001/40P01/57P01-57P03 (retry later) are 503.
EXACT_STATUS = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    "P0001": 400,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
    "42501": 403,
    "57014": 504,
    "40001": 503,
    "40P01": 503,
    "57P01": 503,
    "57P02": 503,
    "57P03": 503,
}
PREFIX_STATUS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500,
    "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 500, "55": 500,
    "57": 500, "58": 500, "F0": 500, "HV": 500, "P0": 500, "XX": 500,
}  # fmt: skip
# Our own words for what PostgreSQL raises itself: its messages may leak internals.
SAFE_MESSAGES = {
    "23505": "conflict: the value already exists",
    "23503": "a referenced row does not exist",
    "23502": "a required value is missing",
    "23514": "a value breaks a data rule",
    "22001": "a value is too long",
    "22003": "a number is out of range",
    "22007": "a date or time is malformed",
    "22008": "a date or time is out of range",
    "22P02": "a value is malformed",
    "22021": "a text value holds an invalid character",
    "57014": "the call took too long and was cancelled",
    "40001": "the database was busy; try again",
    "40P01": "the database was busy; try again",
}


def status_for(sqlstate: str) -> int:
    """The HTTP status of a SQLSTATE; PTnnn lets a function choose status nnn."""
    if sqlstate.startswith("PT") and sqlstate[2:].isdigit() and 100 <= int(sqlstate[2:]) <= 599:
        return int(sqlstate[2:])
    if sqlstate in EXACT_STATUS:
        return EXACT_STATUS[sqlstate]
    return PREFIX_STATUS.get(sqlstate[:2], 400)


def raised_by_function(sqlstate: str) -> bool:
    """RAISE in an api function: P0001 (the default) or PTnnn. Its words are for callers."""
    return sqlstate == "P0001" or sqlstate.startswith("PT")


def from_database(error: asyncpg.PostgresError) -> ApiError:
    state = getattr(error, "sqlstate", None) or "XX000"
    status = status_for(state)
    headers = {"Retry-After": "1"} if status == 503 else None
    if raised_by_function(state):
        return ApiError(
            status,
            getattr(error, "message", None) or str(error),
            code=state,
            details=getattr(error, "detail", None),
            hint=getattr(error, "hint", None),
            headers=headers,
        )
    if status >= 500 and state not in SAFE_MESSAGES:
        log.error("database error %s: %s", state, error)
        message = "the database is unavailable; try again" if status == 503 else "internal error"
    else:
        message = SAFE_MESSAGES.get(state, "the request was refused by a data rule")
    return ApiError(status, message, code=state, headers=headers)


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
    # raised by a connection that broke mid-operation (a server restart)
    asyncpg.exceptions.InternalClientError,
)


def error_response(request: web.Request, exception: BaseException) -> web.StreamResponse:
    """The one JSON error shape for every exception a request raised (re-raised: a
    cancellation, and HTTP exceptions below 400, such as redirects)."""
    try:
        raise exception
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        message = {
            404: "not found",
            405: "method not allowed",
            413: "request body too large",
            414: "request URL too long",
        }
        text = message.get(error.status, error.reason.lower())
        response = ApiError(error.status, text).response()
        if error.status == 405 and "Allow" in error.headers:
            response.headers["Allow"] = error.headers["Allow"]
        return response
    except asyncpg.PostgresError as error:
        return from_database(error).response()
    except RecursionError:  # JSON nested too deep for the parser
        return ApiError(400, "the body is nested too deeply").response()
    except UnicodeError:  # text that is not valid Unicode (lone surrogates)
        return ApiError(400, "a text value is not valid Unicode").response()
    except CONNECTION_ERRORS:
        return unavailable().response()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return ApiError(500, "internal error").response()

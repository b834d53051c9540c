"""Bind HTTP arguments to an api function, build its call, run it, cache it."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.auth import OPERATOR, PUBLIC, Caller, authenticate, hash_password
from gateway.bodies import json_object
from gateway.cache import BYPASS, Compute, Result
from gateway.catalogue import (
    JSON_TEXT,
    Catalogue,
    Function,
    canonical,
    convert,
    placeholder,
    quote_ident,
)
from gateway.config import Config
from gateway.errors import ApiError
from gateway.keys import CACHE, CATALOGUE, CONFIG, POOL, READ_POOL
from gateway.pools import FairPool
from gateway.routes import CALLER, Route


def resolve(request: web.Request, route: Route) -> Function:
    """The function a request calls; for /rpc/{function} only exposed ones."""
    catalogue = request.app[CATALOGUE]
    if not route.is_rpc:
        return catalogue.get(route.function)
    name = request.match_info["function"]
    function = catalogue.functions.get(name)
    if function is None or not function.exposed:
        raise ApiError(
            404,
            f"Could not find the function api.{name} in the schema cache",
            code="PGRST202",
            hint="Only api functions whose comment has an @http line are exposed.",
        )
    if request.method == "GET" and not function.read_only:
        raise ApiError(
            405,
            f"api.{name} is volatile: call it with POST",
            code="PGRST101",
            headers={"Allow": "POST"},
        )
    return function


def bind(function: Function, route: Route, raw: dict[str, object], timezone: str) -> dict[str, Any]:
    """Map HTTP names to parameters, refuse unknown and missing ones, convert the rest."""
    bound: dict[str, Any] = {}
    for http_name, value in raw.items():
        name = route.args.get(http_name, http_name)
        argument = function.argument(name)
        if argument is None:
            raise ApiError(
                400, f"unknown argument '{http_name}'", code="PGRST_ARG", details=http_name
            )
        bound[name] = convert(argument, value, timezone, http_name)
    reverse = {v: k for k, v in route.args.items()}
    for argument in function.args:
        if argument.required and argument.name not in bound:
            http_name = reverse.get(argument.name, argument.name)
            raise ApiError(
                400, f"missing argument '{http_name}'", code="PGRST_ARG", details=http_name
            )
    return bound


def call_of(function: Function, names: list[str]) -> str:
    """api.f(a => $1::type, ...) for the arguments in `names` that f declares ($n by position
    in `names`, so companions share the parameters)."""
    by_name = {a.name: a for a in function.args}
    args = ", ".join(
        f"{quote_ident(n)} => {placeholder(by_name[n], i)}"
        for i, n in enumerate(names, 1)
        if n in by_name
    )
    return f"api.{quote_ident(function.name)}({args})"


def call_sql(
    function: Function,
    names: list[str],
    *,
    max_rows: int,
    single: bool = False,
    valid_until: Function | None = None,
    total: Function | None = None,
) -> str:
    """One statement, one snapshot: the result as JSON text (built by PostgreSQL), whether
    rows were cut at max_rows, the result's validity and the total its companions report.
    single: the first row as an object (null when there is none)."""
    call = call_of(function, names)
    # rows as records (objects in JSON), even with a single column; else the values
    rows = f"(select * from {call}) r" if function.columns else f"{call} r"
    if function.in_parts:  # one body in pieces, joined in order by execute()
        body = (
            f"select r.part::text as body, false as truncated"
            f" from {call} with ordinality as r (part, n) where r.part is not null order by r.n"
        )
    elif function.returns_set and single:
        body = f"select (select to_json(r) from {rows} limit 1)::text as body, false as truncated"
    elif function.returns_set:
        body = (
            f"select coalesce(array_to_json((array_agg(s.r))[1:{max_rows}]), '[]')::text as body,"
            f" count(*) > {max_rows} as truncated"
            f" from (select r from {rows} limit {max_rows + 1}) s"
        )
    elif function.return_type == JSON_TEXT:  # rendered by the function: sent as it is
        body = f"select coalesce(({call})::text, 'null') as body, false as truncated"
    elif function.return_type == "void":
        body = f"select 'null'::text as body, false as truncated from (select {call}) s"
    else:
        body = f"select to_json({call})::text as body, false as truncated"
    validity = call_of(valid_until, names) if valid_until else "null::timestamptz"
    count = f"({call_of(total, names)})::bigint" if total else "null::bigint"
    # companions as scalar subqueries: evaluated once, also when the body comes in parts
    return (
        f"select q.body, q.truncated, (select {validity}) as valid_until,"
        f" (select {count}) as total from ({body}) q"
    )


def statement(
    catalogue: Catalogue,
    function: Function,
    names: list[str],
    *,
    max_rows: int,
    single: bool,
    valid_until: str | None,
    total: str | None,
) -> str:
    """call_sql, built once per function and call shape (kept until the catalogue reloads)."""
    shape = (function.name, tuple(names), max_rows, single, valid_until, total)
    known = catalogue.statements.get(shape)
    if known is not None and known[0] is function:
        return known[1]
    sql = call_sql(
        function,
        names,
        max_rows=max_rows,
        single=single,
        valid_until=catalogue.companion(valid_until),
        total=catalogue.companion(total),
    )
    if len(catalogue.statements) >= 10_000:
        catalogue.statements.clear()
    catalogue.statements[shape] = (function, sql)
    return sql


def _epoch(moment: dt.datetime | None) -> float | None:
    if moment is None or moment.year >= 9999:
        return None
    return moment.timestamp()


async def collect(request: web.Request, route: Route) -> dict[str, object]:
    """Arguments from the path, then the query string (GET) or JSON object body."""
    raw: dict[str, object] = dict(request.match_info)
    if route.is_rpc:
        raw.pop("function", None)
    if request.method in {"GET", "HEAD", "DELETE"}:
        for name in request.query:
            values = request.query.getall(name)
            if len(values) > 1:
                raise ApiError(400, f"argument '{name}' is given more than once", details=name)
            raw[name] = values[0]
        return raw
    if request.can_read_body:
        raw.update(await json_object(request))
    return raw


async def execute(
    pool: FairPool, config: Config, sql: str, values: list[Any], seconds: float
) -> Result:
    connection = await pool.take(config.db_timeout)
    try:
        rows = await connection.fetch(sql, *values, timeout=seconds)
    except TimeoutError:  # asyncpg cancelled the statement
        raise ApiError(504, "the call took too long and was cancelled", code="57014") from None
    finally:
        await pool.give(connection, config.db_timeout)
    if not rows:  # a function in parts (Function.in_parts) that returned none
        return Result(b"null")
    # one row, or the parts of one body; bytes on the read-only pool (gateway.app.text_as_bytes)
    parts = [row["body"] for row in rows]
    if isinstance(parts[0], str):
        body = "".join(parts).encode()
    else:
        body = parts[0] if len(parts) == 1 else b"".join(parts)
    row = rows[0]
    return Result(body, _epoch(row["valid_until"]), row["truncated"], row["total"])


def auth_level(route: Route, function: Function) -> str:
    """Who may call: the row says for friendly routes, the function's auth= for /rpc."""
    return function.options.get("auth", OPERATOR) if route.is_rpc else route.auth


def add_secrets(route: Route, raw: dict[str, object]) -> None:
    """Replace passwords by their argon2 hash, under the parameter that takes the hash."""
    for http_name, parameter in route.passwords.items():
        if parameter in raw:
            raise ApiError(400, f"unknown argument '{parameter}'", details=parameter)
        if http_name in raw:
            value = raw.pop(http_name)
            if not isinstance(value, str):
                raise ApiError(400, f"argument '{http_name}' must be text", details=http_name)
            raw[parameter] = hash_password(value)


@dataclass(frozen=True)
class Bound:
    """A call ready to run: its cache key (None: not cached), the tables its entry depends
    on, and compute, which runs its statement with its values on its pool (the read-only
    one for a GET of a read-only function), built once: a GET's call is memoised."""

    route: Route
    function: Function
    key: str | None
    tables: tuple[str, ...]
    compute: Compute


MEMO_SIZE = 4096  # GET calls kept bound per catalogue
MEMO_URL = 512  # longer URLs are bound anew each time


async def run(request: web.Request, route: Route) -> tuple[Result, str]:
    """Call the route's function with the cache in front; return (result, X-Cache)."""
    app = request.app
    function = resolve(request, route)
    level = auth_level(route, function)
    caller = None if level == PUBLIC else await authenticate(request, level)
    catalogue = app[CATALOGUE]
    # A GET's arguments come from its URL alone: the same route, caller and URL bind the
    # same way until the catalogue reloads (which empties catalogue.calls)
    memo = (id(route), caller.account_id if caller else None, request.raw_path)
    kept = request.method == "GET" and len(request.raw_path) <= MEMO_URL
    call = catalogue.calls.get(memo) if kept else None
    if call is None or call.function is not function or call.route is not route:
        call = await bind_call(request, route, function, caller)
        if kept:
            if len(catalogue.calls) >= MEMO_SIZE:
                catalogue.calls.clear()
            catalogue.calls[memo] = call
    if call.key is None:
        return await call.compute(), BYPASS
    return await app[CACHE].get_or_compute(call.key, call.tables, call.compute)


async def bind_call(
    request: web.Request, route: Route, function: Function, caller: Caller | None
) -> Bound:
    """The request's arguments bound to the function: its statement, values and cache key."""
    app = request.app
    config = app[CONFIG]
    raw = await collect(request, route)
    if CALLER in raw:  # set by the gateway only
        raise ApiError(400, f"unknown argument '{CALLER}'", details=CALLER)
    add_secrets(route, raw)
    if function.argument(CALLER) is not None:
        if caller is None:
            raise ApiError(401, "this call needs an authenticated caller", code="PGRST301")
        raw[CALLER] = caller.account_id
    args = bind(function, route, raw, config.app_timezone)
    names = sorted(args)
    policy = function.cache if route.cached and request.method == "GET" else None
    max_rows = 1 if route.single else function.option_int("max_rows", config.max_rows)
    sql = statement(
        app[CATALOGUE],
        function,
        names,
        max_rows=max_rows,
        single=route.single,
        valid_until=policy.valid_until if policy else None,
        total=function.options.get("total"),
    )
    key = None
    if policy is not None:
        shape = {"@single": True} if route.single else {}  # /rpc/f and a single-row route
        key = app[CACHE].key(function.name, {**shape, **{n: canonical(args[n]) for n in names}})
    values = [args[n] for n in names]
    read_only = function.read_only and request.method == "GET"
    timeout = function.option_int("timeout_ms", config.statement_timeout_ms) / 1000
    pool = app[READ_POOL] if read_only else app[POOL]
    return Bound(
        route=route,
        function=function,
        key=key,
        tables=policy.reads if policy else (),
        compute=functools.partial(execute, pool, config, sql, values, timeout),
    )


STREAM_OVER = 256 * 1024  # bytes; larger bodies go out in slices
SLICE = 256 * 1024


async def stream(
    request: web.Request, status: int, headers: dict[str, str], body: bytes
) -> web.StreamResponse:
    """A large body in slices of the one shared buffer, each slice waiting for the socket.
    A plain Response makes aiohttp (on Python before 3.12.9) join headers and body into a
    new bytes object per response, kept until the client has read it all: at 256 connections
    the 6 MB repository statistics took the gateway past 800 MB (make bench, mixed load)."""
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = "application/json"
    response.content_length = len(body)
    view = memoryview(body)
    try:
        await response.prepare(request)
        for start in range(0, len(body), SLICE):
            await response.write(view[start : start + SLICE])
        await response.write_eof()
    except ConnectionResetError:  # the client went away: nobody to answer
        pass
    return response


def handler(route: Route) -> Any:
    async def handle(request: web.Request) -> web.StreamResponse:
        result, status = await run(request, route)
        headers = {"X-Cache": status}
        if result.truncated:
            headers["X-Truncated"] = "true"
        if result.total is not None:
            headers["X-Total-Count"] = str(result.total)
        if route.status == 204 or (route.status == 202 and result.body == b"null"):
            return web.Response(status=route.status, headers=headers)
        if route.single and result.body == b"null":
            raise ApiError(404, "not found", code="PGRST116")
        if len(result.body) > STREAM_OVER:
            return await stream(request, route.status, headers, result.body)
        return web.Response(
            body=result.body,
            status=route.status,
            content_type="application/json",
            headers=headers,
        )

    handle.__name__ = f"call_{route.function.strip('{}')}"
    return handle

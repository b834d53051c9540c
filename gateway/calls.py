"""Bind HTTP arguments to an api function, build its call, run it, cache it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from gateway.cache import BYPASS, Result
from gateway.catalogue import Function, canonical, convert, placeholder, quote_ident
from gateway.errors import ApiError
from gateway.keys import CACHE, CATALOGUE, CONFIG, POOL
from gateway.routes import Route


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
        bound[name] = convert(argument, value, timezone)
    reverse = {v: k for k, v in route.args.items()}
    for argument in function.args:
        if argument.required and argument.name not in bound:
            http_name = reverse.get(argument.name, argument.name)
            raise ApiError(
                400, f"missing argument '{http_name}'", code="PGRST_ARG", details=http_name
            )
    return bound


def call_sql(function: Function, names: list[str], valid_until: str | None) -> str:
    """One statement: the result as JSON text, and its validity, from one snapshot."""
    by_name = {a.name: a for a in function.args}
    args = ", ".join(
        f"{quote_ident(n)} => {placeholder(by_name[n], i)}" for i, n in enumerate(names, 1)
    )
    call = f"api.{quote_ident(function.name)}({args})"
    if function.returns_set:
        body = f"select coalesce(array_to_json(array_agg(r)), '[]'::json)::text from {call} r"
    else:
        body = f"select to_json({call})::text"
    if valid_until is None:
        return f"select ({body}) as body, null::timestamptz as valid_until"
    return f"select ({body}) as body, api.{quote_ident(valid_until)}({args}) as valid_until"


def _epoch(moment: dt.datetime | None) -> float | None:
    if moment is None or moment.year >= 9999:
        return None
    return moment.timestamp()


async def collect(request: web.Request) -> dict[str, object]:
    """Arguments from the path, then the query string (GET) or JSON object body."""
    raw: dict[str, object] = dict(request.match_info)
    if request.method in {"GET", "HEAD", "DELETE"}:
        for name in request.query:
            values = request.query.getall(name)
            if len(values) > 1:
                raise ApiError(400, f"argument '{name}' is given more than once", details=name)
            raw[name] = values[0]
        return raw
    if request.can_read_body:
        if request.content_type != "application/json":
            raise ApiError(415, "the body must be JSON (Content-Type: application/json)")
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "the body is not valid JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object")
        raw.update(body)
    return raw


async def run(request: web.Request, route: Route, raw: dict[str, object]) -> tuple[bytes, str]:
    """Call the route's function with the cache in front; return (JSON body, X-Cache)."""
    app = request.app
    function = app[CATALOGUE].get(route.function)
    args = bind(function, route, raw, app[CONFIG].app_timezone)
    names = sorted(args)
    policy = route.cache
    sql = call_sql(function, names, policy.valid_until if policy else None)
    values = [args[n] for n in names]
    config = app[CONFIG]

    async def compute() -> Result:
        async with app[POOL].acquire(timeout=config.db_timeout) as connection:
            row = await connection.fetchrow(sql, *values, timeout=config.db_timeout)
        assert row is not None
        return Result(row["body"].encode(), _epoch(row["valid_until"]))

    if policy is None:
        return (await compute()).body, BYPASS
    cache = app[CACHE]
    key = cache.key(function.name, {n: canonical(args[n]) for n in names})
    result, status = await cache.get_or_compute(key, policy.reads, compute)
    return result.body, status


def handler(route: Route) -> Any:
    async def handle(request: web.Request) -> web.Response:
        body, status = await run(request, route, await collect(request))
        return web.Response(
            body=body,
            status=route.status,
            content_type="application/json",
            headers={"X-Cache": status},
        )

    handle.__name__ = f"call_{route.function}"
    return handle

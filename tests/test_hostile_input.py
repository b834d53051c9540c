"""Hostile input on every route of the route table, as an admin.

SQL quotes, LIKE wildcards, backslashes, NUL bytes, lone surrogates, 1 MB strings, bodies over
the 1 MiB limit, JSON nested 10,000 deep, wrong content types, invalid UTF-8, huge numbers,
arrays and objects where scalars are expected: in path parameters, query strings and JSON
bodies. Every request is made invalid on purpose (no valid write is ever intended), so every
answer must be a 4xx carrying the JSON error shape, with none of PostgreSQL's own words, and
data.users, data.posts and data.accounts must be exactly as before. (GET /health and
/openapi.json take no arguments and ignore the query string: they must answer as usual.)

The routes come from gateway.routes.ROUTES; their arguments from the app's /openapi.json
(the same signatures the gateway binds against); /rpc/{function} is expanded to every
exposed function.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import asyncpg
import pytest
from argon2 import PasswordHasher
from yarl import URL

from gateway import auth
from gateway.app import init_app
from gateway.auth import hash_password, issue_token
from gateway.routes import ROUTES, Route
from tests.conftest import make_config

MiB = 1024 * 1024
DEEP = 10_000
BIG = "x" * 1_000_000  # 1 MB: a body holding it stays under the 1 MiB limit
MISSING = "9000000001"  # an id no row has: a call that reaches SQL changes nothing

# Hostile text. None of it is a valid email, GitHub login, role, number, date or timestamp,
# so every route has an argument that refuses it: a request carrying one of them in every
# argument is always refused.
TEXTS = [
    "'",
    "''",
    '"; drop table data.users; --',
    "1' or '1'='1",
    "1); delete from data.accounts; --",
    "$1",
    "%",
    "_",
    "%_%",
    "\\",
    "\\'",
    "a\\",
    "\x00",
    "a\x00b",
    "\u202e\u0000",
    "../../etc/passwd",
    "9" * 40,
    "-9223372036854775809",
]
# numbers that do not fit, as text: valid GitHub logins, so kept out of bodies (where
# PUT /v1/users would look them up); JSON bodies get them as numbers (JSON_RAW)
NUMBER_TEXTS = ["1e309", "NaN", "Infinity", "-0x10", "1_000"]
# JSON values of the wrong kind; lone surrogates are valid JSON escapes but not UTF-8
JSON_VALUES: list[Any] = [
    *TEXTS,
    "\ud800",
    "a\udfffb",
    BIG,
    10**30,
    -(10**30),
    1.5,
    [1],
    ["'"],
    [],
    {"a": "'"},
    {},
]
# raw JSON text for values json.dumps cannot write
JSON_RAW = ["1e400", "-1e400", "NaN", "Infinity", "1" + "0" * 5000]
# query strings and path segments exactly as sent (percent-encoding and all)
RAW_VALUES = ["%FF", "%C3%28", "%ED%A0%80", "%00", "%", "%zz", "%E2%80%AE", "+"]

LEAKS = (
    "syntax error",
    "violates",
    "relation",
    "constraint",
    "column",
    "invalid input syntax",
    "invalid byte sequence",
    "duplicate key",
    "null value in",
    "operator does not exist",
    "line 1",
    "error:",
    "detail:",
    "postgres",
    "asyncpg",
    "traceback",
)
CHECKSUM = """
select md5(concat_ws('|',
  (select string_agg(t::text, ',' order by t.id) from data.users t),
  (select string_agg(t::text, ',' order by t.id) from data.posts t),
  (select string_agg(t::text, ',' order by t.id) from data.accounts t)))
"""


@dataclass
class Case:
    """One request: target is the path and query exactly as sent."""

    what: str
    method: str
    target: str
    body: bytes | None = None
    content_type: str | None = None  # None with a body: no Content-Type header at all
    statuses: range | tuple[int, ...] = range(400, 500)
    chunked: bool = False  # send the body with Transfer-Encoding: chunked
    refused: bool = True  # False: an answer (not the error shape) is expected

    def __str__(self) -> str:
        body = "" if self.body is None else f" body={short(self.body)}"
        target = short(self.target)
        return f"[{self.what}] {self.method} {target}{body} content-type={self.content_type}"


def short(text: str | bytes, limit: int = 160) -> str:
    shown = repr(text[:limit]) if isinstance(text, bytes) else text[:limit]
    return shown if len(text) <= limit else f"{shown}...({len(text)} in all)"


@dataclass(frozen=True)
class Operation:
    """A route (one exposed function for /rpc/{function}) and the arguments it takes."""

    route: Route
    path: str  # a template: {name} for each path parameter
    method: str
    query: tuple[str, ...]  # argument names read from the query string (GET, DELETE)
    body: tuple[str, ...]  # argument names read from a JSON body (POST, PUT)

    @property
    def path_names(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    def fill(self, **values: str) -> str:
        """The path with the given (already encoded) values, MISSING for the others."""
        path = self.path
        for name in self.path_names:
            path = path.replace("{" + name + "}", values.get(name, MISSING))
        return path


def operations(document: dict[str, Any]) -> list[Operation]:
    """Every route of ROUTES, /rpc/{function} once per exposed function."""
    found = []
    for route in ROUTES:
        method = route.method.lower()
        if route.is_rpc:
            paths = [p for p in document["paths"] if p.startswith("/rpc/")]
            paths = [p for p in paths if method in document["paths"][p]]
            assert paths, f"no exposed function for {route.method} {route.path}"
        else:
            paths = [route.path]
        for path in paths:
            spec = document["paths"][path][method]
            parameters = spec.get("parameters", [])
            body = spec.get("requestBody", {}).get("content", {})
            schema = (body.get("application/json") or {}).get("schema", {})
            found.append(
                Operation(
                    route=route,
                    path=path,
                    method=route.method,
                    query=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    body=tuple(schema.get("properties", {})),
                )
            )
    return found


def reads_query(operation: Operation) -> bool:
    """The gateway reads arguments from the query string of GET and DELETE; the built-in
    GET routes (health, the document) take none and ignore it."""
    return operation.method in {"GET", "DELETE"} and not operation.route.builtin


def ignores_query(operation: Operation) -> bool:
    return operation.method == "GET" and bool(operation.route.builtin)


def reads_body(operation: Operation) -> bool:
    return operation.method in {"POST", "PUT"}


def encoded(value: str) -> str:
    return quote(value, safe="")


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


def query_cases(operation: Operation) -> list[Case]:
    names = operation.query or ("x",)
    target = operation.fill()
    cases = []
    for value in TEXTS + NUMBER_TEXTS:
        query = urlencode({name: value for name in names}, quote_via=quote)
        cases.append(Case("query value", operation.method, f"{target}?{query}"))
        cases.append(Case("query name", operation.method, f"{target}?{encoded(value)}=1"))
    for raw in RAW_VALUES:
        query = "&".join(f"{name}={raw}" for name in names)
        cases.append(Case("raw query value", operation.method, f"{target}?{query}"))
        cases.append(Case("raw query name", operation.method, f"{target}?{raw}=1"))
    repeated = "&".join(f"{name}=1&{name}=%27" for name in names)
    cases.append(Case("repeated argument", operation.method, f"{target}?{repeated}"))
    brackets = "&".join(f"{name}[]=1" for name in names)
    cases.append(Case("array syntax", operation.method, f"{target}?{brackets}"))
    cases.append(Case("1 MB query value", operation.method, f"{target}?{names[0]}={BIG}"))
    return cases


def path_cases(operation: Operation) -> list[Case]:
    cases = []
    body = json_body({}) if reads_body(operation) else None
    kind = "application/json" if body is not None else None
    for name in operation.path_names:
        for value in TEXTS + NUMBER_TEXTS:
            target = operation.fill(**{name: encoded(value)})
            cases.append(Case(f"path {name}", operation.method, target, body, kind))
        for raw in [*RAW_VALUES, "%2F..%2F", "1%2F2"]:
            target = operation.fill(**{name: raw})
            cases.append(Case(f"raw path {name}", operation.method, target, body, kind))
        target = operation.fill(**{name: "9" * 1_000_000})
        cases.append(Case(f"1 MB path {name}", operation.method, target, body, kind))
    return cases


def body_cases(operation: Operation) -> list[Case]:
    names = operation.body or ("x",)
    target = operation.fill()
    method = operation.method
    json_type = "application/json"
    cases = []
    for value in JSON_VALUES:
        every = json_body({name: value for name in names})
        cases.append(Case("body value", method, target, every, json_type))
        if isinstance(value, str) and value is not BIG:
            cases.append(Case("body name", method, target, json_body({value: "1"}), json_type))
    for raw in JSON_RAW:
        every = ("{" + ",".join(f'"{name}": {raw}' for name in names) + "}").encode()
        cases.append(Case("raw JSON number", method, target, every, json_type))
    hostile = json_body({name: "'; drop table data.users; --" for name in names})
    nested_arrays = ("[" * DEEP + "]" * DEEP).encode()
    nested_objects = ('{"a":' * DEEP + "1" + "}" * DEEP).encode()
    nested_value = json_body({names[0]: None}).replace(b"null", nested_arrays)
    structural = {
        "nested arrays": nested_arrays,
        "nested objects": nested_objects,
        "nested value": nested_value,
        "NUL byte": b'{"' + names[0].encode() + b'": "a\x00b"}',
        "invalid UTF-8": b'{"' + names[0].encode() + b'": "\xff\xfe\xc3\x28"}',
        "truncated": hostile[:-3],
        "array body": json_body([{name: "'" for name in names}]),
        "string body": json_body("'; drop table data.users; --"),
        "number body": b"1e400",
        "null body": b"null",
        "BOM": b"\xef\xbb\xbf" + hostile,
    }
    for what, body in structural.items():
        cases.append(Case(what, method, target, body, json_type))
    over = json_body({names[0]: "x" * (MiB + 1)})
    cases.append(Case("body over 1 MiB", method, target, over, json_type, statuses=(413,)))
    chunked = Case("chunked over 1 MiB", method, target, over, json_type, (413,), chunked=True)
    cases.append(chunked)
    form = urlencode({name: "'; drop table data.users; --" for name in names}).encode()
    cases.append(Case("text/plain", method, target, hostile, "text/plain"))
    cases.append(Case("form", method, target, form, "application/x-www-form-urlencoded"))
    cases.append(Case("no content type", method, target, hostile, None))
    latin = "application/json; charset=latin-1"
    cases.append(Case("JSON as latin-1", method, target, hostile, latin))
    return cases


def ignored_query_cases(operation: Operation) -> list[Case]:
    """Routes without arguments answer as usual whatever the query string holds."""
    cases = [Case("ignored query", "GET", f"{operation.path}?{encoded(v)}={encoded(v)}",
                  statuses=(200,), refused=False) for v in TEXTS + NUMBER_TEXTS]  # fmt: skip
    cases += [Case("ignored raw query", "GET", f"{operation.path}?q={raw}", statuses=(200,),
                   refused=False) for raw in RAW_VALUES]  # fmt: skip
    return cases


def cases_of(operation: Operation) -> list[Case]:
    cases = path_cases(operation)
    if reads_query(operation):
        cases += query_cases(operation)
    if ignores_query(operation):
        cases += ignored_query_cases(operation)
    if reads_body(operation):
        cases += body_cases(operation)
    return cases


@pytest.fixture
async def admin(aiohttp_client, database_url, redis_url, db: asyncpg.Connection, monkeypatch):
    """A client of an app whose GitHub is a closed port (nothing leaves the machine), with
    data in every table the checksum covers; client.headers authenticate an admin and an
    owner. argon2 runs at its cheapest: its cost is not under test, and at full cost the
    password routes alone would take 15 s."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "HASHER", cheap)
    monkeypatch.setattr(auth, "DUMMY_HASH", cheap.hash("no such operator"))
    await db.execute("delete from data.accounts")
    config = make_config(
        database_url, redis_url, GITHUB_API_URL="http://127.0.0.1:9", GITHUB_RETRIES="0"
    )
    admin_id = await db.fetchval(
        "select id from api.operator_create('root', $1, 'admin')", hash_password("pw")
    )
    await db.fetchval("select id from api.operator_create('reader', $1)", hash_password("pw"))
    owner = await db.fetchval("select token from api.owner_signup('owner@example.com')")
    user = await db.fetchval("select id from api.user_create('Ada', 'ada@example.com')")
    await db.fetchval("select id from api.user_create('Bob', 'bob@example.com')")
    await db.fetchval("select id from api.post_create($1, 'title', 'content')", user)
    client = await aiohttp_client(init_app(config))
    client.headers = {
        "Authorization": f"Bearer {issue_token(config, admin_id, 'admin')['access_token']}",
        "X-API-Token": owner,
    }
    yield client
    await db.execute("delete from data.accounts; truncate data.users, data.posts restart identity")


async def document_of(client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status == 200
    return await response.json()


async def pieces(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


async def send(client, case: Case) -> tuple[int, str, bytes]:
    url = URL(str(client.make_url("/")).rstrip("/") + case.target, encoded=True)
    headers = dict(client.headers)
    skip: tuple[str, ...] = ()
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    elif case.body is not None:
        skip = ("Content-Type",)
    async with client.session.request(
        case.method,
        url,
        data=pieces(case.body) if case.chunked and case.body else case.body,
        headers=headers,
        skip_auto_headers=skip,
        timeout=aiohttp.ClientTimeout(total=20),
    ) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.read()


def problems(status: int, content_type: str, body: bytes, case: Case) -> list[str]:
    found = []
    if status not in case.statuses:
        found.append(f"status {status}")
    try:
        answer = json.loads(body)
    except ValueError:
        return [*found, "body is not JSON"]
    if not content_type.startswith("application/json"):
        found.append(f"content type {content_type!r}")
    if not case.refused:
        return found
    if not isinstance(answer, dict) or not isinstance(answer.get("error"), str):
        return [*found, "no 'error' string"]
    text = " ".join(value for value in answer.values() if isinstance(value, str)).lower()
    return found + [f"leaks {word!r}" for word in LEAKS if word in text]


async def run(client, db: asyncpg.Connection, cases: list[Case]) -> None:
    failures = []
    before = await db.fetchval(CHECKSUM)
    for case in cases:
        try:
            status, content_type, body = await send(client, case)
        except (aiohttp.ClientError, TimeoutError) as error:
            failures.append(f"{case}\n    -> no answer: {error!r}")
            continue
        found = problems(status, content_type, body, case)
        after = await db.fetchval(CHECKSUM)
        if after != before:
            found.append("data changed")
            before = after
        if found:
            answer = body[:300].decode("utf-8", "replace")
            failures.append(f"{case}\n    -> {status} {content_type} {answer}\n    {found}")
    print(f"\n{len(cases)} hostile requests, {len(failures)} failures")
    assert not failures, f"{len(failures)} of {len(cases)} failed:\n" + "\n".join(failures)


async def test_every_route_gets_hostile_requests(admin) -> None:
    found = operations(await document_of(admin))
    assert {(o.route.method, o.route.path) for o in found} == {(r.method, r.path) for r in ROUTES}
    for operation in found:
        assert cases_of(operation), f"no hostile request for {operation.method} {operation.path}"


async def test_hostile_path_parameters(admin, db) -> None:
    document = await document_of(admin)
    cases = [case for operation in operations(document) for case in path_cases(operation)]
    assert len(cases) > 100
    await run(admin, db, cases)


async def test_hostile_query_strings(admin, db) -> None:
    document = await document_of(admin)
    cases = []
    for operation in operations(document):
        if reads_query(operation):
            cases += query_cases(operation)
        elif ignores_query(operation):
            cases += ignored_query_cases(operation)
    assert len(cases) > 300
    await run(admin, db, cases)


async def test_hostile_bodies(admin, db) -> None:
    document = await document_of(admin)
    found = [o for o in operations(document) if reads_body(o)]
    cases = [case for operation in found for case in body_cases(operation)]
    assert len(cases) > 500
    await run(admin, db, cases)

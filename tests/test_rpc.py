"""/rpc/{function}: PostgREST-style calls of exposed api functions, added without a restart."""

from __future__ import annotations

import time

import pytest

from gateway.errors import status_for
from gateway.keys import CATALOGUE
from gateway.migrate import apply_functions
from tests.conftest import wait_until


@pytest.fixture
async def rpc(client, rpc_layer: str):
    """A running gateway that learns of the new layer by NOTIFY, not by a restart."""
    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    return client


async def call(client, method: str, name: str, **kwargs: object) -> tuple[int, object]:
    response = await client.request(method, f"/rpc/{name}", **kwargs)
    return response.status, await response.json()


async def test_get_with_query_arguments_and_defaults(rpc) -> None:
    assert await call(rpc, "GET", "test_add", params={"a": "1", "b": "2"}) == (200, 3)
    assert await call(rpc, "GET", "test_add", params={"a": "1"}) == (200, 11)


async def test_post_with_a_json_object(rpc) -> None:
    assert await call(rpc, "POST", "test_add", json={"a": 4, "b": 5}) == (200, 9)
    assert await call(rpc, "POST", "test_add", json={"a": 4}) == (200, 14)


@pytest.mark.parametrize(
    ("params", "name", "words"),
    [
        ({"b": "2"}, "a", "missing argument 'a'"),
        ({"a": "1", "c": "2"}, "c", "unknown argument 'c'"),
        ({"a": "one"}, "a", "argument 'a' must be an integer"),
        ({"a": "99999999999"}, "a", "argument 'a' must be an integer between"),
        ({"a": "1.5"}, "a", "argument 'a' must be an integer"),
    ],
)
async def test_argument_errors_name_the_argument(rpc, params, name, words) -> None:
    status, body = await call(rpc, "GET", "test_add", params=params)
    assert status == 400
    assert body["details"] == name
    assert body["error"].startswith(words) and body["message"] == body["error"]
    assert set(body) == {"error", "code", "message", "details", "hint"}


async def test_typed_arguments_are_converted(rpc) -> None:
    params = {
        "t": "it's 100% _real_",
        "ts": "2025-03-01T12:00:00+02:00",
        "d": "2025-02-28",
        "flag": "true",
        "x": "12.50",
        "u": "7f1b8c3e-9f1d-4c55-bb7a-0a2f2a7e3a11",
        "j": '{"nested": [1, 2]}',
    }
    status, body = await call(rpc, "GET", "test_echo", params=params)
    assert status == 200
    assert body == {
        "t": "it's 100% _real_",
        "ts": "2025-03-01T10:00:00+00:00",
        "d": "2025-02-28",
        "flag": True,
        "x": 12.50,
        "u": "7f1b8c3e-9f1d-4c55-bb7a-0a2f2a7e3a11",
        "j": {"nested": [1, 2]},
    }
    for name, bad in [("ts", "noon"), ("d", "2025-02-30"), ("flag", "maybe"), ("x", "1e"),
                      ("u", "not-a-uuid"), ("j", "{broken")]:  # fmt: skip
        status, body = await call(rpc, "GET", "test_echo", params={**params, name: bad})
        assert (status, body["details"]) == (400, name)


async def test_set_returning_gives_an_array_and_max_rows_cuts_it(rpc) -> None:
    status, body = await call(rpc, "GET", "test_series", params={"n": "3"})
    assert status == 200
    assert body == [
        {"i": 1, "label": "n1", "day": "2025-01-02"},
        {"i": 2, "label": "n2", "day": "2025-01-03"},
        {"i": 3, "label": "n3", "day": "2025-01-04"},
    ]
    response = await rpc.get("/rpc/test_series", params={"n": "8"})
    assert len(await response.json()) == 5
    assert response.headers["X-Truncated"] == "true"
    empty = await call(rpc, "GET", "test_series", params={"n": "0"})
    assert empty == (200, [])


async def test_unexposed_and_unknown_functions_are_404(rpc) -> None:
    for name in ("test_hidden", "no_such_function", "version"):
        status, body = await call(rpc, "GET", name)
        assert status == 404 and body["code"] == "PGRST202"


async def test_volatile_functions_refuse_get(rpc, db) -> None:
    response = await rpc.get("/rpc/test_user_add", params={"name": "x"})
    assert response.status == 405
    assert response.headers["Allow"] == "POST"
    assert await db.fetchval("select count(*) from data.users") == 0
    status, user_id = await call(rpc, "POST", "test_user_add", json={"name": "Ada"})
    assert status == 200
    assert await db.fetchval("select name from data.users where id = $1", user_id) == "Ada"


async def test_get_runs_in_a_read_only_transaction(rpc) -> None:
    assert await call(rpc, "GET", "test_read_only") == (200, "on")
    assert await call(rpc, "POST", "test_read_only", json={}) == (200, "off")


@pytest.mark.parametrize(
    ("kind", "status", "code", "message"),
    [
        ("notfound", 404, "PT404", "thing not found"),
        ("conflict", 409, "PT409", "already there"),
        ("plain", 400, "P0001", "plain failure"),
        ("unique", 409, "23505", "conflict: the value already exists"),
        ("division", 400, "22012", "the request was refused by a data rule"),
    ],
)
async def test_sqlstate_decides_the_status(rpc, kind, status, code, message) -> None:
    got, body = await call(rpc, "POST", "test_fail", json={"kind": kind})
    assert (got, body["code"], body["message"], body["error"]) == (status, code, message, message)
    if kind == "notfound":
        assert (body["details"], body["hint"]) == ("no such thing", "try another")
    assert "internals" not in str(body)


def test_sqlstate_table_follows_postgrest() -> None:
    expected = {
        "08006": 503, "09000": 500, "0L000": 403, "0P000": 403, "23503": 409, "23505": 409,
        "25006": 405, "25001": 500, "28000": 403, "2D000": 500, "38000": 500, "39000": 500,
        "3B000": 500, "40002": 500, "53400": 500, "53100": 503, "54000": 500, "55000": 500,
        "57000": 500, "58000": 500, "F0000": 500, "HV000": 500, "P0001": 400, "P0002": 500,
        "XX000": 500, "42883": 404, "42P01": 404, "42P17": 500, "42501": 403, "22012": 400,
        "PT402": 402, "PT418": 418, "57014": 504, "40001": 503, "57P01": 503,
    }  # fmt: skip
    assert {code: status_for(code) for code in expected} == expected


async def test_statement_timeout_per_function(rpc) -> None:
    started = time.monotonic()
    status, body = await call(rpc, "GET", "test_sleep", params={"seconds": "5"})
    assert (status, body["code"]) == (504, "57014")
    assert time.monotonic() - started < 3
    assert await call(rpc, "GET", "test_sleep", params={"seconds": "0"}) == (200, 1)


async def test_void_function(rpc) -> None:
    assert await call(rpc, "POST", "test_nothing", json={}) == (200, None)


async def test_bodies_that_are_not_json_objects(rpc) -> None:
    response = await rpc.post("/rpc/test_add", data="a=1", headers={"Content-Type": "text/plain"})
    assert response.status == 400
    for data in ("[1, 2]", "{broken", '"text"'):
        response = await rpc.post(
            "/rpc/test_add", data=data, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, data
        assert "error" in await response.json()


async def test_functions_disappear_when_the_layer_is_reapplied(
    client, rpc_layer: str, database_url: str
) -> None:
    await wait_until(lambda: client.app[CATALOGUE].version == rpc_layer)
    assert (await call(client, "GET", "test_add", params={"a": "1"}))[0] == 200
    original = await apply_functions(database_url, "UTC")
    await wait_until(lambda: client.app[CATALOGUE].version == original)
    status, body = await call(client, "GET", "test_add", params={"a": "1"})
    assert (status, body["code"]) == (404, "PGRST202")

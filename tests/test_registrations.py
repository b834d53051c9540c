"""HTTP contract of GET /stats/registrations and the gateway foundations."""

from __future__ import annotations

import re

import asyncpg
from yarl import URL


async def sql_months(db: asyncpg.Connection, as_of: str | None = None) -> list[dict[str, object]]:
    if as_of is None:
        rows = await db.fetch("select * from api.monthly_registrations()")
    else:
        rows = await db.fetch(
            "select * from api.monthly_registrations($1::text::timestamptz)", as_of
        )
    return [dict(r) for r in rows]


async def test_twelve_months_oldest_first_same_as_sql(client, db: asyncpg.Connection) -> None:
    await db.execute(
        "insert into data.users (name, created_at) values"
        " ('a', now() - interval '40 days'), ('b', now() - interval '100 days'),"
        " ('c', now() - interval '100 days'), ('too old', now() - interval '400 days')"
    )
    response = await client.get("/stats/registrations")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert len(body) == 12
    assert all(set(item) == {"month", "registrations"} for item in body)
    assert all(re.fullmatch(r"\d{4}-\d{2}", item["month"]) for item in body)
    assert [item["month"] for item in body] == sorted(item["month"] for item in body)
    assert body == await sql_months(db)
    assert sum(item["registrations"] for item in body) == 3


async def test_as_of_argument(client, db: asyncpg.Connection) -> None:
    await db.execute(
        "insert into data.users (name, created_at) values ('x', '2024-06-10 08:00+00')"
    )
    response = await client.get("/stats/registrations", params={"as_of": "2025-01-15T00:00:00Z"})
    body = await response.json()
    assert body[0]["month"] == "2024-01" and body[-1]["month"] == "2024-12"
    assert {"month": "2024-06", "registrations": 1} in body
    assert body == await sql_months(db, "2025-01-15T00:00:00Z")
    # a time without offset is read in APP_TIMEZONE (UTC here)
    naive = await client.get("/stats/registrations", params={"as_of": "2025-01-15 00:00:00"})
    assert await naive.json() == body


async def test_bad_arguments_get_400_naming_them(client) -> None:
    for params, name in [
        ({"as_of": "yesterday"}, "as_of"),
        ({"as_of": "2025-13-45"}, "as_of"),
        ({"as_of": "2025-01-01\x00"}, "as_of"),
        ({"month": "2025-01"}, "month"),
    ]:
        response = await client.get("/stats/registrations", params=params)
        assert response.status == 400, params
        body = await response.json()
        assert name in body["error"]
        assert body["details"] == name
    repeated = await client.get("/stats/registrations?as_of=2025-01-01&as_of=2025-02-01")
    assert repeated.status == 400
    assert "more than once" in (await repeated.json())["error"]


async def test_unknown_route_and_method_get_json_errors(client) -> None:
    missing = await client.get("/no/such/route")
    assert missing.status == 404
    assert missing.content_type == "application/json"
    assert (await missing.json())["error"] == "not found"
    wrong = await client.post("/stats/registrations", json={})
    assert wrong.status == 405
    assert (await wrong.json())["error"] == "method not allowed"
    assert wrong.headers["Allow"] == "GET"
    # the files of the docs and pages: only those there, in JSON when missing
    paths = ["/docs/assets/nope.js", "/assets/nope.css", "/docs/assets/..%2F..%2Fetc%2Fpasswd"]
    paths += ["/nope%0A", "/docs/assets/x%0A"]  # a newline in the path
    for path in paths:
        response = await client.get(URL(path, encoded=True))
        assert (response.status, response.content_type) == (404, "application/json"), path
    assert (await client.head("/docs/static/docs.js")).status == 200
    odd = await client.request("PATCH", "/no/such/route")
    assert (odd.status, (await odd.json())["error"]) == (404, "not found")


async def test_health_reports_each_server(client) -> None:
    response = await client.get("/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert body["postgres"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert body["cache"]["listening"] is True
    assert body["cache"]["version"].startswith("0.")

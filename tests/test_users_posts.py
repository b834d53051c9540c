"""Users and posts over HTTP: contracts, errors, pagination, search, statistics, caching."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from gateway.auth import hash_password, issue_token
from tests.conftest import make_config, psql


@pytest.fixture
async def api(client, db: asyncpg.Connection):
    """A client with an admin and an operator JWT: api.admin / api.reader headers."""
    await db.execute("delete from data.accounts")
    config = make_config("x", None)
    ids = {}
    for name, role in (("root", "admin"), ("reader", "operator")):
        row = await db.fetchrow(
            "select * from api.operator_create($1, $2, $3)", name, hash_password("pw"), role
        )
        ids[role] = row["id"]
    client.admin = {
        "Authorization": f"Bearer {issue_token(config, ids['admin'], 'admin')['access_token']}"
    }
    client.reader = {
        "Authorization": f"Bearer {issue_token(config, ids['operator'], 'operator')['access_token']}"
    }
    yield client
    await db.execute("delete from data.accounts")


async def create_user(api, name: str, email: str) -> dict:
    response = await api.post("/users", json={"name": name, "email": email}, headers=api.admin)
    assert response.status == 201, await response.text()
    return await response.json()


async def test_create_and_get_a_user(api) -> None:
    user = await create_user(api, "Ada Lovelace", "ada@example.com")
    assert set(user) == {"id", "name", "email", "created_at"}
    response = await api.get(f"/users/{user['id']}", headers=api.reader)
    assert response.status == 200
    assert await response.json() == user
    missing = await api.get("/users/999999", headers=api.reader)
    assert missing.status == 404
    assert (await missing.json())["error"] == "user not found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "  ", "email": "a@example.com"}, 400),
        ({"name": "x" * 201, "email": "a@example.com"}, 400),
        ({"name": "Bob", "email": "not-an-email"}, 400),
        ({"name": "Bob"}, 400),
        ({"email": "b@example.com"}, 400),
        ({"name": "Bob", "email": "b@example.com", "created_at": "2020-01-01"}, 400),
        ({"name": "Bob", "email": "ADA@example.com"}, 409),
    ],
)
async def test_create_refusals(api, db, body, status) -> None:
    await create_user(api, "Ada", "ada@example.com")
    response = await api.post("/users", json=body, headers=api.admin)
    assert response.status == status, await response.text()
    assert "error" in await response.json()
    assert await db.fetchval("select count(*) from data.users") == 1


async def test_writes_need_admin_reads_need_a_jwt(api) -> None:
    denied = await api.post("/users", json={"name": "A", "email": "a@b.co"}, headers=api.reader)
    assert denied.status == 403
    assert (await api.get("/users")).status == 401
    assert (await api.get("/users", headers=api.reader)).status == 200


async def test_update_is_partial(api) -> None:
    user = await create_user(api, "Ada", "ada@example.com")
    other = await create_user(api, "Bob", "bob@example.com")
    path = f"/users/{user['id']}"
    renamed = await api.put(path, json={"name": "Ada King"}, headers=api.admin)
    assert renamed.status == 200
    assert await renamed.json() == {**user, "name": "Ada King"}
    moved = await (await api.put(path, json={"email": "ada@king.org"}, headers=api.admin)).json()
    assert (moved["name"], moved["email"]) == ("Ada King", "ada@king.org")
    taken = await api.put(path, json={"email": "BOB@example.com"}, headers=api.admin)
    assert taken.status == 409
    assert (await api.put(path, json={}, headers=api.admin)).status == 400
    assert (await api.put(path, json={"name": ""}, headers=api.admin)).status == 400
    assert (await api.put("/users/999999", json={"name": "x"}, headers=api.admin)).status == 404
    assert other["id"] != user["id"]


async def test_delete_takes_the_posts_along(api, db) -> None:
    user = await create_user(api, "Ada", "ada@example.com")
    keep = await create_user(api, "Bob", "bob@example.com")
    for who in (user, keep):
        post = await api.post(
            "/posts", json={"user_id": who["id"], "title": "t", "content": "c"}, headers=api.admin
        )
        assert post.status == 201
    response = await api.delete(f"/users/{user['id']}", headers=api.admin)
    assert response.status == 204
    assert await db.fetchval("select count(*) from data.posts") == 1
    assert (await api.delete(f"/users/{user['id']}", headers=api.admin)).status == 404


async def test_pagination(api, db) -> None:
    await db.execute(
        "insert into data.users (name, email) select 'user ' || g, 'u' || g || '@example.com'"
        " from generate_series(1, 120) g"
    )
    first = await api.get("/users", headers=api.reader)
    body = await first.json()
    assert [u["name"] for u in body] == [f"user {i}" for i in range(1, 11)]
    assert first.headers["X-Total-Count"] == "120"
    page = await (
        await api.get("/users", params={"skip": "115", "limit": "10"}, headers=api.reader)
    ).json()
    assert [u["name"] for u in page] == [f"user {i}" for i in range(116, 121)]
    capped = await (await api.get("/users", params={"limit": "1000"}, headers=api.reader)).json()
    assert len(capped) == 100
    beyond = await api.get("/users", params={"skip": "500"}, headers=api.reader)
    assert await beyond.json() == [] and beyond.headers["X-Total-Count"] == "120"
    for params in ({"skip": "-1"}, {"limit": "0"}, {"limit": "-5"}, {"skip": "x"}, {"limit": "1.5"},
                   {"limit": ""}, {"page": "2"}):  # fmt: skip
        response = await api.get("/users", params=params, headers=api.reader)
        assert response.status == 400, params
        assert "error" in await response.json()


async def test_search_by_name_and_date(api, db) -> None:
    await db.execute(
        "insert into data.users (name, email, created_at) values"
        " ('John Smith', 'j1@x.io', '2025-01-10'), ('johnny', 'j2@x.io', '2024-12-31'),"
        " ('Mary', 'm@x.io', '2025-03-01'), ('100% John', 'p@x.io', '2025-02-01'),"
        " ('a_b', 'u@x.io', '2025-02-01'), ('axb', 'v@x.io', '2025-02-01'),"
        " ('back\\slash', 'w@x.io', '2025-02-01')"
    )

    async def names(**params: str) -> list[str]:
        response = await api.get("/users/search", params=params, headers=api.reader)
        assert response.status == 200, await response.text()
        return [u["name"] for u in await response.json()]

    assert await names(name="JOHN") == ["John Smith", "johnny", "100% John"]
    assert await names(name="john", created_after="2025-01-01") == ["John Smith", "100% John"]
    assert await names(created_after="2025-02-15") == ["Mary"]
    assert await names(name="%") == ["100% John"]
    assert await names(name="_") == ["a_b"]
    assert await names(name="\\") == ["back\\slash"]
    assert await names(name="zzz") == []
    assert len(await names()) == 7
    page = await api.get(
        "/users/search", params={"name": "j", "limit": "1", "skip": "1"}, headers=api.reader
    )
    assert [u["name"] for u in await page.json()] == ["johnny"]
    assert page.headers["X-Total-Count"] == "3"
    bad = await api.get("/users/search", params={"created_after": "2025-13-01"}, headers=api.reader)
    assert bad.status == 400


async def test_user_stats(api, db) -> None:
    await db.execute(
        "insert into data.users (name, created_at) values ('old', now() - interval '30 days'),"
        " ('new', now() - interval '2 days'), ('newer', now() - interval '1 hour')"
    )
    response = await api.get("/users/stats", headers=api.reader)
    assert await response.json() == {"total_users": 3, "new_users_last_7_days": 2}


async def test_posts(api, db) -> None:
    ada = await create_user(api, "Ada", "ada@example.com")
    bob = await create_user(api, "Bob", "bob@example.com")
    created = []
    for who, title in ((ada, "first"), (bob, "hello"), (ada, "second"), (ada, "third")):
        response = await api.post(
            "/posts",
            json={"user_id": who["id"], "title": title, "content": f"{title}!"},
            headers=api.admin,
        )
        assert response.status == 201
        created.append(await response.json())
    assert set(created[0]) == {"id", "user_id", "title", "content", "created_at"}
    mine = await api.get("/posts", params={"user_id": str(ada["id"])}, headers=api.reader)
    assert [p["title"] for p in await mine.json()] == ["third", "second", "first"]
    assert mine.headers["X-Total-Count"] == "3"
    everyone = await (await api.get("/posts", headers=api.reader)).json()
    assert [p["title"] for p in everyone] == ["third", "second", "hello", "first"]
    stats = await (await api.get("/posts/stats", headers=api.reader)).json()
    assert stats == [{"user_id": ada["id"], "posts": 3}, {"user_id": bob["id"], "posts": 1}]
    orphan = await api.post(
        "/posts", json={"user_id": 999999, "title": "t", "content": "c"}, headers=api.admin
    )
    assert orphan.status == 400
    assert (await orphan.json())["error"] == "user not found"
    for body in ({"user_id": ada["id"], "title": " ", "content": "c"},
                 {"user_id": ada["id"], "title": "t"}, {"user_id": "x", "title": "t", "content": "c"}):  # fmt: skip
        assert (await api.post("/posts", json=body, headers=api.admin)).status == 400
    assert await db.fetchval("select count(*) from data.posts") == 4


async def test_psql_writes_show_on_the_next_read_of_every_route(api, db, database_url) -> None:
    user = await create_user(api, "Ada", "ada@example.com")
    reads = ["/users", f"/users/{user['id']}", "/users/search?name=ad", "/users/stats",
             "/posts", "/posts/stats", "/stats/registrations"]  # fmt: skip
    for path in reads:  # warm the cache
        await api.get(path, headers=api.reader)
        assert (await api.get(path, headers=api.reader)).headers["X-Cache"] == "HIT", path
    psql(database_url, f"update data.users set name = 'Adah', created_at = now() - interval '40 days'"
                       f" where id = {user['id']}; insert into data.posts (user_id, title, content)"
                       f" values ({user['id']}, 'by psql', 'x')")  # fmt: skip
    assert (await (await api.get(f"/users/{user['id']}", headers=api.reader)).json())[
        "name"
    ] == "Adah"
    assert (await (await api.get("/users", headers=api.reader)).json())[0]["name"] == "Adah"
    assert len(await (await api.get("/posts", headers=api.reader)).json()) == 1
    assert await (await api.get("/posts/stats", headers=api.reader)).json() == [
        {"user_id": user["id"], "posts": 1}
    ]
    stats = await (await api.get("/users/stats", headers=api.reader)).json()
    assert stats["new_users_last_7_days"] == 0
    months = await (await api.get("/stats/registrations")).json()
    assert sum(m["registrations"] for m in months) == 1
    psql(database_url, f"delete from data.users where id = {user['id']}")
    assert (await api.get(f"/users/{user['id']}", headers=api.reader)).status == 404
    months = await (await api.get("/stats/registrations")).json()
    assert sum(m["registrations"] for m in months) == 0


async def test_concurrent_inserts_of_one_email(api, db) -> None:
    async def attempt(name: str) -> int:
        response = await api.post(
            "/users", json={"name": name, "email": "same@example.com"}, headers=api.admin
        )
        return response.status

    statuses = await asyncio.gather(*(attempt(f"n{i}") for i in range(8)))
    assert sorted(statuses) == [201] + [409] * 7
    assert await db.fetchval("select count(*) from data.users") == 1

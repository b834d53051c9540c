"""Repository traffic: the owner API, URL forms, tenancy, and collection beyond 14 days."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from gateway.collector import collect


@pytest.fixture
async def owners(client, db: asyncpg.Connection):
    await db.execute("delete from data.accounts; delete from data.traffic_repos")
    tokens = {}
    for who in ("ann", "bob"):
        response = await client.post("/api/users/create", json={"email": f"{who}@example.com"})
        tokens[who] = {"X-API-Token": (await response.json())["token"]}
    yield client, tokens
    await db.execute("delete from data.accounts; delete from data.traffic_repos")


async def add(client, headers, url: str) -> tuple[int, dict]:
    response = await client.post("/api/repos/create", json={"url": url}, headers=headers)
    return response.status, await response.json()


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octocat/Hello-World",
        "https://github.com/octocat/Hello-World/",
        "https://github.com/octocat/Hello-World.git",
        "http://github.com/octocat/Hello-World",
        "https://www.github.com/octocat/Hello-World",
        "github.com/octocat/Hello-World",
        "HTTPS://GitHub.com/octocat/hello-world",
    ],
)
async def test_the_forms_people_paste_name_one_repository(owners, url) -> None:
    client, tokens = owners
    status, first = await add(client, tokens["ann"], "https://github.com/octocat/Hello-World")
    assert status == 200 and set(first) == {"id"} and isinstance(first["id"], str)
    status, again = await add(client, tokens["ann"], url)
    assert (status, again) == (200, first)


@pytest.mark.parametrize(
    "url",
    ["https://gitlab.com/octocat/x", "https://github.com/octocat", "https://github.com/octocat/x/issues",
     "https://github.com/", "octocat/x", "https://github.com/-bad/x", "https://github.com/a/b?c=d",
     "ftp://github.com/a/b", "https://github.com.evil.io/a/b", "", "https://github.com/a/.."],
)  # fmt: skip
async def test_everything_else_is_refused(owners, url) -> None:
    client, tokens = owners
    status, body = await add(client, tokens["ann"], url)
    assert status == 400 and "error" in body


async def test_bad_bodies_and_missing_tokens(owners) -> None:
    client, tokens = owners
    for data, ctype in (
        ("{bad", "application/json"),
        ("url=x", "text/plain"),
        ("[]", "application/json"),
    ):
        response = await client.post(
            "/api/repos/create", data=data, headers={**tokens["ann"], "Content-Type": ctype}
        )
        assert response.status == 400
    for path in ("/api/repos", "/api/repos/1"):
        assert (await client.get(path)).status == 401
        assert (await client.get(path, headers={"X-API-Token": "f" * 32})).status == 401


async def test_list_get_delete_and_tenancy(owners, db) -> None:
    client, tokens = owners
    _, mine = await add(client, tokens["ann"], "https://github.com/octocat/one")
    _, shared_ann = await add(client, tokens["ann"], "https://github.com/octocat/shared")
    _, shared_bob = await add(client, tokens["bob"], "https://github.com/octocat/shared")
    listed = await (await client.get("/api/repos", headers=tokens["ann"])).json()
    assert [r["url"] for r in listed] == [
        "https://github.com/octocat/one",
        "https://github.com/octocat/shared",
    ]
    assert set(listed[0]) == {"id", "url", "created_at"}
    bob_list = await (await client.get("/api/repos", headers=tokens["bob"])).json()
    assert [r["id"] for r in bob_list] == [shared_bob["id"]]
    repo = await db.fetchval("select id from data.traffic_repos where name = 'shared'")
    await db.execute(
        "insert into data.traffic_daily (repo_id, day, views, uniques, clones, clone_uniques)"
        " values ($1, '2026-01-02', 5, 2, 1, 1), ($1, '2026-01-01', 3, 1, 0, 0)",
        repo,
    )
    detail = await (
        await client.get(f"/api/repos/{shared_ann['id']}", headers=tokens["ann"])
    ).json()
    assert [t["date"] for t in detail["traffic"]] == ["2026-01-01", "2026-01-02"]
    assert detail["traffic"][1] == {
        "date": "2026-01-02",
        "views": 5,
        "uniques": 2,
        "clones": 1,
        "clone_uniques": 1,
    }
    assert {"id", "url", "created_at", "traffic"} <= set(detail)
    # another owner's id answers exactly like a missing one
    other = await client.get(f"/api/repos/{mine['id']}", headers=tokens["bob"])
    missing = await client.get("/api/repos/999999", headers=tokens["bob"])
    assert other.status == missing.status == 404
    assert await other.json() == await missing.json()
    assert (
        await client.post(f"/api/repos/{mine['id']}/delete", headers=tokens["bob"])
    ).status == 400
    # deleting the shared repository for ann keeps bob's history
    assert (
        await client.post(f"/api/repos/{shared_ann['id']}/delete", headers=tokens["ann"])
    ).status == 202
    assert (
        await db.fetchval("select count(*) from data.traffic_daily where repo_id = $1", repo) == 2
    )
    assert (await client.get(f"/api/repos/{shared_ann['id']}", headers=tokens["ann"])).status == 404
    kept = await (await client.get(f"/api/repos/{shared_bob['id']}", headers=tokens["bob"])).json()
    assert len(kept["traffic"]) == 2
    assert (
        await client.post(f"/api/repos/{shared_bob['id']}/delete", headers=tokens["bob"])
    ).status == 202
    assert (
        await db.fetchval("select count(*) from data.traffic_daily where repo_id = $1", repo) == 0
    )
    assert await db.fetchval("select count(*) from data.traffic_repos where id = $1", repo) == 0
    assert (
        await client.post(f"/api/repos/{shared_bob['id']}/delete", headers=tokens["bob"])
    ).status == 400


async def test_deleting_an_account_keeps_other_tenants_data(owners, db) -> None:
    client, tokens = owners
    _, ann = await add(client, tokens["ann"], "https://github.com/o/shared")
    _, bob = await add(client, tokens["bob"], "https://github.com/o/shared")
    await db.execute("delete from data.accounts where email = 'ann@example.com'")
    assert (await client.get(f"/api/repos/{bob['id']}", headers=tokens["bob"])).status == 200
    assert ann != bob


# --- collection against the fake GitHub ------------------------------------------------


async def owner_repo(pool: asyncpg.Pool, url: str) -> int:
    account = await pool.fetchval(
        "insert into data.accounts (email, role, api_token_hash) values ('t@example.com', 'owner', sha256('t'))"
        " on conflict do nothing returning id"
    ) or await pool.fetchval("select id from data.accounts where email = 't@example.com'")
    await pool.fetchval("select id from api.repo_create($1, $2)", account, url)
    return await pool.fetchval("select id from data.traffic_repos order by id desc limit 1")


async def daily(pool: asyncpg.Pool, repo: int) -> dict[dt.date, tuple[int, int, int, int]]:
    rows = await pool.fetch(
        "select * from data.traffic_daily where repo_id = $1 order by day", repo
    )
    return {r["day"]: (r["views"], r["uniques"], r["clones"], r["clone_uniques"]) for r in rows}


@pytest.fixture
async def clean_traffic(pool):
    await pool.execute("delete from data.accounts; delete from data.traffic_repos")
    yield
    await pool.execute("delete from data.accounts; delete from data.traffic_repos")


@pytest.fixture
async def hello(github_fake, pool, clean_traffic):
    """octocat/hello on the fake GitHub, added by an owner: (fake, traffic repository id)."""
    fake, _ = github_fake
    fake.add_user("octocat")
    fake.add_repo("octocat", "hello")
    return fake, await owner_repo(pool, "https://github.com/octocat/hello")


async def test_traffic_accumulates_beyond_14_days(hello, make_github, pool) -> None:
    fake, repo = hello
    github = make_github()
    start = fake.now.date()
    for offset in range(30):
        day = start + dt.timedelta(days=offset)
        fake.set_traffic(
            "octocat",
            "hello",
            day,
            views=offset + 1,
            view_uniques=1,
            clones=offset % 3,
            clone_uniques=1,
        )
        fake.set_popular(
            "octocat",
            "hello",
            referrers=[{"referrer": "google.com", "count": offset, "uniques": 1}],
            paths=[{"path": "/x", "title": "X", "count": 2, "uniques": 1}],
        )
        summary = await collect(github, pool)
        assert summary is not None and summary.errors == 0
        fake.advance(days=1)
    stored = await daily(pool, repo)
    assert len(stored) == 30  # more than GitHub's 14 days
    assert stored[start] == (1, 1, 0, 1)
    assert stored[start + dt.timedelta(days=29)] == (30, 1, 2, 1)
    popular = await pool.fetch("select * from data.traffic_popular where repo_id = $1", repo)
    assert {p["day"] for p in popular} == {start + dt.timedelta(days=d) for d in range(30)}


async def test_an_outage_of_13_days_loses_nothing(hello, make_github, pool) -> None:
    fake, repo = hello
    github = make_github()
    start = fake.now.date()
    for offset in range(20):
        fake.set_traffic(
            "octocat", "hello", start + dt.timedelta(days=offset), views=10 + offset, view_uniques=2
        )
    await collect(github, pool)  # day 0
    fake.advance(days=13)  # the collector is down for 13 days
    await collect(github, pool)  # day 13: the 14-day window reaches back to day 0
    stored = await daily(pool, repo)
    assert sorted(stored) == [start + dt.timedelta(days=o) for o in range(14)]
    assert all(stored[start + dt.timedelta(days=o)][0] == 10 + o for o in range(14))


async def test_the_latest_fetch_of_a_day_wins(hello, make_github, pool) -> None:
    fake, repo = hello
    today = fake.now.date()
    fake.set_traffic("octocat", "hello", today, views=3, view_uniques=1)
    await collect(make_github(), pool)
    fake.set_traffic("octocat", "hello", today, views=8, view_uniques=4)
    fake.advance(hours=6)
    await collect(make_github(), pool)
    assert (await daily(pool, repo))[today][:2] == (8, 4)


async def test_failures_are_recorded_and_shown(
    github_fake, make_github, pool, clean_traffic, client
) -> None:
    fake, _ = github_fake
    fake.add_user("octocat")
    fake.add_repo("octocat", "locked")
    fake.set_push_access("octocat", "locked", False)
    locked = await owner_repo(pool, "https://github.com/octocat/locked")
    await owner_repo(pool, "https://github.com/octocat/vanished")
    summary = await collect(make_github(), pool)
    assert summary is not None and summary.errors == 2
    errors = {
        r["name"]: (r["error_status"], r["error"])
        for r in await pool.fetch("select * from data.traffic_repos")
    }
    assert errors["locked"] == (403, "the token lacks push access")
    assert errors["vanished"] == (404, "the repository is gone or private")
    response = await client.post("/api/users/create", json={"email": "seer@example.com"})
    token = (await response.json())["token"]
    seer = await pool.fetchval("select id from data.accounts where email = 'seer@example.com'")
    link = await pool.fetchval(
        "select id from api.repo_create($1, 'https://github.com/octocat/locked')", seer
    )
    detail = await (await client.get(f"/api/repos/{link}", headers={"X-API-Token": token})).json()
    assert detail["fetch"]["error_status"] == 403 and "push access" in detail["fetch"]["error"]
    assert locked

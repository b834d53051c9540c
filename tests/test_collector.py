"""The GitHub collector and the /v1/users routes, against the fake GitHub server."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import asyncpg
import pytest

from gateway.app import init_app
from gateway.auth import hash_password, issue_token
from gateway.calls import SLICE
from gateway.collector import collect, next_run
from tests.conftest import make_config
from tests.fake_github import FakeGitHub


async def track(pool: asyncpg.Pool, fake: FakeGitHub, login: str, repos: int) -> int:
    account = fake.add_user(login, name=login.title())
    for repo in fake.add_repos(login, repos):  # repo-001, repo-002, ...
        index = int(repo.name.split("-")[1])
        fake.set_counts(login, repo.name, stars=index, forks=index // 2, subscribers=index % 3)
    await pool.execute("select api.github_account_upsert($1, $2, $3)", account.id, login, None)
    return account.id


async def stats(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    return await pool.fetch("select * from data.github_repo_stats order by repo_id, day")


async def test_several_days_give_one_row_per_repository_per_day(
    github_fake, make_github, pool
) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 150)  # two pages of 100
    github = make_github()
    for _ in range(3):
        summary = await collect(github, pool)
        assert summary is not None and summary.repositories == 150 and summary.errors == 0
        fake.advance(days=1)
    rows = await stats(pool)
    assert len(rows) == 150 * 3
    assert len({(r["repo_id"], r["day"]) for r in rows}) == len(rows)
    first = await pool.fetchrow(
        "select * from data.github_repo_stats s join data.github_repos r on r.id = s.repo_id"
        " where r.full_name = 'octocat/repo-007' order by day limit 1"
    )
    assert (first["stargazers"], first["forks"], first["watchers"]) == (7, 3, 1)
    runs = await pool.fetch("select * from api.collector_runs()")
    assert len(runs) == 3 and all(r["finished_at"] for r in runs)


async def test_second_run_the_same_day_updates_and_mostly_gets_304s(
    github_fake, make_github, pool
) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 40)
    first = await collect(make_github(), pool)
    fake.set_counts("octocat", "repo-001", stars=99, forks=0, subscribers=0)
    fake.advance(hours=2)
    # a new process: new session, ETags come from PostgreSQL
    second = await collect(make_github(), pool)
    assert first and second
    assert len(await stats(pool)) == 40
    assert second.not_modified >= second.requests - 3
    assert first.not_modified == 0
    updated = await pool.fetchval(
        "select stargazers from data.github_repo_stats s join data.github_repos r on r.id = s.repo_id"
        " where r.full_name = 'octocat/repo-001'"
    )
    assert updated == 99


async def test_the_primary_rate_limit_is_never_exceeded(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    fake.rate_limit = 25
    await track(pool, fake, "octocat", 60)
    github = make_github()
    summary = await collect(github, pool)
    assert summary is not None and summary.errors == 0
    assert len(await stats(pool)) == 60
    assert fake.violations == 0
    assert github.clock.slept >= 3600 * 2  # waited for two resets  # type: ignore[attr-defined]


async def test_answers_out_of_order_never_raise_the_remaining_budget(make_github) -> None:
    # Concurrent answers arrive in any order; CI once saw one request too many when an older
    # answer (more room left) was read after a newer one.
    github = make_github()
    github._note_limits({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1000"})
    github._note_limits({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "1000"})
    assert github._remaining == 0
    github._note_limits({"X-RateLimit-Remaining": "24", "X-RateLimit-Reset": "4600"})
    github._note_limits({"X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "1000"})
    assert (github._remaining, github._reset) == (24, 4600.0)


async def test_while_the_room_is_unknown_one_request_goes_alone(make_github) -> None:
    # After a reset (or at the start) the budget is unknown until an answer tells it: a run saw
    # 4 requests over the limit when every waiting request went ahead at once.
    github = make_github()
    await github._budget()  # goes alone
    second = asyncio.ensure_future(github._budget())
    await asyncio.sleep(0.05)
    assert not second.done()
    github._note_limits({"X-RateLimit-Remaining": "1", "X-RateLimit-Reset": "99999999999"})
    github._release()
    await asyncio.wait_for(second, 1)  # the answer left room for one more
    third = asyncio.ensure_future(github._budget())
    await asyncio.sleep(0.05)
    assert not third.done()  # that one is in flight: no room left until the reset
    third.cancel()


async def test_secondary_limit_and_5xx_are_waited_out(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 10)
    fake.secondary_limit(retry_after=30, times=2)
    fake.fail_next(3, status=502)
    summary = await collect(make_github(concurrency=1), pool)
    assert summary is not None and summary.errors == 0
    assert len(await stats(pool)) == 10
    assert fake.secondary_violations == 0 and fake.violations == 0


async def test_a_hanging_request_times_out_and_is_retried(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 3)
    fake.hang_next(1)
    summary = await collect(make_github(timeout=0.3), pool)
    assert summary is not None and summary.errors == 0
    assert len(await stats(pool)) == 3


async def test_renames_transfers_and_deletions_keep_history(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 3)
    await track(pool, fake, "hubot", 1)
    github = make_github()
    await collect(github, pool)
    renamed_id = fake.repo("octocat", "repo-001").id
    fake.rename_repo("octocat", "repo-001", "renamed")
    fake.transfer_repo("octocat", "repo-002", "hubot")
    fake.delete_repo("octocat", "repo-003")
    fake.advance(days=1)
    await collect(github, pool)
    repos = {r["id"]: r for r in await pool.fetch("select * from data.github_repos")}
    assert repos[renamed_id]["full_name"] == "octocat/renamed"
    moved = fake.repo("hubot", "repo-002").id
    assert repos[moved]["full_name"] == "hubot/repo-002"
    gone = [r for r in repos.values() if r["gone_since"] is not None]
    assert [r["full_name"] for r in gone] == ["octocat/repo-003"]
    per_repo = {r["repo_id"]: 0 for r in await stats(pool)}
    for row in await stats(pool):
        per_repo[row["repo_id"]] += 1
    assert per_repo[renamed_id] == 2 and per_repo[moved] == 2
    assert per_repo[gone[0]["id"]] == 1  # its history is kept


async def test_two_collectors_never_collect_at_once(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    fake.latency = 0.02
    await track(pool, fake, "octocat", 20)
    results = await asyncio.gather(collect(make_github(), pool), collect(make_github(), pool))
    assert sorted(r is None for r in results) == [False, True]
    assert len(await stats(pool)) == 20
    assert await pool.fetchval("select count(*) from data.collector_runs") == 1


async def test_a_crash_mid_run_is_completed_by_the_next_run(github_fake, make_github, pool) -> None:
    fake, _ = github_fake
    await track(pool, fake, "octocat", 5)
    await track(pool, fake, "hubot", 5)
    fake.fail_next(2, status=500, path="/users/hubot/repos")  # both tries fail
    broken = await collect(make_github(retries=1), pool)
    assert broken is not None and broken.errors == 1
    assert len(await stats(pool)) == 5
    assert not await pool.fetchval("select api.collector_day_done($1)", fake.now.date())
    repaired = await collect(make_github(), pool)
    assert repaired is not None and repaired.errors == 0
    assert len(await stats(pool)) == 10
    assert await pool.fetchval("select api.collector_day_done($1)", fake.now.date())


def test_schedule_catches_up_a_missed_run() -> None:
    at = dt.time(3, 0)
    day = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)
    early = day.replace(hour=1)
    assert next_run(early, at, done_today=False) == day.replace(hour=3)
    late = day.replace(hour=9)  # started after 03:00 without today's run: now
    assert next_run(late, at, done_today=False) == late
    assert next_run(late, at, done_today=True) == day.replace(hour=3) + dt.timedelta(days=1)


# --- the HTTP routes -----------------------------------------------------------------


@pytest.fixture
async def v1(aiohttp_client, database_url, redis_url, github_fake, pool, db):
    fake, base = github_fake
    client = await aiohttp_client(
        init_app(make_config(database_url, redis_url, GITHUB_API_URL=base))
    )
    await db.execute("delete from data.accounts")
    config = make_config("x", None)
    admin = await db.fetchval(
        "select id from api.operator_create('root', $1, 'admin')", hash_password("pw")
    )
    client.admin = {
        "Authorization": f"Bearer {issue_token(config, admin, 'admin')['access_token']}"
    }
    yield client, fake
    await db.execute("delete from data.accounts")


async def test_track_an_account(v1, pool) -> None:
    client, fake = v1
    account = fake.add_user("octocat", id=583231, name="The Octocat")
    fake.add_repos("octocat", 3)
    response = await client.put("/v1/users", json={"login": "octocat"}, headers=client.admin)
    assert response.status == 201
    assert await response.json() == {"id": account.id, "login": "octocat", "name": "The Octocat"}
    assert await pool.fetchval("select count(*) from data.github_repo_stats") == 3  # loaded now
    again = await client.put("/v1/users", json={"login": "octocat"}, headers=client.admin)
    assert again.status == 200
    listed = await (await client.get("/v1/users", headers=client.admin)).json()
    assert listed == [{"id": account.id, "login": "octocat", "name": "The Octocat"}]
    one = await client.get(f"/v1/users/{account.id}", headers=client.admin)
    assert (await one.json())["login"] == "octocat"
    missing = await client.get("/v1/users/1", headers=client.admin)
    assert (missing.status, (await missing.json())["error"]) == (404, "user not found")


async def test_track_errors(v1) -> None:
    client, fake = v1
    unknown = await client.put("/v1/users", json={"login": "nobody"}, headers=client.admin)
    assert unknown.status == 404 and "error" in await unknown.json()
    for body in (
        {},
        {"login": ""},
        {"login": "a b"},
        {"login": "-x"},
        {"login": 5},
        {"login": "a" * 40},
    ):
        response = await client.put("/v1/users", json=body, headers=client.admin)
        assert response.status == 400, body
    fake.add_user("flaky")
    fake.fail_next(20, status=500)
    failing = await client.put("/v1/users", json={"login": "flaky"}, headers=client.admin)
    assert failing.status == 502 and "error" in await failing.json()
    assert (await client.put("/v1/users", json={"login": "octocat"})).status == 401


async def test_stats_with_date_filters_and_delete(v1, pool) -> None:
    client, fake = v1
    account = await track(pool, fake, "octocat", 2)
    repo_ids = [r.id for r in (fake.repo("octocat", "repo-001"), fake.repo("octocat", "repo-002"))]
    rows = [(rid, dt.date(2026, 1, d)) for rid in repo_ids for d in (1, 2, 3)]
    await pool.execute(
        "insert into data.github_repos (id, account_id, full_name, first_seen, last_seen)"
        " select unnest($1::bigint[]), $2, 'octocat/r' || unnest($1::bigint[]), '2026-01-01', '2026-01-03'",
        repo_ids,
        account,
    )
    await pool.executemany(
        "insert into data.github_repo_stats (repo_id, day, stargazers, forks, watchers) values ($1, $2, 1, 2, 3)",
        rows,
    )
    path = f"/v1/users/{account}/stats"
    body = await (await client.get(path, headers=client.admin)).json()
    assert body["user"] == {"id": account, "login": "octocat", "name": None}
    assert [(s["repo_id"], s["date"]) for s in body["stats"]] == [
        (r, d.isoformat()) for r, d in rows
    ]
    assert set(body["stats"][0]) == {"repo_id", "date", "stargazers", "forks", "watchers"}
    # the route sends the function's parts joined; psql gets the same text in one value
    raw = await (await client.get(path, headers=client.admin)).read()
    assert raw.decode() == await pool.fetchval("select api.github_account_stats($1)", account)
    window = await (await client.get(path, params={"date_from": "2026-01-02", "date_to": "2026-01-02"},
                                     headers=client.admin)).json()  # fmt: skip
    assert [s["date"] for s in window["stats"]] == ["2026-01-02", "2026-01-02"]
    for params in ({"date_from": "2026-1-2x"}, {"date_to": "yesterday"},
                   {"date_from": "2026-01-03", "date_to": "2026-01-01"}):  # fmt: skip
        assert (await client.get(path, params=params, headers=client.admin)).status == 400
    assert (await client.get("/v1/users/1/stats", headers=client.admin)).status == 404
    assert (await client.delete(f"/v1/users/{account}", headers=client.admin)).status == 204
    assert await pool.fetchval("select count(*) from data.github_repo_stats") == 0
    assert (await client.delete(f"/v1/users/{account}", headers=client.admin)).status == 404


async def test_a_large_statistics_body_is_streamed_whole_and_cached(v1, pool) -> None:
    # 12 repositories x 400 days: about 400 kB, more than one slice of gateway.calls.stream
    client, fake = v1
    account = await track(pool, fake, "octocat", 0)
    await pool.execute(
        "insert into data.github_repos (id, account_id, full_name, first_seen, last_seen)"
        " select 7000 + g, $1, 'octocat/r' || g, '2025-06-01', '2026-07-05'"
        " from generate_series(1, 12) g",
        account,
    )
    await pool.execute(
        "insert into data.github_repo_stats (repo_id, day, stargazers, forks, watchers)"
        " select r.id, '2025-06-01'::date + d, d, d % 7, r.id % 5"
        " from data.github_repos r, generate_series(0, 399) d where r.account_id = $1"
        " on conflict do nothing",
        account,
    )
    expected = await pool.fetch(
        "select s.repo_id, s.day, s.stargazers, s.forks, s.watchers"
        " from data.github_repos r join data.github_repo_stats s on s.repo_id = r.id"
        " where r.account_id = $1 order by s.repo_id, s.day",
        account,
    )
    path = f"/v1/users/{account}/stats"
    for cache in ("MISS", "HIT"):
        response = await client.get(path, headers=client.admin)
        raw = await response.read()
        assert (response.status, response.headers["X-Cache"]) == (200, cache)
        assert len(raw) > SLICE and int(response.headers["Content-Length"]) == len(raw)
        assert response.headers["Content-Type"].startswith("application/json")
        stats = json.loads(raw)["stats"]
        assert [
            (s["repo_id"], s["date"], s["stargazers"], s["forks"], s["watchers"]) for s in stats
        ] == [(r[0], r[1].isoformat(), r[2], r[3], r[4]) for r in expected]

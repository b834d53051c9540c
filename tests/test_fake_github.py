"""The fake GitHub answers a plain aiohttp client the way GitHub's REST docs say GitHub does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from tests.fake_github import FakeGitHub, serve

TOKEN = {"Authorization": "Bearer t0ken"}


@pytest.fixture
def fake() -> FakeGitHub:
    fake = FakeGitHub()
    fake.add_user("octocat", id=1, name="The Octocat")
    fake.add_repo("octocat", "Hello-World", id=1296269, stars=80, forks=9, subscribers=3)
    return fake


@pytest.fixture
async def base_url(fake: FakeGitHub) -> AsyncIterator[str]:
    async with serve(fake) as base_url:
        yield base_url


@pytest.fixture
async def gh(base_url: str) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url, headers=TOKEN) as session:
        yield session


async def test_user_lookup_and_not_found(gh) -> None:
    async with gh.get("/users/OctoCat") as response:
        assert response.status == 200
        user = await response.json()
        assert response.headers["x-ratelimit-limit"] == "5000"
        assert response.headers["x-ratelimit-resource"] == "core"
    assert (user["login"], user["id"], user["name"], user["type"]) == (
        "octocat",
        1,
        "The Octocat",
        "User",
    )
    assert user["node_id"] == "MDQ6VXNlcjE="  # GitHub's example node id for user 1
    assert user["public_repos"] == 1

    async with gh.get("/users/nobody") as response:
        assert response.status == 404
        body = await response.json()
    assert body["message"] == "Not Found"
    assert body["documentation_url"].startswith("https://docs.github.com/")


async def test_repository_counts(gh, fake: FakeGitHub) -> None:
    async with gh.get("/repos/octocat/hello-world") as response:
        repo = await response.json()
    assert repo["id"] == 1296269 and repo["full_name"] == "octocat/Hello-World"
    assert repo["owner"]["login"] == "octocat" and repo["owner"]["id"] == 1
    assert repo["stargazers_count"] == repo["watchers_count"] == repo["watchers"] == 80
    assert (repo["forks_count"], repo["subscribers_count"]) == (9, 3)
    assert repo["permissions"]["push"] is True

    fake.set_counts("octocat", "Hello-World", stars=81, subscribers=4)
    async with gh.get("/users/octocat/repos") as response:
        (listed,) = await response.json()
    assert listed["stargazers_count"] == 81
    assert "subscribers_count" not in listed  # only the full repository object has it


async def test_pagination_follows_link_headers_across_250_repos(gh, fake: FakeGitHub) -> None:
    fake.add_repos("octocat", 249)
    async with gh.get("/users/octocat/repos", params={"per_page": "100"}) as response:
        base = str(response.url.origin())
        page = await response.json()
        assert len(page) == 100
        assert response.headers["Link"] == (
            f'<{base}/user/1/repos?per_page=100&page=2>; rel="next", '
            f'<{base}/user/1/repos?per_page=100&page=3>; rel="last"'
        )
        url = response.links["next"]["url"]
    async with gh.get(url) as response:
        assert len(await response.json()) == 100
        assert list(response.links) == ["prev", "next", "last", "first"]
    async with gh.get(response.links["last"]["url"]) as response:
        assert len(await response.json()) == 50
        assert list(response.links) == ["prev", "first"]

    names: list[str] = []
    url = "/users/octocat/repos"
    while url:
        async with gh.get(url) as response:
            names += [repo["name"] for repo in await response.json()]
            url = response.links.get("next", {}).get("url")
    assert len(names) == 250 and names == sorted(names, key=str.lower)  # default: full_name
    assert fake.count("/users/octocat/repos") == 2 and fake.count("/user/1/repos") == 10

    async with gh.get("/users/octocat/repos", params={"per_page": "1000"}) as response:
        assert len(await response.json()) == 100  # per_page is capped at 100


async def test_single_page_has_no_link_header(gh) -> None:
    async with gh.get("/users/octocat/repos") as response:
        assert "Link" not in response.headers


async def test_etag_304_does_not_count_against_the_rate_limit(gh, fake: FakeGitHub) -> None:
    async with gh.get("/repos/octocat/Hello-World") as response:
        etag = response.headers["ETag"]
        assert response.headers["x-ratelimit-remaining"] == "4999"
    async with gh.get("/repos/octocat/Hello-World", headers={"If-None-Match": etag}) as response:
        assert response.status == 304
        assert await response.read() == b""
        assert response.headers["x-ratelimit-remaining"] == "4999"
    assert fake.remaining("t0ken") == 4999

    fake.set_counts("octocat", "Hello-World", stars=100)
    async with gh.get("/repos/octocat/Hello-World", headers={"If-None-Match": etag}) as response:
        assert response.status == 200 and response.headers["ETag"] != etag
        assert response.headers["x-ratelimit-remaining"] == "4998"
    assert [(r.status, r.conditional) for r in fake.requests] == [
        (200, False),
        (304, True),
        (200, True),
    ]


async def test_primary_rate_limit_exhausts_and_resets_with_the_clock(gh, fake: FakeGitHub) -> None:
    fake.rate_limit = 3
    reset = int((fake.now + timedelta(hours=1)).timestamp())
    for remaining in ("2", "1", "0"):
        async with gh.get("/users/octocat") as response:
            assert response.status == 200
            assert response.headers["x-ratelimit-remaining"] == remaining
            assert response.headers["x-ratelimit-reset"] == str(reset)
    assert fake.violations == 0

    async with gh.get("/users/octocat") as response:
        assert response.status == 403
        assert response.headers["x-ratelimit-remaining"] == "0"
        assert response.headers["x-ratelimit-used"] == "3"
        assert (await response.json())["message"].startswith("API rate limit exceeded")
    assert fake.violations == 1

    fake.advance(minutes=59)
    async with gh.get("/users/octocat") as response:
        assert response.status == 403
    fake.advance(minutes=1)
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
        assert response.headers["x-ratelimit-remaining"] == "2"
    assert fake.violations == 2


async def test_buckets_are_per_token_and_anonymous_is_lower(gh, base_url, fake) -> None:
    fake.rate_limit_status = 429
    fake.anonymous_rate_limit = 1
    async with gh.get("/users/octocat", headers={"Authorization": "token other"}) as response:
        assert response.headers["x-ratelimit-remaining"] == "4999"
    async with aiohttp.ClientSession(base_url) as anonymous:
        async with anonymous.get("/users/octocat") as response:
            assert response.headers["x-ratelimit-limit"] == "1"
        async with anonymous.get("/users/octocat") as response:
            assert response.status == 429
            assert "Authenticated requests get a higher rate limit" in await response.text()
        async with anonymous.get("/rate_limit") as response:
            assert (await response.json())["resources"]["core"]["remaining"] == 0
    assert fake.remaining("t0ken") == 5000


async def test_secondary_rate_limit_with_retry_after(gh, fake: FakeGitHub) -> None:
    clock = [0.0]
    fake.monotonic = lambda: clock[0]
    fake.secondary_limit(retry_after=60, times=1)
    async with gh.get("/users/octocat") as response:
        assert response.status == 403
        assert response.headers["retry-after"] == "60"
        assert "secondary rate limit" in (await response.json())["message"]
    clock[0] = 30
    async with gh.get("/users/octocat") as response:
        assert response.status == 403 and response.headers["retry-after"] == "30"
    assert fake.secondary_violations == 1
    clock[0] = 60
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
    assert fake.secondary_violations == 1


async def test_secondary_rate_limit_on_wall_time(gh, fake: FakeGitHub) -> None:
    fake.secondary_limit(retry_after=0.2, times=1)
    async with gh.get("/users/octocat") as response:
        assert response.status == 403 and response.headers["retry-after"] == "1"
    await asyncio.sleep(0.2)
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
    assert fake.secondary_violations == 0


async def test_fail_next_and_per_path_faults(gh, fake: FakeGitHub) -> None:
    fake.fail_next(2)
    statuses = []
    for _ in range(3):
        async with gh.get("/users/octocat") as response:
            statuses.append(response.status)
    assert statuses == [500, 500, 200]

    fake.fail_next(1, status=502, path="/repos/octocat/Hello-World")
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
    async with gh.get("/repos/octocat/Hello-World") as response:
        assert response.status == 502


async def test_hang_next_outlasts_a_client_timeout(gh, fake: FakeGitHub) -> None:
    fake.hang_next(1)
    with pytest.raises(asyncio.TimeoutError):
        async with gh.get("/users/octocat", timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
    assert [r.status for r in fake.requests] == [0, 200]
    assert fake.remaining("t0ken") == 4999  # the hung request got no answer


async def test_latency_delays_every_response(gh, fake: FakeGitHub) -> None:
    fake.latency = 0.05
    started = time.monotonic()
    async with gh.get("/users/octocat") as response:
        assert response.status == 200
    assert time.monotonic() - started >= 0.05


async def test_renamed_repository_redirects_with_301(gh, fake: FakeGitHub) -> None:
    fake.set_traffic("octocat", "Hello-World", fake.now.date(), views=5, view_uniques=2)
    fake.rename_repo("octocat", "Hello-World", "Hi-World")
    async with gh.get("/repos/octocat/Hello-World", allow_redirects=False) as response:
        assert response.status == 301
        location = response.headers["Location"]
        assert location.endswith("/repositories/1296269")
        assert (await response.json())["message"] == "Moved Permanently"
    async with gh.get("/repos/octocat/Hello-World") as response:  # aiohttp follows it
        assert (await response.json())["full_name"] == "octocat/Hi-World"
    async with gh.get(
        "/repos/octocat/Hello-World/traffic/views", params={"per": "day"}, allow_redirects=False
    ) as response:
        assert response.headers["Location"].endswith("/repositories/1296269/traffic/views?per=day")
    async with gh.get("/repos/octocat/Hello-World/traffic/views") as response:
        assert (await response.json())["count"] == 5

    fake.add_repo("octocat", "Hello-World")  # a new repository takes the old name back
    async with gh.get("/repos/octocat/Hello-World") as response:
        assert (await response.json())["name"] == "Hello-World"


async def test_transferred_repository_redirects(gh, fake: FakeGitHub) -> None:
    fake.add_org("github", id=9919)
    fake.transfer_repo("octocat", "Hello-World", "github")
    async with gh.get("/repos/octocat/Hello-World") as response:
        assert [r.status for r in response.history] == [301]
        assert (await response.json())["owner"]["login"] == "github"
    async with gh.get("/orgs/github/repos") as response:
        assert [repo["full_name"] for repo in await response.json()] == ["github/Hello-World"]
    async with gh.get("/users/github") as response:
        assert (await response.json())["type"] == "Organization"


async def test_deleted_repository_is_not_found(gh, fake: FakeGitHub) -> None:
    fake.rename_repo("octocat", "Hello-World", "Gone")
    fake.delete_repo("octocat", "Gone")
    for path in ("/repos/octocat/Gone", "/repos/octocat/Hello-World", "/repositories/1296269"):
        async with gh.get(path, allow_redirects=False) as response:
            assert response.status == 404, path
            assert (await response.json())["message"] == "Not Found"


async def test_traffic_keeps_14_days_moving_with_the_clock(gh, fake: FakeGitHub) -> None:
    today = fake.now.date()
    for back in range(20):
        day = today - timedelta(days=back)
        fake.set_traffic("octocat", "Hello-World", day, views=back + 1, view_uniques=1, clones=2)

    async with gh.get("/repos/octocat/Hello-World/traffic/views?per=day") as response:
        views = await response.json()
    assert len(views["views"]) == 14
    assert views["views"][0]["timestamp"] == f"{today - timedelta(days=13)}T00:00:00Z"
    assert views["views"][-1] == {"timestamp": f"{today}T00:00:00Z", "count": 1, "uniques": 1}
    assert views["count"] == sum(range(1, 15)) and views["uniques"] == 14

    fake.advance(days=1)
    async with gh.get("/repos/octocat/Hello-World/traffic/clones?per=day") as response:
        clones = await response.json()
    assert set(clones) == {"count", "uniques", "clones"}
    assert [row["timestamp"][:10] for row in clones["clones"]] == [
        str(today - timedelta(days=back)) for back in range(12, -1, -1)
    ]  # the oldest day left the window and nothing was recorded for the new day

    async with gh.get("/repos/octocat/Hello-World/traffic/views?per=week") as response:
        weeks = (await response.json())["views"]
    # the window is Saturday 2026-01-03 .. Friday 2026-01-16; weeks start on Monday
    assert [row["timestamp"] for row in weeks] == [
        "2025-12-29T00:00:00Z",
        "2026-01-05T00:00:00Z",
        "2026-01-12T00:00:00Z",
    ]
    assert sum(row["count"] for row in weeks) == sum(range(1, 14))


async def test_popular_referrers_and_paths(gh, fake: FakeGitHub) -> None:
    referrers = [{"referrer": f"site{i}.example", "count": i, "uniques": 1} for i in range(12)]
    paths = [{"path": "/octocat/Hello-World", "title": "Hello", "count": 3, "uniques": 2}]
    fake.set_popular("octocat", "Hello-World", referrers=referrers, paths=paths)
    async with gh.get("/repos/octocat/Hello-World/traffic/popular/referrers") as response:
        top = await response.json()
    assert len(top) == 10 and top[0] == {"referrer": "site11.example", "count": 11, "uniques": 1}
    async with gh.get("/repos/octocat/Hello-World/traffic/popular/paths") as response:
        assert await response.json() == paths


async def test_traffic_needs_push_access(gh, fake: FakeGitHub) -> None:
    fake.set_push_access("octocat", "Hello-World", False)
    async with gh.get("/repos/octocat/Hello-World/traffic/views") as response:
        assert response.status == 403
        assert (await response.json())["message"] == "Must have push access to repository"
    async with gh.get("/repos/octocat/Hello-World") as response:
        assert (await response.json())["permissions"]["push"] is False


async def test_bad_credentials_when_tokens_are_restricted(gh, fake: FakeGitHub) -> None:
    fake.valid_tokens = {"good"}
    async with gh.get("/users/octocat") as response:
        assert response.status == 401
        assert (await response.json())["message"] == "Bad credentials"

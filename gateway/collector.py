"""The collector: a daily snapshot of every repository of every tracked GitHub account.

Run it as its own process (`gateway collect`; `gateway collect --once` is `make collect`).
It takes a PostgreSQL advisory lock so that two collectors never collect at once, records
each run in data.collector_runs, and writes only through api functions. Snapshots are
upserted per (repository, day): a run repeated the same day, or after a crash, completes
the day without duplicates.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import web

from gateway.bodies import json_object
from gateway.errors import ApiError
from gateway.github import Clock, GitHub, GitHubError, NotFound
from gateway.keys import GITHUB, POOL

log = logging.getLogger("gateway.collector")

LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")


@dataclass
class RunSummary:
    run_id: int
    day: dt.date
    repositories: int
    requests: int
    not_modified: int
    errors: int


async def collect_account(
    github: GitHub, pool: asyncpg.Pool, account_id: int, login: str, day: dt.date
) -> int:
    """Fetch one account's repositories and store today's snapshot; return how many."""
    listed = await github.pages(f"/users/{login}/repos?type=owner")
    details = await asyncio.gather(*(github.repository(r["full_name"]) for r in listed))
    repos = [
        {
            "id": repo["id"],
            "full_name": repo["full_name"],
            "stargazers": repo["stargazers_count"],
            "forks": repo["forks_count"],
            # people watching: watchers_count is the star count again
            "watchers": repo.get("subscribers_count", 0),
        }
        for repo in details
        if repo is not None  # deleted between the list and the look-up
    ]
    async with pool.acquire() as connection:
        events = await connection.fetch(
            "select * from api.github_repos_sync($1, $2, $3::jsonb)",
            account_id,
            day,
            json.dumps(repos),
        )
    for event in events:
        fields = {"account": login, "day": str(day), **dict(event)}
        log.info(f"repository {event['event']}", extra={"fields": fields})
    return len(repos)


async def collect(github: GitHub, pool: asyncpg.Pool) -> RunSummary | None:
    """One run over every tracked account; None when another collector holds the lock."""
    async with pool.acquire() as lock:
        if not await lock.fetchval("select api.collector_try_lock()"):
            log.info("another collector is running; skipping")
            return None
        try:
            return await _run(github, pool)
        finally:
            await lock.fetchval("select api.collector_unlock()")


async def _run(github: GitHub, pool: asyncpg.Pool) -> RunSummary:
    day = github.clock.now().date()
    before = (github.counters.requests, github.counters.not_modified)
    run_id = await pool.fetchval("select api.collector_run_begin($1)", day)
    accounts = await pool.fetch("select * from api.github_tracked_accounts()")
    repositories = errors = 0
    problems: list[str] = []
    for repo in await pool.fetch("select * from api.traffic_repos_due()"):
        if not await collect_traffic(github, pool, repo["id"], repo["owner"], repo["name"], day):
            errors += 1
            problems.append(f"traffic of {repo['owner']}/{repo['name']}")
    for account in accounts:
        try:
            repositories += await collect_account(
                github, pool, account["id"], account["login"], day
            )
        except GitHubError as error:
            errors += 1
            problems.append(f"{account['login']}: {error.status} {error.message}")
            log.warning(
                "account not collected",
                extra={"fields": {"account": account["login"], "status": error.status}},
            )
    summary = RunSummary(
        run_id,
        day,
        repositories,
        github.counters.requests - before[0],
        github.counters.not_modified - before[1],
        errors,
    )
    await pool.execute(
        "select api.collector_run_finish($1, $2, $3, $4, $5, $6)",
        run_id,
        summary.repositories,
        summary.requests,
        summary.not_modified,
        summary.errors,
        "; ".join(problems) or None,
    )
    log.info(
        "collector run finished", extra={"fields": {k: str(v) for k, v in vars(summary).items()}}
    )
    return summary


def next_run(now: dt.datetime, at: dt.time, done_today: bool) -> dt.datetime:
    """When to collect next: now if today's time has passed without a finished run (a run
    missed while the collector was down), else today's or tomorrow's COLLECT_AT (UTC)."""
    today = dt.datetime.combine(now.date(), at, dt.UTC)
    if now >= today:
        return now if not done_today else today + dt.timedelta(days=1)
    return today


async def fetch_new_repositories(github: GitHub, pool: asyncpg.Pool, url: str) -> None:
    """LISTEN traffic_repo_added: a repository an owner just added is fetched at once."""
    connection = await asyncpg.connect(url)
    queue: asyncio.Queue[int] = asyncio.Queue()
    await connection.add_listener("traffic_repo_added", lambda *a: queue.put_nowait(int(a[3])))
    try:
        while True:
            repo_id = await queue.get()
            for repo in await pool.fetch("select * from api.traffic_repos_due()"):
                if repo["id"] == repo_id:
                    day = github.clock.now().date()
                    await collect_traffic(github, pool, repo_id, repo["owner"], repo["name"], day)
    finally:
        await connection.close()


async def forever(github: GitHub, pool: asyncpg.Pool, at: dt.time, clock: Clock, url: str) -> None:
    listening = asyncio.create_task(fetch_new_repositories(github, pool, url))
    try:
        await _schedule(github, pool, at, clock)
    finally:
        listening.cancel()


async def _schedule(github: GitHub, pool: asyncpg.Pool, at: dt.time, clock: Clock) -> None:
    while True:
        now = clock.now()
        done = await pool.fetchval("select api.collector_day_done($1)", now.date())
        when = next_run(now, at, done)
        if when <= now:
            await collect(github, pool)
            continue
        await clock.sleep(min((when - now).total_seconds(), 300))


async def track_handler(request: web.Request) -> web.Response:
    """PUT /v1/users {"login"}: track a GitHub account and load its repositories now."""
    body = await json_object(request)
    login = body.get("login")
    if not isinstance(login, str) or not LOGIN.fullmatch(login) or len(body) != 1:
        raise ApiError(400, "login must be a GitHub login (letters, digits, single hyphens)")
    github = request.app[GITHUB]
    pool = request.app[POOL].pool
    try:
        user = await github.user(login)
    except NotFound:
        raise ApiError(404, f"GitHub has no user {login}") from None
    except GitHubError as error:
        raise ApiError(502, f"GitHub failed: {error.message}") from None
    row = await pool.fetchrow(
        "select * from api.github_account_upsert($1, $2, $3)",
        user["id"],
        user["login"],
        user.get("name"),
    )
    try:
        await collect_account(github, pool, row["id"], row["login"], github.clock.now().date())
    except GitHubError as error:  # tracked; the daily run will load the repositories
        log.warning(
            "first load failed", extra={"fields": {"account": login, "status": error.status}}
        )
    result: dict[str, Any] = {"id": row["id"], "login": row["login"], "name": row["name"]}
    return web.json_response(result, status=201 if row["created"] else 200)


async def collect_traffic(
    github: GitHub, pool: asyncpg.Pool, repo_id: int, owner: str, name: str, day: dt.date
) -> bool:
    """Fetch one repository's traffic (needs push access) and store it; False on failure,
    which is recorded on the repository (403: no push access, 404: gone or private)."""
    base = f"/repos/{owner}/{name}/traffic"
    try:
        views, _ = await github.get(f"{base}/views?per=day")
        clones, _ = await github.get(f"{base}/clones?per=day")
        referrers, _ = await github.get(f"{base}/popular/referrers")
        paths, _ = await github.get(f"{base}/popular/paths")
    except GitHubError as error:
        why = {403: "the token lacks push access", 404: "the repository is gone or private"}
        message = why.get(error.status, error.message)
        await pool.execute(
            "select api.traffic_fetch_failed($1, $2, $3)", repo_id, error.status, message
        )
        log.warning(
            "traffic not fetched",
            extra={"fields": {"repo": f"{owner}/{name}", "status": error.status}},
        )
        return False
    days = await pool.fetchval(
        "select api.traffic_store($1, $2, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb)",
        repo_id,
        day,
        json.dumps(views),
        json.dumps(clones),
        json.dumps(referrers),
        json.dumps(paths),
    )
    log.info("traffic stored", extra={"fields": {"repo": f"{owner}/{name}", "days": days}})
    return True

"""A fake GitHub REST API for tests, on a clock the test controls.

It serves users, repositories and traffic in the shapes GitHub documents, with GitHub's
pagination, conditional requests, primary and secondary rate limits, redirects for renamed or
transferred repositories, and faults a test can arm (5xx, latency, hangs).

Behaviour taken from GitHub's documentation:
- pagination: https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
  (per_page max 100, default 30; `link` with rel prev/next/last/first, omitted on a single page;
  per_page is carried in the links)
- conditional requests and redirects:
  https://docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api
  (a 304 does not count against the primary rate limit; 301 = repeat at `location`)
- rate limits: https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api
  (60/h per IP unauthenticated, 5000/h per token; x-ratelimit-* headers; 403 or 429 with
  x-ratelimit-remaining 0 when exhausted; secondary limit: 403 or 429 with retry-after)
- traffic: https://docs.github.com/rest/metrics/traffic (last 14 days, timestamps at UTC
  midnight, weeks start on Monday; top 10 referrers and paths; 403 without push access)
- starring: https://docs.github.com/rest/activity/starring (watchers and watchers_count equal
  stargazers_count; subscribers_count is the number of watchers)

Choices where the documentation is silent (documented here so tests can rely on them):
- the 14-day traffic window is today (by `now`, UTC) and the 13 days before; days without
  traffic are left out of the series, and the top-level `uniques` is the sum of daily uniques;
- a renamed or transferred repository answers 301 with `location: {base}/repositories/{id}{rest}`
  (as api.github.com does), so `/repositories/{id}` routes exist too; a deleted one answers 404;
- every request counts against the primary limit (404s, 301s, injected 5xx and secondary-limit
  403s included) except a 304, GET /rate_limit, a 401 for a token not in `valid_tokens`, a
  request refused because the limit is exhausted, and a hung request that never got an answer;
  the hour-long window starts at a bucket's first request, by `now`;
- every 200 carries a weak ETag of its body; If-None-Match uses weak comparison;
- the secondary limit's retry-after is measured on `fake.monotonic` (wall time by default,
  because a client really sleeps); a request before it elapsed is answered 403 again and
  counted in `fake.secondary_violations`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from aiohttp import web

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
TRAFFIC_DAYS = 14
WINDOW = timedelta(hours=1)
DOCS = "https://docs.github.com/rest"
TRAFFIC_DOCS = {
    "/traffic/views": f"{DOCS}/metrics/traffic#get-page-views",
    "/traffic/clones": f"{DOCS}/metrics/traffic#get-repository-clones",
    "/traffic/popular/referrers": f"{DOCS}/metrics/traffic#get-top-referral-sources",
    "/traffic/popular/paths": f"{DOCS}/metrics/traffic#get-top-referral-paths",
}
RATE_DOCS = f"{DOCS}/overview/rate-limits-for-the-rest-api"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Logged(NamedTuple):
    method: str
    path: str
    query: dict[str, str]
    status: int  # 0: the request hung and got no answer
    conditional: bool  # it carried If-None-Match


@dataclass
class Account:
    login: str
    id: int
    name: str | None
    type: str  # "User" or "Organization"
    created_at: datetime


@dataclass
class Repo:
    id: int
    owner: Account
    name: str
    stars: int = 0
    forks: int = 0
    subscribers: int = 0
    description: str | None = None
    push_access: bool = True
    created_at: datetime = START
    updated_at: datetime = START
    views: dict[date, tuple[int, int]] = field(default_factory=dict)
    clones: dict[date, tuple[int, int]] = field(default_factory=dict)
    referrers: list[dict[str, Any]] = field(default_factory=list)
    paths: list[dict[str, Any]] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class Bucket:
    reset: datetime
    used: int = 0


@dataclass
class Fault:
    kind: str  # "fail" or "hang"
    status: int
    path: str | None


class FakeGitHub:
    def __init__(self, now: datetime = START) -> None:
        self.now = now
        self.rate_limit = 5000
        self.anonymous_rate_limit = 60
        self.rate_limit_status = 403
        self.latency = 0.0
        self.hang_seconds = 30.0
        self.monotonic: Callable[[], float] = time.monotonic
        self.valid_tokens: set[str] | None = None  # None: any token is accepted
        self.requests: list[Logged] = []
        self.violations = 0
        self.secondary_violations = 0
        self._accounts: dict[str, Account] = {}
        self._repos: dict[int, Repo] = {}
        self._names: dict[str, int] = {}
        self._moved: dict[str, int] = {}
        self._buckets: dict[str, Bucket] = {}
        self._token_users: dict[str, int] = {}
        self._faults: list[Fault] = []
        self._secondary = (0, 0.0, 403)  # (times left, retry-after seconds, status)
        self._secondary_until = 0.0
        self._next_id = 1000
        self._closing = asyncio.Event()

    # --- clock and state -------------------------------------------------------------------

    def advance(
        self, *, days: float = 0, hours: float = 0, minutes: float = 0, seconds: float = 0
    ) -> None:
        self.now += timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)

    def add_user(self, login: str, id: int | None = None, name: str | None = None) -> Account:
        return self._add_account(login, id, name, "User")

    def add_org(self, login: str, id: int | None = None, name: str | None = None) -> Account:
        return self._add_account(login, id, name, "Organization")

    def add_repo(
        self,
        owner: str,
        name: str,
        id: int | None = None,
        *,
        stars: int = 0,
        forks: int = 0,
        subscribers: int = 0,
        description: str | None = None,
    ) -> Repo:
        account = self._accounts[owner.lower()]
        repo = Repo(id or self._new_id(), account, name, stars, forks, subscribers, description)
        repo.created_at = repo.updated_at = self.now
        self._repos[repo.id] = repo
        self._index(repo)
        return repo

    def add_repos(self, owner: str, count: int, prefix: str = "repo") -> list[Repo]:
        return [self.add_repo(owner, f"{prefix}-{i:03d}") for i in range(1, count + 1)]

    def repo(self, owner: str, name: str) -> Repo:
        return self._repos[self._names[f"{owner}/{name}".lower()]]

    def set_counts(
        self,
        owner: str,
        name: str,
        *,
        stars: int | None = None,
        forks: int | None = None,
        subscribers: int | None = None,
    ) -> None:
        repo = self.repo(owner, name)
        repo.stars = repo.stars if stars is None else stars
        repo.forks = repo.forks if forks is None else forks
        repo.subscribers = repo.subscribers if subscribers is None else subscribers
        repo.updated_at = self.now

    def rename_repo(self, owner: str, name: str, new_name: str) -> None:
        self._move(self.repo(owner, name), self._accounts[owner.lower()], new_name)

    def transfer_repo(self, owner: str, name: str, new_owner: str) -> None:
        self._move(self.repo(owner, name), self._accounts[new_owner.lower()], name)

    def delete_repo(self, owner: str, name: str) -> None:
        repo = self.repo(owner, name)
        del self._names[repo.full_name.lower()], self._repos[repo.id]

    def set_push_access(self, owner: str, name: str, allowed: bool) -> None:
        self.repo(owner, name).push_access = allowed

    def set_traffic(
        self,
        owner: str,
        name: str,
        day: date | str,
        *,
        views: int = 0,
        view_uniques: int = 0,
        clones: int = 0,
        clone_uniques: int = 0,
    ) -> None:
        repo, day = self.repo(owner, name), date.fromisoformat(str(day))
        repo.views[day] = (views, view_uniques)
        repo.clones[day] = (clones, clone_uniques)

    def set_popular(
        self,
        owner: str,
        name: str,
        *,
        referrers: list[dict[str, Any]] | None = None,
        paths: list[dict[str, Any]] | None = None,
    ) -> None:
        """referrers: [{"referrer", "count", "uniques"}]; paths: [{"path", "title", ...}]."""
        repo = self.repo(owner, name)
        repo.referrers = referrers if referrers is not None else repo.referrers
        repo.paths = paths if paths is not None else repo.paths

    # --- faults and inspection -------------------------------------------------------------

    def secondary_limit(self, retry_after: float = 1, times: int = 1, status: int = 403) -> None:
        self._secondary = (times, retry_after, status)

    def fail_next(self, n: int = 1, status: int = 500, path: str | None = None) -> None:
        self._faults += [Fault("fail", status, path) for _ in range(n)]

    def hang_next(self, n: int = 1, path: str | None = None) -> None:
        self._faults += [Fault("hang", 0, path) for _ in range(n)]

    def remaining(self, token: str | None = None, ip: str = "127.0.0.1") -> int:
        key, limit, _ = self._identity(token, ip)
        bucket = self._buckets.get(key)
        used = bucket.used if bucket is not None and self.now < bucket.reset else 0
        return max(limit - used, 0)

    def count(self, path_prefix: str = "", status: int | None = None) -> int:
        return sum(
            r.path.startswith(path_prefix) and status in (None, r.status) for r in self.requests
        )

    # --- serving ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/rate_limit", self._rate_limit)
        app.router.add_get("/users/{login}", self._user)
        app.router.add_get("/users/{login}/repos", self._account_repos)
        app.router.add_get("/orgs/{login}/repos", self._account_repos)
        app.router.add_get(r"/user/{id:\d+}/repos", self._account_repos)
        app.router.add_get(r"/organizations/{id:\d+}/repos", self._account_repos)
        app.router.add_get("/repos/{owner}/{name}{tail:.*}", self._repo_resource)
        app.router.add_get(r"/repositories/{id:\d+}{tail:.*}", self._repo_resource)
        app.on_shutdown.append(self._release_hangs)
        return app

    async def _release_hangs(self, _app: web.Application) -> None:
        self._closing.set()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        conditional = "If-None-Match" in request.headers
        token = _token(request.headers.get("Authorization", ""))
        if self._take_fault(request.path, "hang"):
            self._log(request, 0, conditional)
            await self._hang()
            return web.Response(status=504)
        key, limit, user_id = self._identity(token, request.remote or "127.0.0.1")
        bucket = self._bucket(key)
        counted = request.path != "/rate_limit"
        if self.valid_tokens is not None and token is not None and token not in self.valid_tokens:
            response, counted = _error(401, "Bad credentials", DOCS), False
        elif counted and bucket.used >= limit:
            self.violations += 1
            response, counted = self._primary_error(user_id, request.remote), False
        elif secondary := self._secondary_error():
            response = secondary
        elif fault := self._take_fault(request.path, "fail"):
            response = _error(fault.status, "Server Error", DOCS)
        else:
            bucket.used += counted  # taken before the await: concurrent requests see it
            response = await self._handle(request, handler)
            bucket.used -= counted
        if response.status == 200 and isinstance(response, web.Response) and response.body:
            etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
            response.headers["ETag"] = etag
            if _matches(request.headers.get("If-None-Match", ""), etag):
                response, counted = web.Response(status=304, headers={"ETag": etag}), False
        bucket.used += counted
        response.headers.update(self._rate_headers(bucket, limit))
        response.headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
        response.headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        if self.latency:
            await asyncio.sleep(self.latency)
        self._log(request, response.status, conditional)
        return response

    async def _handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason, DOCS)

    # --- endpoints -------------------------------------------------------------------------

    async def _rate_limit(self, request: web.Request) -> web.Response:
        token = _token(request.headers.get("Authorization", ""))
        key, limit, _ = self._identity(token, request.remote or "127.0.0.1")
        bucket = self._bucket(key)
        core = {
            "limit": limit,
            "used": bucket.used,
            "remaining": max(limit - bucket.used, 0),
            "reset": int(bucket.reset.timestamp()),
        }
        return _json({"resources": {"core": core}, "rate": {**core, "resource": "core"}})

    async def _user(self, request: web.Request) -> web.Response:
        account = self._accounts.get(request.match_info["login"].lower())
        if account is None:
            return _error(404, "Not Found", f"{DOCS}/users/users#get-a-user")
        public_repos = sum(repo.owner is account for repo in self._repos.values())
        return _json(
            {
                **self._owner_json(account, _base(request)),
                "name": account.name,
                "company": None,
                "blog": "",
                "location": None,
                "email": None,
                "hireable": None,
                "bio": None,
                "twitter_username": None,
                "public_repos": public_repos,
                "public_gists": 0,
                "followers": 0,
                "following": 0,
                "created_at": _iso(account.created_at),
                "updated_at": _iso(account.created_at),
            }
        )

    async def _account_repos(self, request: web.Request) -> web.Response:
        info = request.match_info
        if "id" in info:
            account = next((a for a in self._accounts.values() if a.id == int(info["id"])), None)
        else:
            account = self._accounts.get(info["login"].lower())
        is_org = request.path.startswith(("/orgs/", "/organizations/"))
        if account is None or (is_org and account.type != "Organization"):
            return _error(404, "Not Found", f"{DOCS}/repos/repos")
        sort = request.query.get("sort", "created" if is_org else "full_name")
        descending = request.query.get("direction", "asc" if sort == "full_name" else "desc")
        repos = sorted(
            (repo for repo in self._repos.values() if repo.owner is account),
            key=lambda r: r.full_name.lower() if sort == "full_name" else (r.created_at, r.id),
            reverse=descending == "desc",
        )
        kind = "organizations" if is_org else "user"
        base, authed = _base(request), _token(request.headers.get("Authorization", "")) is not None
        items = [self._repo_json(repo, base, full=False, authed=authed) for repo in repos]
        return _paginate(request, items, f"/{kind}/{account.id}/repos")

    async def _repo_resource(self, request: web.Request) -> web.Response:
        info, tail = request.match_info, request.match_info["tail"]
        if tail and not tail.startswith("/"):
            return _error(404, "Not Found", DOCS)
        if "id" in info:
            repo = self._repos.get(int(info["id"]))
        else:
            key = f"{info['owner']}/{info['name']}".lower()
            moved = self._moved.get(key)
            if key not in self._names and moved in self._repos:
                url = str(request.url.origin().with_path(f"/repositories/{moved}{tail}"))
                url += f"?{request.query_string}" if request.query_string else ""
                follow = f"{DOCS}/guides/best-practices-for-using-the-rest-api#follow-redirects"
                body = {"message": "Moved Permanently", "url": url, "documentation_url": follow}
                return _json(body, status=301, headers={"Location": url})
            repo = self._repos.get(self._names.get(key, 0))
        if repo is None:
            return _error(404, "Not Found", f"{DOCS}/repos/repos#get-a-repository")
        authed = _token(request.headers.get("Authorization", "")) is not None
        if not tail:
            return _json(self._repo_json(repo, _base(request), full=True, authed=authed))
        if tail not in TRAFFIC_DOCS:
            return _error(404, "Not Found", DOCS)
        if not repo.push_access:
            return _error(403, "Must have push access to repository", TRAFFIC_DOCS[tail])
        if tail.startswith("/traffic/popular/"):
            rows = repo.referrers if tail.endswith("referrers") else repo.paths
            return _json(sorted(rows, key=lambda row: -row["count"])[:10])
        per = request.query.get("per", "day")
        if per not in ("day", "week"):
            return _error(422, f'"{per}" is not a member of ["day", "week"]', TRAFFIC_DOCS[tail])
        kind = tail.removeprefix("/traffic/")
        return _json(self._traffic(repo.views if kind == "views" else repo.clones, kind, per))

    # --- helpers ---------------------------------------------------------------------------

    def _add_account(self, login: str, id: int | None, name: str | None, kind: str) -> Account:
        account = Account(login, id or self._new_id(), name, kind, self.now)
        self._accounts[login.lower()] = account
        return account

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _index(self, repo: Repo) -> None:
        key = repo.full_name.lower()
        self._names[key] = repo.id
        self._moved.pop(key, None)  # a repository that takes an old name ends its redirect

    def _move(self, repo: Repo, owner: Account, name: str) -> None:
        old = repo.full_name.lower()
        del self._names[old]
        repo.owner, repo.name, repo.updated_at = owner, name, self.now
        self._index(repo)
        self._moved[old] = repo.id

    def _identity(self, token: str | None, ip: str) -> tuple[str, int, int | None]:
        if token is None:
            return f"ip:{ip}", self.anonymous_rate_limit, None
        user_id = self._token_users.setdefault(token, 90000 + len(self._token_users))
        return f"token:{token}", self.rate_limit, user_id

    def _bucket(self, key: str) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None or self.now >= bucket.reset:
            bucket = self._buckets[key] = Bucket(reset=self.now + WINDOW)
        return bucket

    def _rate_headers(self, bucket: Bucket, limit: int) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(max(limit - bucket.used, 0)),
            "x-ratelimit-used": str(bucket.used),
            "x-ratelimit-reset": str(int(bucket.reset.timestamp())),
            "x-ratelimit-resource": "core",
        }

    def _primary_error(self, user_id: int | None, ip: str | None) -> web.Response:
        if user_id is not None:
            message = f"API rate limit exceeded for user ID {user_id}."
        else:
            message = (
                f"API rate limit exceeded for {ip}. (But here's the good news: Authenticated "
                "requests get a higher rate limit. Check out the documentation for more details.)"
            )
        return _error(self.rate_limit_status, message, f"{RATE_DOCS}#about-primary-rate-limits")

    def _secondary_error(self) -> web.Response | None:
        times, retry_after, status = self._secondary
        now = self.monotonic()
        if now < self._secondary_until:
            self.secondary_violations += 1
            wait = self._secondary_until - now
        elif times > 0:
            self._secondary = (times - 1, retry_after, status)
            self._secondary_until = now + retry_after
            wait = retry_after
        else:
            return None
        message = (
            "You have exceeded a secondary rate limit. "
            "Please wait a few minutes before you try again."
        )
        response = _error(status, message, f"{RATE_DOCS}#about-secondary-rate-limits")
        response.headers["retry-after"] = str(max(math.ceil(wait), 1))
        return response

    def _take_fault(self, path: str, kind: str) -> Fault | None:
        for fault in self._faults:
            if fault.kind == kind and fault.path in (None, path):
                self._faults.remove(fault)
                return fault
        return None

    async def _hang(self) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), self.hang_seconds)
        except TimeoutError:
            pass

    def _log(self, request: web.Request, status: int, conditional: bool) -> None:
        query = dict(request.query)
        self.requests.append(Logged(request.method, request.path, query, status, conditional))

    def _traffic(self, series: dict[date, tuple[int, int]], kind: str, per: str) -> dict[str, Any]:
        today = self.now.astimezone(UTC).date()
        first = today - timedelta(days=TRAFFIC_DAYS - 1)
        totals: dict[date, tuple[int, int]] = {}
        for day, (count, uniques) in series.items():
            if first <= day <= today and (count or uniques):
                start = day if per == "day" else day - timedelta(days=day.weekday())
                seen = totals.get(start, (0, 0))
                totals[start] = (seen[0] + count, seen[1] + uniques)
        rows = [
            {"timestamp": f"{day.isoformat()}T00:00:00Z", "count": count, "uniques": uniques}
            for day, (count, uniques) in sorted(totals.items())
        ]
        total = sum(row["count"] for row in rows)
        return {"count": total, "uniques": sum(row["uniques"] for row in rows), kind: rows}

    def _owner_json(self, account: Account, base: str) -> dict[str, Any]:
        url = f"{base}/users/{account.login}"
        return {
            "login": account.login,
            "id": account.id,
            "node_id": _node_id(account.type, account.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{account.id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"https://github.com/{account.login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": account.type,
            "site_admin": False,
        }

    def _repo_json(self, repo: Repo, base: str, *, full: bool, authed: bool) -> dict[str, Any]:
        url = f"{base}/repos/{repo.full_name}"
        body: dict[str, Any] = {
            "id": repo.id,
            "node_id": _node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": False,
            "owner": self._owner_json(repo.owner, base),
            "html_url": f"https://github.com/{repo.full_name}",
            "description": repo.description,
            "fork": False,
            "url": url,
            "forks_url": f"{url}/forks",
            "stargazers_url": f"{url}/stargazers",
            "subscribers_url": f"{url}/subscribers",
            "created_at": _iso(repo.created_at),
            "updated_at": _iso(repo.updated_at),
            "pushed_at": _iso(repo.updated_at),
            "homepage": None,
            "size": 0,
            "stargazers_count": repo.stars,
            "watchers_count": repo.stars,
            "language": None,
            "forks_count": repo.forks,
            "archived": False,
            "disabled": False,
            "open_issues_count": 0,
            "license": None,
            "topics": [],
            "visibility": "public",
            "forks": repo.forks,
            "open_issues": 0,
            "watchers": repo.stars,
            "default_branch": "main",
        }
        if authed:
            push = repo.push_access
            body["permissions"] = {
                "admin": push,
                "maintain": push,
                "push": push,
                "triage": push,
                "pull": True,
            }
        if full:
            body["network_count"] = repo.forks
            body["subscribers_count"] = repo.subscribers
        return body


@asynccontextmanager
async def serve(fake: FakeGitHub) -> AsyncIterator[str]:
    """Serve `fake` on 127.0.0.1 at a free port; yields the base URL (no trailing slash)."""
    runner = web.AppRunner(fake.app(), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def _paginate(request: web.Request, items: list[Any], path: str) -> web.Response:
    per_page = min(_int(request.query.get("per_page"), 30), 100)
    page = _int(request.query.get("page"), 1)
    last = max(math.ceil(len(items) / per_page), 1)
    chunk = items[(page - 1) * per_page : page * per_page]

    def link(number: int, rel: str) -> str:
        query = [(k, v) for k, v in request.query.items() if k != "page"] + [("page", str(number))]
        return f'<{request.url.origin().with_path(path).with_query(query)}>; rel="{rel}"'

    links = [link(page - 1, "prev")] if page > 1 else []
    links += [link(page + 1, "next"), link(last, "last")] if page < last else []
    links += [link(1, "first")] if page > 1 else []
    return _json(chunk, headers={"Link": ", ".join(links)} if links else None)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return web.Response(
        body=body, status=status, headers=headers, content_type="application/json", charset="utf-8"
    )


def _error(status: int, message: str, documentation_url: str) -> web.Response:
    body = {"message": message, "documentation_url": documentation_url, "status": str(status)}
    return _json(body, status=status)


def _token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return (token.strip() or None) if scheme.lower() in ("bearer", "token") else None


def _matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 requires for If-None-Match."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",") if tag.strip()}
    return "*" in tags or etag.removeprefix("W/") in tags


def _int(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 1 else default


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _base(request: web.Request) -> str:
    return str(request.url.origin())


def _node_id(kind: str, id: int) -> str:
    """GitHub's legacy global node id, e.g. base64("04:User1") for user 1."""
    return base64.b64encode(f"0{len(kind)}:{kind}{id}".encode()).decode()

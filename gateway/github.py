"""The GitHub REST client: the only code that talks to GitHub.

- conditional requests with ETags kept in PostgreSQL (api.github_etag_get/put), so that a
  304 (free of rate limit) survives restarts;
- `Link` pagination with per_page=100;
- GitHub's rate-limit rules: it keeps X-RateLimit-Remaining/Reset and waits for the reset
  instead of sending a request that would exceed the limit; on 403/429 it waits Retry-After,
  or until X-RateLimit-Reset when the primary limit is spent, or at least a minute for a
  secondary limit without Retry-After;
- bounded concurrency, a timeout per request, retries with exponential backoff on 5xx and
  network errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import asyncpg

log = logging.getLogger("gateway.github")

MAX_LIMIT_WAITS = 10
LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


class Clock(Protocol):
    def now(self) -> dt.datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class RealClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class GitHubError(Exception):
    """GitHub answered with an error, or did not answer after the retries."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NotFound(GitHubError):
    pass


@dataclass
class Counters:
    requests: int = 0
    not_modified: int = 0
    retries: int = 0
    waits: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Settings:
    api_url: str = "https://api.github.com"
    token: str | None = None
    concurrency: int = 8
    timeout: float = 10.0
    retries: int = 4
    backoff: float = 0.5  # seconds, doubled at each retry


class GitHub:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        pool: asyncpg.Pool,
        settings: Settings,
        clock: Clock | None = None,
    ) -> None:
        self.session = session
        self.pool = pool
        self.settings = settings
        self.clock = clock or RealClock()
        self.counters = Counters()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._remaining: int | None = None
        self._reset: float = 0.0
        self._in_flight = 0
        self._answered = asyncio.Event()  # set (and replaced) each time a request ends
        self._unlimited = False  # the last answer carried no rate-limit headers

    def url(self, path: str) -> str:
        return self.settings.api_url.rstrip("/") + path

    def _headers(self, etag: str | None) -> dict[str, str]:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "analytics-gateway-collector",
        }
        if self.settings.token:
            headers["Authorization"] = f"Bearer {self.settings.token}"
        if etag:
            headers["If-None-Match"] = etag
        return headers

    def _note_limits(self, headers: Any) -> bool:
        """Keep the lowest X-RateLimit-Remaining seen in the newest window. Answers to
        concurrent requests arrive in any order: an older answer reports more room than is
        left, and taking it would let one request too many through."""
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is None or not remaining.isdigit() or reset is None or not reset.isdigit():
            return False
        window = float(reset)
        if window > self._reset:
            self._remaining, self._reset = int(remaining), window
        elif window == self._reset:
            kept = self._remaining
            self._remaining = int(remaining) if kept is None else min(kept, int(remaining))
        # an answer from an earlier window says nothing about this one
        return True

    async def _wait(self, seconds: float, why: str) -> None:
        seconds = max(seconds, 0.0)
        self.counters.waits.append(seconds)
        log.info("github: waiting", extra={"fields": {"seconds": round(seconds, 1), "why": why}})
        await self.clock.sleep(seconds)

    async def _budget(self) -> None:
        """Reserve room in the primary limit for one request, waiting for the reset when the
        requests in flight already use what is left (released in _send). While the room is
        unknown (at the start, or after a reset) one request goes alone: its answer tells."""
        while True:
            if self._remaining is None:
                if self._in_flight == 0 or self._unlimited:
                    break
                await self._answered.wait()  # the answer of the request that went alone
                continue
            if self._remaining - self._in_flight > 0:
                break
            left = self._reset - self.clock.now().timestamp()
            if left <= 0:
                self._remaining = None  # a new window: the next answer tells
                continue
            await self._wait(left + 1, "primary rate limit")
        self._in_flight += 1  # no await since the check: no other request got in between

    def _release(self) -> None:
        """A request reserved by _budget ended (its limits, if any, are noted)."""
        self._in_flight -= 1
        answered, self._answered = self._answered, asyncio.Event()
        answered.set()

    async def get(self, path_or_url: str) -> tuple[Any, str]:
        """GET JSON, conditionally: a 304 returns the stored body. Returns (data, Link header);
        the Link header is stored with the body, since a 304 need not repeat it."""
        url = path_or_url if path_or_url.startswith("http") else self.url(path_or_url)
        async with self.pool.acquire() as connection:
            stored = await connection.fetchrow("select * from api.github_etag_get($1)", url)
        failures = limited = 0  # errors count against `retries`; rate-limit waits do not
        while True:
            await self._budget()
            try:
                status, headers, body = await self._send(url, stored["etag"] if stored else None)
            except (TimeoutError, aiohttp.ClientError) as error:
                log.warning(
                    "github: request failed", extra={"fields": {"url": url, "error": repr(error)}}
                )
                status, headers, body = 0, {}, ""
            if status == 304 and stored is not None:
                self.counters.not_modified += 1
                kept = json.loads(stored["body"])
                return kept["data"], kept["link"]
            if status == 200:
                data, link = json.loads(body), headers.get("Link", "")
                etag = headers.get("ETag")
                if etag:
                    kept = json.dumps({"data": data, "link": link})
                    async with self.pool.acquire() as connection:
                        await connection.execute(
                            "select api.github_etag_put($1, $2, $3::jsonb)", url, etag, kept
                        )
                return data, link
            message = _message(body)
            if status in (403, 429) and limited < MAX_LIMIT_WAITS:
                wait = self._limit_wait(headers, message, limited)
                if wait is not None:
                    limited += 1
                    await self._wait(wait, f"rate limit ({status})")
                    continue
            if status == 404:
                raise NotFound(404, message)
            if 400 <= status < 500:
                raise GitHubError(status, message)
            failures += 1  # 5xx, a network error or a timeout: back off and retry
            if failures > self.settings.retries:
                raise GitHubError(502, f"GitHub failed {failures} times for {url}")
            self.counters.retries += 1
            await self._wait(
                self.settings.backoff * 2 ** (failures - 1), f"GitHub answered {status}"
            )

    def _limit_wait(self, headers: Any, message: str, waited: int) -> float | None:
        """How long GitHub's rules say to wait after a 403/429, or None when it is no limit."""
        retry_after = headers.get("Retry-After")
        if retry_after is not None and retry_after.isdigit():
            return float(retry_after)  # secondary limit with Retry-After
        if headers.get("X-RateLimit-Remaining") == "0":
            return self._reset - self.clock.now().timestamp() + 1  # primary limit spent
        if "rate limit" in message.lower():
            return 60.0 * 2**waited  # secondary limit without Retry-After: a minute, growing
        return None  # e.g. no push access

    async def _send(self, url: str, etag: str | None) -> tuple[int, Any, str]:
        try:  # released also when cancelled while waiting for a slot
            async with self._slots:
                self.counters.requests += 1
                timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
                async with self.session.get(
                    url, headers=self._headers(etag), timeout=timeout
                ) as response:
                    noted = self._note_limits(response.headers)
                    if response.status < 400:  # a server that reports no limits at all
                        self._unlimited = not noted
                    body = await response.text()
                    return response.status, response.headers, body
        finally:
            self._release()

    async def pages(self, path: str) -> list[Any]:
        """Every item of a paginated list, following Link rel="next" (per_page=100)."""
        separator = "&" if "?" in path else "?"
        url: str | None = self.url(f"{path}{separator}per_page=100")
        items: list[Any] = []
        while url:
            data, link = await self.get(url)
            items.extend(data)
            match = LINK_NEXT.search(link)
            url = match.group(1) if match else None
        return items

    async def user(self, login: str) -> dict[str, Any]:
        data, _ = await self.get(f"/users/{login}")
        return dict(data)

    async def repository(self, full_name: str) -> dict[str, Any] | None:
        try:
            data, _ = await self.get(f"/repos/{full_name}")
        except NotFound:
            return None
        return dict(data)


def _message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200]
    return str(data.get("message", "")) if isinstance(data, dict) else ""

"""The gateway under load, at 1M users, from wrk (bench/wrk.lua, one thread, a process of its
own) against the gateway (`gateway run`, one process, default settings, its JSON access log
on; rate limits counted in Redis on every request but set too high to be reached, since all
the load comes from one address and one JWT) and against bench/bare.py (one process).

- Cache hit: GET /stats/registrations with a fixed as_of, X-Cache HIT on every response,
  against bare aiohttp answering the same JSON from memory; requests/s and p99 at 64
  connections, each side warmed for 1 s then run 6 times for 1 s, alternated (requests/s:
  all requests over all seconds; p99: the worst run's). Goal: gateway / bare at least 0.7.
  Alongside, without a goal: a second gateway (`gateway serve`) with the
  access log and the rate limits off (LOG_LEVEL=WARNING, RATE_LIMIT_PER_IP=0,
  RATE_LIMIT_PER_TOKEN=0), like the bare handler, which logs nothing: what those two cost.
- Generic call: GET /rpc/bench_ping (api.bench_ping(), a stable `select 1` created for the
  bench; uncached: X-Cache BYPASS) against aiohttp + asyncpg running `select api.bench_ping()`
  on a pool of the gateway's default size (2 to 10); the same way. Goal: at least 0.8.
- Search: GET /users/search?name=user NNNNN (5 digits: 11 users match at 1M) as an operator
  (gateway-admin create-user, POST /auth/token), a new name per request (X-Cache MISS,
  checked), one connection for 6 s; p50 against the median of the same statement the gateway
  sends (gateway.calls.call_sql, page and X-Total-Count in one) run from here on asyncpg.
  Goal: p50 at most 20 ms.
- Repository statistics: GET /v1/users/{id}/stats of an account with 200 repositories x 365
  days (73,000 rows, inserted in SQL), every row each time, uncached (date_from moves back a
  day per request, always before the first day); the same way. Goal: p50 at most 50 ms.
- Mixed load: 256 connections for 30 s over the registrations (cached), bench_ping (uncached),
  a search with a new name (uncached) and the account's whole statistics (cached), in turn.
  wrk runs without its body callback here (see bench/wrk.lua): statuses are wrk's count of
  those of 400 or more, and 5xx are counted in the gateway's access log.
  Goals: no socket error and no response of 400 or more; the resident memory (VmRSS) of the process
  that serves (the `gateway run` process; its collector child is not counted), sampled every
  0.25 s, at most 200 MB at its peak, and its peak in the last 10 s at most 1.1 x that of the
  first 10 s.

wrk's --timeout is 5 s: a response slower than that is left out of the percentiles and
counted as a timeout, and so is every 2 s each connection found waiting longer (wrk's own
rule), so "timeout" counts events, not requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.report import row, say, stop
from gateway.calls import call_sql
from gateway.catalogue import Catalogue
from gateway.config import Config
from gateway.migrate import RELOAD_CHANNEL
from gateway.servers import free_port

WRK_SCRIPT = Path(__file__).with_name("wrk.lua")
CONNECTIONS = 64  # both sides of the cache-hit and generic-call rows
TURNS = 6  # runs per side, alternated with the other sides
TURN_SECONDS = 1  # per run: the machine's speed moves within seconds (see compare)
LATENCY_SECONDS = 6
MIXED_CONNECTIONS = 256
MIXED_SECONDS = 30
RSS_EVERY = 0.25
ACCOUNT = 1  # GitHub ids of the fake GitHub's accounts and repositories start at 1001
REPOS = 200
DAYS = 365
OPERATOR = "bench"
SQL_SEARCHES = 100  # PostgreSQL-alone baselines, sequential
SQL_STATS = 20
PING = "/rpc/bench_ping"
SEARCH = "/users/search?name=user%20"  # + 5 digits: 11 users each at 1M
YEAR = f"/v1/users/{ACCOUNT}/stats"  # every row, no dates

PING_SQL = """
create function api.bench_ping() returns integer language sql stable
set search_path = pg_catalog as $$ select 1 $$;
comment on function api.bench_ping() is $$A trivial call for make bench.
@http auth=public$$;
"""
REPOS_SQL = """
insert into data.github_repos (id, account_id, full_name, first_seen, last_seen)
select $1 * 1000000 + g, $1, 'bench-stats/repo-' || g, $3::date - ($4 - 1), $3::date
from generate_series(1, $2::integer) g
"""
STATS_SQL = """
insert into data.github_repo_stats (repo_id, day, stargazers, forks, watchers)
select r.id, $2::date - d, (random() * 5000)::integer, (random() * 500)::integer,
       (random() * 100)::integer
from data.github_repos r cross join generate_series(0, $3 - 1) d
where r.account_id = $1
"""


@dataclass(frozen=True)
class Load:
    """What one wrk run (or several added up) measured; latencies in ms."""

    requests: int
    seconds: float
    p50: float
    p99: float
    errors: dict[str, int]  # socket errors: connect, read, write, timeout
    failed: int  # responses with a status of 400 or more (wrk's own count)
    statuses: dict[int, int] = field(default_factory=dict)  # empty without bodies
    cache: dict[str, int] = field(default_factory=dict)
    total_count: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def socket_errors(self) -> int:
        return sum(self.errors.values())

    def errors_text(self) -> str:
        return ", ".join(f"{kind} {n}" for kind, n in sorted(self.errors.items()))

    @property
    def not_2xx(self) -> int:
        if not self.statuses:  # run without bodies: wrk counted statuses of 400 or more
            return self.failed
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def __add__(self, other: Load) -> Load:
        """Counts add up; of the percentiles, the worse run's (they cannot be merged)."""

        def add(a: dict, b: dict) -> dict:
            return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}

        return Load(
            self.requests + other.requests,
            self.seconds + other.seconds,
            max(self.p50, other.p50),
            max(self.p99, other.p99),
            add(self.errors, other.errors),
            self.failed + other.failed,
            add(self.statuses, other.statuses),
            add(self.cache, other.cache),
            self.total_count + other.total_count,
        )

    def describe(self) -> str:
        return (
            f"{self.requests:,} requests in {self.seconds:.1f} s ({self.rate:,.0f}/s),"
            f" p50 {self.p50:.2f} ms, p99 {self.p99:.2f} ms, statuses {self.statuses},"
            f" X-Cache {self.cache}, socket errors {self.socket_errors}"
        )


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is missing: `make bench` installs it (apt-get install wrk)")
    return found


async def wrk(
    url: str,
    seconds: int,
    connections: int,
    work: Path,
    paths: list[str] | None = None,
    token: str | None = None,
    bodies: bool = True,
) -> Load:
    """One wrk run: the URL, or the paths in turn on the URL's host. bodies=False: no
    statuses, X-Cache values or totals, only wrk's count of statuses of 400 or more."""
    env = {**os.environ, "BENCH_TOKEN": token or "", "BENCH_PATHS": ""}
    if not bodies:
        env["BENCH_BODIES"] = "off"
    if paths:
        file = work / "wrk-paths.txt"
        file.write_text("\n".join(paths) + "\n")
        env["BENCH_PATHS"] = str(file)
    process = await asyncio.create_subprocess_exec(
        *(wrk_path(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s"),
        *("--latency", "-s", str(WRK_SCRIPT), url),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("BENCH_JSON ")]
    if process.returncode or not lines:
        raise RuntimeError(f"wrk failed ({process.returncode}): {out.decode()}{err.decode()}")
    figures = json.loads(lines[0].removeprefix("BENCH_JSON "))
    errors = figures["errors"]
    return Load(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50=figures["p50_us"] / 1000,
        p99=figures["p99_us"] / 1000,
        errors={k: errors[k] for k in ("connect", "read", "write", "timeout")},
        failed=errors["status"],
        statuses={int(k): v for k, v in figures["statuses"].items()},
        cache=figures["cache"],
        total_count=figures["total_count"],
    )


def check(name: str, load: Load, cache: set[str]) -> None:
    """Rows other than the mixed load must be all 2xx with the expected X-Cache values."""
    if load.socket_errors or load.not_2xx or not load.cache.keys() <= cache:
        raise RuntimeError(f"{name}: {load.describe()}; expected X-Cache {sorted(cache)}")


async def compare(urls: tuple[str, ...], work: Path) -> list[Load]:
    """Each side warmed for 1 s, then TURNS runs of TURN_SECONDS each, in turn, every other
    turn backwards. This machine's speed moves by a fifth or more within seconds (the same
    handler, 1 s runs: 9,000 to 16,000 req/s): in short turns, each side gets about the
    same share of its fast and slow moments, which two runs of 3 s each did not give."""
    for url in urls:
        await wrk(url, 1, CONNECTIONS, work)
    runs: dict[str, list[Load]] = {url: [] for url in urls}
    for turn in range(TURNS):
        for url in urls if turn % 2 == 0 else urls[::-1]:
            runs[url].append(await wrk(url, TURN_SECONDS, CONNECTIONS, work))
    return [sum(runs[url][1:], runs[url][0]) for url in urls]


@dataclass(frozen=True)
class Prepared:
    password: str  # the operator's
    last_day: dt.date  # of the statistics


async def prepare(pg_url: str, session: aiohttp.ClientSession, base: str) -> Prepared:
    """Once the gateway runs (it rebuilds the api schema at start): bench_ping, which the
    gateway then loads (NOTIFY api_reloaded), a year of statistics of one account, an operator."""
    last_day = dt.datetime.now(dt.UTC).date()
    connection = await asyncpg.connect(pg_url)
    try:
        await connection.execute(PING_SQL)
        await connection.execute(f"select pg_notify('{RELOAD_CHANNEL}', 'bench')")
        await connection.execute(
            "select api.github_account_upsert($1, 'bench-stats', 'Bench stats')", ACCOUNT
        )
        await connection.execute(REPOS_SQL, ACCOUNT, REPOS, last_day, DAYS)
        await connection.execute(STATS_SQL, ACCOUNT, last_day, DAYS)
        await connection.execute("analyze data.github_repos, data.github_repo_stats")
    finally:
        await connection.close()
    password = secrets.token_urlsafe(16)
    admin = str(Path(sys.executable).with_name("gateway-admin"))
    process = await asyncio.create_subprocess_exec(
        *(admin, "create-user", OPERATOR, "--role", "operator"),
        env={**os.environ, "DATABASE_URL": pg_url},
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(password.encode() + b"\n")
    if process.returncode:
        raise RuntimeError(f"gateway-admin create-user failed: {out.decode()}{err.decode()}")
    await wait_for(session, f"{base}{PING}", "the gateway")
    return Prepared(password, last_day)


async def wait_for(
    session: aiohttp.ClientSession,
    url: str,
    what: str,
    process: asyncio.subprocess.Process | None = None,
) -> None:
    """Until GET url answers 200 (at most 30 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process is not None and process.returncode is not None:
            raise RuntimeError(f"{what} exited ({process.returncode})")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(url) as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what}: GET {url} did not answer 200 in 30 s")


async def log_in(session: aiohttp.ClientSession, base: str, password: str) -> str:
    body = {"username": OPERATOR, "password": password}
    async with session.post(f"{base}/auth/token", json=body) as response:
        if response.status != 200:
            raise RuntimeError(f"POST /auth/token: {response.status} {await response.text()}")
        return str((await response.json())["access_token"])


async def start_gateway(
    pg_url: str,
    redis_url: str,
    port: int,
    work: Path,
    command: str = "run",
    **settings: str,
) -> asyncio.subprocess.Process:
    """`gateway run` (or `gateway serve`: the same server, without migrating first and without
    the collector), its log in work/gateway.log (gateway-<command>.log for serve)."""
    env = {
        **os.environ,
        **{"DATABASE_URL": pg_url, "REDIS_URL": redis_url, "APP_TIMEZONE": "UTC"},
        **{"HOST": "127.0.0.1", "PORT": str(port), "DATA_DIR": str(work)},
        # all requests come from one address and one JWT: limits that are counted in Redis
        # on every request, as in production, but never reached
        **{"RATE_LIMIT_PER_IP": str(10**9), "RATE_LIMIT_PER_TOKEN": str(10**9)},
        **settings,
    }
    name = "gateway.log" if command == "run" else f"gateway-{command}.log"
    with (work / name).open("wb") as log:
        return await asyncio.create_subprocess_exec(
            *(str(Path(sys.executable).with_name("gateway")), command),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # stopped by us, after the requests, not by Ctrl-C
        )


# what a gateway without the access log and the rate limits is told: the like-for-like
# comparison with the bare handler (which logs nothing), to show what those two cost
LEAN = {"LOG_LEVEL": "WARNING", "RATE_LIMIT_PER_IP": "0", "RATE_LIMIT_PER_TOKEN": "0"}


async def start_lean(
    session: aiohttp.ClientSession, pg_url: str, redis_url: str, registrations: str, work: Path
) -> tuple[asyncio.subprocess.Process, str]:
    """A second gateway (`gateway serve`, LEAN settings) on the same PostgreSQL and Redis."""
    port = free_port()
    # `gateway serve` does not generate a development secret as `gateway run` does; this one
    # serves a public route only
    secret = os.environ.get("JWT_SECRET") or secrets.token_urlsafe(48)
    process = await start_gateway(pg_url, redis_url, port, work, "serve", **LEAN, JWT_SECRET=secret)
    return await answering(session, process, port, registrations, f"gateway serve ({work})")


async def start_bare(
    session: aiohttp.ClientSession, body: bytes, pg_url: str, work: Path
) -> tuple[asyncio.subprocess.Process, str]:
    file = work / "registrations.json"
    file.write_bytes(body)
    port = free_port()
    with (work / "bare.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bench.bare", str(port), str(file), pg_url),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    return await answering(session, process, port, PING, f"bench.bare ({work}/bare.log)")


async def answering(
    session: aiohttp.ClientSession,
    process: asyncio.subprocess.Process,
    port: int,
    path: str,
    what: str,
) -> tuple[asyncio.subprocess.Process, str]:
    """The process and its base URL once GET path answers 200 there; stopped if it never
    does."""
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for(session, f"{base}{path}", what, process)
    except BaseException:
        await stop(process)
        raise
    return process, base


async def sql_baseline(pg_url: str, function: str, argument_sets: list[dict[str, Any]]) -> float:
    """Median ms of the statement the gateway sends for these arguments, on asyncpg here."""
    connection = await asyncpg.connect(pg_url)
    try:
        catalogue = await Catalogue.load(connection)
        called = catalogue.get(function)
        names = sorted(argument_sets[0])
        total = catalogue.companion(called.options.get("total"))
        max_rows = called.option_int("max_rows", Config.max_rows)
        sql = call_sql(called, names, max_rows=max_rows, total=total)
        times = []
        for arguments in argument_sets[:2] + argument_sets:
            started = time.perf_counter()
            rows = await connection.fetch(sql, *(arguments[n] for n in names))
            "".join(row["body"] for row in rows).encode()  # as the gateway joins parts
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times[2:])
    finally:
        await connection.close()


def answered_5xx(log: Path, offset: int) -> int:
    """Access lines of the gateway's log with a status of 500 or more, from offset on."""
    if not log.exists():
        return 0
    with log.open("rb") as file:
        file.seek(offset)
        lines = file.read().splitlines()
    count = 0
    for line in lines:
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            count += entry.get("msg") == "request" and int(entry.get("status", 0)) >= 500
    return count


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def sample_rss(pid: int, samples: list[tuple[float, float]]) -> None:
    started = time.monotonic()
    while True:
        samples.append((time.monotonic() - started, rss_mb(pid)))
        await asyncio.sleep(RSS_EVERY)


async def rows(
    pg_url: str, redis_url: str, base: str, gateway_pid: int, prepared: Prepared, work: Path
) -> list[dict[str, Any]]:
    """Every row of this module, at the current table size (1M users)."""
    as_of = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).replace(microsecond=0)
    registrations = f"/stats/registrations?as_of={as_of.isoformat().replace('+00:00', 'Z')}"
    async with aiohttp.ClientSession() as session:
        token = await log_in(session, base, prepared.password)
        async with session.get(f"{base}{registrations}") as response:
            body = await response.read()
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(f"{base}{YEAR}", headers=headers) as response:
            year = len((await response.json())["stats"])  # and cached for the mixed load
        if year != REPOS * DAYS:
            raise RuntimeError(f"the statistics hold {year} rows, not {REPOS * DAYS}")
        bare, bare_base = await start_bare(session, body, pg_url, work)
        try:
            lean, lean_base = await start_lean(session, pg_url, redis_url, registrations, work)
        except BaseException:
            await stop(bare)
            raise
    try:
        result = await against_bare(base, bare_base, lean_base, registrations, work)
    finally:
        try:
            await stop(lean)
        finally:
            await stop(bare)
    numbers = random.Random("names").sample(range(10_000, 100_000), 40_000)
    result += await search_rows(pg_url, base, token, numbers[:5_000], work)
    result += await stats_rows(pg_url, base, token, prepared.last_day, work)
    mixed_paths = []
    for n in numbers[5_000:]:
        mixed_paths += [registrations, PING, f"{SEARCH}{n}", YEAR]
    return result + await mixed_rows(base, token, mixed_paths, gateway_pid, work)


async def against_bare(
    base: str, bare_base: str, lean_base: str, registrations: str, work: Path
) -> list[dict[str, Any]]:
    """Cache hit and generic call: requests/s and p99 of the gateway and of bench.bare; the
    cache hit also of the gateway without access log and rate limits (LEAN)."""
    hit_gateway, hit_bare, hit_lean = await compare(
        tuple(f"{side}{registrations}" for side in (base, bare_base, lean_base)), work
    )
    rpc_gateway, rpc_bare = await compare((f"{base}{PING}", f"{bare_base}{PING}"), work)
    for name, load in (
        ("cache hit, gateway", hit_gateway),
        ("cache hit, bare aiohttp", hit_bare),
        ("cache hit, gateway without access log and rate limits", hit_lean),
        (f"{PING}, gateway", rpc_gateway),
        (f"{PING}, aiohttp + asyncpg", rpc_bare),
    ):
        say(f"{name}: {load.describe()}")
    check("cache hit, gateway", hit_gateway, {"HIT"})
    check("cache hit, bare", hit_bare, {"none"})
    check("cache hit, lean gateway", hit_lean, {"HIT"})
    check(f"{PING}, gateway", rpc_gateway, {"BYPASS"})
    check(f"{PING}, bare", rpc_bare, {"none"})
    hit = f"cache hit GET /stats/registrations, {CONNECTIONS} connections"
    rpc = f"GET {PING} uncached, {CONNECTIONS} connections"
    return [
        row(f"{hit}, gateway / bare aiohttp", hit_gateway.rate, "req/s", hit_bare.rate,
            ("ratio", ">=", 0.7)),
        row(f"{hit}, p99", hit_gateway.p99, "ms", hit_bare.p99),
        row(f"{hit}, gateway without access log and rate limits / bare aiohttp",
            hit_lean.rate, "req/s", hit_bare.rate),
        row(f"{rpc}, gateway / aiohttp + asyncpg", rpc_gateway.rate, "req/s", rpc_bare.rate,
            ("ratio", ">=", 0.8)),
        row(f"{rpc}, p99", rpc_gateway.p99, "ms", rpc_bare.p99),
    ]  # fmt: skip


async def search_rows(
    pg_url: str, base: str, token: str, numbers: list[int], work: Path
) -> list[dict[str, Any]]:
    """Uncached searches, one at a time: p50 against the same SQL on asyncpg."""
    paths = [f"{SEARCH}{n}" for n in numbers]
    search = await wrk(base, LATENCY_SECONDS, 1, work, paths, token)
    matches = search.total_count / search.requests
    say(f"/users/search: {search.describe()}, {matches:.1f} users matched per name")
    check("/users/search", search, {"MISS"})
    names = [{"name": f"user {n}"} for n in numbers[:SQL_SEARCHES]]
    alone = await sql_baseline(pg_url, "users_search", names)
    return [
        row("GET /users/search uncached, 1M users, p50 / same SQL on asyncpg", search.p50, "ms",
            alone, ("figure", "<=", 20)),
        row("GET /users/search, users matched per name (X-Total-Count)", matches, "users"),
    ]  # fmt: skip


async def stats_rows(
    pg_url: str, base: str, token: str, last: dt.date, work: Path
) -> list[dict[str, Any]]:
    """Uncached statistics of every row, one at a time: p50 against the same SQL on asyncpg.
    date_from moves back a day per request, always before the first day."""
    first = last - dt.timedelta(days=DAYS - 1)
    starts = [first - dt.timedelta(days=k) for k in range(5_000)]
    paths = [f"/v1/users/{ACCOUNT}/stats?date_from={d}&date_to={last}" for d in starts]
    stats = await wrk(base, LATENCY_SECONDS, 1, work, paths, token)
    say(f"/v1/users/{ACCOUNT}/stats: {stats.describe()}")
    check("/v1/users/{id}/stats", stats, {"MISS"})
    calls = [{"account_id": ACCOUNT, "date_from": d, "date_to": last} for d in starts[:SQL_STATS]]
    alone = await sql_baseline(pg_url, "github_account_stats_parts", calls)
    name = f"GET /v1/users/{{id}}/stats uncached, {REPOS * DAYS:,} rows, p50 / same SQL"
    return [row(name, stats.p50, "ms", alone, ("figure", "<=", 50))]


async def mixed_rows(
    base: str, token: str, paths: list[str], pid: int, work: Path
) -> list[dict[str, Any]]:
    """MIXED_CONNECTIONS for MIXED_SECONDS over the paths in turn, sampling the gateway's RSS."""
    idle = rss_mb(pid)
    samples: list[tuple[float, float]] = []
    sampler = asyncio.create_task(sample_rss(pid, samples))
    log = work / "gateway.log"
    logged = log.stat().st_size if log.exists() else 0
    try:
        # without bodies: wrk must not be the bottleneck (bench/wrk.lua)
        mixed = await wrk(base, MIXED_SECONDS, MIXED_CONNECTIONS, work, paths, token, False)
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    peak = max(mb for _, mb in samples)
    first = max(mb for t, mb in samples if t < 10)
    last = max(mb for t, mb in samples if t >= MIXED_SECONDS - 10)
    say(f"mixed load: {mixed.describe()}")
    say(f"gateway RSS: idle {idle:.1f} MB, peak {peak:.1f} MB, first 10 s {first:.1f} MB,"
        f" last 10 s {last:.1f} MB")  # fmt: skip
    server_errors = answered_5xx(log, logged)
    mix = f"mixed load, {MIXED_CONNECTIONS} connections, {MIXED_SECONDS} s"
    none = ("figure", "<=", 0)
    return [
        row(f"{mix}, requests", mixed.rate, "req/s"),
        row(f"{mix}, p50", mixed.p50, "ms"),
        row(f"{mix}, p99 (of the responses within 5 s)", mixed.p99, "ms"),
        row(f"{mix}, socket errors ({mixed.errors_text()})", mixed.socket_errors, "errors",
            None, none),
        row(f"{mix}, responses of 400 or more (wrk; 5xx in the gateway's log: {server_errors})",
            mixed.not_2xx, "responses", None, none),
        row(f"{mix}, gateway peak RSS / idle before", peak, "MB", idle, ("figure", "<=", 200)),
        row(f"{mix}, RSS peak last 10 s / first 10 s", last, "MB", first, ("ratio", "<=", 1.1)),
    ]  # fmt: skip

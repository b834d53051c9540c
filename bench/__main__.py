"""Benchmark: the registrations statistic at 1M and 10M users, the gateway under load, the cost
of writing users, and the GitHub collector.

`make bench` (python -m bench) takes about eight minutes on two cores. It prints the machine
and one table, and writes the same rows to bench/results.json. `python -m bench --collector`
runs only the collector rows (about 20 s, PostgreSQL only) and prints them without touching
results.json.

Servers: the bench always starts its own embedded PostgreSQL and Redis in .data/bench/ (wiped
at start) and ignores DATABASE_URL and REDIS_URL, because it loads ten million users and
toggles triggers. The gateway runs as a separate process (`gateway run`) against them, logging
to .data/bench/gateway.log. Everything is stopped at the end, also on error or Ctrl-C, and
the database folder is removed.

Rows, each against a baseline measured in the same run where there is one:
- PostgreSQL: median "Execution Time" of EXPLAIN ANALYZE of api.monthly_registrations(as_of),
  the same 100 as_of values inside the data, at 1M users (a second database, bench_1m, loaded
  the same way) and at 10M users (the main one), side by side: each value on both, in turn,
  on new connections (the ones that ran the bulk loads stay slower). Measured minutes apart,
  the two sizes met different moments of this machine, whose speed moves by a fifth or more.
  Goals: at most 10 ms at each size, 10M / 1M at most 2.
- HTTP: median and p99 of sequential GET /stats/registrations with a new as_of per request
  (X-Cache: MISS), against the same URL repeated (X-Cache: HIT).
- Inserts (pgbench, one client, synchronous_commit on by default; at 10M users, without the
  name search index, which is dropped after the 1M rows to keep the load within minutes):
  with the rollup trigger against the same inserts with users_rollup_insert disabled
  (users_notify stays), alternated, median of 4 runs each. Goal: with / without at least
  0.5. The rollup is rebuilt afterwards.
  Single rows take created_at = now() like a registration; batches of 10,000 rows come with
  now() and with created_at spread over 3 years (an import, the rollup's worst case).
- Collector (gateway.collector.collect with the real client, gateway.github.GitHub, default
  Settings: concurrency 8) over one tracked account owning 1,000 repositories on the fake
  GitHub server (tests/fake_github.py, served in this process on 127.0.0.1, 50 ms per
  response, a token so that its limit is 5,000/h), twice the same day. First run: wall time
  against the lower bound the latency and concurrency allow (10 list pages one after another,
  then the 1,000 look-ups 8 at a time), requests against the minimum (10 + 1,000), requests
  per second against concurrency / latency. Second run: wall time and requests against the
  first run, and the 304s among its requests; goal: at least half are 304 Not Modified.
  It runs right after the migrations, before any user is loaded.
- The gateway under load, at 1M users (bench/load.py): cache hits and a generic /rpc call
  against bare aiohttp handlers (bench/bare.py), an uncached search and an uncached year of
  repository statistics against the same SQL on asyncpg, and 30 s of mixed load at 256
  connections with the gateway's memory. The load comes from wrk (`make bench` installs it).
When a PostgreSQL goal is missed, the nested plan of the slowest call at 10M (auto_explain) is
printed below the table and saved in results.json as "slow_plan".
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg

from bench import load as gateway_load
from bench.report import STARTED, row, say, stop
from gateway.collector import RunSummary, collect
from gateway.config import ROOT
from gateway.github import GitHub, Settings
from gateway.migrate import migrate
from gateway.servers import EmbeddedPostgres, EmbeddedRedis, free_port, pg_tool
from tests.fake_github import FakeGitHub, serve

DATA_DIR = ROOT / ".data" / "bench"
RESULTS = Path(__file__).with_name("results.json")
SIZES = {"1M": 1_000_000, "10M": 10_000_000}
SIDE_DATABASE = "bench_1m"  # 1M users, measured beside the main database at 10M
CHUNK = 1_000_000
SQL_CALLS = 100
HTTP_CALLS = 200
WARMUP = 5
PGBENCH_SECONDS = 6
ROUNDS = 4  # each order twice; 4 rather than 5 leaves time for the gateway rows
GOAL_MS = 10.0
REPOSITORIES = 1_000
LATENCY = 0.05  # seconds the fake GitHub takes per response
PER_PAGE = 100  # what the client asks for when it lists repositories

LOAD_SQL = """
insert into data.users (name, created_at)
select 'user ' || g, now() - random() * interval '3 years'
from generate_series($1::bigint, $2::bigint) g
"""
EXPLAIN_SQL = "explain (analyze, format json) select * from api.monthly_registrations($1)"
BATCH = (
    "insert into data.users (name, created_at)"
    " select 'bench ' || g, {at} from generate_series(1, 10000) g;"
)
INSERTS = {  # row name: (pgbench script, rows per transaction)
    "insert 1 row per transaction, created_at now": (
        "insert into data.users (name) values ('bench');",
        1,
    ),
    "insert 10k rows per statement, created_at now": (BATCH.format(at="now()"), 10_000),
    "insert 10k rows per statement, created_at over 3 years": (
        BATCH.format(at="now() - random() * interval '3 years'"),
        10_000,
    ),
}


def machine() -> dict[str, Any]:
    cpu = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "memory_gib": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "python": platform.python_version(),
    }


def as_of_values(count: int, rng: random.Random) -> list[dt.datetime]:
    """Moments whose 12-month window lies inside the 3 years of data."""
    now = dt.datetime.now(dt.UTC)
    return [now - dt.timedelta(seconds=rng.uniform(0, 700 * 86400)) for _ in range(count)]


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


async def load(connection: asyncpg.Connection, start: int, stop: int, where: str = "bench") -> None:
    for first in range(start, stop, CHUNK):
        await connection.execute(LOAD_SQL, first + 1, min(first + CHUNK, stop))
        say(f"loaded {min(first + CHUNK, stop):,} users into {where}")
    await connection.execute("vacuum analyze")  # users and the rollup
    await connection.execute("checkpoint")  # measure without the load's writes in the background


async def side_database(pg_url: str) -> str:
    """A second database on the same server, migrated and loaded with 1M users like the
    main one (without the name search index, which the registrations do not read)."""
    connection = await asyncpg.connect(pg_url)
    try:
        await connection.execute(f"create database {SIDE_DATABASE}")
    finally:
        await connection.close()
    url = urlsplit(pg_url)._replace(path=f"/{SIDE_DATABASE}").geturl()
    await migrate(url, "UTC")
    side = await asyncpg.connect(url)
    try:
        await side.execute("drop index data.users_name_trgm_gist")
        await load(side, 0, SIZES["1M"], SIDE_DATABASE)
    finally:
        await side.close()
    return url


async def sql_times(urls: dict[str, str], values: list[dt.datetime]) -> dict[str, list[float]]:
    """Warm, then time each call on each database in turn (every other value backwards),
    on new connections: the ones that loaded stay slower."""
    connections = {label: await asyncpg.connect(url) for label, url in urls.items()}
    order = list(connections.items())
    try:
        times: dict[str, list[float]] = {label: [] for label in urls}
        for index, as_of in enumerate(values[:WARMUP] + values):
            for label, connection in order if index % 2 == 0 else order[::-1]:
                plan = json.loads(await connection.fetchval(EXPLAIN_SQL, as_of))
                times[label].append(float(plan[0]["Execution Time"]))
        return {label: found[WARMUP:] for label, found in times.items()}
    finally:
        for connection in connections.values():
            await connection.close()


async def nested_plan(url: str, as_of: dt.datetime) -> str:
    """EXPLAIN ANALYZE of the statement inside the function, through auto_explain."""
    connection = await asyncpg.connect(url)
    try:
        notices: list[str] = []
        for _ in range(WARMUP):
            await connection.fetch("select * from api.monthly_registrations($1)", as_of)
        connection.add_log_listener(lambda _c, message: notices.append(message.message))
        await connection.execute(
            "load 'auto_explain'; set auto_explain.log_min_duration = 0;"
            " set auto_explain.log_analyze = on; set auto_explain.log_buffers = on;"
            " set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice"
        )
        await connection.fetch("select * from api.monthly_registrations($1)", as_of)
        await asyncio.sleep(0.1)  # notices arrive asynchronously
    finally:
        await connection.close()
    return max(notices, key=len)  # the function's query; the others are one-liners


async def http_times(
    session: aiohttp.ClientSession, url: str, values: list[str], expect: str
) -> list[float]:
    times = []
    for as_of in values:
        started = time.perf_counter()
        async with session.get(url, params={"as_of": as_of}) as response:
            await response.read()
        times.append((time.perf_counter() - started) * 1000)
        cache = response.headers.get("X-Cache")
        if response.status != 200 or cache != expect:
            raise RuntimeError(
                f"GET {response.url}: {response.status} X-Cache {cache}, not {expect}"
            )
    return times


async def wait_healthy(
    session: aiohttp.ClientSession, base: str, gateway: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if gateway.returncode is not None:
            raise RuntimeError(f"the gateway exited ({gateway.returncode}): {DATA_DIR}/gateway.log")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(f"{base}/health") as response:
                body = await response.json()
                if response.status == 200 and body.get("cache", {}).get("listening", True):
                    return
        await asyncio.sleep(0.2)
    raise TimeoutError("the gateway did not become healthy in 60 s")


async def pgbench_tps(url: str, script: Path) -> float:
    process = await asyncio.create_subprocess_exec(
        *(pg_tool("pgbench"), "-n", "-c", "1", "-T", str(PGBENCH_SECONDS), "-f", str(script), url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    found = re.search(r"^tps = ([\d.]+)", out.decode(), re.M)
    if process.returncode or not found:
        raise RuntimeError(f"pgbench failed: {err.decode()[-1000:]}")
    return float(found.group(1))


async def insert_rows(connection: asyncpg.Connection, url: str) -> list[dict[str, Any]]:
    rows = []
    try:
        for index, (name, (sql, per_transaction)) in enumerate(INSERTS.items()):
            script = DATA_DIR / f"insert{index}.sql"
            script.write_text(sql + "\n")
            runs: dict[bool, list[float]] = {True: [], False: []}
            for round_ in range(ROUNDS):
                for rollup in (True, False) if round_ % 2 == 0 else (False, True):
                    toggle = "enable" if rollup else "disable"
                    await connection.execute(
                        f"alter table data.users {toggle} trigger users_rollup_insert"
                    )
                    await connection.execute("checkpoint")
                    runs[rollup].append(await pgbench_tps(url, script) * per_transaction)
            unit = "tx/s" if per_transaction == 1 else "rows/s"
            with_, without = statistics.median(runs[True]), statistics.median(runs[False])
            rows.append(row(name, with_, unit, without, ("ratio", ">=", 0.5)))
            with_runs, without_runs = ([round(v) for v in runs[r]] for r in (True, False))
            say(f"{name} ({unit}): with the rollup {with_runs}, without {without_runs}")
    finally:
        await connection.execute("alter table data.users enable trigger users_rollup_insert")
        await connection.execute("select data.registrations_rollup_rebuild()")
    return rows


async def measure(session: aiohttp.ClientSession, url: str, label: str) -> list[dict[str, Any]]:
    """The HTTP rows at the current table size."""
    rng = random.Random(label)  # requests unlike the ones at other sizes: never a cache hit
    fresh = [v.isoformat() for v in as_of_values(WARMUP + HTTP_CALLS + 1, rng)]
    await http_times(session, url, fresh[:WARMUP], "MISS")
    miss = await http_times(session, url, fresh[WARMUP:-1], "MISS")
    await http_times(session, url, fresh[-1:], "MISS")
    hit = await http_times(session, url, fresh[-1:] * HTTP_CALLS, "HIT")
    say(f"{label}: HTTP uncached median {statistics.median(miss):.2f} ms")
    name = f"GET /stats/registrations, {label} users"
    rows = [
        row(f"{name}, uncached median", statistics.median(miss), "ms", statistics.median(hit)),
        row(f"{name}, uncached p99", p99(miss), "ms", p99(hit)),
        row(f"{name}, cache hit median", statistics.median(hit), "ms"),
    ]
    return rows


async def postgresql_rows(pg_url: str, side_url: str) -> tuple[list[dict[str, Any]], dt.datetime]:
    """The registrations inside PostgreSQL at 1M and 10M users, side by side, and the
    slowest as_of at 10M."""
    values = as_of_values(SQL_CALLS, random.Random("postgresql"))
    times = await sql_times({"1M": side_url, "10M": pg_url}, values)
    medians = {label: statistics.median(found) for label, found in times.items()}
    say("PostgreSQL medians: " + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items()))
    goal = ("figure", "<=", GOAL_MS)
    rows = [
        row(f"registrations in PostgreSQL, {label} users", ms, "ms", None, goal)
        for label, ms in medians.items()
    ]
    rows.append(
        row(
            "registrations in PostgreSQL, 10M / 1M",
            medians["10M"],
            "ms",
            medians["1M"],
            ("ratio", "<=", 2),
        )
    )
    slowest = values[times["10M"].index(max(times["10M"]))]
    return rows, slowest


async def collector_run(
    github: GitHub, pool: asyncpg.Pool, fake: FakeGitHub
) -> tuple[float, RunSummary]:
    """One timed run, checked against what the fake served."""
    served = len(fake.requests)
    started = time.perf_counter()
    summary = await collect(github, pool)
    seconds = time.perf_counter() - started
    if summary is None or summary.errors or summary.repositories != REPOSITORIES:
        raise RuntimeError(f"collector run failed: {summary}")
    log = fake.requests[served:]
    not_modified = sum(r.status == 304 for r in log)
    if len(log) != summary.requests or not_modified != summary.not_modified or fake.violations:
        raise RuntimeError(
            f"the fake served {len(log)} requests ({not_modified} 304s,"
            f" {fake.violations} over the rate limit); the collector counted {summary}"
        )
    say(
        f"collector run {summary.run_id}: {seconds:.2f} s, {summary.requests} requests,"
        f" {summary.not_modified} 304s, {fake.remaining('bench')} of the rate limit left"
    )
    return seconds, summary


async def collector_rows(pg_url: str) -> list[dict[str, Any]]:
    """Two collector runs the same day over 1,000 repositories behind a 50 ms GitHub."""
    fake = FakeGitHub(now=dt.datetime.now(dt.UTC))  # its rate-limit reset on the client's clock
    fake.latency = LATENCY
    account = fake.add_user("bench", name="Bench")
    fake.add_repos("bench", REPOSITORIES)
    settings = Settings(token="bench")
    pool = await asyncpg.create_pool(pg_url, min_size=1, max_size=settings.concurrency + 2)
    try:
        await pool.execute(
            "select api.github_account_upsert($1, $2, $3)", account.id, account.login, account.name
        )
        async with serve(fake) as base, aiohttp.ClientSession() as session:
            github = GitHub(session, pool, replace(settings, api_url=base))
            first, one = await collector_run(github, pool, fake)
            second, two = await collector_run(github, pool, fake)
    finally:
        await pool.close()
    if one.day != two.day:
        raise RuntimeError(f"the runs fell on two days: {one.day}, {two.day}")
    pages = math.ceil(REPOSITORIES / PER_PAGE)
    bound = (pages + math.ceil(REPOSITORIES / settings.concurrency)) * LATENCY
    setup = (
        f"{REPOSITORIES:,} repos, {LATENCY * 1000:g} ms latency, concurrency {settings.concurrency}"
    )
    first_run, second_run = "collector first run", "collector same day second run"
    return [
        row(f"{first_run} ({setup}), wall time", first, "s", bound),
        row(f"{first_run}, requests", one.requests, "requests", pages + REPOSITORIES),
        row(
            f"{first_run}, requests per second",
            one.requests / first,
            "requests/s",
            settings.concurrency / LATENCY,
        ),
        row(f"{second_run}, wall time", second, "s", first),
        row(f"{second_run}, requests", two.requests, "requests", one.requests),
        row(
            f"{second_run}, 304 Not Modified",
            two.not_modified,
            "requests",
            two.requests,
            ("ratio", ">=", 0.5),
        ),
    ]


async def server_version(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("show server_version"))
    finally:
        await connection.close()


async def run(
    pg_url: str, redis_url: str | None, info: dict[str, Any]
) -> tuple[list[dict], str | None]:
    """Every row, or only the collector's when redis_url is None (--collector)."""
    say("migrating")
    await migrate(pg_url, "UTC")
    info["postgresql"] = await server_version(pg_url)
    collector = await collector_rows(pg_url)
    if redis_url is None:
        return collector, None
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gateway = await gateway_load.start_gateway(pg_url, redis_url, port, DATA_DIR)
    connection = await asyncpg.connect(pg_url)
    try:
        http: list[dict[str, Any]] = []
        under_load: list[dict[str, Any]] = []
        async with aiohttp.ClientSession() as session:
            await wait_healthy(session, base, gateway)
            prepared = await gateway_load.prepare(pg_url, session, base)
            loaded = 0
            for label, users in SIZES.items():
                await load(connection, loaded, users)
                loaded = users
                http += await measure(session, f"{base}/stats/registrations", label)
                if label == "1M":
                    say("the gateway under load (wrk)")
                    under_load = await gateway_load.rows(
                        pg_url, redis_url, base, gateway.pid, prepared, DATA_DIR
                    )
                    # beyond 1M only registrations and inserts are measured; keeping the
                    # name search index (GiST) up to date adds about 50 s per million users
                    await connection.execute("drop index data.users_name_trgm_gist")
        head, slowest = await postgresql_rows(pg_url, await side_database(pg_url))
        plan = None if all(r["met"] for r in head) else await nested_plan(pg_url, slowest)
        inserts = await insert_rows(connection, pg_url)
        return head + http + under_load + inserts + collector, plan
    finally:
        await connection.close()
        await stop(gateway)


def number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def table(rows: list[dict[str, Any]]) -> str:
    cells = [("row", "figure", "unit", "baseline", "ratio", "goal", "ok")]
    for r in rows:
        ok = {True: "yes", False: "NO", None: "-"}[r["met"]]
        figures = (number(r["figure"]), r["unit"], number(r["baseline"]), number(r["ratio"]))
        cells.append((r["name"], *figures, r["goal"] or "", ok))
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    right = {1, 3, 4}
    return "\n".join(
        " | ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    )


def main() -> int:
    collector_only = sys.argv[1:] == ["--collector"]
    if sys.argv[1:] and not collector_only:
        print("usage: python -m bench [--collector]", file=sys.stderr)
        return 2
    info = machine()
    shutil.rmtree(DATA_DIR, ignore_errors=True)
    DATA_DIR.mkdir(parents=True)
    postgres = EmbeddedPostgres(DATA_DIR / "postgres")
    redis = EmbeddedRedis(DATA_DIR / "redis")
    try:
        postgres.start()
        if not collector_only:
            redis.start()
        redis_url = None if collector_only else redis.url
        rows, plan = asyncio.run(run(postgres.url, redis_url, info))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        redis.stop()
        postgres.stop()
        shutil.rmtree(postgres.data_dir)  # 3 GB; the gateway log stays for a look
    seconds = round(time.monotonic() - STARTED, 1)
    print(
        f"machine: {info['nproc']} x {info['cpu']}, {info['memory_gib']} GiB,"
        f" PostgreSQL {info['postgresql']}, Python {info['python']}"
    )
    print(table(rows))
    print(f"total {seconds} s")
    if plan:
        print(f"\nslowest call at 10M users, plan inside api.monthly_registrations:\n{plan}")
    if collector_only:
        return 0
    RESULTS.write_text(
        json.dumps({"machine": info, "rows": rows, "seconds": seconds, "slow_plan": plan}, indent=2)
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Property-based contract test: schemathesis against the app's own /openapi.json.

Every documented operation gets generated requests, valid (positive) and invalid (negative)
by the document, each sent with an admin JWT and an owner API token so that every route is
authenticated. No answer may be a 5xx (503 and 504 included: the database is up), and every
answer must conform to the document: a documented status code, content type, headers, body.

schemathesis and Hypothesis call the app synchronously (requests), so the app and a fake
GitHub run in a background thread with an event loop of their own. Failures are collected
rather than raised: one run reports all of them, and Hypothesis spends no time shrinking.
Generation is derandomized and bounded (MAX_EXAMPLES per operation and mode): about 3,500
cases, a minute on 2 idle cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import asyncpg
import hypothesis
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import init_app
from gateway.auth import hash_password, issue_token
from tests.conftest import make_config
from tests.fake_github import FakeGitHub
from tests.fake_github import serve as serve_github

T = TypeVar("T")

MAX_EXAMPLES = 30  # per operation and generation mode
MIN_OPERATIONS = 20  # fewer documented operations means the document lost routes
TIMEOUT = 15  # seconds for one answer
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
CHECKS = [
    not_a_server_error,  # every 5xx, 503 and 504 included
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)
CLEAN = "delete from data.accounts; truncate data.users, data.posts restart identity"
TABLES = "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'data'"
ADMIN = "select id from api.operator_create('schemathesis-admin', $1, 'admin')"


class BackgroundLoop:
    """An event loop in a thread of its own, for servers that synchronous code calls."""

    def __enter__(self) -> BackgroundLoop:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="servers", daemon=True)
        self.thread.start()
        return self

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __exit__(self, *exc_info: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Serve the app on a free port of 127.0.0.1; yield its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def sql(database_url: str, statement: str, *args: object) -> Any:
    connection = await asyncpg.connect(database_url)
    try:
        if args:
            return await connection.fetchval(statement, *args)
        return await connection.execute(statement)  # several statements, no arguments
    finally:
        await connection.close()


async def empty_tables(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url)
    try:
        tables = [row[0] for row in await connection.fetch(TABLES)]
        return {
            t for t in tables if not await connection.fetchval(f"select exists (select from {t})")
        }
    finally:
        await connection.close()


async def restore(database_url: str, empty: set[str]) -> None:
    """Empty accounts, users and posts, and every other data table that was empty before
    (cascade: the tables referring to those can only hold rows the run made)."""
    await sql(database_url, CLEAN)
    filled = sorted(empty - await empty_tables(database_url))
    if filled:
        await sql(database_url, f"truncate {', '.join(filled)} cascade")


def as_id(value: object) -> int | None:
    """The integer the gateway reads from a path parameter, if it reads one."""
    try:
        return int(str(value).strip())
    except ValueError:
        return None


class Fuzz:
    """The generated cases of one operation in one generation mode: send, check, record."""

    def __init__(self, label: str, base_url: str, session: requests.Session, headers: dict,
                 protected: int) -> None:  # fmt: skip
        self.label = label
        self.base_url = base_url
        self.session = session
        self.headers = headers
        self.protected = protected
        self.count = 0
        self.failures: dict[str, str] = {}

    def send(self, case: schemathesis.Case) -> None:
        # DELETE /admin/operators/{id} must not delete the admin whose JWT every case sends
        if case.path_parameters and as_id(case.path_parameters.get("id")) == self.protected:
            case.path_parameters["id"] = self.protected + 1_000_000_000
        self.count += 1
        try:
            case.call_and_validate(
                base_url=self.base_url,
                session=self.session,
                headers=self.headers,
                checks=CHECKS,
                timeout=TIMEOUT,
            )
        except FailureGroup as error:
            titles = ", ".join(sorted({failure.title for failure in error.exceptions}))
            self.failures.setdefault(f"{self.label}: {titles}", str(error))
        except requests.RequestException as error:  # no answer in time, connection dropped
            self.failures.setdefault(f"{self.label}: {type(error).__name__}", repr(error))

    def run(self, strategy: Any) -> None:
        SETTINGS(hypothesis.given(case=strategy)(self.send))()


def test_every_operation_conforms_to_the_document(database_url: str, redis_url: str) -> None:
    started = time.monotonic()
    ran: dict[str, int] = {}
    failures: dict[str, str] = {}
    servers = contextlib.AsyncExitStack()
    asyncio.run(sql(database_url, CLEAN))
    empty = asyncio.run(empty_tables(database_url))
    with BackgroundLoop() as background:
        try:
            # a GitHub that knows nobody: PUT /v1/users gets its 404, nothing is tracked
            github_url = background.run(servers.enter_async_context(serve_github(FakeGitHub())))
            config = make_config(
                database_url, redis_url, GITHUB_API_URL=github_url, GITHUB_TOKEN="fake-token"
            )
            admin_id = asyncio.run(sql(database_url, ADMIN, hash_password("pw")))
            bearer = issue_token(config, admin_id, "admin")["access_token"]
            base_url = background.run(servers.enter_async_context(serve(init_app(config))))
            with requests.Session() as session:
                signup = session.post(
                    f"{base_url}/api/users/create", json={"email": "owner@schemathesis.example"}
                )
                assert signup.status_code == 200, signup.text
                headers = {
                    "Authorization": f"Bearer {bearer}",
                    "X-API-Token": signup.json()["token"],
                }
                schema = schemathesis.openapi.from_url(
                    f"{base_url}/openapi.json", config=schemathesis.Config()
                )
                operations = [result.ok() for result in schema.get_all_operations()]
                for operation in operations:
                    mutable = any(operation.iter_parameters()) or bool(operation.body)
                    for mode in MODES if mutable else MODES[:1]:  # nothing to make invalid
                        label = f"{operation.label} [{mode.value}]"
                        fuzz = Fuzz(label, base_url, session, headers, admin_id)
                        fuzz.run(operation.as_strategy(generation_mode=mode))
                        ran[label] = fuzz.count
                        failures.update(fuzz.failures)
        finally:
            background.run(servers.aclose())
            asyncio.run(restore(database_url, empty))
    total = sum(ran.values())
    print(
        f"\nschemathesis: {total} cases, {len(operations)} operations,"
        f" {time.monotonic() - started:.1f} s, {len(failures)} failures"
    )
    assert not failures, "\n\n".join(f"=== {key}\n{text}" for key, text in failures.items())
    assert len(operations) >= MIN_OPERATIONS, [operation.label for operation in operations]
    assert total >= MAX_EXAMPLES * len(operations), ran  # a silently skipped run fails

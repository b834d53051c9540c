"""No secret in any log line: passwords, API tokens (also in page URLs) and JWTs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from gateway.app import init_app
from gateway.auth import hash_password
from gateway.logs import WRITER, JsonFormatter, LineWriter


async def test_no_secret_reaches_the_logs(
    aiohttp_client, config, db, caplog: pytest.LogCaptureFixture, monkeypatch
) -> None:
    written = io.StringIO()  # the access lines go straight to the line writer
    monkeypatch.setattr(WRITER, "stream", written)
    await db.execute("delete from data.accounts")
    await db.execute("select api.operator_create('root', $1, 'admin')", hash_password("s3cret-pw"))
    caplog.set_level(logging.DEBUG)
    client = await aiohttp_client(init_app(config))
    token = (
        await (await client.post("/api/users/create", json={"email": "l@example.com"})).json()
    )["token"]
    jwt = (
        await (
            await client.post("/auth/token", json={"username": "root", "password": "s3cret-pw"})
        ).json()
    )["access_token"]
    await client.post("/auth/token", json={"username": "root", "password": "wrong-pw-123"})
    await client.get(f"/users/{token}/repos")
    await client.get("/api/repos", headers={"X-API-Token": token})
    await client.get("/admin/operators", headers={"Authorization": f"Bearer {jwt}"})
    await client.get(f"/users/{token}/repos?start=2026-01-01")
    formatter = JsonFormatter()
    WRITER.flush()
    lines = [formatter.format(record) for record in caplog.records]
    lines += written.getvalue().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert any(e["logger"] == "aiohttp.access" for e in entries), lines[:5]
    assert any("/users/***/repos" in line for line in lines), [x for x in lines if "access" in x][
        :5
    ]
    for secret in (token, jwt, "s3cret-pw", "wrong-pw-123"):
        assert not [line for line in lines if secret in line], secret
    await db.execute("delete from data.accounts")


def test_an_access_line_orjson_refuses_is_escaped_not_lost(monkeypatch) -> None:
    # aiohttp's pure-Python parser turns undecodable bytes of a path into lone surrogates,
    # which orjson refuses: that line is written escaped, and the lines around it as well
    written = io.StringIO()
    monkeypatch.setattr(WRITER, "stream", written)
    WRITER.write("before")
    WRITER.write((0.0, "aiohttp.access", "GET", "/a\udcffb", 400, 0.001, None, "127.0.0.1"))
    WRITER.write("after")
    WRITER.flush()
    before, access, after = written.getvalue().splitlines()
    assert (before, after) == ("before", "after")
    assert json.loads(access)["path"] == "/a\\udcffb"
    WRITER.write("next")
    WRITER.flush()
    assert written.getvalue().splitlines()[-1] == "next"


def test_a_line_logged_while_lines_are_written_is_written_once() -> None:
    # a finalizer run by the garbage collector during a flush may log: its flush must not
    # write the lines the outer flush is writing (nor lose its own)
    writer = LineWriter()

    class Stream(io.StringIO):
        nested = False

        def write(self, text: str) -> int:
            if not self.nested:
                self.nested = True
                writer.write("inner")  # no running loop: write() flushes at once
            return super().write(text)

    stream = Stream()
    writer.stream = stream
    writer._lines.extend(["a", "b"])
    writer.flush()
    assert stream.getvalue().splitlines() == ["a", "b", "inner"]


def test_access_lines_keep_their_own_millisecond_and_duration(monkeypatch) -> None:
    # the timestamp text is made once per millisecond and shared by the lines of that one
    written = io.StringIO()
    monkeypatch.setattr(WRITER, "stream", written)
    for created, seconds in ((86400.0015, 0.0123456), (86400.0019, 0.5), (86400.0021, 0.00004)):
        WRITER.write((created, "aiohttp.access", "GET", "/x", 200, seconds, "HIT", "::1"))
    WRITER.flush()
    entries = [json.loads(line) for line in written.getvalue().splitlines()]
    assert [(e["ts"], e["ms"]) for e in entries] == [
        ("1970-01-02T00:00:00.001Z", 12.35),
        ("1970-01-02T00:00:00.001Z", 500.0),
        ("1970-01-02T00:00:00.002Z", 0.04),
    ]
    assert entries[0] == {
        "ts": "1970-01-02T00:00:00.001Z",
        "level": "info",
        "logger": "aiohttp.access",
        "msg": "request",
        "method": "GET",
        "path": "/x",
        "status": 200,
        "ms": 12.35,
        "cache": "HIT",
        "remote": "::1",
    }

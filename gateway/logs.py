"""Structured logging: one JSON object per line on stderr, access logs included.

Lines are written once per turn of the event loop (a burst of requests costs one write, not
one per request), in the order they were logged: application records and access lines go
through the same writer. Outside a running loop, and at exit, a line is written at once.
An access line is kept as its values and formatted with the others of its turn, in one loop:
formatting it in the middle of each request cost about twice as much (make bench, cache hit).
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any, TextIO

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


@functools.lru_cache(maxsize=2)
def _second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _millisecond(ms: int) -> str:
    """The timestamp of a line, to the millisecond (unix time in ms)."""
    return f"{_second(ms // 1000)}.{ms % 1000:03d}Z"


def _timestamp(created: float) -> str:
    return _millisecond(int(created * 1000))


def line(created: float, level: str, logger: str, msg: str, fields: Mapping[str, Any]) -> str:
    """One log line: time, level, logger and message, then the fields, as compact JSON."""
    entry = {
        "ts": _timestamp(created),
        "level": level,
        "logger": logger,
        "msg": msg,
        **fields,
    }
    return orjson.dumps(entry, default=str).decode()


# an access line's values: time, logger, method, path, status, seconds taken, X-Cache, address
Access = tuple[float, str, str, str, int, float, "str | None", "str | None"]


def _escaped(value: object) -> object:
    """A text orjson refuses (a path with lone surrogates, which aiohttp's pure-Python parser
    makes of undecodable bytes) with those escaped; other values as they are."""
    return value.encode("utf-8", "backslashreplace").decode() if isinstance(value, str) else value


def access_texts(pending: list[str | Access]) -> list[str]:
    """The lines, access lines formatted: in one loop, with the timestamp text made once per
    millisecond (lines logged in one turn of the loop mostly share it). Formatting an access
    line cost 18,600 instructions, 6,400 of them for its timestamp and 3,000 for round()."""
    texts: list[str] = []
    last, timestamp = -1, ""
    dumps = orjson.dumps
    for x in pending:
        if isinstance(x, str):
            texts.append(x)
            continue
        created, logger, method, path, status, seconds, cache, remote = x
        ms = int(created * 1000)
        if ms != last:
            last, timestamp = ms, _millisecond(ms)
        entry = {
            "ts": timestamp,
            "level": "info",
            "logger": logger,
            "msg": "request",
            "method": method,
            "path": path,
            "status": status,
            "ms": int(seconds * 100_000 + 0.5) / 100,  # round(x, 2) converts through text
            "cache": cache,
            "remote": remote,
        }
        try:
            texts.append(dumps(entry).decode())
        except (TypeError, ValueError):  # escaped, not lost
            texts.append(dumps({k: _escaped(v) for k, v in entry.items()}).decode())
    return texts


class LineWriter:
    """Collects lines and writes them in one go, soon after, from the event loop."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream
        self._lines: list[str | Access] = []  # access lines as their values
        self._scheduled: asyncio.AbstractEventLoop | None = None  # the loop that will flush
        # reentrant: a finalizer run by the garbage collector inside write() may log too
        self._lock = threading.RLock()
        self._flushing = False  # a flush is under way in the thread holding the lock

    def write(self, line: str | Access, running: asyncio.AbstractEventLoop | None = None) -> None:
        """Write the line soon, or now outside a running loop. running: the running loop,
        when the caller knows it (finding it costs a getpid() system call on Python 3.11)."""
        loop = running or asyncio._get_running_loop()  # None outside a running loop
        if loop is not None and self._scheduled is loop:
            # this loop's flush is on its way: no lock. flush() never replaces the list, so
            # a line appended while another thread flushes stays for the next flush (or exit)
            self._lines.append(line)
            return
        with self._lock:
            self._lines.append(line)
            if loop is not None and self._scheduled is loop:
                return
            schedule = loop is not None and self._scheduled is None
            if schedule:
                self._scheduled = loop
        if schedule:
            assert loop is not None
            loop.call_soon(self.flush)
        else:  # no loop, or a flush promised by a loop that may never run again
            self.flush()

    def flush(self) -> None:
        with self._lock:
            self._scheduled = None
            if self._flushing:  # a finalizer logging during this thread's flush: that
                return  # flush takes its line (the loop below runs until none is left)
            self._flushing = True
            try:
                while self._lines:
                    pending = self._lines[:]
                    del self._lines[: len(pending)]
                    self._write(pending)
            finally:
                self._flushing = False

    def _write(self, pending: list[str | Access]) -> None:
        text = "\n".join(access_texts(pending))
        stream = self.stream or sys.stderr
        try:
            stream.write(text + "\n")
            stream.flush()
        except (OSError, ValueError):  # stderr closed: nothing left to tell
            pass


WRITER = LineWriter()
atexit.register(WRITER.flush)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = dict(getattr(record, "fields", {}))
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return line(
            record.created, record.levelname.lower(), record.name, record.getMessage(), fields
        )


class JsonHandler(logging.Handler):
    def __init__(self, writer: LineWriter = WRITER) -> None:
        super().__init__()
        self.writer = writer
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.writer.write(self.format(record))
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup(level: str) -> None:
    root = logging.getLogger()
    root.handlers[:] = [JsonHandler()]
    root.setLevel(level)


class AccessLogger(AbstractAccessLogger):
    """One line per request, at INFO of the `aiohttp.access` logger, written straight to the
    line writer (a logging record per request costs more than the request). The query string
    is left out (it may carry tokens), and so is the API token of owner page URLs."""

    writer = WRITER

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        info = request.match_info
        token = info.get("token") if info else None
        if token:  # owner pages carry the API token in the URL: never log it
            path = path.replace(token, "***")
        cache = response.headers.get("X-Cache")
        name = self.logger.name
        task = request.task  # runs on the loop this is called from
        self.writer.write(
            (_now(), name, request.method, path, response.status, time, cache, request.remote),
            task.get_loop() if task is not None else None,
        )


_now = time.time

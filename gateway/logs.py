"""Structured logging: one JSON object per line, access logs included."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def setup(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class AccessLogger(AbstractAccessLogger):
    """One line per request; the query string is left out (it may carry tokens)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.path
        token = request.match_info.get("token") if request.match_info else None
        if token:  # owner pages carry the API token in the URL: never log it
            path = path.replace(token, "***")
        self.logger.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": path,
                    "status": response.status,
                    "ms": round(time * 1000, 2),
                    "cache": response.headers.get("X-Cache"),
                    "remote": request.remote,
                }
            },
        )

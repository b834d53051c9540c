"""Request bodies: the one way a JSON object is read from a request."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import ApiError


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; 400 when it is not JSON, not valid or not an object."""
    if request.content_type != "application/json":
        raise ApiError(400, "the body must be JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body

"""GET /openapi.json and GET /docs (Swagger UI from an installed package, nothing from a CDN)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
from aiohttp import web

from gateway.config import ROOT
from gateway.keys import CATALOGUE, ROUTES_KEY
from gateway.openapi import document

STATIC = Path(__file__).parent / "static"
TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(ROOT / "templates"), autoescape=True, auto_reload=False
)


def swagger_ui_folder() -> Path:
    """The Swagger UI 5 files shipped by flask-swagger-ui (its Python code is never imported)."""
    spec = importlib.util.find_spec("flask_swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("flask-swagger-ui is not installed")
    return Path(spec.submodule_search_locations[0]) / "dist"


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[ROUTES_KEY], request.app[CATALOGUE]))


# Swagger UI fetches /openapi.json and draws a few icons as data: URLs; nothing else.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
        " img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self';"
        " frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def docs_page(request: web.Request) -> web.Response:
    html = TEMPLATES.get_template("docs.html").render(title="analytics-gateway")
    return web.Response(text=html, content_type="text/html", headers=DOCS_HEADERS)


def setup(app: web.Application) -> None:
    app.router.add_get("/docs", docs_page)
    app.router.add_static("/docs/assets", swagger_ui_folder())
    app.router.add_static("/docs/static", STATIC)

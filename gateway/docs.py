"""GET /openapi.json and GET /docs (Swagger UI from an installed package, nothing from a CDN)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import jinja2
from aiohttp import web

from gateway.config import ROOT
from gateway.errors import Handler
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


def asset_handler(files: dict[str, Path]) -> Handler:
    async def asset(request: web.Request) -> web.StreamResponse:
        path = files.get(request.match_info["name"])
        if path is None:
            raise web.HTTPNotFound()
        # no-cache: the browser revalidates (Last-Modified, 304) instead of keeping old files
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        return web.FileResponse(path, headers=headers)

    return asset


def files_in(folder: Path) -> dict[str, Path]:
    """The files under a folder by their path in it: all that may be served from there
    (found at start; symbolic links and hidden files left out, as add_static did)."""
    return {
        path.relative_to(folder).as_posix(): path
        for path in folder.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    }


def routes() -> list[tuple[str, Handler]]:
    """GET routes: the page, and the files of Swagger UI and of gateway/static."""
    return [
        ("/docs", docs_page),
        ("/docs/assets/{name:.+}", asset_handler(files_in(swagger_ui_folder()))),
        ("/docs/static/{name:.+}", asset_handler(files_in(STATIC))),
    ]

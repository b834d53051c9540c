"""HTML pages: the home page and the owners' traffic pages, charted by a local plotly.js.

Each page renders the JSON of one api call made through `calls.run`, so it is cached exactly
like the JSON route it mirrors. Chart data travels in `application/json` blocks that
/assets/charts.js draws: the Content-Security-Policy allows no inline script.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
from aiohttp import web

from gateway import calls
from gateway.docs import STATIC, TEMPLATES, asset_handler
from gateway.errors import CONNECTION_ERRORS, ApiError, Handler, from_database, unavailable
from gateway.routes import Route

# plotly.js injects <style> elements, hence 'unsafe-inline' styles; it needs no data: images
# (those serve maps and the PNG export, not used here): tests/test_browser.py checks both
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
DATES = {"start": "date_from", "end": "date_to"}  # the owner pages' query fields
PERIOD = tuple(DATES)
OWNER_REPOS = Route("GET", "/users/{token}/repos", "owner_traffic_page", "", args=DATES)
OWNER_REPO = Route("GET", "/users/{token}/repos/{repo_id}", "owner_traffic_page", "", args=DATES)
TRAFFIC = {"views": "Views", "uniques": "Unique visitors", "clones": "Clones"}
FETCH_PROBLEMS = {
    403: "the token lacks push access to this repository",
    404: "the repository is gone or private",
}
ASSETS = ("charts.js", "pages.css", "favicon.svg")  # in gateway/static
View = Callable[[Any, web.Request], dict[str, Any]]


def plotly_js() -> Path:
    """plotly.min.js as the plotly package ships it (its Python code is never imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("plotly is not installed")
    return Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"


def render(
    template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> web.Response:
    html = TEMPLATES.get_template(template).render(**context)
    all_headers = {**HEADERS, **(headers or {})}
    return web.Response(text=html, status=status, content_type="text/html", headers=all_headers)


def in_page_words(error: ApiError, request: web.Request, route: Route) -> ApiError:
    """An argument error as the page's user sees it: a bad path is a missing page, a bad
    date names the page's own field."""
    if error.status == 400 and error.details in request.match_info:
        return ApiError(404, "page not found")
    field = error.details if error.details in route.args else None
    if error.status == 400 and field:
        value = request.query.get(field, "")
        return ApiError(400, f"{field} must be a date written YYYY-MM-DD, not '{value}'")
    return error


def page(template: str, route: Route, view: View, fields: tuple[str, ...] = ()) -> Handler:
    """A handler rendering `template` from the route's call with the query `fields` (others
    are ignored, an empty one means not given); errors become HTML pages."""

    async def handle(request: web.Request) -> web.Response:
        kept = [(k, v) for k, v in request.query.items() if k in fields and v.strip()]
        call = request.clone(rel_url=request.rel_url.with_query(kept))
        try:
            result, cache = await calls.run(call, route)
        except ApiError as error:
            return error_page(in_page_words(error, call, route))
        except asyncpg.PostgresError as error:
            return error_page(from_database(error))
        except CONNECTION_ERRORS:
            return error_page(unavailable())
        context = view(json.loads(result.body), call)
        return render(template, headers={"X-Cache": cache}, **context)

    return handle


def error_page(error: ApiError) -> web.Response:
    headers = {k: v for k, v in error.headers.items() if k == "Retry-After"}
    title = f"{error.status} {reason(error.status)}"
    return render("error.html", error.status, headers, title=title, message=error.message)


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a PTnnn status HTTP does not name
        return "Error"


def moment(text: str | None) -> str | None:
    """A JSON timestamp as '2026-01-31 08:15 UTC'."""
    return None if text is None else dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M %Z")


def chart(x: list[str], series: dict[str, list[int]], kind: str) -> dict[str, Any]:
    """What charts.js draws: one x axis, named series of y values."""
    return {"kind": kind, "x": x, "series": [{"name": n, "y": y} for n, y in series.items()]}


def repo_view(repo: dict[str, Any]) -> dict[str, Any]:
    days = repo["traffic"]
    fetch = repo["fetch"]
    status = fetch["error_status"]
    return {
        **repo,
        "name": repo["url"].removeprefix("https://github.com/"),
        "created_at": repo["created_at"][:10],
        "fetched_at": moment(fetch["fetched_at"]),
        "error_at": moment(fetch["error_at"]),
        "problem": FETCH_PROBLEMS.get(status, fetch["error"]) if status else None,
        "chart": chart(
            [d["date"] for d in days],
            {label: [d[k] for d in days] for k, label in TRAFFIC.items()},
            "lines",
        ),
    }


def owner_view(data: dict[str, Any], request: web.Request) -> dict[str, Any]:
    period = {k: request.query[k] for k in PERIOD if k in request.query}
    return {
        "token": request.match_info["token"],
        "repos": [repo_view(r) for r in data["repos"]],
        "start": period.get("start", ""),
        "end": period.get("end", ""),
        "period": "?" + urlencode(period) if period else "",
    }


def home_view(months: list[dict[str, Any]], request: web.Request) -> dict[str, Any]:
    counts = {m["month"]: m["registrations"] for m in months}
    return {
        "months": months,
        "total": sum(counts.values()),
        "chart": chart(list(counts), {"New users": list(counts.values())}, "bars"),
    }


def routes(table: tuple[Route, ...]) -> list[tuple[str, Handler]]:
    """GET routes: the pages (drawn from the routes of `table`) and their assets."""
    registrations = next(r for r in table if r.path == "/stats/registrations")
    files = {name: STATIC / name for name in ASSETS}
    files["plotly.min.js"] = plotly_js()
    return [
        ("/", page("home.html", registrations, home_view)),
        (OWNER_REPOS.path, page("owner_repos.html", OWNER_REPOS, owner_view, PERIOD)),
        (OWNER_REPO.path, page("owner_repo.html", OWNER_REPO, owner_view, PERIOD)),
        ("/assets/{name}", asset_handler(files)),
    ]

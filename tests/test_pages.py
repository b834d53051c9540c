"""The HTML pages: home, an owner's repositories, one repository (gateway/pages.py)."""

from __future__ import annotations

import json
import re
import uuid
from html.parser import HTMLParser

import asyncpg
import pytest

DOMAIN = "pages.example"  # the owners these tests sign up


class Page(HTMLParser):
    """The tables (by id: rows of cell texts) and JSON blocks (by id) of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.json: dict[str, object] = {}
        self.scripts: list[str] = []
        self._table: str | None = None
        self._section = ""
        self._cell: list[str] | None = None
        self._json: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag in ("thead", "tbody"):
            self._section = tag
        elif tag == "tr" and self._table and self._section == "tbody":
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table and self._section == "tbody":
            self._cell = []
        elif tag == "script" and found.get("type") == "application/json":
            self._json = found["id"]
            self.json[self._json] = ""
        elif tag == "script":
            self.scripts.append(found.get("src") or "inline")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "script" and self._json:
            self.json[self._json] = json.loads(str(self.json[self._json]))
            self._json = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._json:
            self.json[self._json] = str(self.json[self._json]) + data


@pytest.fixture(autouse=True)
async def remove_owners(db: asyncpg.Connection):
    """Other tests (the collector's) see every stored repository: leave none behind."""
    yield
    await db.execute("delete from data.accounts where email like $1", f"%@{DOMAIN}")


async def signup(client) -> str:
    response = await client.post(
        "/api/users/create", json={"email": f"{uuid.uuid4().hex[:12]}@{DOMAIN}"}
    )
    assert response.status == 200, await response.text()
    return (await response.json())["token"]


async def add_repo(db: asyncpg.Connection, token: str, name: str | None = None) -> str:
    owner = await db.fetchval("select api.owner_by_page_token($1)", token)
    url = f"https://github.com/owner-{uuid.uuid4().hex[:8]}/{name or 'repo'}"
    return await db.fetchval("select id from api.repo_create($1, $2)", owner, url)


async def store(
    db: asyncpg.Connection,
    repo: str,
    days: dict[str, tuple[int, int, int, int]],
    referrers: list[dict] | None = None,
    paths: list[dict] | None = None,
    as_of: str = "2026-01-15",
) -> None:
    """One collector fetch: (views, uniques, clones, clone_uniques) per day, as GitHub sends."""

    def github(kind: str, count: int) -> str:
        items = [
            {"timestamp": f"{d}T00:00:00Z", "count": v[count], "uniques": v[count + 1]}
            for d, v in days.items()
        ]
        return json.dumps({kind: items})

    await db.execute(
        "select api.traffic_store((select repo_id from data.owner_repos where id = $1::text::bigint),"
        " $2::text::date, $3::jsonb, $4::jsonb, $5::jsonb, $6::jsonb)",
        repo,
        as_of,
        github("views", 0),
        github("clones", 2),
        json.dumps(referrers or []),
        json.dumps(paths or []),
    )


DAYS = {
    "2026-01-01": (10, 4, 2, 1),
    "2026-01-02": (7, 3, 0, 0),
    "2026-01-03": (0, 0, 5, 2),
    "2026-01-05": (21, 9, 1, 1),
}


def rows_of(days: dict[str, tuple[int, int, int, int]]) -> list[list[str]]:
    """The traffic table's rows: newest first, the day then its four numbers."""
    return [[d, *(str(n) for n in v)] for d, v in sorted(days.items(), reverse=True)]


def assert_html_page(response, status: int = 200) -> None:
    assert response.status == status
    assert response.content_type == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "unsafe-eval" not in csp and "http" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_repository_page_tables_and_chart_data(client, db) -> None:
    token = await signup(client)
    repo = await add_repo(db, token, "charted")
    await store(db, repo, DAYS)
    response = await client.get(f"/users/{token}/repos/{repo}")
    assert_html_page(response)
    page = Page(await response.text())
    assert page.tables[f"traffic-{repo}-table"] == rows_of(DAYS)
    chart = page.json[f"traffic-{repo}-data"]
    assert chart["x"] == list(DAYS)  # oldest first, dates on the axis
    assert [s["name"] for s in chart["series"]] == ["Views", "Unique visitors", "Clones"]
    assert chart["series"][0]["y"] == [v[0] for v in DAYS.values()]
    assert chart["series"][2]["y"] == [v[2] for v in DAYS.values()]
    # no inline script: only the gateway's own files
    assert page.scripts == ["/assets/plotly.min.js", "/assets/charts.js"]


async def test_owner_page_lists_every_repository(client, db) -> None:
    token = await signup(client)
    first = await add_repo(db, token, "first")
    second = await add_repo(db, token, "second")
    await store(db, first, DAYS)
    await store(db, second, {"2026-01-04": (1, 1, 0, 0)})
    response = await client.get(f"/users/{token}/repos")
    assert_html_page(response)
    html = await response.text()
    page = Page(html)
    assert page.tables[f"traffic-{first}-table"] == rows_of(DAYS)
    assert page.tables[f"traffic-{second}-table"] == [["2026-01-04", "1", "1", "0", "0"]]
    assert set(page.json) == {f"traffic-{first}-data", f"traffic-{second}-data"}
    assert f'href="/users/{token}/repos/{first}"' in html


async def test_date_filters_are_inclusive_and_either_bound(client, db) -> None:
    token = await signup(client)
    repo = await add_repo(db, token)
    await store(db, repo, DAYS)
    cases = [
        ({"start": "2026-01-02", "end": "2026-01-03"}, ["2026-01-02", "2026-01-03"]),
        ({"start": "2026-01-03"}, ["2026-01-03", "2026-01-05"]),
        ({"end": "2026-01-02"}, ["2026-01-01", "2026-01-02"]),
        ({"start": "2026-01-05", "end": "2026-01-05"}, ["2026-01-05"]),
        ({"start": "", "end": ""}, list(DAYS)),  # the form's empty fields: no bound
        ({}, list(DAYS)),
    ]
    for path in (f"/users/{token}/repos/{repo}", f"/users/{token}/repos"):
        for params, days in cases:
            response = await client.get(path, params=params)
            assert_html_page(response)
            page = Page(await response.text())
            expected = rows_of({d: DAYS[d] for d in days})
            assert page.tables[f"traffic-{repo}-table"] == expected, (path, params)
            assert page.json[f"traffic-{repo}-data"]["x"] == days
    # a period without traffic says so
    response = await client.get(f"/users/{token}/repos/{repo}", params={"start": "2027-01-01"})
    assert "No traffic stored in this period." in await response.text()


async def test_malformed_dates_get_a_400_page(client, db) -> None:
    token = await signup(client)
    repo = await add_repo(db, token)
    for params, words in [
        (
            {"start": "2026-13-01"},
            "start must be a date written YYYY-MM-DD, not &#39;2026-13-01&#39;",
        ),
        ({"end": "yesterday"}, "end must be a date written YYYY-MM-DD"),
        ({"start": "2026-02-30"}, "start must be a date"),
        ({"start": "2026-01-05", "end": "2026-01-01"}, "start is later than end"),
    ]:
        for path in (f"/users/{token}/repos/{repo}", f"/users/{token}/repos"):
            response = await client.get(path, params=params)
            assert_html_page(response, 400)
            html = await response.text()
            assert "<h1>400 Bad Request</h1>" in html
            assert words in html, (params, html)


async def test_unknown_token_or_another_owners_repository_is_404(client, db) -> None:
    token = await signup(client)
    other = await signup(client)
    mine = await add_repo(db, token)
    theirs = await add_repo(db, other)
    for path in [
        f"/users/{'0' * 32}/repos",
        f"/users/{'0' * 32}/repos/{mine}",
        f"/users/{token}/repos/{theirs}",  # exists, but not this owner's
        f"/users/{token}/repos/999999999",
        f"/users/{token}/repos/not-a-number",
        f"/users/{token}/repos/99999999999999999999999",  # over bigint
    ]:
        response = await client.get(path)
        assert_html_page(response, 404)
        assert "<h1>404 Not Found</h1>" in await response.text(), path
    # with a period too: another owner's repository is missing, whatever the dates
    response = await client.get(f"/users/{other}/repos/{mine}", params={"start": "2026-01-01"})
    assert response.status == 404


async def test_empty_states_say_so(client, db) -> None:
    token = await signup(client)
    response = await client.get(f"/users/{token}/repos")
    assert_html_page(response)
    html = await response.text()
    assert "You track no repositories yet." in html
    assert "/assets/plotly.min.js" not in html
    repo = await add_repo(db, token)
    html = await (await client.get(f"/users/{token}/repos/{repo}")).text()
    assert "No traffic stored yet" in html
    assert "not fetched yet" in html
    assert "GitHub has reported no referrers or paths yet." in html
    assert f"traffic-{repo}-data" not in html


async def test_popular_items_are_marked_as_14_day_aggregates(client, db) -> None:
    token = await signup(client)
    repo = await add_repo(db, token)
    referrers = [
        {"referrer": "news.ycombinator.com", "count": 40, "uniques": 30},
        {"referrer": "<script>alert(1)</script>", "count": 2, "uniques": 1},
    ]
    paths = [{"path": "/o/n/blob/main/README.md", "title": "README", "count": 12, "uniques": 8}]
    await store(db, repo, DAYS, referrers, paths, as_of="2026-01-06")
    html = await (await client.get(f"/users/{token}/repos/{repo}")).text()
    page = Page(html)
    assert "14-day aggregates</strong> as of 2026-01-06, not per-day values" in html
    assert page.tables[f"referrers-{repo}-table"] == [
        ["news.ycombinator.com", "40", "30"],
        ["<script>alert(1)</script>", "2", "1"],
    ]
    assert page.tables[f"paths-{repo}-table"] == [["/o/n/blob/main/README.md README", "12", "8"]]
    assert "<script>alert" not in html  # escaped, not executed
    assert "last fetched" in html


async def test_fetch_failures_are_shown(client, db) -> None:
    token = await signup(client)
    forbidden = await add_repo(db, token, "forbidden")
    gone = await add_repo(db, token, "gone")
    for repo, status in [(forbidden, 403), (gone, 404)]:
        await db.execute(
            "select api.traffic_fetch_failed((select repo_id from data.owner_repos"
            " where id = $1::text::bigint), $2, 'from GitHub')",
            repo,
            status,
        )
    html = await (await client.get(f"/users/{token}/repos")).text()
    assert "GitHub answered 403, the token lacks push access to this repository." in html
    assert "GitHub answered 404, the repository is gone or private." in html


async def test_owner_page_is_cached_and_fresh_after_a_write(client, db) -> None:
    token = await signup(client)
    repo = await add_repo(db, token)
    await store(db, repo, {"2026-01-01": (1, 1, 1, 1)})
    path = f"/users/{token}/repos/{repo}"
    assert (await client.get(path)).headers["X-Cache"] == "MISS"
    assert (await client.get(path)).headers["X-Cache"] == "HIT"
    await store(db, repo, {"2026-01-01": (5, 1, 1, 1)})  # as psql or the collector would
    response = await client.get(path)
    assert Page(await response.text()).tables[f"traffic-{repo}-table"][0][1] == "5"


async def test_home_page_uses_the_registrations_call(client, db) -> None:
    await db.execute(
        "insert into data.users (name, created_at) values"
        " ('a', now() - interval '40 days'), ('b', now() - interval '100 days')"
    )
    api = await client.get("/stats/registrations")
    months = await api.json()
    assert api.headers["X-Cache"] == "MISS"
    response = await client.get("/", params={"utm_source": "ignored"})
    assert_html_page(response)
    assert response.headers["X-Cache"] == "HIT"  # the same cache entry as the JSON route
    html = await response.text()
    page = Page(html)
    rows = page.tables["registrations-table"]
    assert rows == [[m["month"], str(m["registrations"])] for m in months]
    assert len(rows) == 12 and sum(int(r[1]) for r in rows) == 2
    chart = page.json["registrations-data"]
    assert chart["x"] == [m["month"] for m in months]
    assert chart["series"][0]["y"] == [m["registrations"] for m in months]
    assert 'href="/docs"' in html
    assert re.search(r"/users/<var>[^<]+</var>/repos", html)


async def test_assets_are_served_locally(client) -> None:
    plotly = await client.get("/assets/plotly.min.js")
    assert plotly.status == 200
    assert plotly.content_type in ("text/javascript", "application/javascript")
    assert plotly.headers["X-Content-Type-Options"] == "nosniff"
    assert len(await plotly.read()) > 1_000_000
    charts = await client.get("/assets/charts.js")
    assert charts.status == 200 and "Plotly.newPlot" in await charts.text()
    assert (await client.get("/assets/pages.css")).content_type == "text/css"
    assert (await client.get("/assets/favicon.svg")).status == 200
    assert (await client.get("/assets/nothing.js")).status == 404
    assert (await client.get("/assets/..%2Fpages.py")).status == 404

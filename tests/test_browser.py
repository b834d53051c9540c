"""The pages in a real browser: Debian's Chromium driven by Playwright against the gateway.

Skipped with a message when Playwright or Chromium is missing, except in CI (env CI set),
where that is a failure. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gateway.app import init_app
from tests.test_pages import (
    DAYS,
    add_repo,
    remove_owners,  # noqa: F401 - autouse: applies here too
    signup,
    store,
)

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


def missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).exists():
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
    return None


@pytest.fixture
async def browser():
    problem = missing()
    if problem and os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium in CI: {problem}")
    if problem:
        pytest.skip(problem)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and requested URLs are recorded."""

    def __init__(self, page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.urls: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.urls.append(r.url))

    async def start(self) -> None:
        # Chromium logs CSP refusals as console errors; this names the directive as well
        await self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )

    async def open(self, url: str) -> None:
        response = await self.page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url

    async def points(self, chart: str) -> list[int]:
        """How many points each trace of a drawn chart holds."""
        await self.page.wait_for_selector(f"#{chart} .main-svg")
        return await self.page.evaluate(
            "id => document.getElementById(id).data.map(t => t.x.length)", chart
        )

    async def buttons(self) -> list[str]:
        """The titles of the charts' mode bar buttons."""
        return await self.page.evaluate(
            "[...document.querySelectorAll('.modebar-btn')].map(b => b.dataset.title)"
        )

    async def hover(self, chart: str) -> str:
        """Hover the middle of the first trace's second point; the hover label's text."""
        point = self.page.locator(f"#{chart} .scatterlayer .trace").first.locator(".point")
        box = await point.nth(1).bounding_box()
        assert box is not None
        await self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        label = self.page.locator(f"#{chart} .hoverlayer .legend")
        await label.wait_for(state="visible", timeout=5000)
        return await label.evaluate(
            "g => [...g.querySelectorAll('text')].map(t => t.textContent).join(' | ')"
        )

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        await self.page.screenshot(path=ARTIFACTS / name, full_page=True)

    def assert_clean(self) -> None:
        assert self.errors == [], self.errors
        outside = [u for u in self.urls if urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
        assert outside == [], outside


@pytest.fixture
async def gateway(aiohttp_server, aiohttp_client, config, db):
    """The real gateway on 127.0.0.1, and an owner with two repositories of traffic."""
    server = await aiohttp_server(init_app(config))
    await db.execute(
        "insert into data.users (name, created_at) select 'u' || i, now() - i * interval '9 days'"
        " from generate_series(1, 30) i"
    )
    token = await signup(await aiohttp_client(server))
    first = await add_repo(db, token, "first")
    second = await add_repo(db, token, "second")
    await store(
        db,
        first,
        DAYS,
        [{"referrer": "github.com", "count": 9, "uniques": 4}],
        [{"path": "/o/first", "title": "first", "count": 20, "uniques": 6}],
    )
    await store(db, second, {"2026-01-04": (3, 2, 1, 1), "2026-01-05": (6, 2, 0, 0)})
    return f"http://127.0.0.1:{server.port}", token, first, second


async def test_pages_draw_their_charts_in_chromium(browser, gateway):
    base, token, first, second = gateway
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    tab = Watched(await context.new_page())
    await tab.start()

    await tab.open(f"{base}/")
    assert await tab.points("registrations") == [12]
    buttons = await tab.buttons()
    assert "Zoom" in buttons and not [b for b in buttons if "Share" in b]  # no upload to a cloud
    await tab.screenshot("home.png")

    await tab.open(f"{base}/users/{token}/repos")
    assert await tab.points(f"traffic-{first}") == [len(DAYS)] * 3
    assert await tab.points(f"traffic-{second}") == [2] * 3
    await tab.screenshot("owner_repos.png")

    await tab.open(f"{base}/users/{token}/repos/{first}")
    assert await tab.points(f"traffic-{first}") == [len(DAYS)] * 3
    day = list(DAYS)[1]  # the hovered point: a day's values, under its date
    views, uniques, clones, _ = DAYS[day]
    weekday = dt.date.fromisoformat(day).strftime("%a")
    assert await tab.hover(f"traffic-{first}") == (
        f"{weekday} {day} | Views : {views} | Unique visitors : {uniques} | Clones : {clones}"
    )
    await tab.screenshot("owner_repo.png")

    tab.assert_clean()
    await context.close()


async def test_pages_are_readable_without_javascript(browser, gateway):
    base, token, first, _ = gateway
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{base}/users/{token}/repos/{first}")
    assert await page.locator(f"#traffic-{first}").is_hidden()  # no empty chart box
    table = page.locator(f"#traffic-{first}-table")
    assert await table.is_visible()
    assert await table.locator("tbody tr").count() == len(DAYS)
    await context.close()

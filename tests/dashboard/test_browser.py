"""The dashboard in a real browser: headless Chromium (Debian's, installed by .ci/run) driven by Playwright.

Asserts what a person sees: the same tasks and statuses as `/任务 列表 全部`, the Gantt's bars drawn, the
filters working without JavaScript. Screenshots go to artifacts/screenshots/ (ignored by git, kept by CI).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chat import ConsoleChat
from tests.dashboard.conftest import link_in, make_project

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
# Debian's Chromium as root in a closed network (see .ci/run): no sandbox, no background connections.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

if CHROMIUM is None and os.environ.get("CI"):
    raise RuntimeError("CI needs Debian's chromium for the dashboard tests (.ci/run installs it)")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (apt-get install chromium)")

_LINE = re.compile(r"#(\d+) \S+?(待开始|进行中|已完成|阻塞|已取消)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def _page(browser: object, url: str, shot: str) -> object:
    page = browser.new_page(viewport={"width": 390, "height": 844}, java_script_enabled=False)  # type: ignore[attr-defined]
    response = page.goto(url)
    page.wait_for_load_state("networkidle")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{shot}.png"), full_page=True)
    page.response_status = response.status
    return page


def test_the_dashboard_shows_the_tasks_and_statuses_of_the_chat_list(
    chat: ConsoleChat, http: httpx.Client, browser: object
) -> None:
    make_project(chat)
    listed = {int(n): status for n, status in _LINE.findall(chat.say("/任务 列表 全部"))}
    assert len(listed) == 3
    page = _page(browser, link_in(chat.say("/看板")), "dashboard-phone")
    assert page.response_status == 200  # type: ignore[attr-defined]
    rows = page.locator("#tasks tr.task-row")  # type: ignore[attr-defined]
    seen = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        seen[int(cells.nth(0).inner_text().lstrip("#"))] = cells.nth(2).locator(".st").inner_text()
    assert seen == listed
    bars = page.locator("#gantt .g-row")  # type: ignore[attr-defined]
    assert bars.count() == len(listed)
    for i in range(bars.count()):  # each task is drawn: a visible bar or milestone with real width
        shape = bars.nth(i).locator(".bar, .milestone").first
        box = shape.bounding_box()
        assert box is not None and box["width"] > 2 and box["height"] > 5
    assert page.locator("#gantt .today").first.is_visible()  # type: ignore[attr-defined]
    for heading in ("概览", "甘特图", "进度跟踪表", "风险", "行动项", "决议", "变更记录"):
        assert page.get_by_role("heading", name=re.compile(heading)).first.is_visible()  # type: ignore[attr-defined]
    assert page.get_by_text("场地可能被占用").is_visible() and page.get_by_text("确认场地合同").is_visible()  # type: ignore[attr-defined]


def test_filters_work_without_javascript(chat: ConsoleChat, http: httpx.Client, browser: object) -> None:
    make_project(chat)
    page = _page(browser, link_in(chat.say("/看板")), "dashboard-before-filter")
    page.select_option("select[name=status]", "blocked")  # type: ignore[attr-defined]
    page.click("form.filters button")  # type: ignore[attr-defined]
    page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    page.screenshot(path=str(SCREENSHOTS / "dashboard-blocked.png"), full_page=True)  # type: ignore[attr-defined]
    rows = page.locator("#tasks tr.task-row")  # type: ignore[attr-defined]
    assert rows.count() == 1 and "写发布稿" in rows.first.inner_text() and "阻塞" in rows.first.inner_text()


def test_a_revoked_link_shows_nothing_in_the_browser(chat: ConsoleChat, http: httpx.Client, browser: object) -> None:
    make_project(chat)
    url = link_in(chat.say("/看板"))
    chat.say("/看板 重置")
    page = _page(browser, url, "dashboard-revoked")
    assert page.response_status == 403  # type: ignore[attr-defined]
    body = page.locator("body").inner_text()  # type: ignore[attr-defined]
    assert "链接无效" in body and "订场地" not in body and "发布会" not in body

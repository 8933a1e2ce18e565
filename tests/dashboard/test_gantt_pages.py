"""The dashboard's Gantt for a big plan is paged (`gantt=N`), each page over the whole plan's time axis,
while the task table still lists every task; the page links keep the filters."""

from __future__ import annotations

import re
from html import unescape

import httpx
from sqlalchemy import Engine, select

from bot.dashboard.routes import GANTT_ROWS
from bot.runtime import Runtime
from models import Project
from tests.chat import ConsoleChat
from tests.dashboard.conftest import link_in, make_project
from tests.plans import add_tasks

ROW = re.compile(r'<div class="g-row" data-task="(\d+)">')
TASK_ROW = re.compile(r'<tr class="task-row" data-task="(\d+)"')


def gantt_rows(html: str) -> list[int]:
    return [int(n) for n in ROW.findall(html)]


def test_a_big_plan_s_gantt_is_paged_and_the_table_stays_whole(
    chat: ConsoleChat, http: httpx.Client, runtime: Runtime, engine: Engine
) -> None:
    make_project(chat)
    with runtime.session_factory() as session:
        project_id = session.scalars(select(Project.id)).one()
    add_tasks(engine, project_id, 2 * GANTT_ROWS + 27)  # 230 tasks: three Gantt pages
    total = 3 + 2 * GANTT_ROWS + 27
    url = link_in(chat.say("/看板"))
    first = http.get(url).text
    assert len(TASK_ROW.findall(first)) == total  # the task table is whole
    pages = [gantt_rows(first)] + [gantt_rows(http.get(f"{url}?gantt={n}").text) for n in (2, 3)]
    assert [len(p) for p in pages] == [GANTT_ROWS, GANTT_ROWS, total - 2 * GANTT_ROWS]
    everyone = [n for page in pages for n in page]
    assert sorted(everyone) == list(range(1, total + 1))  # every task on exactly one page, in WBS order
    assert everyone == [int(n) for n in TASK_ROW.findall(first)]
    assert f"第 1/3 页（第 1–{GANTT_ROWS} 个，共 {total} 个任务）" in first
    links = {unescape(link) for link in re.findall(r'<a href="\?([^"]+)#gantt">', first)}
    assert links == {"gantt=2", "gantt=3"}
    assert gantt_rows(http.get(f"{url}?gantt=99").text) == pages[2]  # past the end: the last page
    assert gantt_rows(http.get(f"{url}?gantt=abc").text) == pages[0]  # nonsense: the first


def test_the_page_links_keep_the_filters(chat: ConsoleChat, http: httpx.Client, runtime: Runtime, engine: Engine) -> None:
    make_project(chat)
    with runtime.session_factory() as session:
        project_id = session.scalars(select(Project.id)).one()
    add_tasks(engine, project_id, GANTT_ROWS + 10)
    url = link_in(chat.say("/看板"))
    html = http.get(f"{url}?status=blocked&gantt=2").text
    assert "第 2/2 页" in html
    links = {unescape(link) for link in re.findall(r'<a href="\?([^"]+)#gantt">', html)}
    assert links == {"status=blocked&gantt=1"}
    assert all(t == "blocked" for t in re.findall(r'<tr class="task-row" data-task="\d+" data-status="(\w+)"', html))


def test_a_small_plan_has_one_gantt_page_and_no_page_links(chat: ConsoleChat, http: httpx.Client) -> None:
    make_project(chat)
    html = http.get(link_in(chat.say("/看板"))).text
    assert gantt_rows(html) == [1, 2, 3] and 'class="g-pages"' not in html

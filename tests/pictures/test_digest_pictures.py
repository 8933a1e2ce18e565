"""The weekly digest carries the Gantt and the progress picture (burn-up, blockers and risks by age)."""

from __future__ import annotations

import io
import warnings

import pytest
from PIL import Image
from sqlalchemy import select

from bot.runtime import Runtime
from models import Project
from reports import burnup, drawings, gantt, pictures
from tests.chat import ConsoleChat
from tests.scheduling import posts, sh


def make_plan(chat: ConsoleChat) -> None:
    at = sh("2026-11-23 10:00")
    for text in (
        "/项目 创建 发布会 截止:2026-12-30",
        "/任务 新增 订场地 开始:2026-11-16 截止:2026-11-25",
        "/任务 新增 写发布稿 开始:2026-11-18 截止:2026-11-26",
        "/任务 新增 彩排 截止:2026-12-10",
        "/任务 新增 旧方案 截止:2026-12-11",
        "/风险 新增 场地可能被占用 等级:高",
    ):
        chat.say(text, at=at)
    chat.say("/完成 #1", at=sh("2026-11-24 11:00"))
    chat.say("/阻塞 #2 等领导", at=sh("2026-11-24 12:00"))
    chat.say("/任务 取消 #4", at=sh("2026-11-24 12:30"))


def test_the_scheduled_weekly_digest_carries_both_pictures(
    chat: ConsoleChat, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_plan(chat)

    def no_drawing_here(*args: object) -> bytes:
        raise AssertionError("a picture was drawn inside the job's transaction")

    with monkeypatch.context() as patch:
        patch.setattr(gantt, "render_page", no_drawing_here)
        patch.setattr(burnup, "render_progress", no_drawing_here)
        runtime.job_runner().run(["digest"], sh("2026-11-27 18:00"))  # a Friday
    weekly = posts(runtime.session_factory, "weekly-digest")
    assert weekly and all("进度跟踪表" in p.text for p in weekly)
    assert all(p.reply.undrawn for p in weekly)  # the rows hold what to draw, not PNGs
    attachments = drawings.draw_reply(weekly[0].reply).attachments  # what the outbox sender draws before the upload
    assert [a.name for a in attachments] == ["gantt.png", "progress.png"]
    for attachment in attachments:
        image = Image.open(io.BytesIO(attachment.data))
        assert image.format == "PNG" and image.size[0] >= 1200


def test_progress_rows_count_planned_and_actual_completions(chat: ConsoleChat, runtime: Runtime) -> None:
    make_plan(chat)
    at = sh("2026-11-27 18:00")
    with runtime.session_factory() as session:
        project = session.scalars(select(Project)).one()
        plan = pictures.project_plan(session, project, at)
        rows = burnup.progress_rows(session, project, at, plan)
        by_day = dict(zip(rows.days, zip(rows.planned, rows.actual, strict=True), strict=True))
        assert rows.scope == 3  # the cancelled task is out of scope
        assert by_day[plan.first] == (0, 0)
        assert by_day[sh("2026-11-25 00:00").date()] == (1, 1)  # #1 due and done
        assert by_day[sh("2026-11-26 00:00").date()] == (2, 1)  # #2 due, blocked
        assert by_day[sh("2026-11-27 00:00").date()][1] == 1
        assert by_day[plan.last][0] == 3 and by_day[plan.last][1] is None  # the future has no actual
        assert [(a.ref, a.kind) for a in rows.aged] == [("R1", "risk-high"), ("#2", "blocked")]
        assert [a.days for a in rows.aged] == [4, 3]
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no missing glyphs
            png = burnup.render_progress(rows)
        assert png.startswith(b"\x89PNG")


def test_the_weekly_command_shows_the_pictures_too(chat: ConsoleChat) -> None:
    make_plan(chat)
    out = chat.say("/周报", at=sh("2026-11-27 18:00"))
    assert "进度跟踪表" in out and "[图片：gantt.png]" in out and "[图片：progress.png]" in out

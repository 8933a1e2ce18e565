"""/甘特图 in a chat: the whole plan or a part of it as pictures; bad input answered with the usage line."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.messages import Reply
from models import OutboundMessage, Project, Task
from reports import drawings, gantt, pictures
from tests.chat import ConsoleChat


def last_reply(chat: ConsoleChat) -> Reply:
    with chat.runtime.session_factory() as session:
        row = session.scalars(select(OutboundMessage).order_by(OutboundMessage.id.desc()).limit(1)).one()
        return Reply.from_payload(row.body)


def setup_plan(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会 截止:2026-12-30")
    chat.say("/部门 添加 市场部")
    chat.say("/部门 添加 行政部")
    chat.say("/成员 添加 @李四 部门:市场部")
    chat.say("/任务 新增 订场地 截止:2026-12-10 部门:行政部")
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-15 依赖:#1")
    chat.say("/任务 新增 审稿 截止:2026-12-16 父:#2")
    chat.say("/任务 新增 彩排 截止:2026-12-20 父:#2")


def test_the_whole_plan_and_its_parts(chat: ConsoleChat, monkeypatch: pytest.MonkeyPatch) -> None:
    setup_plan(chat)

    def no_drawing_here(*args: object) -> bytes:
        raise AssertionError("a picture was drawn inside the dispatcher's transaction")

    with monkeypatch.context() as patch:
        patch.setattr(gantt, "render_page", no_drawing_here)
        out = chat.say("/甘特图")
    assert "共 4 个任务" in out and "[图片：gantt.png]" in out
    reply = last_reply(chat)
    assert reply.undrawn  # the outbox row holds what to draw; the sender draws it after the commit
    assert [a.media_type for a in reply.attachments] == ["image/png"] and not reply.attachments[0].data
    drawn = drawings.draw_reply(reply)
    assert not drawn.undrawn and drawn.attachments[0].data.startswith(b"\x89PNG")
    assert "#2 及其子任务" in chat.say("/甘特图 #2") and "共 3 个任务" in chat.say("gantt #2")
    assert "共 1 个任务" in chat.say("/甘特图 部门:行政部")
    assert "负责人：李四" in (out := chat.say("/甘特图 @李四")) and "共 1 个任务" in out


def test_bad_input_gets_the_usage_line(chat: ConsoleChat) -> None:
    setup_plan(chat)
    assert "没有任务 #9" in chat.say("/甘特图 #9") or "本项目没有任务 #9" in chat.say("/甘特图 #9")
    assert "用法：/甘特图" in chat.say("/甘特图 #1 #2")
    assert "没有部门“财务部”" in chat.say("/甘特图 部门:财务部")
    assert "用法：/甘特图" in chat.say("/甘特图 明天")
    assert not last_reply(chat).attachments


def test_a_group_without_a_project_is_told_how_to_start(chat: ConsoleChat) -> None:
    assert "/项目 创建" in chat.say("/甘特图")


def test_an_empty_plan_says_so_instead_of_drawing_nothing(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会")
    assert "还没有任务" in chat.say("/甘特图") and not last_reply(chat).attachments
    chat.say("/部门 添加 财务部")
    chat.say("/任务 新增 订场地")
    assert "部门：财务部" in chat.say("/甘特图 部门:财务部") and not last_reply(chat).attachments


def test_a_task_flagged_as_a_milestone_is_drawn_as_one(chat: ConsoleChat) -> None:
    setup_plan(chat)
    with chat.runtime.session_factory.begin() as session:
        session.execute(update(Task).where(Task.number == 4).values(is_milestone=True))  # as an imported plan sets it
    with chat.runtime.session_factory() as session:
        project = session.scalars(select(Project)).one()
        plan = pictures.project_plan(session, project, chat.clock())
    assert [t.number for t in plan.tasks if t.milestone] == [4]

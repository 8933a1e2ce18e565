"""The console pipeline end to end: a project, a task, an update, a refusal that changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Change, InboundEvent, InboundStatus, OutboundMessage, Task, TaskStatus
from tests.chat import ConsoleChat


def test_create_project_add_task_and_update(chat: ConsoleChat) -> None:
    assert "已创建项目“新品发布会”" in chat.say("/项目 创建 新品发布会 截止:2026-12-20")
    reply = chat.say("/任务 新增 写发布稿 @李四 截止:周五")
    assert "#1 写发布稿" in reply and "@李四" in reply and "11-27(周五)" in reply
    assert "进行中 60%" in chat.say("#1 进度 60% 初稿好了", name="李四")
    with chat.runtime.session_factory() as session:
        task = session.scalar(select(Task))
        assert task is not None and task.status == TaskStatus.IN_PROGRESS and task.progress == 60
        assert session.scalar(select(func.count()).select_from(Change).where(Change.entity == "task")) == 3


def test_refused_command_changes_nothing_but_is_answered(chat: ConsoleChat) -> None:
    chat.say("/项目 创建 发布会")
    reply = chat.say("/任务 新增 写稿 截止:2026-02-30")
    assert "没有 2026-02-30 这一天" in reply
    with chat.runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 0
        statuses = session.scalars(select(InboundEvent.status)).all()
        assert statuses == [InboundStatus.DONE, InboundStatus.DONE]
        assert session.scalar(select(func.count()).select_from(OutboundMessage)) == 2


def test_redelivered_event_is_processed_once(chat: ConsoleChat) -> None:
    from bot.platforms.console import console_incoming

    chat.say("/项目 创建 发布会")
    incoming = console_incoming("/任务 新增 写稿", chat_id="g1", user_id="王经理", name="王经理", at=chat.clock())
    dispatcher = chat.runtime.dispatcher
    first = dispatcher.accept([incoming])
    second = dispatcher.accept([incoming])
    assert len(first) == 1 and second == []
    assert dispatcher.process(first[0]) is True
    assert dispatcher.process(first[0]) is False
    with chat.runtime.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Task)) == 1

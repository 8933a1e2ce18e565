"""Fixtures for handler tests: a project with departments and members, a second group, DB snapshots."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from sqlalchemy import Engine, event, select

from bot.runtime import Runtime
from models import ActionItem, Change, Decision, Department, Member, Project, Risk, Task, task_dependency
from tests.chat import ConsoleChat, FixedClock

PM = "王经理"


@pytest.fixture
def project(chat: ConsoleChat) -> ConsoleChat:
    """A project in group g1: PM 王经理, departments 研发部/市场部/设计部, members 李四 赵六 (研发部), 张三 (市场部)."""
    assert "已创建项目" in chat.say("/项目 创建 新品发布会 截止:2026-12-31 部门:研发部,市场部,设计部", name=PM)
    assert "已添加" in chat.say("/成员 添加 @李四 @赵六 部门:研发部", name=PM)
    assert "已添加" in chat.say("/成员 添加 @张三 部门:市场部", name=PM)
    for name in ("李四", "赵六", "张三"):  # they speak in the group (becoming known by their own messages)
        chat.say("/帮助", name=name)
    return chat


@pytest.fixture
def other(runtime: Runtime, clock: FixedClock) -> ConsoleChat:
    """A second console group chat on the same database."""
    return ConsoleChat(runtime, clock, chat_id="g2")


Snapshot = dict[str, list[tuple[object, ...]]]


def snapshot(chat: ConsoleChat) -> Snapshot:
    """Every domain row, for “the database is unchanged” assertions (a member's last_seen_at excluded)."""
    with chat.runtime.session_factory() as session:
        data: Snapshot = {}
        for model in (Project, Department, Task, Risk, ActionItem, Decision, Change):
            columns = [c for c in model.__table__.columns]  # type: ignore[attr-defined]
            data[model.__tablename__] = [tuple(r) for r in session.execute(select(*columns).order_by(columns[0]))]
        member_columns = [c for c in Member.__table__.columns if c.name != "last_seen_at"]
        data["member"] = [tuple(r) for r in session.execute(select(*member_columns).order_by(Member.id))]
        data["task_dependency"] = [tuple(r) for r in session.execute(select(task_dependency).order_by(*task_dependency.c))]
        return data


@pytest.fixture
def unchanged() -> Callable[[ConsoleChat], AbstractContextManager[None]]:
    """`with unchanged(chat): chat.say(...)` asserts the domain tables are identical afterwards."""

    @contextmanager
    def check(chat: ConsoleChat) -> Iterator[None]:
        before = snapshot(chat)
        yield
        assert snapshot(chat) == before

    return check


class StatementCounter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.count = 0

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.count += 1


def query(chat: ConsoleChat, fn: Callable[..., object]) -> object:
    with chat.runtime.session_factory() as session:
        return fn(session)

"""The dashboard served by the real app over HTTP, and links got the way a PM gets them (`/看板` in chat)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from bot.app import create_app
from bot.runtime import Runtime
from tests.chat import ConsoleChat
from tests.fakes.server import ServerThread

LINK = re.compile(r"https?://\S+/dashboard/\d+/\S+")


@pytest.fixture
def served(runtime: Runtime) -> Iterator[ServerThread]:
    server = ServerThread(create_app(runtime.settings, runtime=runtime)).start()
    assert runtime.links is not None
    runtime.links.base_url = server.url  # what TANDEM_PUBLIC_URL would say
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(served: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=20) as client:
        yield client


def link_in(reply: str) -> str:
    found = LINK.search(reply)
    assert found, reply
    return found.group(0)


def make_project(chat: ConsoleChat, name: str = "发布会") -> None:
    chat.say(f"/项目 创建 {name} 目标:按时发布 截止:2026-12-30")
    chat.say("/部门 添加 市场部")
    chat.say("/部门 添加 行政部")
    chat.say("/成员 添加 @李四 部门:市场部")
    chat.say("/任务 新增 订场地 开始:2026-11-16 截止:2026-12-10 部门:行政部")
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-12-15 依赖:#1")
    chat.say("/任务 新增 审稿 截止:2026-12-16 父:#2")
    chat.say("/进度 #1 60%")
    chat.say("/阻塞 #2 等领导确认")
    chat.say("/完成 #3")
    chat.say("/风险 新增 场地可能被占用 等级:高")
    chat.say("/行动 新增 确认场地合同 @李四 截止:2026-11-27")
    chat.say("/决议 发布会定在周五下午")

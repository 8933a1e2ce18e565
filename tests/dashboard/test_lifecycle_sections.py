"""The dashboard shows the change requests and the acceptance record (issue 15)."""

from __future__ import annotations

import httpx

from tests.chat import ConsoleChat
from tests.dashboard.conftest import link_in


def test_the_dashboard_lists_change_requests_and_acceptance(chat: ConsoleChat, http: httpx.Client) -> None:
    chat.say("/项目 创建 发布会")
    chat.say("/任务 新增 订场地 @李四 截止:2026-12-10 交付物:场地合同")
    chat.say("/变更 新增 #1 截止:12-14 原因:场地档期冲突", name="李四")
    chat.say("/变更 驳回 C1 原因:不能推迟")
    chat.say("/验收 #1 @钱主管")
    chat.say("/验收 驳回 #1 原因:合同缺盖章", name="钱主管")
    page = http.get(link_in(chat.say("/看板"))).text
    assert "变更申请（1）" in page and "场地档期冲突" in page and "已驳回：不能推迟" in page
    assert "验收记录（1）" in page and "场地合同" in page and "合同缺盖章" in page and "1（已驳回）" in page

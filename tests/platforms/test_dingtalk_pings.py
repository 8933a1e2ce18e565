"""Pings that ping on DingTalk (issue 10): the group API cannot @ anyone, so a scheduled post that
mentions people goes through the group's latest live sessionWebhook with at.atUserIds; without one it
falls back visibly (plain "@名字" in the group, and an operator warning)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.platforms.conftest import Tandem
from tests.platforms.test_metrics import parse

SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_prompt_time() -> datetime:
    """The next 17:00 Shanghai on a workday after now (the project is created now)."""
    from models.calendar import national_calendar

    day = datetime.now(SHANGHAI).date()
    while True:
        day += timedelta(days=1)
        if national_calendar().is_workday(day):
            return datetime.combine(day, time(17, 0), SHANGHAI)


def kickoff(tandem: Tandem, *, session_minutes: float) -> None:
    d = tandem.dingtalk
    pm, _ = d.add_user("staff_pm", "王经理"), d.add_user("staff_li", "李四")
    for i, text in enumerate(("/项目 创建 发布会", "/任务 新增 写发布稿 @李四"), 1):
        assert tandem.dingtalk_say("cidP==", pm, text, session_minutes=session_minutes).status_code == 200
        d.wait_for(i, conversation_id="cidP==")


def test_the_daily_prompt_really_mentions_its_owners_through_a_live_session(tandem: Tandem) -> None:
    kickoff(tandem, session_minutes=90)
    report = tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time())
    assert report.count("posted", "daily-prompt") == 1
    prompt = tandem.dingtalk.wait_for(3, conversation_id="cidP==")[2]
    assert prompt.via == "session" and prompt.at_user_ids == ["staff_li"]  # a real @, not the text "@李四"
    assert prompt.msgtype == "markdown" and "@staff_li" in prompt.text and "发布会" in (prompt.title or "")


def test_without_a_live_session_the_names_go_as_text_and_the_operator_is_told(
    make_tandem: Callable[..., Tandem], caplog: pytest.LogCaptureFixture
) -> None:
    tandem = make_tandem(metrics_enabled=True)
    kickoff(tandem, session_minutes=1)  # every session is gone within the scheduler's margin
    with caplog.at_level(logging.WARNING, logger="bot.platforms.dingtalk.outbound"):
        tandem.runtime.job_runner().run(["daily-prompt"], next_prompt_time())
        prompt = tandem.dingtalk.wait_for(3, conversation_id="cidP==")[2]
        tandem.settle()
    assert prompt.via == "group" and "@李四" in prompt.text and prompt.at_user_ids == []
    assert any("mention(s) sent as plain @name" in r.getMessage() for r in caplog.records)
    samples = parse(tandem.http.get("/metrics").text)[1]
    assert samples["tandem_mentions_as_text_total"][frozenset({("platform", "dingtalk")})] == 1

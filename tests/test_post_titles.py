"""Short, scannable posts (issue 10): the project's name in every scheduled post's title, and the
minutes' footer names the real action ids."""

from __future__ import annotations

from datetime import date

from bot.runtime import Runtime
from tests.chat import ConsoleChat
from tests.scheduling import add_action, add_decision, posts, project_id, sh


def test_every_scheduled_post_names_the_project_in_its_title(chat: ConsoleChat, runtime: Runtime) -> None:
    at = sh("2026-11-16 10:00")
    chat.say("/项目 创建 新品发布会", at=at)
    chat.say("/项目 设置 催办 17:30", at=at)
    chat.say("/任务 新增 写发布稿 @李四 截止:2026-11-20", at=at)
    chat.say("/阻塞 #1 等法务", name="李四", at=sh("2026-11-19 10:00"))
    chat.say("/风险 新增 场地可能被占 等级:高", at=at)
    pid = project_id(runtime.session_factory)
    due = date(2026, 12, 2)
    add_action(runtime.session_factory, project=pid, content="会前的行动", owner="李四", due=due, at=sh("2026-11-27 10:00"))
    add_decision(runtime.session_factory, project=pid, content="发布会延期一周", by="王经理", at=sh("2026-11-30 09:20"))
    add_action(runtime.session_factory, project=pid, content="通知嘉宾", owner="李四", due=due, at=sh("2026-11-30 10:10"))
    runner = runtime.job_runner()
    for kinds, moment in (
        (["daily-prompt"], "2026-11-23 17:00"),
        (["daily-prompt"], "2026-11-23 17:30"),
        (["digest"], "2026-11-23 18:00"),
        (["reminders"], "2026-11-23 10:00"),
        (["weekly-agenda"], "2026-11-27 17:00"),
        (["digest"], "2026-11-27 18:00"),
        (["weekly-agenda"], "2026-11-30 11:00"),
    ):
        runner.run(kinds, sh(moment))
    found = posts(runtime.session_factory)
    jobs = {p.job for p in found}
    assert {"daily-prompt", "nudge", "digest", "weekly-digest", "weekly-agenda", "minutes", "reminders"} <= jobs
    titles = [p.reply.title for p in found]
    assert all(t and "新品发布会" in t for t in titles), titles
    assert any(t and t.startswith("⚠ 升级提醒 · 新品发布会") for t in titles)  # escalations too
    [minutes] = posts(runtime.session_factory, "minutes")
    assert "A2 通知嘉宾" in minutes.text and "A1" not in minutes.text  # A1 was not the meeting's
    assert "请各负责人按期完成（A2），完成后回复：/行动 完成 A2" in minutes.text

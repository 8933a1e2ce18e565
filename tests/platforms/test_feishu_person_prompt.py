"""The merged private prompt on the fake Feishu: sent to the person (`receive_id_type` open_id) as a valid
card whose buttons carry the qualified ids; a button pressed on it and a typed answer in the p2p chat
change the right project's task, and the group's prompt card is refreshed as for a change typed there."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.platforms.feishu import cards
from models import Project, Task, TaskStatus
from tests.fakes.feishu import Posted, card_problem
from tests.platforms.conftest import Tandem
from tests.platforms.test_dingtalk_pings import next_prompt_time


def status(tandem: Tandem, project: str, number: int) -> TaskStatus:
    with tandem.runtime.session_factory() as session:
        return session.scalars(
            select(Task.status).join(Project, Project.id == Task.project_id)
            .where(Project.name == project, Task.number == number)
        ).one()


def two_projects(tandem: Tandem) -> tuple[dict[str, Posted], datetime]:
    """发布会 (oc_g1): 王五 #1 #2, 李四 #3; 官网改版 (oc_g2): 王五 #1. The prompt cards, by chat."""
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    f.add_user("ou_wu", "王五")
    f.add_user("ou_li", "李四")
    said = {"oc_g1": 0, "oc_g2": 0}
    for chat, text in (
        ("oc_g1", "/项目 创建 发布会"), ("oc_g1", "/任务 新增 写发布稿 @王五"), ("oc_g1", "/任务 新增 订场地 @王五"),
        ("oc_g1", "/任务 新增 做海报 @李四"), ("oc_g2", "/项目 创建 官网改版"), ("oc_g2", "/任务 新增 首页设计 @王五"),
    ):
        assert tandem.feishu_say(chat, pm, text).status_code == 200
        said[chat] += 1
        f.wait_for(said[chat], chat_id=chat)
    at = next_prompt_time()
    report = tandem.runtime.job_runner().run(["daily-prompt"], at)
    assert report.count("posted", "person-prompt") == 1 and report.count("posted", "daily-prompt") == 2
    tandem.settle()
    return {chat: f.wait_for(n + 1, chat_id=chat)[n] for chat, n in said.items()}, at


def private_at(tandem: Tandem, sender: str, text: str, at: datetime) -> None:
    """Typed in the sender's p2p chat with the bot, sent at `at` (the prompt's day)."""
    event = tandem.feishu.message_event(f"oc_p2p_{sender}", sender, text, at_bot=False, chat_type="p2p")
    event["event"]["message"]["create_time"] = str(int(at.timestamp() * 1000))
    assert tandem.post_feishu(event).status_code == 200


def test_the_merged_prompt_is_a_private_card_answered_by_button_and_by_typing(tandem: Tandem) -> None:
    f = tandem.feishu
    groups, at = two_projects(tandem)
    [merged] = [p for p in f.posted if p.receive_id_type == "open_id"]
    assert merged.receive_id == "ou_wu" and merged.msg_type == "interactive" and card_problem(merged.content) is None
    assert merged.content["header"]["title"]["content"].startswith("今日进度 · 我的任务 · ")
    commands = [v["command"] for v in cards.button_values(merged.content)]
    assert {"/任务 发布会#1 完成", "/任务 发布会#2 完成", "/任务 官网改版#1 完成"} <= set(commands)
    # The group cards list 王五 by name, with no at for them; 李四 is still @-ed in 发布会.
    g1 = groups["oc_g1"]
    assert "王五（已私信，2 项）" in str(g1.content) and "ou_wu" not in str(g1.content) and "ou_li" in str(g1.content)

    # A button on the private card: the callback names the p2p chat; it runs in 发布会 as 王五.
    done = next(v for v in cards.button_values(merged.content) if v["command"] == "/任务 发布会#2 完成")
    payload = f.card_event("oc_p2p_wu", "ou_wu", merged.message_id, done)
    answer = tandem.post_feishu(payload, path="/webhook/feishu/card").json()
    assert answer["toast"]["type"] == "success" and "#2" in answer["toast"]["content"]
    assert status(tandem, "发布会", 2) == TaskStatus.DONE and status(tandem, "官网改版", 1) == TaskStatus.TODO
    tandem.settle()

    # Typed in the p2p chat: a bare #1 is in both projects (asked back), the qualified one is not.
    before = len(f.posted)
    private_at(tandem, "ou_wu", "#1 完成", at + timedelta(minutes=30))
    asked = f.wait_for(before + 1)[-1]
    assert asked.chat_id == "oc_p2p_ou_wu" and "都有" in asked.text and "官网改版#1 完成" in asked.text
    assert status(tandem, "发布会", 1) == TaskStatus.TODO and status(tandem, "官网改版", 1) == TaskStatus.TODO
    private_at(tandem, "ou_wu", "官网#1 完成", at + timedelta(minutes=31))
    replied = f.wait_for(before + 2)[-1]
    assert replied.chat_id == "oc_p2p_ou_wu" and "【官网改版】" in replied.text
    assert status(tandem, "官网改版", 1) == TaskStatus.DONE and status(tandem, "发布会", 1) == TaskStatus.TODO
    # As for a change typed in the group: the group's prompt card of the day is updated in place.
    [updated] = f.wait_for_updates(1, message_id=groups["oc_g2"].message_id)
    assert card_problem(updated) is None and "已完成" in str(updated) and "王五（已私信" in str(updated)
    assert f.wait_for_updates(1, message_id=groups["oc_g1"].message_id, timeout=0.5) == []  # not 发布会's


def test_a_press_on_the_merged_prompt_shows_the_private_card_as_it_now_is(tandem: Tandem) -> None:
    """The answer carries the private card rebuilt: the task pressed done stays on it, shown done,
    without its buttons; the other projects' blocks are as they were; someone else's press on it
    (a forwarded card) is not rendered into it."""
    from tests.platforms.test_feishu_card_updates import line_of

    f = tandem.feishu
    two_projects(tandem)
    [merged] = [p for p in f.posted if p.receive_id_type == "open_id"]
    values = {v["command"]: v for v in cards.button_values(merged.content)}
    payload = f.card_event("oc_p2p_wu", "ou_wu", merged.message_id, values["/任务 官网改版#1 完成"])
    answer = tandem.post_feishu(payload, path="/webhook/feishu/card").json()
    assert answer["toast"]["type"] == "success"
    shown = answer["card"]["data"]
    assert card_problem(shown) is None and shown["header"]["title"]["content"] == merged.content["header"]["title"]["content"]
    assert "已完成" in line_of(shown, "官网改版#1") and "已完成" not in line_of(shown, "发布会#1")
    commands = {v["command"] for v in cards.button_values(shown)}
    assert "/任务 官网改版#1 完成" not in commands and {"/任务 发布会#1 完成", "/任务 发布会#2 完成"} <= commands
    assert "有 2 项未完成的任务" in shown["body"]["elements"][0]["content"]
    assert status(tandem, "官网改版", 1) == TaskStatus.DONE
    tandem.settle()
    assert all(update == shown for update in f.wait_for_updates(1, message_id=merged.message_id, timeout=0.5))

    # 李四 presses a button of 王五's card: refused as for typing, and 王五's card is not redrawn for him.
    li = f.card_event("oc_p2p_li", "ou_li", merged.message_id, values["/任务 发布会#2 完成"])
    refused = tandem.post_feishu(li, path="/webhook/feishu/card").json()
    assert refused["toast"]["type"] == "error" and "card" not in refused
    assert status(tandem, "发布会", 2) == TaskStatus.TODO

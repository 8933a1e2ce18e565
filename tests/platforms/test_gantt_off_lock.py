"""A big `/甘特图` is drawn after its transaction commits (by the outbox sender, in a thread), so while
its pages are drawn other chats' webhooks are acknowledged at once (SQLite file database: one writer at
a time), and the pages still reach the platform as PNG uploads followed by image messages."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from PIL import Image
from sqlalchemy import Engine, select

from models import Project
from reports import gantt, pictures
from tests.plans import add_tasks
from tests.platforms.conftest import Tandem

TASKS = 230  # five pages; /甘特图 posts the first four
OTHERS = [f"oc_other{i}" for i in range(5)]  # the other chats (each its own lane: no per-chat rate limit to wait for)


@dataclass
class Acks:
    during: list[tuple[float, int]]  # each webhook answered while the chart was being drawn: seconds, status
    posted: list[object]  # what reached the big chat
    seconds: float  # from `/甘特图` until its pictures had all arrived (or the timeout)


def project_id(tandem: Tandem, chat: str) -> int:
    with tandem.runtime.session_factory() as session:
        return session.scalars(select(Project.id).where(Project.chat_id == chat)).one()


def acks_while_drawing(tandem: Tandem, engine: Engine, *, tasks: int = TASKS, timeout: float = 60.0) -> Acks:
    """Posts `/甘特图` for a `tasks`-task plan in one chat, then messages in other chats until the
    chart's image messages have arrived, timing each webhook's answer."""
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    tandem.feishu_say("oc_big", pm, "/项目 创建 大项目 截止:2027-02-01")
    f.wait_for(1, chat_id="oc_big")
    add_tasks(engine, project_id(tandem, "oc_big"), tasks)
    pages = min(pictures.MAX_PAGES, -(-tasks // gantt.ROWS_PER_PAGE))
    asked = time.perf_counter()
    assert tandem.feishu_say("oc_big", pm, "/甘特图").status_code == 200
    during: list[tuple[float, int]] = []
    deadline = time.monotonic() + timeout
    while len(f.wait_for(2 + pages, chat_id="oc_big", timeout=0)) < 2 + pages and time.monotonic() < deadline:
        started = time.perf_counter()
        answer = tandem.feishu_say(OTHERS[len(during) % len(OTHERS)], pm, "/任务 列表")
        during.append((time.perf_counter() - started, answer.status_code))
        time.sleep(0.1)
    return Acks(during, list(f.wait_for(2 + pages, chat_id="oc_big", timeout=0)), time.perf_counter() - asked)


def test_webhooks_are_answered_at_once_while_a_big_chart_is_drawn(tandem: Tandem, engine: Engine) -> None:
    acks = acks_while_drawing(tandem, engine)
    posted = acks.posted
    assert len(posted) == 2 + pictures.MAX_PAGES, "the chart's pages did not all arrive"
    reply, images = posted[1], posted[2:]
    assert f"共 {TASKS} 个任务" in reply.text  # type: ignore[attr-defined]
    assert len(acks.during) >= 5, "the chart was drawn too fast to measure anything"
    assert {status for _, status in acks.during} == {200}  # none waited past the 2 s deadline (503)
    seconds = sorted(s for s, _ in acks.during)
    # Drawing in the same process takes CPU, not the database: answers stay far below the deadline
    # (while the chart was drawn in the transaction, they waited seconds for the write lock).
    assert seconds[len(seconds) // 2] < 0.25 and seconds[-1] < 1.5, f"webhook answers while drawing: {seconds[-5:]}"
    f = tandem.feishu
    sizes = set()
    for image in images:
        assert image.msg_type == "image"  # type: ignore[attr-defined]
        data = f.images[image.content["image_key"]]  # type: ignore[attr-defined]
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        picture = Image.open(io.BytesIO(data))
        picture.verify()
        sizes.add(picture.size)
        assert picture.size[0] >= 1200
    assert [u["filename"] for u in f.uploads[-pictures.MAX_PAGES:]] == ["gantt.png", "gantt-2.png", "gantt-3.png", "gantt-4.png"]
    tandem.settle(timeout=30)
    assert sum(len(f.texts(chat)) for chat in OTHERS) == len(acks.during)  # every message in the other chats was answered

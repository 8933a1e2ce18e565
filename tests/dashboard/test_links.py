"""Dashboard links: PM and co-PMs get them; tampered, expired, revoked and other projects' links get 403."""

from __future__ import annotations

import string

import httpx

from bot.runtime import Runtime
from tests.chat import ConsoleChat, FixedClock
from tests.dashboard.conftest import link_in, make_project


def test_a_pm_link_opens_the_project_and_shows_its_tasks(chat: ConsoleChat, http: httpx.Client) -> None:
    make_project(chat)
    url = link_in(chat.say("/看板"))
    page = http.get(url)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    for text in ("发布会", "订场地", "写发布稿", "审稿", "场地可能被占用", "确认场地合同", "发布会定在周五下午", "按时发布"):
        assert text in page.text


def test_tampered_links_get_403_and_show_nothing(chat: ConsoleChat, http: httpx.Client) -> None:
    make_project(chat)
    url = link_in(chat.say("/dashboard"))
    base, token = url.rsplit("/", 1)
    payload, stamp, signature = token.split(".")
    middle = len(token) - 5
    alphabet = string.ascii_letters + string.digits + "-_"
    spellings = [f"{base}/{token[:-1]}{c}" for c in alphabet if c != token[-1]]  # three decode to the same bytes
    for bad in (
        *spellings,  # the signature's last character changed (some decode to the same bytes: still refused)
        f"{base}/{token[:middle]}{'A' if token[middle] != 'A' else 'B'}{token[middle + 1:]}",  # the signature changed
        f"{base}/eyJwIjoxLCJnIjo1fQ.{stamp}.{signature}",  # another payload under the same signature
        f"{base}/{payload}.{stamp}",  # no signature
        f"{base}/nonsense",
    ):
        response = http.get(bad)
        assert response.status_code == 403 and "订场地" not in response.text and "发布会" not in response.text


def test_links_expire(chat: ConsoleChat, http: httpx.Client, clock: FixedClock, runtime: Runtime) -> None:
    make_project(chat)
    url = link_in(chat.say("/看板"))
    clock.advance(days=6, hours=23)
    assert http.get(url).status_code == 200
    clock.advance(hours=2)  # past TANDEM_DASHBOARD_LINK_DAYS (7)
    assert http.get(url).status_code == 403


def test_reset_revokes_every_earlier_link(chat: ConsoleChat, http: httpx.Client) -> None:
    make_project(chat)
    first, second = link_in(chat.say("/看板")), link_in(chat.say("/看板"))
    reply = chat.say("/看板 重置")
    assert "旧的看板链接已全部失效" in reply
    fresh = link_in(reply)
    assert http.get(first).status_code == 403 and http.get(second).status_code == 403
    assert http.get(fresh).status_code == 200


def test_one_projects_link_never_opens_another(runtime: Runtime, clock: FixedClock, http: httpx.Client) -> None:
    one, other = ConsoleChat(runtime, clock, chat_id="g1"), ConsoleChat(runtime, clock, chat_id="g2")
    make_project(one, "发布会")
    other.say("/项目 创建 招聘计划")
    other.say("/任务 新增 发招聘启事")
    url = link_in(other.say("/看板"))
    base, token = url.rsplit("/", 1)
    project_path, other_id = base.rsplit("/", 1)
    mine = link_in(one.say("/看板")).rsplit("/", 2)[1]
    assert mine != other_id
    response = http.get(f"{project_path}/{mine}/{token}")  # the other project's token in this project's path
    assert response.status_code == 403 and "订场地" not in response.text and "发招聘启事" not in response.text
    assert "发招聘启事" in http.get(url).text and "订场地" not in http.get(url).text


def test_only_pm_and_co_pms_get_links(chat: ConsoleChat) -> None:
    make_project(chat)
    assert "只有项目经理" in chat.say("/看板", name="李四")
    assert "只有项目经理" in chat.say("/看板 重置", name="李四")
    chat.say("/成员 修改 @李四 角色:副PM")
    assert "/dashboard/" in chat.say("/看板", name="李四")
    assert "用法：/看板" in chat.say("/看板 随便")


def test_a_configured_secret_key_signs_the_links(runtime: Runtime, clock: FixedClock) -> None:
    from bot.config import Settings
    from bot.dashboard.links import DashboardLinks

    chat = ConsoleChat(runtime, clock, chat_id="g1")
    chat.say("/项目 创建 发布会")
    with runtime.session_factory() as session:
        from sqlalchemy import select

        from models import Project

        project = session.scalars(select(Project)).one()
        signer = DashboardLinks(Settings(_env_file=None, secret_key="k" * 40))  # type: ignore[call-arg]
        other = DashboardLinks(Settings(_env_file=None, secret_key="j" * 40))  # type: ignore[call-arg]
        token = signer.link(session, project, clock()).rsplit("/", 1)[1]
        assert signer.project_for(session, project.id, token, clock()) is not None
        assert other.project_for(session, project.id, token, clock()) is None


def test_a_generated_key_is_kept_in_the_database_for_every_process(
    chat: ConsoleChat, runtime: Runtime, clock: FixedClock
) -> None:
    from bot.dashboard.links import DashboardLinks
    from models import Project

    chat.say("/项目 创建 发布会")
    token = link_in(chat.say("/看板")).rsplit("/", 1)[1]
    another_process = DashboardLinks(runtime.settings)  # no TANDEM_SECRET_KEY: reads the stored key
    with runtime.session_factory() as session:
        project = session.query(Project).one()
        assert another_process.project_for(session, project.id, token, clock()) is not None


def test_a_closed_projects_page_shows_its_close_out_report(chat: ConsoleChat, http: httpx.Client) -> None:
    make_project(chat)
    url = link_in(chat.say("/看板"))
    assert "已结项" in chat.say("/项目 结项 确认")
    page = http.get(url)
    assert page.status_code == 200
    for text in ("项目总结报告", "按时完成率", "阻塞天数（按部门，工作日）", "场地可能被占用"):
        assert text in page.text

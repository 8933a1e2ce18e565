"""models.base.insert_now: the row a flush would write, the object persistent afterwards."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, select

from bot.runtime import Runtime
from models import Member, Project, Risk, RiskLevel, RiskStatus, Role
from models.base import insert_now

AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_insert_now_applies_defaults_and_attaches(runtime: Runtime) -> None:
    with runtime.session_factory.begin() as session:
        project = Project(platform="console", chat_id="g1", name="发布会", created_at=AT)
        insert_now(session, project)
        assert project.id is not None and inspect(project).persistent
        assert project.next_task_no == 1 and project.timezone == "Asia/Shanghai"  # column defaults came back
        owner = Member(project_id=project.id, user_id="u1", name="李四", role=Role.MEMBER, joined_at=AT)
        insert_now(session, owner)
        risk = Risk(project_id=project.id, number=1, description="接口不稳定", owner_id=owner.id, created_at=AT, updated_at=AT)
        insert_now(session, risk)
        assert risk.owner is owner  # relationships load as for any persistent object
        risk.level = RiskLevel.HIGH  # and later changes flush as usual
    with runtime.session_factory() as session:
        stored = session.scalar(select(Risk))
        assert stored is not None
        assert (stored.level, stored.status, stored.created_at) == (RiskLevel.HIGH, RiskStatus.OPEN, AT)


def test_update_now_writes_and_leaves_the_object_clean(runtime: Runtime) -> None:
    from models.base import update_now

    with runtime.session_factory.begin() as session:
        project = Project(platform="console", chat_id="g1", name="发布会", created_at=AT)
        insert_now(session, project)
        update_now(session, project, {"name": "年会", "goal": "办好"})
        assert project.name == "年会" and not session.dirty
    with runtime.session_factory() as session:
        stored = session.scalar(select(Project))
        assert stored is not None and (stored.name, stored.goal) == ("年会", "办好")

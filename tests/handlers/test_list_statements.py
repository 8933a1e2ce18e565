"""Lists issue a constant number of SQL statements, whatever the number of rows."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select

from models import ActionItem, ActionStatus, Decision, Department, Member, Project, Risk, RiskLevel, RiskStatus, Task, TaskStatus
from tests.chat import ConsoleChat
from tests.handlers.conftest import PM, StatementCounter

LISTS = ["/任务 列表", "/任务 列表 全部", "/任务 列表 阻塞", "/任务 列表 部门:研发部", "/风险 列表", "/行动 列表",
         "/决议 列表", "/成员 列表", "/部门 列表"]


def add_rows(chat: ConsoleChat, count: int) -> None:
    """Bulk-insert `count` tasks, risks, action items, decisions and members, as the benchmark does."""
    with chat.runtime.session_factory.begin() as session:
        project = session.scalar(select(Project))
        assert project is not None
        owners = list(session.scalars(select(Member.id).where(Member.project_id == project.id)))
        department = session.scalar(select(Department.id).where(Department.name == "研发部"))
        now = chat.clock()
        start = project.next_task_no
        statuses = [TaskStatus.TODO, TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED, TaskStatus.DONE]
        session.execute(insert(Task), [
            {"project_id": project.id, "number": start + i, "title": f"任务{start + i}", "owner_id": owners[i % len(owners)],
             "department_id": department if i % 2 else None, "due_date": date(2026, 11, 20) + timedelta(days=i % 40),
             "status": statuses[i % 4], "progress": 0, "blocked_reason": "等接口" if i % 4 == 2 else None,
             "created_at": now, "updated_at": now, "status_changed_at": now}
            for i in range(count)
        ])
        session.execute(insert(Risk), [
            {"project_id": project.id, "number": project.next_risk_no + i, "description": f"风险{i}",
             "level": list(RiskLevel)[i % 3], "status": RiskStatus.OPEN, "owner_id": owners[i % len(owners)],
             "created_at": now, "updated_at": now}
            for i in range(count)
        ])
        session.execute(insert(ActionItem), [
            {"project_id": project.id, "number": project.next_action_no + i, "content": f"行动{i}",
             "owner_id": owners[i % len(owners)], "due_date": date(2026, 11, 30), "status": ActionStatus.OPEN,
             "created_at": now, "updated_at": now}
            for i in range(count)
        ])
        session.execute(insert(Decision), [
            {"project_id": project.id, "number": project.next_decision_no + i, "content": f"决议{i}",
             "decided_by_id": owners[0], "created_at": now}
            for i in range(count)
        ])
        session.execute(insert(Member), [
            {"project_id": project.id, "user_id": f"u{start}-{i}", "name": f"成员{start}-{i}",
             "department_id": department if i % 2 else None, "role": "member", "joined_at": now}
            for i in range(count)
        ])
        project.next_task_no += count
        project.next_risk_no += count
        project.next_action_no += count
        project.next_decision_no += count


def statements(chat: ConsoleChat, text: str) -> tuple[int, str]:
    with StatementCounter(chat.runtime.engine) as counter:
        reply = chat.say(text, name=PM)
    return counter.count, reply


@pytest.mark.parametrize("text", LISTS)
def test_list_statement_count_does_not_grow(project: ConsoleChat, text: str) -> None:
    add_rows(project, 10)
    small, reply = statements(project, text)
    assert "【" in reply, reply
    add_rows(project, 300)
    large, reply = statements(project, text)
    assert "【" in reply, reply
    assert large == small, f"{text}: {small} statements with 10 rows, {large} with 310"

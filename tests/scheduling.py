"""Helpers for the scheduler tests: local moments, the posted outbox, rows the chat cannot create yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.messages import Reply
from models import (
    ActionItem,
    ActionStatus,
    Decision,
    Member,
    OutboundMessage,
    Project,
    Risk,
    RiskLevel,
    RiskStatus,
    RiskStrategy,
    allocate_number,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(text: str) -> datetime:
    """A Shanghai wall-clock moment, e.g. sh("2026-11-23 17:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@dataclass(frozen=True)
class Posted:
    id: int
    origin: str
    chat_id: str
    to_user_id: str | None
    reply: Reply

    @property
    def job(self) -> str:
        return self.origin.split(":")[1]

    @property
    def text(self) -> str:
        return self.reply.plain_text()


def posts(session_factory: sessionmaker[Session], job: str | None = None) -> list[Posted]:
    """Everything the scheduler has put in the outbox, oldest first (optionally one job's)."""
    with session_factory() as session:
        rows = session.scalars(
            select(OutboundMessage).where(OutboundMessage.origin.like("job:%")).order_by(OutboundMessage.id)
        ).all()
        found = [Posted(r.id, r.origin, r.chat_id, r.to_user_id, Reply.from_payload(r.body)) for r in rows]
    return [p for p in found if job is None or p.job == job]


def project_id(session_factory: sessionmaker[Session], chat_id: str = "g1") -> int:
    with session_factory() as session:
        found = session.scalar(select(Project.id).where(Project.chat_id == chat_id))
        assert found is not None
        return found


def member(session: Session, project: int, name: str) -> Member:
    found = session.scalar(select(Member).where(Member.project_id == project, Member.name == name))
    assert found is not None, name
    return found


def add_risk(
    session_factory: sessionmaker[Session],
    *,
    project: int,
    description: str,
    at: datetime,
    level: RiskLevel = RiskLevel.HIGH,
    owner: str | None = None,
    strategy: RiskStrategy | None = None,
) -> int:
    with session_factory.begin() as session:
        row = session.get(Project, project)
        assert row is not None
        risk = Risk(
            project_id=project, number=allocate_number(session, row, "next_risk_no"), description=description,
            level=level, status=RiskStatus.OPEN, strategy=strategy,
            owner_id=member(session, project, owner).id if owner else None, created_at=at, updated_at=at,
        )
        session.add(risk)
        session.flush()
        return risk.id


def add_action(
    session_factory: sessionmaker[Session], *, project: int, content: str, owner: str, due: date | None, at: datetime
) -> int:
    with session_factory.begin() as session:
        row = session.get(Project, project)
        assert row is not None
        action = ActionItem(
            project_id=project, number=allocate_number(session, row, "next_action_no"), content=content,
            owner_id=member(session, project, owner).id, due_date=due, status=ActionStatus.OPEN, created_at=at,
            updated_at=at,
        )
        session.add(action)
        session.flush()
        return action.number


def add_decision(session_factory: sessionmaker[Session], *, project: int, content: str, by: str, at: datetime) -> int:
    with session_factory.begin() as session:
        row = session.get(Project, project)
        assert row is not None
        decision = Decision(
            project_id=project, number=allocate_number(session, row, "next_decision_no"), content=content,
            decided_by_id=member(session, project, by).id, created_at=at,
        )
        session.add(decision)
        session.flush()
        return decision.number

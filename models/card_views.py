"""Messages kept up to date: the sent outbox rows whose reply carries a view (`Reply.view`, e.g. the
daily prompt card), found by the platform message id a card's button names, or as a project's
scheduled post of a day; and the rows that update such a message in place (`updates_message_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from models.delivery import OutboundMessage
from models.enums import OutboundStatus
from models.project import Project

PROMPT_JOB = "daily-prompt"  # the scheduler's job name of the daily prompt (scheduler.slots.DAILY_PROMPT)
SUPERSEDED = "superseded: a later update of the same message"


def job_origin(job: str, project_id: int, slot: str) -> str:
    """The origin of a scheduled post (the scheduler writes it; cards of a day are found by it)."""
    return f"job:{job}:{project_id}:{slot}"[:120]


@dataclass(frozen=True, slots=True)
class SentView:
    message_id: str  # the platform's id of the message
    chat_id: str
    project_id: int | None
    view: dict[str, Any]


_M = OutboundMessage
_BY_MESSAGE = select(_M.chat_id, _M.project_id, _M.body).where(
    _M.platform == bindparam("platform"),
    _M.platform_message_id == bindparam("message_id"),
    _M.updates_message_id.is_(None),
)
_BY_ORIGIN = select(_M.platform_message_id, _M.chat_id, _M.project_id, _M.body).where(
    _M.origin == bindparam("origin"),
    _M.platform == bindparam("platform"),
    _M.status == OutboundStatus.SENT,
    _M.platform_message_id.is_not(None),
    _M.updates_message_id.is_(None),
)


def sent_view(session: Session, /, *, platform: str, chat_id: str, message_id: str) -> SentView | None:
    """The message `message_id` of this chat, when we sent it with a view (None otherwise: another
    chat's message is never found from this one)."""
    for found_chat, project_id, body in session.execute(_BY_MESSAGE, {"platform": platform, "message_id": message_id}):
        view = body.get("view") if isinstance(body, dict) else None
        if found_chat == chat_id and isinstance(view, dict):
            return SentView(message_id, found_chat, project_id, view)
    return None


_PRIVATE_BY_MESSAGE = (
    select(_M.to_user_id, _M.chat_id, Project.chat_id)
    .outerjoin(Project, Project.id == _M.project_id)
    .where(
        _M.platform == bindparam("platform"),
        _M.platform_message_id == bindparam("message_id"),
        _M.updates_message_id.is_(None),
    )
)


def sent_privately(session: Session, /, *, platform: str, message_id: str) -> bool:
    """Whether we sent the message `message_id` to someone privately: to a user (the merged prompt, a PM
    digest) or into a chat that is not its project's group (a reply in a private chat). A card's button
    pressed there runs as a private message (a platform's callback does not say which kind of chat)."""
    for to_user, chat_id, group in session.execute(_PRIVATE_BY_MESSAGE, {"platform": platform, "message_id": message_id}):
        return bool(to_user) or (group is not None and group != chat_id)
    return False


def posted_views(session: Session, /, *, platform: str, job: str, project_id: int, day: date) -> list[SentView]:
    """The project's scheduled posts of `job` for `day` that were sent with a view."""
    found: list[SentView] = []
    origin = job_origin(job, project_id, day.isoformat())
    for message_id, chat_id, project, body in session.execute(_BY_ORIGIN, {"origin": origin, "platform": platform}):
        view = body.get("view") if isinstance(body, dict) else None
        if isinstance(view, dict) and message_id:
            found.append(SentView(message_id, chat_id, project, view))
    return found


def supersede_updates(session: Session, /, *, platform: str, message_id: str) -> None:
    """Updates of the message still waiting (not leased): a newer one replaces them, so an older
    state never lands after a newer one."""
    session.execute(
        update(_M)
        .where(
            _M.platform == platform,
            _M.updates_message_id == message_id,
            _M.status == OutboundStatus.PENDING,
            _M.leased_by.is_(None),
        )
        .values(status=OutboundStatus.SENT, last_error=SUPERSEDED)
        .execution_options(synchronize_session=False)
    )

"""Messages kept up to date: the sent outbox rows whose reply carries a view (`Reply.view`: the daily
prompt card, or one task, risk or action item's card), found in one statement (`cards_to_refresh`) by
the platform message id a card's button names, as a project's scheduled post of a day, or by the
item they show (`view_key`); and the rows that update such a message in place (`updates_message_id`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from models.delivery import OutboundMessage
from models.enums import OutboundStatus
from models.project import Project

PROMPT_JOB = "daily-prompt"  # the scheduler's job name of the daily prompt (scheduler.slots.DAILY_PROMPT)
SUPERSEDED = "superseded: a later update of the same message"
# The views of one item (`Reply.view` {"kind": …, "id": row id}): its card is found by `view_key`.
ITEM_VIEWS = ("task", "risk", "action")


def item_view(kind: str, item_id: int) -> dict[str, Any]:
    """The view of a card showing one task, risk or action item (handlers build it again)."""
    return {"kind": kind, "id": item_id}


def view_key(view: dict[str, Any] | None) -> str | None:
    """What the outbox row of a reply with this view is found by ("task:12"), for an item's view."""
    if not isinstance(view, dict) or view.get("kind") not in ITEM_VIEWS or not isinstance(view.get("id"), int):
        return None
    return f"{view['kind']}:{view['id']}"


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


def cards_to_refresh(
    session: Session,
    /,
    *,
    platform: str,
    chat_id: str,
    pressed: Collection[str] = (),
    prompts: Collection[tuple[str, int, date]] = (),
    items: Collection[str] = (),
    since: datetime | None = None,
) -> list[SentView]:
    """The messages sent with a view that may now be out of date, in one statement: the ones pressed
    (`pressed`, platform message ids; only this chat's), the scheduled posts each of `prompts` = (job,
    project, day) names, and this chat's messages since `since` showing one of `items` (view keys)."""
    wanted: list[ColumnElement[bool]] = []
    if pressed:
        wanted.append(_M.platform_message_id.in_(sorted(pressed)))
    if prompts:
        origins = sorted({job_origin(job, project_id, day.isoformat()) for job, project_id, day in prompts})
        wanted.append(and_(_M.origin.in_(origins), _M.status == OutboundStatus.SENT))
    if items and since is not None:
        wanted.append(and_(_M.view_key.in_(sorted(items)), _M.created_at >= since, _M.chat_id == chat_id))
    if not wanted:
        return []
    found: dict[str, SentView] = {}
    # Only the view, not the whole body: a prompt card's body is tens of KB of JSON to read and parse.
    query = select(_M.platform_message_id, _M.chat_id, _M.project_id, _M.body["view"]).where(
        _M.platform == platform, _M.platform_message_id.is_not(None), _M.updates_message_id.is_(None), or_(*wanted)
    )
    for message_id, found_chat, project_id, view in session.execute(query):
        if found_chat == chat_id and message_id and isinstance(view, dict):  # never another chat's message
            found.setdefault(message_id, SentView(message_id, found_chat, project_id, view))
    return list(found.values())


_SENT_TO_USER = select(_M.chat_id, _M.project_id, _M.body["view"]).where(
    _M.platform == bindparam("platform"),
    _M.platform_message_id == bindparam("message_id"),
    _M.to_user_id == bindparam("user_id"),
    _M.updates_message_id.is_(None),
)


def card_sent_to(session: Session, /, *, platform: str, message_id: str, user_id: str) -> SentView | None:
    """The card `message_id` if we sent it to `user_id` privately (the merged prompt) and it carries
    a view: the one private card kept up, by the person it was sent to pressing a button on it."""
    values = {"platform": platform, "message_id": message_id, "user_id": user_id}
    for chat_id, project_id, view in session.execute(_SENT_TO_USER, values):
        if isinstance(view, dict):
            return SentView(message_id, chat_id, project_id, view)
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

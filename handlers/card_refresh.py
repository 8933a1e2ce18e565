"""Cards kept up to date, on every platform that updates a message in place (`Capabilities.card_updates`:
Feishu, DingTalk with a card template): after a message is handled, which cards already sent now show
something out of date, each rebuilt from the database by the code that built it:

- the card whose button was pressed (`Incoming.card_message_id`), whatever the command did: it shows
  the new state for everyone in the group, and the buttons valid for it now;
- today's daily prompt cards of the project's group that show a task this message changed (typed or
  pressed, in the group or in a private chat: `handlers.private_chat`), rebuilt by `reports.views` (a
  finished task stays on it, shown as done);
- today's cards of the group showing one task, risk or action item this message changed (`/任务 #12`,
  `/风险 R3`, `/行动 A4`), rebuilt by the command's own builder (`ITEM_CARDS`).

They are found in one statement (`models.card_views.cards_to_refresh`), and none is looked for when
the message pressed nothing and changed nothing. The dispatcher writes each as an outbox row updating
the message (`updates_message_id`); the platform's sender updates it (Feishu PATCH, DingTalk PUT of
the card instances).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import CardUpdate, Incoming, Reply
from handlers import actions, risks, tasks
from handlers.context import Context
from handlers.router import CommandRegistry
from models import ActionItem, Project, Risk, Task
from models.card_views import ITEM_VIEWS, PROMPT_JOB, SentView, cards_to_refresh, view_key
from models.history import changed_ids
from reports import views

# An item view's kind → its row and the builder of its card (the command's own reply).
ITEM_CARDS: dict[str, tuple[type[Any], Callable[[Context, Any], Reply]]] = {
    "task": (Task, tasks.task_card),
    "risk": (Risk, risks.risk_card),
    "action": (ActionItem, actions.action_card),
}
assert set(ITEM_CARDS) == set(ITEM_VIEWS)


def card_updates(
    session: Session,
    incoming: Incoming,
    project_id: int | None,
    *,
    platforms: Collection[str],
    registry: CommandRegistry,
) -> list[CardUpdate]:
    if incoming.platform not in platforms or project_id is None:
        return []
    changed = {kind: changed_ids(session, kind) for kind in ITEM_VIEWS}
    if not incoming.card_message_id and not any(changed.values()):
        return []
    project = session.get(Project, project_id)
    if project is None:
        return []
    now = incoming.sent_at.astimezone(ZoneInfo(project.timezone))
    since = datetime.combine(now.date(), time(), tzinfo=now.tzinfo).astimezone(UTC)
    # The project group's cards, whether the change was made there or in a private chat
    # (`handlers.private_chat`); a card pressed in a private chat (the merged prompt) is not kept up.
    shown = cards_to_refresh(
        session,
        platform=incoming.platform,
        chat_id=project.chat_id,
        pressed=incoming.card_message_id if incoming.is_group else None,
        prompt=(PROMPT_JOB, project_id, now.date()) if changed["task"] else None,
        items={f"{kind}:{i}" for kind, ids in changed.items() for i in ids},
        since=since,
    )
    ctx = Context(session=session, incoming=incoming, now=now, registry=registry, project=project)
    updates: list[CardUpdate] = []
    for target in shown:
        if target.project_id != project_id:
            continue
        if target.message_id != incoming.card_message_id and not _shows_change(target, changed):
            continue
        reply = _rebuild(ctx, target.view)
        if reply is not None:
            updates.append(CardUpdate(target.message_id, target.chat_id, reply))
    return updates


def _shows_change(target: SentView, changed: dict[str, set[int]]) -> bool:
    key = view_key(target.view)
    if key is not None:
        kind, _, item_id = key.partition(":")
        return int(item_id) in changed[kind]
    return views.touches(target.view, changed["task"])


def _rebuild(ctx: Context, view: dict[str, Any]) -> Reply | None:
    """The reply `view` describes, built again as the project's data now is (None: a view this code
    does not know, or an item no longer there)."""
    assert ctx.project is not None
    if view_key(view) is None:
        return views.rebuild(ctx.session, ctx.project, view, ctx.incoming.sent_at)
    model, build = ITEM_CARDS[view["kind"]]
    row = ctx.session.get(model, view["id"])
    if row is None or row.project_id != ctx.project.id:
        return None
    return build(ctx, row)

"""Cards kept up to date, on every platform that updates a message in place (`Capabilities.card_updates`:
Feishu, DingTalk with a card template): after a message is handled, which cards already sent now show
something out of date, each rebuilt from the database by the code that built it:

- the card whose button was pressed (`Incoming.card_message_id`), whatever the command did: it shows
  the new state for everyone in the group, and the buttons valid for it now (the merged private
  prompt too, when pressed by the person it was sent to: `reports.views.rebuild_person`);
- today's daily prompt cards of the project's group that show a task this message changed (typed or
  pressed, in the group or in a private chat: `handlers.private_chat`), rebuilt by `reports.views` (a
  finished task stays on it, shown as done);
- today's cards of the group showing one task, risk or action item this message changed (`/任务 #12`,
  `/风险 R3`, `/行动 A4`), rebuilt by the command's own builder (`ITEM_CARDS`).

What a message changed is noted in its own transaction (`CardRefresh.changes`); the cards are found in
one statement per project (`models.card_views.cards_to_refresh`) and rebuilt (`CardRefresh.updates`),
for one message or for a run of messages of one chat, each card once as the run left it (twenty
clicks on one prompt: one rebuild). None is looked for when a message pressed nothing and changed
nothing. The dispatcher writes each as an outbox row updating the message (`updates_message_id`);
the platform's sender updates it (Feishu PATCH, DingTalk PUT of the card instances).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import CardChange, CardUpdate, Incoming, Reply
from handlers import actions, risks, tasks
from handlers.context import Context
from handlers.router import CommandRegistry
from models import ActionItem, Project, Risk, Task
from models.card_views import ITEM_VIEWS, PROMPT_JOB, SentView, card_sent_to, cards_to_refresh, view_key
from models.history import changed_ids
from reports import views

# An item view's kind → its row and the builder of its card (the command's own reply).
ITEM_CARDS: dict[str, tuple[type[Any], Callable[[Context, Any], Reply]]] = {
    "task": (Task, tasks.task_card),
    "risk": (Risk, risks.risk_card),
    "action": (ActionItem, actions.action_card),
}
assert set(ITEM_CARDS) == set(ITEM_VIEWS)


class CardRefresh:
    """The dispatcher's card refresher (bot.dispatcher.CardRefresher): `changes` notes, in a message's
    own transaction, what it may have left out of date; `updates` finds and rebuilds those cards, for
    one message or for a run of them (each card once, as the run left it)."""

    def __init__(self, *, platforms: Collection[str], registry: CommandRegistry) -> None:
        self._platforms = frozenset(platforms)
        self._registry = registry

    def changes(self, session: Session, incoming: Incoming, project_id: int | None) -> CardChange | None:
        if incoming.platform not in self._platforms or project_id is None:
            return None
        changed = {kind: frozenset(changed_ids(session, kind)) for kind in ITEM_VIEWS}
        if not incoming.card_message_id and not any(changed.values()):
            return None  # pressed nothing and changed nothing: no card is looked for
        return CardChange(incoming, project_id, changed)

    def updates(self, session: Session, changes: Sequence[CardChange]) -> list[CardUpdate]:
        # By project and by the project's day of the message: a change is shown on that day's cards only.
        projects: dict[int, Project] = {}
        by_day: dict[tuple[str, int, date], list[CardChange]] = {}
        for change in changes:
            project = projects.get(change.project_id) or session.get(Project, change.project_id)
            if project is None:
                continue
            projects[project.id] = project
            day = change.incoming.sent_at.astimezone(ZoneInfo(project.timezone)).date()
            by_day.setdefault((change.incoming.platform, project.id, day), []).append(change)
        updates: dict[str, CardUpdate] = {}
        for (platform, project_id, day), noted in by_day.items():
            for update in self._day_updates(session, platform, projects[project_id], day, noted):
                updates[update.message_id] = update  # a card named on two days (a run past midnight): the later
        for change in changes:  # a button on a card sent privately: the merged prompt, to its person
            pressed = change.incoming.card_message_id
            if pressed and pressed not in updates and (private := _private_card(session, change)) is not None:
                updates[pressed] = private
        return list(updates.values())

    def _day_updates(
        self, session: Session, platform: str, project: Project, day: date, noted: Sequence[CardChange]
    ) -> list[CardUpdate]:
        zone = ZoneInfo(project.timezone)
        changed = {kind: frozenset().union(*(change.changed[kind] for change in noted)) for kind in ITEM_VIEWS}
        # The group's cards, whether the change was made there or in a private chat (`handlers.private_chat`);
        # a card sent privately (the merged prompt) is redrawn only for its person's press (`_private_card`).
        pressed = {c.incoming.card_message_id for c in noted if c.incoming.card_message_id and c.incoming.is_group}
        shown = cards_to_refresh(
            session,
            platform=platform,
            chat_id=project.chat_id,
            pressed=pressed,
            prompts=[(PROMPT_JOB, project.id, day)] if changed["task"] else (),
            items={f"{kind}:{i}" for kind, ids in changed.items() for i in ids},
            since=datetime.combine(day, time(), tzinfo=zone).astimezone(UTC),
        )
        last = noted[-1].incoming  # the newest message of the day's run: "now" for the cards rebuilt
        ctx = Context(session=session, incoming=last, now=last.sent_at.astimezone(zone), registry=self._registry, project=project)
        updates: list[CardUpdate] = []
        for target in shown:
            if target.project_id != project.id:
                continue
            if target.message_id not in pressed and not _shows_change(target, changed):
                continue
            reply = _rebuild(ctx, target.view)
            if reply is not None:
                updates.append(CardUpdate(target.message_id, target.chat_id, reply, project.id))
        return updates


def _private_card(session: Session, change: CardChange) -> CardUpdate | None:
    """The pressed card if it was sent privately to the one who pressed it (the merged prompt),
    rebuilt as its tasks now are: it shows the press took effect."""
    incoming = change.incoming
    assert incoming.card_message_id is not None
    target = card_sent_to(session, platform=incoming.platform, message_id=incoming.card_message_id, user_id=incoming.sender_id)
    if target is None:
        return None
    reply = views.rebuild_person(session, target.view, incoming.sent_at)
    return CardUpdate(target.message_id, target.chat_id, reply, target.project_id) if reply is not None else None


def _shows_change(target: SentView, changed: dict[str, frozenset[int]]) -> bool:
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

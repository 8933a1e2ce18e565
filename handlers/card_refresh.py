"""Cards kept up to date: after a message is handled, which cards already sent now show something
out of date, each rebuilt from the database by the report that built it (`reports.views`):

- the card whose button was pressed (`Incoming.card_message_id`), whatever the command did: it shows
  the clicked task's new status for everyone in the group, a finished task kept on it as done;
- today's daily prompt cards of the project's group that show a task this message changed (typed or
  pressed, in the group or in a private chat: `handlers.private_chat`).

Only for the platforms that can update a message in place (`Capabilities.card_updates`); the
dispatcher writes each as an outbox row that updates the message (`updates_message_id`).
"""

from __future__ import annotations

from collections.abc import Collection
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from bot.messages import CardUpdate, Incoming
from models import Project
from models.card_views import PROMPT_JOB, SentView, posted_views, sent_view
from models.history import changed_ids
from reports import views


def card_updates(
    session: Session, incoming: Incoming, project_id: int | None, *, platforms: Collection[str]
) -> list[CardUpdate]:
    if incoming.platform not in platforms or project_id is None:
        return []
    targets: dict[str, SentView] = {}
    if incoming.card_message_id and incoming.is_group:
        pressed = sent_view(
            session, platform=incoming.platform, chat_id=incoming.chat_id, message_id=incoming.card_message_id
        )
        if pressed is not None and pressed.project_id == project_id:
            targets[pressed.message_id] = pressed
    changed = changed_ids(session, "task")
    project = session.get(Project, project_id)
    if project is None:
        return []
    if changed:
        today = incoming.sent_at.astimezone(ZoneInfo(project.timezone)).date()
        group = project.chat_id  # a change made in a private chat refreshes the project group's cards too
        for shown in posted_views(session, platform=incoming.platform, job=PROMPT_JOB, project_id=project_id, day=today):
            if shown.chat_id == group and views.touches(shown.view, changed):
                targets.setdefault(shown.message_id, shown)
    updates: list[CardUpdate] = []
    for target in targets.values():
        reply = views.rebuild(session, project, target.view, incoming.sent_at)
        if reply is not None:
            updates.append(CardUpdate(target.message_id, target.chat_id, reply))
    return updates

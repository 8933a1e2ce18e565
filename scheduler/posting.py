"""The reply routes that let scheduled posts @ people where the open API cannot (DingTalk: the group's
latest live sessionWebhook); `scheduler.claims.OutboxBatch` puts them on the posts' outbox rows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from bot.outbox import live_reply_routes

# A borrowed reply route must stay valid this long after the post is written (it is sent at once).
ROUTE_MARGIN = timedelta(minutes=2)
Route = tuple[str, datetime]  # (reply_to, valid until)


def reply_routes(session: Session, groups: Iterable[tuple[str, str]], *, valid_after: datetime) -> dict[tuple[str, str], Route]:
    """The live reply routes of these (platform, chat) groups: one statement per platform, none for none."""
    wanted: dict[str, set[str]] = {}
    for platform, chat_id in groups:
        wanted.setdefault(platform, set()).add(chat_id)
    routes: dict[tuple[str, str], Route] = {}
    for platform, chats in wanted.items():
        found = live_reply_routes(session, platform=platform, chat_ids=chats, valid_after=valid_after)
        routes.update({(platform, chat): route for chat, route in found.items()})
    return routes

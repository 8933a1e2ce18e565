"""Writing the scheduler's posts: outbox rows for a unit of work in one executemany, and the reply routes
that let posts @ people where the open API cannot (DingTalk: the group's latest live sessionWebhook)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from bot.outbox import enqueue_many, live_reply_routes, outbox_row

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


class OutboxBatch:
    """Outbox rows for one unit of work, written with one executemany instead of one INSERT each."""

    def __init__(self, session: Session, routes: dict[tuple[str, str], tuple[str, datetime]] | None = None) -> None:
        self._session = session
        self._rows: list[dict[str, Any]] = []
        self._routes = routes or {}

    def route(self, platform: str, chat_id: str) -> tuple[str, datetime] | None:
        """The group's live reply route, when its platform needs one to @ people and it has one."""
        return self._routes.get((platform, chat_id))

    def add(self, **fields: Any) -> None:
        self._rows.append(outbox_row(**fields))

    def flush(self) -> None:
        enqueue_many(self._session, self._rows)
        self._rows = []

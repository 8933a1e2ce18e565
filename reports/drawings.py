"""Pictures as drawings: what a chart shows, as JSON, drawn into PNG bytes later.

The dispatcher and the scheduler build replies inside their transactions; drawing a chart takes about a
second a page, and on SQLite a transaction that writes holds the database's one write lock. So a reply
carries each picture as an `Attachment` with a `drawing` (the rows the chart draws: `gantt.PageRows`,
`burnup.ProgressRows`) and no bytes, the outbox row stores it, and the outbox sender calls `draw_reply`
after the commit, off the event loop, just before the upload. Drawing is a pure function of the stored
rows (today's date is one of them), so a retry, or another sender, draws the same picture.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import TypeAdapter

from bot.messages import Attachment, Reply
from reports import burnup, gantt

GANTT, PROGRESS = "gantt-page", "progress"
_GANTT_PAGE = TypeAdapter(gantt.PageRows)
_PROGRESS = TypeAdapter(burnup.ProgressRows)


def gantt_attachment(rows: gantt.PageRows) -> Attachment:
    return Attachment("image", rows.name, "image/png",
                      drawing={"kind": GANTT, "rows": _GANTT_PAGE.dump_python(rows, mode="json")})


def progress_attachment(rows: burnup.ProgressRows) -> Attachment:
    return Attachment("image", "progress.png", "image/png",
                      drawing={"kind": PROGRESS, "rows": _PROGRESS.dump_python(rows, mode="json")})


def draw(drawing: dict[str, Any]) -> bytes:
    """The PNG a drawing describes."""
    kind = drawing.get("kind")
    if kind == GANTT:
        return gantt.render_page(_GANTT_PAGE.validate_python(drawing["rows"]))
    if kind == PROGRESS:
        return burnup.render_progress(_PROGRESS.validate_python(drawing["rows"]))
    raise ValueError(f"unknown drawing {kind!r}")


def draw_reply(reply: Reply) -> Reply:
    """The reply with every picture drawn (the same reply when there is nothing to draw)."""
    if not reply.undrawn:
        return reply
    return replace(reply, attachments=tuple(
        replace(a, data=draw(a.drawing), drawing=None) if a.undrawn and a.drawing is not None else a
        for a in reply.attachments
    ))

"""Retention: delete inbox events and outbox messages nobody needs any more, one small page at a time.

Each function looks at one page of the oldest rows (by id, after `after_id`) and deletes those of
them that are old enough and finished, in the caller's transaction. Ids grow with time, so the scan
starts where the old rows are and stops at the first row newer than the cutoff: no index on the
timestamps is needed (the webhook's inbox insert stays as cheap as it is), and a page holds the
write lock for a few milliseconds only. The caller commits each page and calls again with
`Page.next_after` until it is None.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Table, bindparam, delete, select
from sqlalchemy.orm import Session

from models.delivery import InboundEvent, OutboundMessage
from models.enums import InboundStatus, OutboundStatus


@dataclass(frozen=True, slots=True)
class Page:
    deleted: int
    next_after: int | None  # the last id looked at; None: nothing older than the cutoff is left


FINISHED_EVENTS = (InboundStatus.DONE, InboundStatus.FAILED)
FINISHED_MESSAGES = (OutboundStatus.SENT, OutboundStatus.FAILED)


def prune_inbox(session: Session, /, *, before: datetime, after_id: int = 0, limit: int = 500) -> Page:
    """Done and failed events received before `before` (pending ones are never touched).

    Once an event is gone, a redelivery of it would be processed again: `before` must be further back
    than the platforms redeliver (Feishu: about 7.1 hours).
    """
    table = InboundEvent.__table__
    return prune_page(
        session, table, table.c.received_at, table.c.status.in_(FINISHED_EVENTS),
        before=before, after_id=after_id, limit=limit,
    )


def prune_outbox(session: Session, /, *, before: datetime, after_id: int = 0, limit: int = 500) -> Page:
    """Sent and failed messages created before `before` (pending ones, leased or not, are kept)."""
    table = OutboundMessage.__table__
    return prune_page(
        session, table, table.c.created_at, table.c.status.in_(FINISHED_MESSAGES),
        before=before, after_id=after_id, limit=limit,
    )


def prune_page(
    session: Session,
    table: Table,
    stamp: ColumnElement[datetime],
    deletable: ColumnElement[bool],
    *,
    before: datetime,
    after_id: int,
    limit: int,
) -> Page:
    """One page of `table`'s oldest rows after `after_id`: delete those stamped before `before` that
    are `deletable`."""
    rows = session.execute(
        select(table.c.id, stamp).where(table.c.id > after_id).order_by(table.c.id).limit(limit)
    ).all()
    old = []
    for row_id, at in rows:
        if at >= before:
            break
        old.append(row_id)
    if not old:
        return Page(0, None)
    # The condition again in the DELETE: a row that changed since it was read stays.
    result = session.execute(
        delete(table).where(table.c.id.in_(bindparam("ids", expanding=True)), stamp < before, deletable),
        {"ids": old},
    )
    deleted = cast(CursorResult[Any], result).rowcount
    finished = len(old) < len(rows) or len(rows) < limit
    return Page(deleted, None if finished else old[-1])

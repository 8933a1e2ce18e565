"""The outbox table as senders hold it: leased rows, chat lanes, outcomes, heartbeats.

A sender claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers) and leases
them in the same transaction: `leased_by` names the sender and `next_attempt_at` moves to the end of the
lease, so no other sender sees them as due. Each chat's lane (a group, or a private chat with one user)
is held the same way, by a row in `outbox_lane` taken with its messages: only the lane's holder claims
its messages, so a chat's messages go out in order, from one process, under one per-chat rate limit.
Every outcome is written only if the row is still ours (`leased_by`). The sender loop that uses these
is `bot.delivery.OutboxSender`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Select, case, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.messages import Reply
from bot.platforms import OutgoingMessage
from models import OutboundMessage, OutboundStatus
from models.delivery import OutboxHeartbeat, OutboxLane

Lane = tuple[str, str, str]  # (platform, chat_id, to_user_id or "")
FAIR_SHARE = 8  # rows per lane per claim when the platform has no per-chat limit
HEARTBEAT_TTL = timedelta(seconds=3)  # a sender missing for this long no longer takes a share of the app limit


def lane_of(message: OutgoingMessage | OutboundMessage) -> Lane:
    return (message.platform, message.chat_id, message.to_user_id or "")


def snapshot(row: OutboundMessage) -> OutgoingMessage:
    return OutgoingMessage(
        id=row.id,
        platform=row.platform,
        chat_id=row.chat_id,
        reply=Reply.from_payload(row.body),
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        reply_to=row.reply_to,
        reply_to_expires_at=row.reply_to_expires_at,
        to_user_id=row.to_user_id,
        update_message_id=row.updates_message_id,
    )


def _claimable(
    platform: str,
    cutoff: datetime,
    *,
    holder: str,
    now: datetime,
    per_lane: int,
    skip_chats: Collection[str],
    exclude: Collection[int],
) -> Select[tuple[int]]:
    """Ids of the due rows a claim may take: the first `per_lane` of each lane that nobody else holds."""
    m = OutboundMessage
    to_user = func.coalesce(m.to_user_id, "")
    held_elsewhere = exists().where(
        OutboxLane.platform == m.platform,
        OutboxLane.chat_id == m.chat_id,
        OutboxLane.to_user_id == to_user,
        OutboxLane.holder != holder,
        OutboxLane.expires_at > now,
    )
    place = func.row_number().over(partition_by=(m.chat_id, to_user), order_by=m.id).label("place")
    due = select(m.id, place).where(
        m.platform == platform, m.status == OutboundStatus.PENDING, m.next_attempt_at <= cutoff, ~held_elsewhere
    )
    if skip_chats:
        due = due.where(m.chat_id.not_in(list(skip_chats)))
    if exclude:
        due = due.where(m.id.not_in(list(exclude)))
    ranked = due.subquery()
    return select(ranked.c.id).where(ranked.c.place <= per_lane)


def claim_due(
    session: Session,
    /,
    *,
    platforms: Mapping[str, datetime],
    holder: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    per_lane: Mapping[str, int] | None = None,
    skip_chats: Mapping[str, Collection[str]] | None = None,
    exclude: Collection[int] = (),
) -> list[OutgoingMessage]:
    """Lease up to `limit` due rows for `holder`, oldest first, with the lanes they belong to.

    `platforms` maps each platform to its due cutoff. At most `per_lane[platform]` rows of a lane
    (default `FAIR_SHARE`) per claim, and none of a lane another sender holds, nor of `skip_chats`
    (held back, or with enough queued already). A lane taken by someone else between the query and
    the upsert leaves its rows alone.
    """
    rows: list[OutboundMessage] = []
    for platform, cutoff in platforms.items():
        ids = _claimable(
            platform,
            cutoff,
            holder=holder,
            now=now,
            per_lane=(per_lane or {}).get(platform, FAIR_SHARE),
            skip_chats=(skip_chats or {}).get(platform, ()),
            exclude=exclude,
        )
        query = (
            select(OutboundMessage)
            .where(OutboundMessage.id.in_(ids))
            .order_by(OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows.extend(session.scalars(query))
    rows.sort(key=lambda r: r.id)
    rows = rows[:limit]
    if not rows:
        return []
    taken = take_lanes(session, {lane_of(r) for r in rows}, holder=holder, now=now, until=lease_until)
    rows = [r for r in rows if lane_of(r) in taken]
    if rows:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_([r.id for r in rows]))
            .values(next_attempt_at=lease_until, leased_by=holder)
            .execution_options(synchronize_session=False)
        )
    return [snapshot(r) for r in rows]


def take_lanes(session: Session, /, lanes: Collection[Lane], *, holder: str, now: datetime, until: datetime) -> set[Lane]:
    """Take or extend these lanes for `holder` where they are free (never held, run out, or ours already).

    In key order, so that two senders taking overlapping lanes wait for each other rather than deadlock.
    """
    if not lanes:
        return set()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    values = insert(OutboxLane).values(
        [
            {"platform": platform, "chat_id": chat, "to_user_id": to_user, "holder": holder, "expires_at": until}
            for platform, chat, to_user in sorted(lanes)
        ]
    )
    statement = values.on_conflict_do_update(
        index_elements=[OutboxLane.platform, OutboxLane.chat_id, OutboxLane.to_user_id],
        set_={"holder": values.excluded.holder, "expires_at": values.excluded.expires_at},
        where=or_(OutboxLane.holder == holder, OutboxLane.expires_at <= now),
    ).returning(OutboxLane.platform, OutboxLane.chat_id, OutboxLane.to_user_id)
    return {(platform, chat, to_user) for platform, chat, to_user in session.execute(statement)}


def _lanes_where(lanes: Collection[Lane]) -> list[Any]:
    """One condition per (platform, to_user) with the chats as an IN list (SQLite has no row-value IN list)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for platform, chat, to_user in lanes:
        groups.setdefault((platform, to_user), []).append(chat)
    return [
        (OutboxLane.platform == platform) & (OutboxLane.to_user_id == to_user) & OutboxLane.chat_id.in_(chats)
        for (platform, to_user), chats in groups.items()
    ]


def extend_lanes(session: Session, /, lanes: Collection[Lane], *, holder: str, until: datetime) -> set[Lane]:
    """Move the end of our lease on these lanes to `until`; returns the lanes we still hold."""
    if not lanes:
        return set()
    statement = (
        update(OutboxLane)
        .where(OutboxLane.holder == holder, or_(*_lanes_where(lanes)))
        .values(expires_at=until)
        .returning(OutboxLane.platform, OutboxLane.chat_id, OutboxLane.to_user_id)
        .execution_options(synchronize_session=False)
    )
    return {(platform, chat, to_user) for platform, chat, to_user in session.execute(statement)}


def hold_lane(session: Session, /, lane: Lane, *, holder: str, until: datetime) -> None:
    """Keep our lane until `until` (its next message waits for a retry then): nobody else may send its
    later messages first, even if we die meanwhile."""
    session.execute(
        update(OutboxLane)
        .where(OutboxLane.holder == holder, or_(*_lanes_where([lane])), OutboxLane.expires_at < until)
        .values(expires_at=until)
        .execution_options(synchronize_session=False)
    )


def _ours(message_id: int, holder: str) -> Any:
    return update(OutboundMessage).where(
        OutboundMessage.id == message_id,
        OutboundMessage.status == OutboundStatus.PENDING,
        OutboundMessage.leased_by == holder,
    )


def _changed(result: Any) -> bool:
    return bool(cast(CursorResult[Any], result).rowcount)


def record_sent(session: Session, /, message_id: int, *, holder: str, now: datetime, platform_message_id: str | None) -> bool:
    result = session.execute(
        _ours(message_id, holder).values(
            status=OutboundStatus.SENT,
            attempts=OutboundMessage.attempts + 1,
            sent_at=now,
            platform_message_id=platform_message_id,
            last_error=None,
            leased_by=None,
        )
    )
    return _changed(result)


def record_failure(
    session: Session, /, message_id: int, *, holder: str, error: str, retry_at: datetime | None, max_attempts: int
) -> bool:
    """One failed attempt: try again at `retry_at`, or mark failed (permanent error, or too many attempts)."""
    values: dict[str, Any] = {"attempts": OutboundMessage.attempts + 1, "last_error": error[:2000], "leased_by": None}
    if retry_at is None:
        values["status"] = OutboundStatus.FAILED
    else:
        # Stored values, not members: a SQL expression bypasses the column's enum conversion.
        values["status"] = case(
            (OutboundMessage.attempts + 1 >= max_attempts, OutboundStatus.FAILED.value), else_=OutboundStatus.PENDING.value
        )
        values["next_attempt_at"] = retry_at
    return _changed(session.execute(_ours(message_id, holder).values(**values)))


def release(session: Session, /, message_ids: Collection[int], *, holder: str, at: datetime) -> int:
    """Give leased rows back unsent, due again at `at`; returns how many were still ours."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.id.in_(list(message_ids)),
            OutboundMessage.status == OutboundStatus.PENDING,
            OutboundMessage.leased_by == holder,
        )
        .values(next_attempt_at=at, leased_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], result).rowcount or 0)


def renew_leases(
    session: Session, /, message_ids: Collection[int], lanes: Collection[Lane], *, holder: str, now: datetime, until: datetime
) -> tuple[set[int], set[Lane]]:
    """Extend our leases on the rows and lanes of live work; returns what we still hold.

    Conditional on the holder, not on the lease's end, so an outcome written meanwhile is never undone
    and a lease that ran out while the database was unreachable is kept if nobody took it. Rows first,
    then lanes, the order claims lock them in. Rows of a lane someone else took are given back.
    """
    rows: set[int] = set()
    if message_ids:
        rows = set(
            session.scalars(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(list(message_ids)),
                    OutboundMessage.status == OutboundStatus.PENDING,
                    OutboundMessage.leased_by == holder,
                )
                .values(next_attempt_at=until)
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
        )
    kept = extend_lanes(session, lanes, holder=holder, until=until)
    lost = set(lanes) - kept
    if lost and rows:
        orphaned = session.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.id.in_(list(rows)),
                or_(
                    *[
                        (OutboundMessage.platform == platform)
                        & (OutboundMessage.chat_id == chat)
                        & (func.coalesce(OutboundMessage.to_user_id, "") == to_user)
                        for platform, chat, to_user in lost
                    ]
                ),
            )
        ).all()
        release(session, orphaned, holder=holder, at=now)
        rows.difference_update(orphaned)
    return rows, kept


def heartbeat(session: Session, /, *, sender: str, started_at: datetime, now: datetime) -> int:
    """Say this sender is alive; returns how many senders are (this one included)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(OutboxHeartbeat).values(sender=sender, started_at=started_at, expires_at=now + HEARTBEAT_TTL)
    refresh = {"expires_at": statement.excluded.expires_at}
    session.execute(statement.on_conflict_do_update(index_elements=[OutboxHeartbeat.sender], set_=refresh))
    session.execute(delete(OutboxHeartbeat).where(OutboxHeartbeat.expires_at <= now))
    live = session.scalar(select(func.count()).select_from(OutboxHeartbeat).where(OutboxHeartbeat.expires_at > now))
    return int(live or 1)


def prune_lanes(session: Session, /, *, before: datetime) -> None:
    """Forget lanes nobody has held since `before` (one row per chat ever sent to otherwise)."""
    session.execute(delete(OutboxLane).where(OutboxLane.expires_at < before))


def sign_off(session: Session, /, *, sender: str, keep: Collection[tuple[str, str]], reopen_at: datetime) -> None:
    """A sender stopping: its lanes reopen at `reopen_at`, except the chats in `keep` ((platform, chat):
    a retry is due there, or a send did not finish), and it no longer takes a share of the app limits."""
    statement = update(OutboxLane).where(OutboxLane.holder == sender, OutboxLane.expires_at > reopen_at)
    if keep:
        statement = statement.where(~or_(*[(OutboxLane.platform == p) & (OutboxLane.chat_id == c) for p, c in keep]))
    session.execute(statement.values(expires_at=reopen_at).execution_options(synchronize_session=False))
    session.execute(delete(OutboxHeartbeat).where(OutboxHeartbeat.sender == sender))

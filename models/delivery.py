"""The durable inbox (inbound events, unique per platform event key) and outbox (outbound messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base
from models.enums import InboundStatus, OutboundStatus, enum_column

EVENT_KEY_MAX = 200  # a platform's de-dup key (also the message reference on history rows)


class InboundEvent(Base):
    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("platform", "event_key"),
        Index("ix_inbound_event_status", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(EVENT_KEY_MAX))
    chat_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # the neutral Incoming, serialised
    status: Mapped[InboundStatus] = mapped_column(enum_column(InboundStatus), default=InboundStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class OutboundMessage(Base):
    __tablename__ = "outbound_message"
    __table_args__ = (
        Index("ix_outbound_message_due", "status", "next_attempt_at"),
        # A group's reply routes that expire (DingTalk sessionWebhooks): scheduled posts borrow the
        # latest live one to @-mention people (the group API cannot). Only such rows are indexed.
        Index(
            "ix_outbound_message_reply_route",
            "platform",
            "chat_id",
            "reply_to_expires_at",
            sqlite_where=text("reply_to_expires_at IS NOT NULL"),
            postgresql_where=text("reply_to_expires_at IS NOT NULL"),
        ),
        # A card's button callbacks name the message they were pressed on: its row (and what it shows).
        Index(
            "ix_outbound_message_platform_message",
            "platform",
            "platform_message_id",
            sqlite_where=text("platform_message_id IS NOT NULL"),
            postgresql_where=text("platform_message_id IS NOT NULL"),
        ),
        # What an event or a scheduled post wrote (a callback's answer; today's prompt card).
        Index("ix_outbound_message_origin", "origin"),
        # The cards showing one item (`view_key`): a change to it finds the day's cards to show again.
        Index(
            "ix_outbound_message_view",
            "platform",
            "view_key",
            "created_at",
            sqlite_where=text("view_key IS NOT NULL"),
            postgresql_where=text("view_key IS NOT NULL"),
        ),
        # The updates of a card (a newer one supersedes those still waiting).
        Index(
            "ix_outbound_message_updates",
            "platform",
            "updates_message_id",
            sqlite_where=text("updates_message_id IS NOT NULL"),
            postgresql_where=text("updates_message_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(128))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id", ondelete="SET NULL"))
    # Feishu: the message id to reply to; DingTalk: the sessionWebhook (valid until reply_to_expires_at).
    reply_to: Mapped[str | None] = mapped_column(String(1024))
    reply_to_expires_at: Mapped[datetime | None]
    # A private message to this user instead of the group (PM digests), where the platform allows.
    to_user_id: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)  # the neutral Reply, serialised
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)  # Feishu uuid / DingTalk msgUuid
    origin: Mapped[str] = mapped_column(String(120))  # "event:<id>" or "job:<kind>:<project>:<slot>"
    status: Mapped[OutboundStatus] = mapped_column(enum_column(OutboundStatus), default=OutboundStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    # Not a new message: the platform message (a card) this row updates in place with `body`.
    updates_message_id: Mapped[str | None] = mapped_column(String(128))
    # The one item a message shows and is kept up to date with (`Reply.view`: "task:12" by row id;
    # models.card_views.view_key), so a change to that item finds it.
    view_key: Mapped[str | None] = mapped_column(String(40))
    # The sender holding the row (with `next_attempt_at` the end of its lease); None when not leased.
    leased_by: Mapped[str | None] = mapped_column(String(64))


class OutboxLane(Base):
    """A chat's lane, held by one outbox sender at a time (its messages in order, its rate limit in one
    process); `to_user_id` is "" for the group itself."""

    __tablename__ = "outbox_lane"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    to_user_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]


class OutboxHeartbeat(Base):
    """One row per live outbox sender: the senders share each platform's app-wide rate limit."""

    __tablename__ = "outbox_heartbeat"

    sender: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]

"""`tandem outbox`: what the outbox holds (failed messages with their errors) and sending again."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from bot.clock import utcnow
from bot.config import get_settings
from bot.messages import Reply
from bot.outbox import count_by_status, list_messages, retry_message
from bot.runtime import build_runtime
from models import OutboundStatus


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%m-%d %H:%M:%S") if moment else "-"


@click.group()
def outbox() -> None:
    """Outbound messages: list them (failed ones with their errors) and send again."""


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in OutboundStatus] + ["all"]),
    default="all",
    show_default=True,
    help="Only messages in this state.",
)
@click.option("--limit", default=50, show_default=True, type=int)
def list_command(status: str, limit: int) -> None:
    """Messages, newest first: state, target, attempts, last error, text."""
    settings = get_settings()
    zone = ZoneInfo(settings.timezone)
    runtime = build_runtime(settings)
    try:
        with runtime.session_factory() as session:
            counts = count_by_status(session)
            rows = list_messages(session, status=None if status == "all" else OutboundStatus(status), limit=limit)
            click.echo("  ".join(f"{name}: {counts.get(name, 0)}" for name in (s.value for s in OutboundStatus)))
            for row in rows:
                text = Reply.from_payload(row.body).plain_text().replace("\n", " ⏎ ")
                target = row.chat_id + (f" → {row.to_user_id}" if row.to_user_id else "")
                due = f"sent {_when(row.sent_at, zone)}" if row.sent_at else f"next {_when(row.next_attempt_at, zone)}"
                click.echo(
                    f"#{row.id} {row.status.value:<7} {row.platform}:{target}  attempts {row.attempts}  "
                    f"created {_when(row.created_at, zone)}  {due}  origin {row.origin}"
                )
                if row.last_error:
                    click.echo(f"    error: {row.last_error}")
                click.echo(f"    text:  {text[:120]}{'…' if len(text) > 120 else ''}")
    finally:
        runtime.close()


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int, required=True)
def retry_command(ids: tuple[int, ...]) -> None:
    """Send these messages again (failed or pending; a running `tandem serve` picks them up)."""
    runtime = build_runtime(get_settings())
    try:
        with runtime.session_factory.begin() as session:
            for message_id in ids:
                if retry_message(session, message_id, now=utcnow()):
                    click.echo(f"#{message_id}: queued again")
                else:
                    click.echo(f"#{message_id}: not found or already sent", err=True)
    finally:
        runtime.close()

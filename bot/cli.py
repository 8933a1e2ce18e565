"""The `tandem` command: serve, db upgrade, say, chat (and, from their modules, jobs and outbox)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click

from bot.config import get_settings
from bot.logs import configure_logging
from bot.outbox_cli import outbox
from bot.platforms.console import DEFAULT_CHAT, console_incoming, deliver_console
from bot.runtime import Runtime, build_runtime
from models import CHAT_ID_MAX, USER_ID_MAX
from scheduler.cli import jobs


def parse_at(value: str | None, timezone: str) -> datetime | None:
    """An ISO 8601 moment; without an offset it is read in the configured time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"不是 ISO 8601 时间：{value}（例：2026-11-23T09:30）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Tandem: run cross-department projects from Feishu and DingTalk group chats."""
    configure_logging(get_settings(), command=ctx.invoked_subcommand)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--no-scheduler", is_flag=True, help="Web only (extra replicas): no scheduler in this process.")
def serve(host: str, port: int, no_scheduler: bool) -> None:
    """Run the web app (webhooks, health) and the background workers."""
    import uvicorn

    from bot.app import create_app

    settings = get_settings()
    app = create_app(settings, run_scheduler=not no_scheduler)
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=None)  # uvicorn's lines through ours


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to the configured database."""
    from bot.db import upgrade_database

    upgrade_database(get_settings().database_url)
    click.echo("数据库已是最新版本。", err=True)


def _say(runtime: Runtime, text: str, *, chat: str, user: str, name: str, at: datetime | None) -> None:
    incoming = console_incoming(text, chat_id=chat, user_id=user, name=name, at=at or runtime.clock())
    for event_id in runtime.dispatcher.accept([incoming]):
        runtime.dispatcher.process(event_id)
    deliver_console(runtime.session_factory, click.echo, chat_id=chat, clock=runtime.clock)


def _identity(chat: str, user: str | None, name: str | None) -> tuple[str, str]:
    """The sender's (user id, display name); ids longer than a platform's are refused up front."""
    user = user or name or "me"
    for option, value, limit in (("--chat", chat, CHAT_ID_MAX), ("--user", user, USER_ID_MAX)):
        if len(value) > limit:
            raise click.BadParameter(f"最长 {limit} 个字符，现在是 {len(value)} 个", param_hint=option)
    return user, name or user


@main.command()
@click.option("--chat", default=DEFAULT_CHAT, show_default=True, help="Console group chat id.")
@click.option("--user", default=None, help="Sender's user id (default: the name).")
@click.option("--name", default=None, help="Sender's display name (default: the user id).")
@click.option("--at", "at", default=None, help="The message's own time, ISO 8601.")
@click.argument("text", nargs=-1, required=True)
def say(chat: str, user: str | None, name: str | None, at: str | None, text: tuple[str, ...]) -> None:
    """Post one message into a console group chat and print the bot's replies."""
    user_id, display = _identity(chat, user, name)
    settings = get_settings()
    runtime = build_runtime(settings)
    try:
        _say(runtime, " ".join(text), chat=chat, user=user_id, name=display, at=parse_at(at, settings.timezone))
    finally:
        runtime.close()


@main.command()
@click.option("--chat", default=DEFAULT_CHAT, show_default=True)
@click.option("--user", default=None)
@click.option("--name", default=None)
def chat(chat: str, user: str | None, name: str | None) -> None:
    """The same as `say`, interactively (Ctrl-D to leave)."""
    user_id, display = _identity(chat, user, name)
    runtime = build_runtime(get_settings())
    try:
        while True:
            try:
                line = input(f"{display}> ")
            except EOFError:
                break
            if line.strip():
                _say(runtime, line, chat=chat, user=user_id, name=display, at=None)
    finally:
        runtime.close()


main.add_command(jobs)
main.add_command(outbox)

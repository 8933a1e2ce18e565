"""The `tandem` command: serve, db upgrade, say, chat (and, from their modules, jobs, outbox, projects,
export and import)."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from pathlib import Path

import click

from bot.cli_args import parse_at
from bot.config import get_settings
from bot.jobs_cli import jobs
from bot.logs import configure_logging
from bot.outbox_cli import outbox
from bot.platforms.console import DEFAULT_CHAT, console_incoming, deliver_console, press, private_chat_id
from bot.runtime import Runtime, build_runtime
from bot.sheets_cli import export_command, import_command, projects
from models import CHAT_ID_MAX, USER_ID_MAX


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
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", log_config=None, timeout_graceful_shutdown=SHUTDOWN_GRACE
    )  # uvicorn's lines through ours
    # uvicorn shuts down gracefully on SIGTERM (requests under way finish, then the lifespan drains the
    # workers), then raises the signal again, so the process would end "killed by SIGTERM". SIGTERM is how
    # systemd, Docker and Kubernetes stop a service: once the shutdown is done, that is a clean exit (0).
    signal.signal(signal.SIGTERM, _stopped)
    uvicorn.Server(config).run()


SHUTDOWN_GRACE = 10  # seconds uvicorn waits for requests under way before cancelling them


def _stopped(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply migrations to the configured database."""
    from bot.db import upgrade_database

    upgrade_database(get_settings().database_url)
    click.echo("数据库已是最新版本。", err=True)


PG_DUMP_HINT = (
    "这是 PostgreSQL 数据库：请用 pg_dump 备份（数据库在运行时也可以），例如\n"
    "  pg_dump --format=custom --file=tandem-$(date +%F).dump \"$DATABASE_URL\"\n"
    "（URL 写成 postgresql://user@host:5432/db，不带 +psycopg），用 pg_restore 恢复。详见 README“备份”。"
)


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    """A consistent copy of the SQLite database at PATH (0600), safe while `tandem serve` runs."""
    from bot.db import backup_sqlite, is_sqlite

    url = get_settings().database_url
    if not is_sqlite(url):
        click.echo(PG_DUMP_HINT, err=True)
        raise SystemExit(2)
    try:
        size = backup_sqlite(url, path)
    except FileExistsError:
        raise click.ClickException(f"{path} 已存在：请换一个文件名（备份不会覆盖已有文件）") from None
    except FileNotFoundError as exc:
        raise click.ClickException(f"数据库文件不存在：{exc}") from None
    click.echo(f"已备份到 {path}（{size / 1024:.0f} KiB，权限 0600）", err=True)


@db.command("prune")
def db_prune() -> None:
    """Delete what retention allows now (what `tandem serve` does every TANDEM_RETENTION_INTERVAL_MINUTES)."""
    from bot.retention import Pruner, prune_steps

    settings = get_settings()
    runtime = build_runtime(settings)
    try:
        steps = prune_steps(settings)
        deleted = Pruner(runtime.writes, steps, clock=runtime.clock).run()
    finally:
        runtime.close()
    for step in steps:
        if step.name in deleted:
            click.echo(f"{step.name}：删除 {deleted[step.name]} 行（保留 {_duration(step.keep)} 内的）")
        else:
            click.echo(f"{step.name}：失败，见日志", err=True)
    if len(deleted) < len(steps):
        raise SystemExit(1)


def _duration(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} 天" if hours % 24 == 0 else f"{hours} 小时"


def _say(
    runtime: Runtime, text: str, *, chat: str, user: str, name: str, at: datetime | None, private: bool = False
) -> None:
    # `1` / `按 1`: the latest numbered choice printed in the chat (privately: sent to the user too)
    pressed = press(runtime.session_factory, text, chat_id=chat, private_to=user if private else None)
    if pressed.text is None:
        click.echo(pressed.answer)
        return
    incoming = console_incoming(
        pressed.text, chat_id=chat, user_id=user, name=name, at=at or runtime.clock(), private=private
    )
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
@click.option("--private", is_flag=True, help="Say it to the bot privately (not in --chat): a task update in your projects.")
@click.argument("text", nargs=-1, required=True)
def say(chat: str, user: str | None, name: str | None, at: str | None, private: bool, text: tuple[str, ...]) -> None:
    """Post one message into a console group chat (or privately) and print the bot's replies."""
    user_id, display = _identity(chat, user, name)
    if private:
        chat = private_chat_id(user_id)
    settings = get_settings()
    runtime = build_runtime(settings)
    try:
        _say(
            runtime, " ".join(text), chat=chat, user=user_id, name=display, at=parse_at(at, settings.timezone),
            private=private,
        )
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
main.add_command(projects)
main.add_command(export_command)
main.add_command(import_command)

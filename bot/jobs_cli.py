"""`tandem jobs run KIND [--at ISO8601] [--project ID]`: do what the scheduler would do at that moment."""

from __future__ import annotations

import click

from bot.cli_args import parse_at
from scheduler.slots import KINDS


@click.group()
def jobs() -> None:
    """Scheduled jobs: run one as if at a given moment (the same exactly-once rules hold)."""


@jobs.command("run")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option("--at", "at", default=None, help="The moment to run at, ISO 8601 (default: now; no offset = TANDEM_TIMEZONE).")
@click.option("--project", "project_ids", type=int, multiple=True, help="Only this project (repeatable).")
def run(kind: str, at: str | None, project_ids: tuple[int, ...]) -> None:
    """Post what is due at that moment (within the grace period) and not yet posted, nothing else.

    Messages for console chats are printed; a summary goes to stderr.
    """
    from bot.config import get_settings
    from bot.platforms.console import deliver_console
    from bot.runtime import build_runtime

    settings = get_settings()
    runtime = build_runtime(settings)
    try:
        moment = parse_at(at, settings.timezone) or runtime.clock()
        report = runtime.job_runner().run([kind], moment, project_ids=project_ids or None)
        deliver_console(runtime.session_factory, click.echo, clock=runtime.clock)
        for line in report.lines:
            click.echo(line, err=True)
        click.echo(f"{kind} @ {moment.isoformat()}：{report.summary()}", err=True)
        if report.errors:
            raise SystemExit(1)
    finally:
        runtime.close()

"""The composition root shared by the web app and the CLI: engine, sessions, registry, dispatcher."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.dashboard.links import DashboardLinks
from bot.db import is_sqlite, make_engine, make_session_factory, upgrade_database
from bot.dispatcher import Dispatcher
from bot.platforms.registry import (
    card_answer_platforms,
    card_update_platforms,
    private_platforms,
    reply_route_platforms,
)
from bot.writes import Writes
from handlers import build_registry, handle_message
from handlers.card_refresh import CardRefresh
from handlers.router import CommandRegistry
from scheduler.jobs import JobRunner


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    registry: CommandRegistry
    dispatcher: Dispatcher
    writes: Writes  # background write transactions, in the webhook-first order on SQLite (bot.writes)
    clock: Clock = field(default=utcnow)
    links: DashboardLinks | None = None  # dashboard links: signed by handlers, checked by bot.dashboard.routes

    def close(self) -> None:
        self.engine.dispose()

    def job_runner(self) -> JobRunner:
        """The scheduler's unit of work, as `tandem serve` and `tandem jobs run` use it."""
        return JobRunner(
            self.session_factory,
            clock=self.clock,
            grace=timedelta(minutes=self.settings.scheduler_grace_minutes),
            private_platforms=private_platforms(),
            reply_route_platforms=reply_route_platforms(),
            reminder_cap=self.settings.reminder_daily_cap,
        )


def build_runtime(settings: Settings, *, clock: Clock = utcnow, engine: Engine | None = None) -> Runtime:
    """Build everything from settings; the embedded SQLite database is migrated to head first."""
    if engine is None:
        if is_sqlite(settings.database_url):
            upgrade_database(settings.database_url)
        engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    registry = build_registry()
    links = DashboardLinks(settings)
    handle = partial(handle_message, registry=registry, default_timezone=settings.timezone, links=links)
    updating = card_update_platforms(settings)
    refresh = CardRefresh(platforms=updating, registry=registry)
    dispatcher = Dispatcher(
        session_factory, handle, clock=clock, refresh=refresh, refresh_platforms=updating,
        answer_card_platforms=card_answer_platforms(),
    )
    writes = Writes(session_factory, ordered=engine.dialect.name == "sqlite")
    return Runtime(settings, engine, session_factory, registry, dispatcher, writes, clock, links)

"""The FastAPI application: `create_app(settings)` builds it; resources live in the lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot import logs, metrics, routes, webhooks
from bot.config import Settings, get_settings
from bot.retention import build_retention
from bot.runtime import Runtime, build_runtime
from bot.services import build_platforms
from bot.worker import InboxWorker
from scheduler.service import start_scheduler

log = logging.getLogger(__name__)

SENDER_STOP_TIMEOUT = 10.0  # seconds for the outbox sender to finish the sends in flight at shutdown


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_scheduler: bool = False
) -> FastAPI:
    """The web app. `run_scheduler`: also run the scheduler (`tandem serve` does, unless --no-scheduler)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        platforms = build_platforms(settings, rt)
        logs.adopt_sdk_loggers()  # lark-oapi, imported just now, prints on its own otherwise
        app.state.metrics = metrics.install(settings, rt, platforms)  # None unless TANDEM_METRICS_ENABLED
        worker = InboxWorker(platforms.processor, after_pass=platforms.outbox.wake)
        app.state.runtime = rt
        app.state.inbox_worker = worker
        app.state.platforms = platforms
        await platforms.start(on_accepted=worker.wake)
        worker.start()
        scheduler = start_scheduler(rt.job_runner(), timezone=settings.timezone, clock=rt.clock) if run_scheduler else None
        app.state.scheduler = scheduler
        retention = build_retention(settings, rt.session_factory, clock=rt.clock, gate=platforms.gate)
        if retention is not None:
            retention.start()
        try:
            yield
        finally:
            # Graceful shutdown, in the direction the work flows (uvicorn has stopped taking requests and
            # waited for those under way): intake (the batcher records what it accepted), then processing
            # (a scheduler tick, the inbox worker and a pruning run finish what they are doing), then
            # sending (the outbox sender's stop drains the sends in flight).
            await platforms.stop_intake()
            if scheduler is not None:
                await scheduler.stop()
            if retention is not None:
                await retention.stop()
            await worker.stop()
            try:
                await asyncio.wait_for(platforms.stop(), timeout=SENDER_STOP_TIMEOUT)
            except TimeoutError:
                # Never keep a stopping service alive for ever; what was not sent goes out after a restart.
                log.error("the outbox sender did not stop within %.0fs; exiting without it", SENDER_STOP_TIMEOUT)
            if runtime is None:
                rt.close()

    app = FastAPI(title="Tandem", lifespan=lifespan)
    app.router.routes.extend(webhooks.routes)  # first, so they are matched before FastAPI's routes
    app.include_router(routes.router)
    app.include_router(metrics.router)
    return app

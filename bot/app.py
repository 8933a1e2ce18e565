"""The FastAPI application: `create_app(settings)` builds it; resources live in the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from bot import logs, metrics, routes, webhooks
from bot.config import Settings, get_settings
from bot.dashboard import routes as dashboard_routes
from bot.retention import build_retention
from bot.runtime import Runtime, build_runtime
from bot.services import build_platforms
from bot.worker import InboxWorker
from scheduler.service import start_scheduler

SENDER_STOP_TIMEOUT = 10.0  # seconds for the outbox sender to finish the sends in flight at shutdown


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, run_scheduler: bool = False
) -> FastAPI:
    """The web app. `run_scheduler`: also run the scheduler (`tandem serve` does, unless --no-scheduler)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Components start against the direction the work flows and stop, in reverse, along it: intake
        # first (uvicorn has stopped taking requests; the batcher records what it accepted), then
        # processing (pruning, a scheduler tick and the inbox worker finish what they are doing), then
        # sending (the outbox sender drains the sends in flight). A start that fails stops what started.
        async with AsyncExitStack() as running:
            rt = runtime or build_runtime(settings)
            if runtime is None:
                running.callback(rt.close)
            platforms = build_platforms(settings, rt)
            logs.adopt_sdk_loggers()  # lark-oapi, imported just now, prints on its own otherwise
            app.state.metrics = metrics.install(settings, rt, platforms)  # None unless TANDEM_METRICS_ENABLED
            worker = InboxWorker(platforms.processor, after_pass=platforms.outbox.wake)
            app.state.runtime, app.state.inbox_worker, app.state.platforms = rt, worker, platforms
            platforms.start_sending()
            running.push_async_callback(platforms.stop_sending, SENDER_STOP_TIMEOUT)
            worker.start()
            running.push_async_callback(worker.stop)
            scheduler = start_scheduler(rt.job_runner(), timezone=settings.timezone, clock=rt.clock) if run_scheduler else None
            app.state.scheduler = scheduler
            if scheduler is not None:
                running.push_async_callback(scheduler.stop)
            retention = build_retention(settings, rt.writes, clock=rt.clock)
            if retention is not None:
                retention.start()
                running.push_async_callback(retention.stop)
            await platforms.start_intake(on_accepted=worker.wake)
            running.push_async_callback(platforms.stop_intake)
            # Everything loaded by now (lark-oapi alone is ~400k objects) lives as long as the process: keep
            # it out of the garbage collector's full passes, which otherwise stall the event loop ~250 ms.
            gc.collect()
            gc.freeze()
            yield

    app = FastAPI(title="Tandem", lifespan=lifespan)
    app.router.routes.extend(webhooks.routes)  # first, so they are matched before FastAPI's routes
    app.include_router(routes.router)
    app.include_router(dashboard_routes.router)
    app.include_router(metrics.router)
    return app

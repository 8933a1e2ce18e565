"""The FastAPI application: `create_app(settings)` builds it; resources live in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bot import routes, webhooks
from bot.config import Settings, get_settings
from bot.runtime import Runtime, build_runtime
from bot.services import build_platforms
from bot.worker import InboxWorker


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        platforms = build_platforms(settings, rt)
        worker = InboxWorker(platforms.processor, after_pass=platforms.outbox.wake)
        app.state.runtime = rt
        app.state.inbox_worker = worker
        app.state.platforms = platforms
        await platforms.start(on_accepted=worker.wake)
        worker.start()
        try:
            yield
        finally:
            await platforms.stop_intake()
            await worker.stop()
            await platforms.stop()
            if runtime is None:
                rt.close()

    app = FastAPI(title="Tandem", lifespan=lifespan)
    app.include_router(routes.router)
    app.include_router(webhooks.router)
    return app

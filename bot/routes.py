"""HTTP routes: health (the database answers, else 503; each platform's receive mode and connection state, 503
when a long connection has been down over a minute). The webhooks are in `bot/webhooks.py`."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

router = APIRouter()
log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:  # a probe answers "down", it does not crash with a 500
        log.warning("healthz: the database does not answer: %s", exc.__class__.__name__)
        return JSONResponse({"status": "down", "database": "unreachable"}, status_code=503)
    platforms = getattr(request.app.state, "platforms", None)
    if platforms is None:
        return JSONResponse({"status": "ok"})
    healthy, shown = platforms.health()
    # 503 once a configured receiver has been down over a minute (a blip while reconnecting is fine).
    return JSONResponse({"status": "ok" if healthy else "degraded", "platforms": shown}, status_code=200 if healthy else 503)

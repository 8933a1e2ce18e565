"""HTTP routes: health (the database answers; each platform's receive mode and connection state, 503
when a long connection has been down over a minute). The webhooks are in `bot/webhooks.py`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    with runtime.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    platforms = getattr(request.app.state, "platforms", None)
    if platforms is None:
        return JSONResponse({"status": "ok"})
    healthy, shown = platforms.health()
    # 503 once a configured receiver has been down over a minute (a blip while reconnecting is fine).
    return JSONResponse({"status": "ok" if healthy else "degraded", "platforms": shown}, status_code=200 if healthy else 503)

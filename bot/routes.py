"""HTTP routes: health and the platform webhooks (thin: verify, record, answer, process after)."""

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
    return JSONResponse({"status": "ok"})

"""The platform webhooks: verify → normalise → record in the inbox (group commit) → 200 → process after.

Nothing here talks to a platform: a request is answered from what it carries and one shared commit.
The body is read as it streams in and reading stops at MAX_BODY (413), before any crypto. A request
is answered within about 2 s whatever the database does: 503 (retry) only when the event could not
be recorded for a reason that may pass (database down or locked, shutting down); a value the
database refuses for this event is its own problem, 400, so the platform does not redeliver it forever.

These are plain Starlette routes, added to the FastAPI app ahead of its own: a webhook reads raw bytes
and needs none of FastAPI's parameter parsing, and skipping it (and `include_router` matching) takes
about 50 µs off every request, a third of what the whole bare endpoint costs behind uvicorn
(see bench/ingest.py).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.callback_answers import answer_after_processing
from bot.ingest import IntakeUnavailable, is_data_error
from bot.platforms import Challenge, Ignored, Refused
from bot.platforms.registry import off_reason
from bot.services import Platforms

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # 1 MiB; real events are a few KiB


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request) -> bytes | None:
    """The body, or None as soon as it grows past MAX_BODY (the rest is never read: a chunked body
    has no Content-Length to refuse it by)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _refused(request: Request, platform: str, exc: Refused) -> JSONResponse:
    client = request.client.host if request.client else "?"
    log.warning("%s webhook: refused %d from %s: %s", platform, exc.status, client, exc.reason)
    return _error(exc.status, exc.reason)


async def webhook(request: Request) -> Response:
    """`POST /webhook/{platform}` (and `/webhook/{platform}/card`): the one route of every platform."""
    platforms: Platforms = request.app.state.platforms
    platform = request.path_params["platform"]
    receiver = platforms.get(platform)
    off = receiver.webhook_off() if receiver is not None else off_reason(platform)
    if receiver is None or off is not None:
        return _error(404, off or "")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        return _error(413, "request body too large")
    body = await _read_body(request)
    if body is None:
        return _error(413, "request body too large")
    try:
        parsed = receiver.parse_webhook(body, request.headers, now=platforms.clock())
    except Refused as exc:
        return _refused(request, platform, exc)
    if isinstance(parsed, Challenge):
        return JSONResponse(parsed.body)
    if isinstance(parsed, Ignored):
        return JSONResponse(parsed.answer)
    try:
        if parsed.signature is not None:  # a signature that does not cover the body: one event per pair
            await platforms.batcher.claim_signature(parsed.signature)
        await platforms.batcher.submit(parsed.incoming)
    except Refused as exc:
        return _refused(request, platform, exc)
    except Exception as exc:
        key = parsed.incoming.event_key
        if is_data_error(exc):
            log.warning("%s webhook: event %s cannot be stored, refused: %s", platform, key, exc)
            return _error(400, "the event cannot be stored (a value the database refuses)")
        if isinstance(exc, IntakeUnavailable):
            log.warning("%s webhook: could not record event %s now: %s", platform, key, exc)
        else:
            log.exception("%s webhook: could not record event %s now", platform, key)
        return _error(503, "could not record the event; please retry")
    if parsed.await_outcome:
        return JSONResponse(await answer_after_processing(platforms.runtime, receiver, parsed, platforms.processed))
    return JSONResponse(parsed.answer)


routes = [
    Route("/webhook/{platform}", webhook, methods=["POST"]),
    Route("/webhook/{platform}/card", webhook, methods=["POST"]),  # Feishu's card callbacks may have their own URL
]

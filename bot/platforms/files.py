"""Files people send: downloaded within the size limit (the announced length checked before a byte is
read, the bytes counted while reading), and what to tell them when that is not possible — the same
for every platform."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

import httpx

from bot.messages import MAX_FILE_BYTES, IncomingFile
from bot.platforms import PermanentError, TransientError

log = logging.getLogger(__name__)

NOT_A_FILE = "回复的那条消息不是文件。请在群里回复任务表的文件消息，再发 /导入。"
DOWNLOAD_TIMEOUT = 30.0
FILE_WAIT = 60.0  # seconds an event waits for its file's download in the inbox worker


class FileTooLarge(PermanentError):
    def __init__(self, size: int) -> None:
        super().__init__(f"file of {size} bytes over the limit", code="file_too_large")
        self.size = size


def too_large(name: str, size: int) -> str:
    return f"文件“{name}”有 {size / 1024 / 1024:.1f} MB，导入最多 {MAX_FILE_BYTES // 1024 // 1024} MB。请拆小或删掉无关的表再发。"


def not_fetched(name: str) -> str:
    return f"没能下载文件“{name}”，请稍后再发一次。"


async def download(
    method: str, url: str, *, headers: Mapping[str, str] | None = None, params: Mapping[str, str] | None = None,
    limit: int = MAX_FILE_BYTES,
) -> tuple[int, str, bytes]:
    """(HTTP status, content type, body) of a download no larger than `limit` (`FileTooLarge` otherwise).
    An error answer's body is read whole (it is a short JSON)."""
    try:
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as client, client.stream(
            method, url, headers=dict(headers or {}), params=dict(params or {})
        ) as response:
            kind = response.headers.get("content-type", "")
            if response.status_code >= 400 or kind.startswith("application/json"):
                return response.status_code, kind, await response.aread()
            announced = response.headers.get("content-length")
            if announced is not None and announced.isdigit() and int(announced) > limit:
                raise FileTooLarge(int(announced))
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_bytes():
                total += len(chunk)
                if total > limit:
                    raise FileTooLarge(total)
                chunks.append(chunk)
            return response.status_code, kind, b"".join(chunks)
    except httpx.HTTPError as exc:
        raise TransientError(f"download: {type(exc).__name__}: {exc}", code="network") from None


def fetch_on_loop(
    loop: asyncio.AbstractEventLoop | None, fetch: Callable[[IncomingFile], Awaitable[IncomingFile]], file: IncomingFile
) -> IncomingFile:
    """Run a platform's async `fetch` of a file on its event loop from the inbox worker's thread
    (`Platform.prepare`); a timeout or an unexpected failure becomes the problem to tell."""
    if loop is None:
        return replace(file, problem=not_fetched(file.name or "文件"))

    async def run() -> IncomingFile:
        return await fetch(file)

    future = asyncio.run_coroutine_threadsafe(run(), loop)
    try:
        return future.result(timeout=FILE_WAIT)
    except Exception as exc:
        log.warning("file %s not fetched (%s)", file.name, type(exc).__name__)
        future.cancel()
        return replace(file, problem=not_fetched(file.name or "文件"))


def prepared_file(
    payload: dict[str, object], loop: asyncio.AbstractEventLoop | None,
    fetch: Callable[[IncomingFile], Awaitable[IncomingFile]],
) -> dict[str, object] | None:
    """The event's payload with its file fetched, or None when it has no file left to fetch."""
    file = payload.get("file")
    if not isinstance(file, dict) or file.get("data") is not None or file.get("problem"):
        return None
    return {**payload, "file": fetch_on_loop(loop, fetch, IncomingFile.from_payload(file)).to_payload()}

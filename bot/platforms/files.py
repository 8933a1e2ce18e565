"""Files people send: downloaded within the size limit (the announced length checked before a byte is
read, the bytes counted while reading), and what to tell them when that is not possible — the same
for every platform."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from bot.messages import MAX_FILE_BYTES
from bot.platforms import PermanentError, TransientError

NOT_A_FILE = "回复的那条消息不是文件。请在群里回复任务表的文件消息，再发 /导入。"
DOWNLOAD_TIMEOUT = 30.0


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

"""When a failed send is tried again, and how the failure is reported.

Server errors and timeouts back off exponentially with jitter; throttling waits for the time the
platform gave, plus a little jitter so that many senders do not return at once; a permanent error,
or one the platform says not to retry, is not retried; past `max_attempts` a message is kept as
`failed` with its last error for `tandem outbox list`.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.platforms import DeliveryError, OutgoingMessage, PermanentError

log = logging.getLogger("bot.delivery")  # the outbox sender's lines, under one name for operators

MAX_ATTEMPTS = 12
BACKOFF_BASE = 1.0  # seconds; doubles per attempt
BACKOFF_CAP = 600.0


def backoff(attempt: int, *, base: float | None = None, cap: float = BACKOFF_CAP) -> float:
    """Exponential back-off with jitter ("equal jitter": between half and all of the step)."""
    step = min(cap, (BACKOFF_BASE if base is None else base) * 2 ** max(0, attempt - 1))
    return random.uniform(step / 2, step)


def log_ids(message: OutgoingMessage) -> dict[str, Any]:
    return {"outbox_id": message.id, "platform": message.platform, "chat_id": message.chat_id, "attempt": message.attempts + 1}


@dataclass(frozen=True)
class Verdict:
    """What becomes of a message whose send failed."""

    retry_at: datetime | None  # None: never again
    failed: bool  # kept as `failed` now (not retryable, or out of attempts)


def judge(message: OutgoingMessage, error: DeliveryError, now: datetime, *, max_attempts: int) -> Verdict:
    retry_at = _retry_time(message, error, now)
    return Verdict(retry_at, retry_at is None or message.attempts + 1 >= max_attempts)


def _retry_time(message: OutgoingMessage, error: DeliveryError, now: datetime) -> datetime | None:
    if isinstance(error, PermanentError) or not error.retry:
        return None
    if error.retry_after is None:
        return now + timedelta(seconds=backoff(message.attempts + 1))
    return now + timedelta(seconds=error.retry_after + random.uniform(0.0, 0.1 + error.retry_after / 10))


def log_failure(message: OutgoingMessage, error: DeliveryError, verdict: Verdict, now: datetime) -> None:
    if verdict.failed or verdict.retry_at is None:
        outcome = "giving up (see `tandem outbox list --status failed`)"
    else:
        outcome = f"retry in {(verdict.retry_at - now).total_seconds():.1f}s"
    log.log(
        logging.ERROR if verdict.failed else logging.WARNING,
        "outbox message %s (%s → %s) attempt %d: %s; %s",
        message.id,
        message.platform,
        message.chat_id,
        message.attempts + 1,
        error,
        outcome,
        extra={**log_ids(message), "outcome": "failed" if verdict.failed else "retry", "code": error.code},
    )

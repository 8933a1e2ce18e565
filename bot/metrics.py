"""Prometheus metrics at `GET /metrics` (off unless TANDEM_METRICS_ENABLED=true), with the official client.

Each app gets its own `CollectorRegistry` (`install`, from the lifespan); nothing is registered at
import time. Two kinds of figures:

- counts of rows, read from the database at scrape time (the same from every replica): inbox events
  and outbox messages pending/failed, the age of the oldest pending one, scheduler slots by job and
  outcome, and whether the database answered;
- what this process saw happen, told by the dispatcher and the outbox sender (`EventObserver`,
  `DeliveryObserver`): send attempts and their outcome, errors by platform code, throttling holds, the
  send latency and the latency from an event's acceptance to its reply being sent.

The receivers' state (`tandem_receiver_up{platform, mode}`) is set by whoever runs a receiver: the
webhooks are up while the app serves them; a long-connection client sets its own.
"""

from __future__ import annotations

import hmac
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.platforms import DeliveryError, OutgoingMessage, Throttled
from bot.writes import Writes
from models import InboundEvent, InboundStatus, JobRun, OutboundMessage, OutboundStatus

if TYPE_CHECKING:
    from bot.runtime import Runtime
    from bot.services import Platforms

log = logging.getLogger(__name__)

METRICS_OFF = "metrics are off on this server: set TANDEM_METRICS_ENABLED=true"
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REPLY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
OUTCOMES = ("sent", "retry", "failed")
MAX_CODES = 100  # distinct error codes per platform before the rest count as "other" (bounded series)
MAX_TRACKED_REPLIES = 10_000  # replies waiting to be sent whose event time we remember
_CODE_CHARACTERS = re.compile(r"[^A-Za-z0-9_.:-]")


class EventObserver(Protocol):
    def event_processed(self, platform: str, outbox_id: int | None, accepted_at: datetime) -> None:
        """An event was processed (committed); `outbox_id` is its reply's row, if it has one."""
        ...


class DeliveryObserver(Protocol):
    def delivered(self, message: OutgoingMessage, outcome: str, seconds: float, error: DeliveryError | None) -> None:
        """One send attempt: `outcome` is sent, retry or failed; `seconds` the platform call's duration."""
        ...


class Metrics:
    """One app's metrics: the registry, the families this process counts, and the database gauges."""

    def __init__(
        self,
        writes: Writes,
        *,
        platforms: Sequence[str] = (),
        clock: Clock = utcnow,
        token: str | None = None,
    ) -> None:
        self.token = token  # when set, scrapes need `Authorization: Bearer <token>`
        self.registry = CollectorRegistry()
        self._clock = clock
        registry = self.registry
        self.send_seconds = Histogram(
            "tandem_send_seconds", "Duration of one platform send call", ["platform"], buckets=SEND_BUCKETS, registry=registry
        )
        self.reply_seconds = Histogram(
            "tandem_event_reply_seconds",
            "From an event's acceptance (inbox commit) to its reply being sent",
            ["platform"],
            buckets=REPLY_BUCKETS,
            registry=registry,
        )
        self.attempts = Counter(
            "tandem_outbox_attempts", "Send attempts by outcome (sent, retry, failed)", ["platform", "outcome"], registry=registry
        )
        self.errors = Counter(
            "tandem_outbox_errors",
            "Failed send attempts by the platform's error code, and whether they will be retried",
            ["platform", "code", "outcome"],
            registry=registry,
        )
        self.throttle_holds = Counter(
            "tandem_throttle_holds",
            "Throttling answers that held back a chat or the whole app until the platform's time",
            ["platform", "scope"],
            registry=registry,
        )
        self.receiver_up = Gauge(
            "tandem_receiver_up", "1 while a platform's receiver is configured and up", ["platform", "mode"], registry=registry
        )
        for platform in platforms:  # every series from zero, so rates and alerts work from the first scrape
            self.send_seconds.labels(platform)
            self.reply_seconds.labels(platform)
            for outcome in OUTCOMES:
                self.attempts.labels(platform, outcome)
            for scope in ("chat", "app"):
                self.throttle_holds.labels(platform, scope)
        registry.register(DatabaseCollector(writes, platforms=platforms, clock=clock))
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self._lock = threading.Lock()
        self._accepted: OrderedDict[int, tuple[str, datetime]] = OrderedDict()  # reply row → (platform, event time)
        self._codes: dict[str, set[str]] = {}

    def render(self) -> bytes:
        """The Prometheus text format (reads the database)."""
        return generate_latest(self.registry)

    def set_receiver(self, platform: str, mode: str, up: bool) -> None:
        self.receiver_up.labels(platform, mode).set(1 if up else 0)

    # EventObserver: from the inbox worker's thread

    def event_processed(self, platform: str, outbox_id: int | None, accepted_at: datetime) -> None:
        if outbox_id is None:
            return
        with self._lock:
            self._accepted[outbox_id] = (platform, accepted_at)
            while len(self._accepted) > MAX_TRACKED_REPLIES:
                self._accepted.popitem(last=False)

    # DeliveryObserver: from the outbox sender

    def delivered(self, message: OutgoingMessage, outcome: str, seconds: float, error: DeliveryError | None) -> None:
        platform = message.platform
        self.send_seconds.labels(platform).observe(seconds)
        self.attempts.labels(platform, outcome).inc()
        if error is not None:
            self.errors.labels(platform, self._code(platform, error), outcome).inc()
            if isinstance(error, Throttled) and outcome == "retry":
                self.throttle_holds.labels(platform, error.scope).inc()
        if outcome == "retry":
            return
        with self._lock:
            accepted = self._accepted.pop(message.id, None)
        if accepted is not None and outcome == "sent":
            event_platform, accepted_at = accepted
            elapsed = (self._clock() - accepted_at).total_seconds()
            self.reply_seconds.labels(event_platform).observe(max(0.0, elapsed))

    def _code(self, platform: str, error: DeliveryError) -> str:
        code = _CODE_CHARACTERS.sub("_", error.code)[:64] if error.code else "none"
        seen = self._codes.setdefault(platform, set())
        if code not in seen:
            if len(seen) >= MAX_CODES:
                return "other"
            seen.add(code)
        return code


# --- rows counted at scrape time ---------------------------------------------------------------

_WAITING = (InboundStatus.PENDING, InboundStatus.FAILED)
_INBOX = (
    select(InboundEvent.status, func.count(), func.min(InboundEvent.received_at))
    .where(InboundEvent.status.in_(_WAITING))
    .group_by(InboundEvent.status)
)
_OUTBOX = (
    select(OutboundMessage.platform, OutboundMessage.status, func.count(), func.min(OutboundMessage.created_at))
    .where(OutboundMessage.status.in_((OutboundStatus.PENDING, OutboundStatus.FAILED)))
    .group_by(OutboundMessage.platform, OutboundMessage.status)
)
_SLOTS = select(JobRun.job, JobRun.outcome, func.count()).group_by(JobRun.job, JobRun.outcome)


class DatabaseCollector(Collector):
    """Gauges that are counts of rows: three grouped queries per scrape, none between scrapes."""

    def __init__(
        self,
        writes: Writes,
        *,
        platforms: Sequence[str],
        clock: Clock,
    ) -> None:
        self._db = writes
        self._platforms = list(platforms)
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        return list(self._families())  # names only: registering must not query the database

    def _families(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily("tandem_database_up", "1 when the database answered this scrape")
        yield GaugeMetricFamily("tandem_inbox_events", "Inbox events waiting (pending) or given up (failed)", labels=["status"])
        yield GaugeMetricFamily("tandem_inbox_oldest_pending_seconds", "Age of the oldest pending inbox event")
        yield GaugeMetricFamily(
            "tandem_outbox_messages", "Outbox messages waiting (pending) or given up (failed)", labels=["platform", "status"]
        )
        yield GaugeMetricFamily(
            "tandem_outbox_oldest_pending_seconds", "Age of the oldest pending outbox message", labels=["platform"]
        )
        yield GaugeMetricFamily("tandem_scheduler_slots", "Scheduler slots claimed, by outcome", labels=["job", "outcome"])

    def collect(self) -> Iterable[Metric]:
        up, inbox_events, inbox_age, outbox_messages, outbox_age, slots = self._families()
        try:
            with self._db.read() as session:  # after the webhook's commits (bot.writes)
                inbox = session.execute(_INBOX).all()
                outbox = session.execute(_OUTBOX).all()
                claimed = session.execute(_SLOTS).all()
        except Exception:
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            return [up]
        now = self._clock()
        up.add_metric([], 1)
        counts = {str(status): (count, oldest) for status, count, oldest in inbox}
        for status in _WAITING:
            inbox_events.add_metric([status.value], counts.get(status.value, (0, None))[0])
        inbox_age.add_metric([], _age(now, counts.get(InboundStatus.PENDING.value, (0, None))[1]))
        by_key = {(platform, str(status)): (count, oldest) for platform, status, count, oldest in outbox}
        for platform in sorted({*self._platforms, *(platform for platform, _ in by_key)}):
            for state in (OutboundStatus.PENDING, OutboundStatus.FAILED):
                outbox_messages.add_metric([platform, state.value], by_key.get((platform, state.value), (0, None))[0])
            outbox_age.add_metric([platform], _age(now, by_key.get((platform, OutboundStatus.PENDING.value), (0, None))[1]))
        for job, outcome, count in claimed:
            slots.add_metric([job, outcome], count)
        return [up, inbox_events, inbox_age, outbox_messages, outbox_age, slots]


def _age(now: datetime, oldest: datetime | None) -> float:
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


# --- wiring and the endpoint --------------------------------------------------------------------


class MentionsAsTextCollector(Collector):
    """Mentions that could not ping (sent as plain @名字: DingTalk's group API cannot @ anyone, and the
    group had no live sessionWebhook), as each platform's sender counts them (`mentions_as_text`)."""

    def __init__(self, senders: dict[str, object]) -> None:
        self._senders = senders

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "tandem_mentions_as_text", "Mentions sent as plain @name because nothing could @ the person", labels=["platform"]
        )
        for name, sender in self._senders.items():
            count = getattr(sender, "mentions_as_text", None)
            if isinstance(count, int):
                family.add_metric([name], count)
        yield family


def install(settings: Settings, runtime: Runtime, platforms: Platforms) -> Metrics | None:
    """The app's metrics, wired to its dispatcher and outbox sender; None when metrics are off."""
    if not settings.metrics_enabled:
        return None
    token = settings.metrics_token.get_secret_value() if settings.metrics_token is not None else None
    metrics = Metrics(
        runtime.writes,
        platforms=platforms.outbox.platforms,
        clock=runtime.clock,
        token=token or None,
    )
    for name, platform in platforms.by_name.items():
        for mode, up in platform.receive_modes.items():
            metrics.set_receiver(name, mode, up)
    metrics.registry.register(MentionsAsTextCollector({n: p.sender for n, p in platforms.by_name.items()}))
    runtime.dispatcher.observer = metrics
    platforms.outbox.observer = metrics
    return metrics


def authorized(header: str | None, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics_endpoint(request: Request) -> Response:
    """Prometheus scrape (a plain `def`: FastAPI runs it in a thread, and it reads the database)."""
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return JSONResponse({"error": METRICS_OFF}, status_code=404)
    if metrics.token is not None and not authorized(request.headers.get("authorization"), metrics.token):
        return JSONResponse({"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

"""The platforms inside `tandem serve`: inbound adapters, the group-commit inbox writer, the outbox sender.

Built from settings in the app's lifespan (`build_platforms`), never at import time. A platform whose
credentials are absent is off: its webhook answers 404 and nothing is sent to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.config import Settings
from bot.db import is_sqlite
from bot.delivery import OutboxSender, backoff
from bot.ingest import GatedProcessor, IngestBatcher, SqliteInboxWriter, WriteGate
from bot.messages import Incoming
from bot.platforms import (
    DeliveryError,
    Inbound,
    Parsed,
    PermanentError,
    PlatformSender,
    console,
    dingtalk,
    display_name,
    feishu,
)
from bot.runtime import Runtime

log = logging.getLogger(__name__)

FEISHU_OFF = (
    "Feishu is not configured on this server: set TANDEM_FEISHU_APP_ID, TANDEM_FEISHU_APP_SECRET and "
    "TANDEM_FEISHU_VERIFICATION_TOKEN (plus TANDEM_FEISHU_ENCRYPT_KEY when the app has an Encrypt Key)."
)
DINGTALK_OFF = (
    "DingTalk is not configured on this server: set TANDEM_DINGTALK_CLIENT_ID (AppKey) and "
    "TANDEM_DINGTALK_CLIENT_SECRET (AppSecret)."
)
CONSOLE_GRACE = timedelta(seconds=5)  # `tandem say` prints its own replies; serve prints the rest
NAME_WAIT = 0.5  # seconds a new Feishu sender's first message waits for their name


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    text = getter() if getter is not None else value
    return text if isinstance(text, str) and text else None


class FeishuInbound:
    """Feishu webhook verification plus what it learns along the way (the bot's open_id, user names)."""

    def __init__(self, config: feishu.WebhookConfig, api: feishu.FeishuApi | None) -> None:
        self.config = config
        self.api = api
        self.bot_open_id: str | None = None
        self.names: dict[str, str] = {}
        self._looked_up: set[str] = set()
        self._lookups: dict[str, threading.Event] = {}  # open_id → set when its lookup has finished
        self._tasks: set[asyncio.Task[None]] = set()

    def parse(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        parsed = feishu.parse_request(body, headers, now=now, config=self.config, bot_open_id=self.bot_open_id, names=self.names)
        if isinstance(parsed, Inbound):
            self._learn(parsed.incoming)
        return parsed

    def _learn(self, incoming: Incoming) -> None:
        if len(self.names) > 50_000:
            self.names.clear()
        for mention in incoming.mentions:
            self.names[mention.user_id] = mention.name
        sender = incoming.sender_id
        if incoming.sender_name or self.api is None or sender in self._looked_up:
            return
        if len(self._looked_up) > 50_000:
            self._looked_up.clear()
        self._looked_up.add(sender)
        self._lookups[sender] = threading.Event()
        task = asyncio.get_running_loop().create_task(self._look_up(sender))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look_up(self, open_id: str) -> None:
        """Feishu events carry no sender name: ask the contact API (off the request path)."""
        assert self.api is not None
        try:
            name = await self.api.user_name(open_id)
        except DeliveryError as exc:
            log.info("feishu: no name for %s (%s)", open_id, exc)
            self._looked_up.discard(open_id)
            return
        finally:
            done = self._lookups.pop(open_id, None)
            if done is not None:
                done.set()
        name = display_name(name) if name else None  # a platform string like any other (no NUL, bounded)
        if name:
            self.names[open_id] = name

    def name_for(self, open_id: str, *, wait: float) -> str | None:
        """The user's name if known, waiting up to `wait` seconds for a lookup under way (any thread)."""
        done = self._lookups.get(open_id)
        if done is not None:
            done.wait(wait)
        return self.names.get(open_id)

    def complete(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Before processing: the sender's name, which Feishu events do not carry (None: no change)."""
        if payload.get("platform") != feishu.PLATFORM or payload.get("sender_name"):
            return None
        name = self.name_for(str(payload.get("sender_id")), wait=NAME_WAIT)
        return {**payload, "sender_name": name} if name else None

    async def fetch_identity(self) -> None:
        """The bot's open_id (to drop its own mention), retried in the background until known."""
        if self.api is None:
            return
        attempt = 0
        while self.bot_open_id is None:
            attempt += 1
            try:
                self.bot_open_id = await self.api.bot_open_id()
                log.info("feishu: bot open_id is %s", self.bot_open_id)
                return
            except PermanentError as exc:
                log.error("feishu: cannot read the bot's identity (%s); leading mentions count as the bot", exc)
                return
            except DeliveryError as exc:
                delay = backoff(attempt, base=2.0, cap=300.0)
                log.warning("feishu: bot info failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()


class DingTalkInbound:
    """DingTalk callback verification; the body must name our robot (and our organisation, when set)."""

    def __init__(self, app_secret: str, base_url: str, *, client_id: str | None = None, corp_id: str | None = None) -> None:
        self._app_secret = app_secret
        self._base_url = base_url
        self._client_id = client_id
        self._corp_id = corp_id

    def parse(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        return dingtalk.parse_request(
            body,
            headers,
            now=now,
            app_secret=self._app_secret,
            base_url=self._base_url,
            client_id=self._client_id,
            corp_id=self._corp_id,
        )


class Platforms:
    """Everything platform-facing that lives as long as the web app."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        feishu_inbound: FeishuInbound | None,
        dingtalk_inbound: DingTalkInbound | None,
        senders: Mapping[str, PlatformSender],
        clock: Clock,
    ) -> None:
        self.runtime = runtime
        self.feishu = feishu_inbound
        self.dingtalk = dingtalk_inbound
        self.clock = clock
        sqlite = is_sqlite(runtime.settings.database_url)
        self.gate = WriteGate(enabled=sqlite)
        self._on_accepted: Callable[[], None] | None = None
        record = SqliteInboxWriter(runtime.engine, clock=clock) if sqlite else runtime.dispatcher.record
        claim = runtime.dispatcher.claim_signature
        self.batcher = IngestBatcher(record, gate=self.gate, on_accepted=self._accepted, claim_signature=claim)
        self.outbox = OutboxSender(
            runtime.session_factory,
            senders,
            clock=clock,
            due_delay={console.PLATFORM: CONSOLE_GRACE},
            lease=timedelta(seconds=runtime.settings.outbox_lease_seconds),
            gate=self.gate,
        )
        # What the InboxWorker runs: events one by one, giving way to the webhook's commits.
        self.processor = GatedProcessor(
            runtime.dispatcher,
            runtime.session_factory,
            self.gate,
            complete=feishu_inbound.complete if feishu_inbound is not None else None,
        )
        self._identity_task: asyncio.Task[None] | None = None

    def _accepted(self) -> None:
        if self._on_accepted is not None:
            self._on_accepted()

    async def start(self, *, on_accepted: Callable[[], None]) -> None:
        self._on_accepted = on_accepted
        self.batcher.start()
        self.outbox.start()
        if self.feishu is not None and self.feishu.api is not None:
            self._identity_task = asyncio.create_task(self.feishu.fetch_identity(), name="feishu-identity")
            # Give the first lookup a moment so early events already know the bot; never block startup long.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._identity_task), timeout=3.0)
        # Everything loaded so far (lark-oapi alone is ~400k objects) lives as long as the process: keep it
        # out of the garbage collector's full passes, which otherwise stall the event loop for ~250 ms.
        gc.collect()
        gc.freeze()

    async def stop_intake(self, timeout: float = 5.0) -> None:
        """Stop taking events; any request still waiting for its commit is recorded (and answered) first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.batcher.busy() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await self.batcher.stop()
        if self._identity_task is not None:
            self._identity_task.cancel()
        if self.feishu is not None:
            await self.feishu.stop()

    async def stop(self) -> None:
        await self.outbox.stop()


def build_platforms(settings: Settings, runtime: Runtime) -> Platforms:
    senders: dict[str, PlatformSender] = {console.PLATFORM: console.ConsoleSender(_print)}
    feishu_inbound = None
    if settings.feishu_enabled:
        assert settings.feishu_app_id is not None
        api = feishu.FeishuApi(
            app_id=settings.feishu_app_id,
            app_secret=_secret(settings.feishu_app_secret) or "",
            base_url=settings.feishu_base_url,
        )
        senders[feishu.PLATFORM] = api
        config = feishu.WebhookConfig(
            verification_token=_secret(settings.feishu_verification_token),
            encrypt_key=_secret(settings.feishu_encrypt_key),
        )
        if config.verification_token or config.encrypt_key:
            feishu_inbound = FeishuInbound(config, api)
        else:
            log.warning("feishu: no Verification Token or Encrypt Key set; the webhook stays off (sending works)")
    dingtalk_inbound = None
    if settings.dingtalk_enabled:
        assert settings.dingtalk_client_id is not None
        secret = _secret(settings.dingtalk_client_secret) or ""
        senders[dingtalk.PLATFORM] = dingtalk.DingTalkApi(
            client_id=settings.dingtalk_client_id,
            client_secret=secret,
            base_url=settings.dingtalk_base_url,
            clock=runtime.clock,
        )
        dingtalk_inbound = DingTalkInbound(
            secret,
            settings.dingtalk_base_url,
            client_id=settings.dingtalk_client_id,
            corp_id=settings.dingtalk_corp_id or None,
        )
    return Platforms(
        runtime,
        feishu_inbound=feishu_inbound,
        dingtalk_inbound=dingtalk_inbound,
        senders=senders,
        clock=runtime.clock,
    )


def _print(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()

"""The Feishu platform object: webhook verification plus what it learns along the way (the bot's
open_id, people's names), the sender, and `build` for the registry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.clock import Clock
from bot.config import Settings, secret_value
from bot.messages import MAX_FILE_BYTES, Incoming, IncomingFile, Reply
from bot.platforms import DeliveryError, Inbound, Parsed, PermanentError, Refused, display_name, files
from bot.platforms.feishu import cards
from bot.platforms.feishu.inbound import PLATFORM, WebhookConfig, decrypt, json_object, normalise, verify_request
from bot.platforms.feishu.longconn import Answer, FeishuLongConnection
from bot.platforms.feishu.outbound import LIMITS, FeishuApi
from bot.platforms.platform import WEBHOOK, Capabilities, Platform
from bot.platforms.receiving import ConnectionStatus, Record, deliver, refused

log = logging.getLogger(__name__)

WEBSOCKET = "websocket"

OFF = (
    "Feishu is not configured on this server: set TANDEM_FEISHU_APP_ID, TANDEM_FEISHU_APP_SECRET and "
    "TANDEM_FEISHU_VERIFICATION_TOKEN (plus TANDEM_FEISHU_ENCRYPT_KEY when the app has an Encrypt Key)."
)
WEBHOOK_OFF = (
    "Feishu's webhook is off on this server (events come over the long connection): set "
    "TANDEM_FEISHU_VERIFICATION_TOKEN (plus TANDEM_FEISHU_ENCRYPT_KEY when the app has an Encrypt Key) to turn it on."
)
NAME_WAIT = 0.5  # seconds a new sender's first message waits for their name
IDENTITY_WAIT = 3.0  # seconds startup gives the bot's identity, so early events already know it


class FeishuPlatform(Platform):
    name = PLATFORM
    capabilities = Capabilities(
        private_messages=True, cards=True, buttons=True, images=True, files=True, api_mentions=True, limits=LIMITS,
        card_updates=True, answer_shows_card=True,
    )
    prepares = True  # events carry no sender name

    def __init__(
        self,
        api: FeishuApi,
        config: WebhookConfig | None,
        *,
        mode: str = WEBHOOK,
        credentials: tuple[str, str, str] = ("", "", ""),  # app id, app secret, base URL (for the long connection)
        clock: Clock | None = None,
    ) -> None:
        super().__init__(api)
        self.api = api
        self.config = config  # None: the webhook is off (sending still works)
        self.mode = mode
        self._credentials = credentials
        self._clock = clock
        self._record: Record | None = None
        self.bot_open_id: str | None = None
        self.names: dict[str, str] = {}
        self._looked_up: set[str] = set()
        self._lookups: dict[str, threading.Event] = {}  # open_id → set when its lookup has finished
        self._tasks: set[asyncio.Task[None]] = set()
        self._identity: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._answered_cards = cards.AnsweredCards()

    @property
    def receive_modes(self) -> dict[str, bool]:
        return {WEBSOCKET: self.mode == WEBSOCKET, WEBHOOK: self.config is not None}

    def webhook_off(self) -> str | None:
        if self.config is not None:
            return None
        return WEBHOOK_OFF if self.mode == WEBSOCKET else OFF

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        if self.config is None:
            return super().parse_webhook(body, headers, now=now)
        verified = verify_request(body, headers, now=now, config=self.config)
        return verified if not isinstance(verified, dict) else self.normalise(verified, now=now)

    def normalise(self, payload: dict[str, Any], *, now: datetime) -> Parsed:
        parsed = normalise(payload, now=now, bot_open_id=self.bot_open_id, names=self.names)
        if isinstance(parsed, Inbound):
            self._learn(parsed.incoming)
        return parsed

    def callback_answer(self, reply: Reply | None, card: Reply | None = None) -> dict[str, Any] | None:
        return cards.callback_answer(reply, card, build=self._answered_cards)

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The sender's name, which Feishu events do not carry, and the file the message brings or
        replies to, downloaded (None: no change)."""
        completed = dict(payload)
        if not payload.get("sender_name"):
            name = self.name_for(str(payload.get("sender_id")), wait=NAME_WAIT)
            if name:
                completed["sender_name"] = name
        completed = files.prepared_file(completed, self._loop, self._download) or completed
        return completed if completed != payload else None

    async def _download(self, file: IncomingFile) -> IncomingFile:
        message_id, key, name = file.source.get("message_id", ""), file.source.get("file_key", ""), file.name
        try:
            if file.replied:
                found = await self.api.message_file(message_id)
                if found is None:
                    return replace(file, problem=files.NOT_A_FILE)
                key, name = found[0], display_name(found[1])
            data = await self.api.download_resource(message_id, key, limit=MAX_FILE_BYTES)
        except files.FileTooLarge as exc:
            return replace(file, name=name, size=exc.size, problem=files.too_large(name, exc.size))
        except DeliveryError as exc:
            log.info("feishu: file %s of %s not fetched (%s)", key, message_id, exc)
            return replace(file, name=name, problem=files.NOT_A_FILE if file.replied and not key else files.not_fetched(name))
        return replace(file, name=name, size=len(data), data=data)

    async def start(self, record: Record) -> None:
        self._loop = asyncio.get_running_loop()  # where `prepare` (a worker thread) runs downloads
        self._identity = asyncio.create_task(self._fetch_identity(), name="feishu-identity")
        with contextlib.suppress(TimeoutError):  # never block startup long
            await asyncio.wait_for(asyncio.shield(self._identity), timeout=IDENTITY_WAIT)
        if self.mode == WEBSOCKET:
            self._record = record
            app_id, app_secret, base_url = self._credentials
            status = ConnectionStatus(PLATFORM, WEBSOCKET)
            self.receiver = FeishuLongConnection(
                app_id=app_id, app_secret=app_secret, base_url=base_url, on_event=self._pushed, status=status
            )
            self.receiver.start()

    async def stop(self) -> None:
        if self.receiver is not None:
            await self.receiver.stop()
        for task in [*self._tasks, *([self._identity] if self._identity else [])]:
            task.cancel()

    async def _pushed(self, payload: bytes) -> Answer:
        """An event or callback from the long connection: authenticated at connect, plaintext, the same
        v2.0 JSON as the webhook's, so it goes through the same `normalise` and inbox."""
        assert self._record is not None
        try:
            data = json_object(payload, "event")
            if isinstance(data.get("encrypt"), str) and self.config is not None and self.config.encrypt_key:
                data = json_object(decrypt(data["encrypt"], self.config.encrypt_key), "decrypted event")  # if ever sent so
            parsed = self.normalise(data, now=self._clock() if self._clock else _now())
        except Refused as exc:
            return refused(PLATFORM, exc)
        return await deliver(parsed, self._record, self.await_outcome)

    # what it learns

    def _learn(self, incoming: Incoming) -> None:
        if len(self.names) > 50_000:
            self.names.clear()
        for mention in incoming.mentions:
            self.names[mention.user_id] = mention.name
        sender = incoming.sender_id
        if incoming.sender_name or sender in self._looked_up:
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

    async def _fetch_identity(self) -> None:
        """The bot's open_id (to drop its own mention), retried in the background until known."""
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
                delay = random.uniform(0.5, 1.0) * min(300.0, 2.0 * 2 ** (attempt - 1))  # back off, with jitter
                log.warning("feishu: bot info failed (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)


def _now() -> datetime:
    return datetime.now(UTC)


def build(settings: Settings, clock: Clock) -> FeishuPlatform | None:
    """On when the app's credentials are set; the long connection unless TANDEM_FEISHU_MODE=webhook;
    its webhook whenever a Verification Token or Encrypt Key is set, whatever the mode."""
    if not settings.feishu_enabled:
        return None
    assert settings.feishu_app_id is not None
    app_secret = secret_value(settings.feishu_app_secret) or ""
    api = FeishuApi(app_id=settings.feishu_app_id, app_secret=app_secret, base_url=settings.feishu_base_url)
    config = WebhookConfig(
        verification_token=secret_value(settings.feishu_verification_token),
        encrypt_key=secret_value(settings.feishu_encrypt_key),
    )
    mode = settings.feishu_mode
    credentials = (settings.feishu_app_id, app_secret, settings.feishu_base_url)
    if not (config.verification_token or config.encrypt_key):
        if mode == WEBHOOK:
            log.warning("feishu: no Verification Token or Encrypt Key set; the webhook stays off (sending works)")
        return FeishuPlatform(api, None, mode=mode, credentials=credentials, clock=clock)
    return FeishuPlatform(api, config, mode=mode, credentials=credentials, clock=clock)

"""The DingTalk platform object: callback verification (the body must name our robot, and our
organisation when set), the sender, and `build` for the registry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.clock import Clock, utcnow
from bot.config import Settings, secret_value
from bot.messages import MAX_FILE_BYTES, IncomingFile, Reply
from bot.platforms import DeliveryError, Inbound, Parsed, Refused, files
from bot.platforms.dingtalk import cards
from bot.platforms.dingtalk.callbacks import is_card_callback, normalise_card_callback, parse_card_request
from bot.platforms.dingtalk.inbound import PLATFORM, normalise, parse_request
from bot.platforms.dingtalk.outbound import LIMITS, DingTalkApi
from bot.platforms.dingtalk.stream import BOT_TOPIC, CARD_TOPIC, Answer, DingTalkStream
from bot.platforms.platform import WEBHOOK, Capabilities, Platform
from bot.platforms.receiving import ConnectionStatus, Record, deliver, refused

log = logging.getLogger(__name__)

STREAM = "stream"

OFF = (
    "DingTalk is not configured on this server: set TANDEM_DINGTALK_CLIENT_ID (AppKey) and "
    "TANDEM_DINGTALK_CLIENT_SECRET (AppSecret)."
)


class DingTalkPlatform(Platform):
    name = PLATFORM
    # The robot API cannot @ people in posts (only sessionWebhook replies can); images via media upload.
    capabilities = Capabilities(
        private_messages=True, cards=False, buttons=False, images=True, files=True, api_mentions=False, limits=LIMITS
    )
    prepares = True  # a file message's file is downloaded before the event is processed

    answer_within = 1.5  # DingTalk drops a card callback not answered within 2 s of its push

    @classmethod
    def updates_cards(cls, settings: Settings) -> bool:
        return bool(settings.dingtalk_card_template_id)  # cards only with a template (PUT /v1.0/card/instances)

    def __init__(
        self,
        api: DingTalkApi,
        *,
        app_secret: str,
        base_url: str,
        client_id: str,
        corp_id: str | None,
        mode: str = WEBHOOK,
        clock: Clock = utcnow,
        card_callback_secret: str | None = None,
    ) -> None:
        super().__init__(api)
        if api.card_template_id:  # replies with buttons go as advanced cards (bot/platforms/dingtalk/cards.py)
            self.capabilities = replace(self.capabilities, cards=True, buttons=True, card_updates=True)
        self._card_secret = card_callback_secret
        self._app_secret = app_secret
        self._base_url = base_url
        self._client_id = client_id
        self._corp_id = corp_id
        self.mode = mode
        self._clock = clock
        self._record: Record | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.api = api

    @property
    def receive_modes(self) -> dict[str, bool]:
        return {STREAM: self.mode == STREAM, WEBHOOK: True}

    async def start(self, record: Record) -> None:
        self._loop = asyncio.get_running_loop()  # where `prepare` (a worker thread) runs downloads
        if self.mode == STREAM:
            self._record = record
            self.receiver = DingTalkStream(
                client_id=self._client_id, client_secret=self._app_secret, base_url=self._base_url,
                on_callback=self._pushed, status=ConnectionStatus(PLATFORM, STREAM),
            )
            self.receiver.start()

    def prepare(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The file a message brings (or quotes), downloaded by its downloadCode (None: nothing to do)."""
        return files.prepared_file(payload, self._loop, self._download)

    async def _download(self, file: IncomingFile) -> IncomingFile:
        try:
            data = await self.api.download_file(file.source.get("download_code", ""), limit=MAX_FILE_BYTES)
        except files.FileTooLarge as exc:
            return replace(file, size=exc.size, problem=files.too_large(file.name, exc.size))
        except DeliveryError as exc:
            log.info("dingtalk: file %s not fetched (%s)", file.name, exc)
            return replace(file, problem=files.not_fetched(file.name))
        return replace(file, size=len(data), data=data)

    async def stop(self) -> None:
        if self.receiver is not None:
            await self.receiver.stop()

    async def _pushed(self, topic: str, data: dict[str, Any], message_id: str) -> Answer:
        """A robot message or card callback from the Stream connection: authenticated at connect, so no
        signature; a robot message carries the HTTP callback's body and goes through the same `normalise`."""
        assert self._record is not None
        now = self._clock()
        try:
            if topic == BOT_TOPIC:
                parsed = self.normalise(data, now=now)
            elif topic == CARD_TOPIC:
                parsed = normalise_card_callback(data, message_id=message_id, now=now, corp_id=self._corp_id)
            else:
                return {}
        except Refused as exc:
            return refused(PLATFORM, exc)
        answer = await deliver(parsed, self._record)
        if answer is not None and isinstance(parsed, Inbound) and parsed.await_outcome and self.await_outcome is not None:
            return await self.await_outcome(parsed)  # the command's outcome, within DingTalk's 2 s
        return answer

    def callback_answer(self, reply: Reply | None, card: Reply | None = None) -> dict[str, Any] | None:
        return cards.answer(reply)  # the card is updated for everyone by its own outbox row (bot/dispatcher)

    def webhook_off(self) -> str | None:
        return None

    def parse_webhook(self, body: bytes, headers: Mapping[str, str], *, now: datetime) -> Parsed:
        if is_card_callback(headers):  # a card callback over HTTP (/webhook/dingtalk/card)
            return parse_card_request(body, headers, now=now, api_secret=self._card_secret, corp_id=self._corp_id)
        return parse_request(
            body, headers, now=now, app_secret=self._app_secret, base_url=self._base_url,
            client_id=self._client_id, corp_id=self._corp_id,
        )

    def normalise(self, payload: dict[str, Any], *, now: datetime) -> Parsed:
        return normalise(payload, now=now, base_url=self._base_url, client_id=self._client_id, corp_id=self._corp_id)


def build(settings: Settings, clock: Clock) -> DingTalkPlatform | None:
    """On when the AppKey and AppSecret are set (they also verify the webhook, on in either mode);
    Stream mode unless TANDEM_DINGTALK_MODE=webhook."""
    if not settings.dingtalk_enabled:
        return None
    assert settings.dingtalk_client_id is not None
    secret = secret_value(settings.dingtalk_client_secret) or ""
    api = DingTalkApi(
        client_id=settings.dingtalk_client_id, client_secret=secret, base_url=settings.dingtalk_base_url, clock=clock,
        oapi_url=settings.dingtalk_oapi_url, card_template_id=settings.dingtalk_card_template_id,
        card_callback_route_key=settings.dingtalk_card_callback_route_key
        if secret_value(settings.dingtalk_card_callback_secret) else None,
    )
    return DingTalkPlatform(
        api,
        app_secret=secret,
        base_url=settings.dingtalk_base_url,
        client_id=settings.dingtalk_client_id,
        corp_id=settings.dingtalk_corp_id or None,
        mode=settings.dingtalk_mode,
        clock=clock,
        card_callback_secret=secret_value(settings.dingtalk_card_callback_secret),
    )

"""Feishu's long connection (使用长连接接收事件/回调), spoken directly with `websockets` and httpx.

The protocol (reference longconn-cards-images.md §A1): `POST {base}/callback/ws/endpoint` with the app
id and secret gives a `wss://…?device_id=…&service_id=…` URL and a ClientConfig (ReconnectCount,
ReconnectInterval, ReconnectNonce, PingInterval, all in seconds); the socket carries protobuf frames
(`frames.py`). A DATA frame (headers type, message_id, sum, seq, trace_id) holds the same v2.0 event
JSON the webhook receives, unencrypted, maybe in `sum` fragments (only the frame completing a set is
acknowledged); the acknowledgement is the same frame with `{"code": 200}` (callbacks: plus `data`, the
base64 of the synchronous answer) or `{"code": 500}` (not recorded: Feishu pushes it again). We ping
every PingInterval with a CONTROL frame; its pong may carry a new ClientConfig.

Not lark-oapi's `ws.Client`: it keeps one event loop per process at module level, blocks that loop
with a synchronous endpoint POST without timeout, runs handlers on it synchronously, and dies silently
when a reconnect meets a fatal error. Here everything runs on the app's own loop, supervised.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bot.platforms.feishu.frames import CONTROL, DATA, Frame, FrameError, decode, encode
from bot.platforms.receiving import ConnectionStatus, EndpointError, LongConnection

log = logging.getLogger(__name__)

ENDPOINT_PATH = "/callback/ws/endpoint"
RETRYABLE_CODES = {1, 1000040343}  # system busy; anything else non-zero will not pass by retrying
FRAGMENT_TTL = 10.0  # seconds the first fragment of an event waits for the rest (Feishu re-pushes it)
NONCE_CAP = 3.0  # seconds: at most 50 connections per app, a short spread is enough
Answer = dict[str, Any] | None  # what to acknowledge a pushed event with; None: "not recorded" (500)


@dataclass(slots=True)
class ClientConfig:
    reconnect_count: int = -1
    reconnect_interval: float = 120.0
    reconnect_nonce: float = 30.0
    ping_interval: float = 120.0

    def update(self, data: Any) -> None:
        if not isinstance(data, dict):
            return
        for key, name in (("ReconnectCount", "reconnect_count"), ("ReconnectInterval", "reconnect_interval"),
                          ("ReconnectNonce", "reconnect_nonce"), ("PingInterval", "ping_interval")):
            value = data.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= (-1 if key == "ReconnectCount" else 0):
                setattr(self, name, type(getattr(self, name))(value))


class FeishuLongConnection(LongConnection):
    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        base_url: str,
        on_event: Callable[[bytes], Awaitable[Answer]],
        status: ConnectionStatus,
    ) -> None:
        super().__init__(status)
        self.app_id, self._app_secret, self.base_url = app_id, app_secret, base_url.rstrip("/")
        self.on_event = on_event
        self.config = ClientConfig()
        self._fragments: dict[str, tuple[float, dict[int, bytes]]] = {}

    def first_retry_delay(self) -> float:
        return random.random() * min(self.config.reconnect_nonce, NONCE_CAP)

    def retry_delay(self, failures: int) -> float:
        # Back-off up to the interval Feishu hands out; the ReconnectCount is not a reason to give up.
        cap = max(1.0, self.config.reconnect_interval)
        return min(cap, self.BACKOFF_BASE * 2 ** max(0, failures - 1)) * random.uniform(0.5, 1.0)

    async def _endpoint(self) -> str:
        async with httpx.AsyncClient(timeout=10.0) as http:
            credentials = {"AppID": self.app_id, "AppSecret": self._app_secret}
            response = await http.post(self.base_url + ENDPOINT_PATH, json=credentials, headers={"locale": "zh"})
        if response.status_code != 200:
            raise EndpointError(f"endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise EndpointError("endpoint answered something that is not JSON") from None
        code = body.get("code") if isinstance(body, dict) else None
        if code != 0:
            message = f"endpoint refused: code {code}: {body.get('msg') if isinstance(body, dict) else body}"
            raise EndpointError(message, fatal=code not in RETRYABLE_CODES)
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        self.config.update(data.get("ClientConfig"))
        url = data.get("URL")
        if not isinstance(url, str) or not url:
            raise EndpointError("endpoint answered without a URL")
        return url

    async def session(self) -> None:
        url = await self._endpoint()
        service_id = _service_id(url)
        try:
            ws = await connect(url, ping_interval=None, open_timeout=10.0, close_timeout=2.0, max_size=None, proxy=None)
        except InvalidStatus as exc:
            raise _handshake_error(exc) from None
        async with ws:
            self.on_abort(ws.transport.abort)
            self.connected()
            background = [asyncio.create_task(self._ping(ws, service_id)), asyncio.create_task(self.keepalive(ws.ping))]
            try:
                while (raw := await self.receive(ws.recv)) is not None:
                    self.alive()
                    self.status.frame()
                    if isinstance(raw, bytes):
                        self._frame(raw, ws)
                await self.drain()
            finally:
                for task in background:
                    task.cancel()

    async def _ping(self, ws: ClientConnection, service_id: int) -> None:
        ping = encode(Frame(service=service_id, method=CONTROL, headers=(("type", "ping"),)))
        while not self.stopping:
            with contextlib.suppress(ConnectionClosed):  # the reading loop notices and reconnects
                await ws.send(ping)
            await self.pause(max(1.0, self.config.ping_interval))

    def _frame(self, raw: bytes, ws: ClientConnection) -> None:
        try:
            frame = decode(raw)
        except FrameError as exc:
            log.warning("feishu websocket: a frame that does not decode (%s)", exc)
            return
        if frame.method == CONTROL:
            if frame.header("type") == "pong" and frame.payload:
                with contextlib.suppress(ValueError):
                    self.config.update(orjson.loads(frame.payload))
            return
        if frame.method != DATA:
            return
        message_id, total = frame.header("message_id"), frame.header("sum") or "1"
        if message_id is None and total != "1":  # fragments that cannot be put together: Feishu re-pushes
            log.warning("feishu websocket: a fragment without message_id")
            return
        # Lenient where the SDK is strict (it drops a frame missing any of the five headers): a frame
        # without sum/seq is whole, one without trace_id is still an event, and each is acknowledged.
        payload = self._combine(message_id or "", total, frame.header("seq") or "0", frame.payload or b"")
        if payload is not None:
            self.handle(self._answer(frame, payload, ws))

    def _combine(self, message_id: str, total: str, seq: str, payload: bytes) -> bytes | None:
        """The whole payload once every fragment is in (None until then)."""
        try:
            count, index = int(total), int(seq)
        except ValueError:
            count, index = 1, 0
        if count <= 1:
            return payload
        now = time.monotonic()
        for key in [key for key, (first, _) in self._fragments.items() if now - first > FRAGMENT_TTL]:
            del self._fragments[key]
        _, parts = self._fragments.setdefault(message_id, (now, {}))
        parts[index] = payload
        if len(parts) < count:
            return None
        del self._fragments[message_id]
        return b"".join(parts.get(i, b"") for i in range(count))

    async def _answer(self, frame: Frame, payload: bytes, ws: ClientConnection) -> None:
        started = time.monotonic()
        answer = await self.on_event(payload) if frame.header("type") in ("event", "card") else {}
        body: dict[str, Any] = {"code": 200 if answer is not None else 500}
        if answer:
            body["data"] = base64.b64encode(orjson.dumps(answer)).decode("ascii")
        ack = frame.answered(orjson.dumps(body), biz_rt=str(int((time.monotonic() - started) * 1000)))
        try:
            await ws.send(encode(ack))
        except ConnectionClosed:  # not acknowledged: Feishu pushes it again, and the inbox knows it
            log.info("feishu websocket: connection closed before event %s was acknowledged", frame.header("message_id"))


def _service_id(url: str) -> int:
    query = parse_qs(urlsplit(url).query)
    try:
        return int(query.get("service_id", ["0"])[0])
    except ValueError:
        return 0


def _handshake_error(exc: InvalidStatus) -> EndpointError:
    headers = exc.response.headers
    status = headers.get("handshake-status") or str(exc.response.status_code)
    message = f"handshake refused: {status} {headers.get('handshake-msg', '')}".strip()
    fatal = status == "403" or (status == "514" and headers.get("handshake-autherrcode") == "1000040350")
    return EndpointError(message, fatal=fatal)

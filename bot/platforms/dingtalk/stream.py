"""DingTalk Stream mode (Stream 模式), spoken directly with `websockets` and httpx.

The protocol (reference longconn-cards-images.md §A2): `POST {base}/v1.0/gateway/connections/open` with
the AppKey, AppSecret and the topics we subscribe to gives an `endpoint` and a one-use `ticket` (90 s);
`GET {endpoint}?ticket=…` opens the socket. Frames are JSON text: `{"type": "SYSTEM|EVENT|CALLBACK",
"headers": {"topic", "messageId", …}, "data": "<JSON string>"}`, each acknowledged on the same socket with
`{"code": 200, "headers": {"messageId", "contentType"}, "message": "OK", "data": "<JSON string>"}`.
SYSTEM `ping` is answered with its own data; SYSTEM `disconnect` means: reconnect with a new ticket.
A robot message (`/v1.0/im/bot/messages/get`) carries the HTTP callback's body; a card callback
(`/v1.0/card/instances/callback`) is answered in its acknowledgement (`{"response": …}`).

Not the `dingtalk-stream` SDK: 0.24.3 blocks its own loop with synchronous `requests` calls and
swallows cancellation (it reconnects after being cancelled), and 0.24.4 is a pre-release.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote_plus

import httpx
import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bot.platforms.receiving import ConnectionStatus, EndpointError, LongConnection

log = logging.getLogger(__name__)

OPEN_PATH = "/v1.0/gateway/connections/open"
BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
USER_AGENT = "tandem-stream/0.1"
Answer = dict[str, Any] | None  # the acknowledgement's response; None: "not recorded" (500, pushed again)
OnCallback = Callable[[str, dict[str, Any], str], Awaitable[Answer]]  # (topic, data, messageId)


class DingTalkStream(LongConnection):
    def __init__(
        self, *, client_id: str, client_secret: str, base_url: str, on_callback: OnCallback, status: ConnectionStatus
    ) -> None:
        super().__init__(status)
        self.client_id, self._client_secret, self.base_url = client_id, client_secret, base_url.rstrip("/")
        self.on_callback = on_callback

    async def _open(self) -> str:
        body = {
            "clientId": self.client_id,
            "clientSecret": self._client_secret,
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_TOPIC}, {"type": "CALLBACK", "topic": CARD_TOPIC}],
            "ua": USER_AGENT,
            "localIp": "",
        }
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.post(self.base_url + OPEN_PATH, json=body, headers={"Accept": "application/json"})
        if response.status_code != 200:
            # Wrong AppKey/AppSecret (400/401/403) will not pass by retrying; 429 and 5xx may.
            fatal = 400 <= response.status_code < 500 and response.status_code != 429
            raise EndpointError(f"connections/open answered HTTP {response.status_code}: {response.text[:200]}", fatal=fatal)
        try:
            data = response.json()
        except ValueError:
            raise EndpointError("connections/open answered something that is not JSON") from None
        endpoint, ticket = (data.get("endpoint"), data.get("ticket")) if isinstance(data, dict) else (None, None)
        if not isinstance(endpoint, str) or not endpoint or not isinstance(ticket, str) or not ticket:
            raise EndpointError("connections/open answered without an endpoint and ticket")
        return f"{endpoint}{'&' if '?' in endpoint else '?'}ticket={quote_plus(ticket)}"

    async def session(self) -> None:
        url = await self._open()
        try:
            ws = await connect(url, ping_interval=None, open_timeout=10.0, close_timeout=2.0, max_size=None, proxy=None)
        except InvalidStatus as exc:  # a ticket refused (expired, used): the next attempt gets a new one
            raise EndpointError(f"handshake refused: HTTP {exc.response.status_code}") from None
        async with ws:
            self.on_abort(ws.transport.abort)
            self.connected()
            keepalive = asyncio.create_task(self.keepalive(ws.ping))
            try:
                while (raw := await self.receive(ws.recv)) is not None:
                    self.alive()
                    self.status.frame()
                    if self._frame(raw, ws) == "disconnect":
                        log.info("dingtalk stream: the server asked to reconnect")
                        break
                await self.drain()
            finally:
                keepalive.cancel()

    def _frame(self, raw: str | bytes, ws: ClientConnection) -> str | None:
        try:
            message = orjson.loads(raw)
        except ValueError:
            log.warning("dingtalk stream: a frame that is not JSON")
            return None
        if not isinstance(message, dict):
            return None
        found = message.get("headers")
        headers: dict[str, Any] = found if isinstance(found, dict) else {}
        kind, topic, message_id = message.get("type"), str(headers.get("topic") or ""), str(headers.get("messageId") or "")
        data = message.get("data")
        if kind == "SYSTEM":
            if topic == "ping":
                self.handle(_ack(ws, message_id, data if isinstance(data, str) else "{}"))
            return topic
        if kind == "EVENT":  # not subscribed to; acknowledged so it is not pushed again
            self.handle(_ack(ws, message_id, '{"status":"SUCCESS","message":"not used"}'))
            return None
        if kind == "CALLBACK":
            self.handle(self._callback(ws, topic, message_id, data))
        return None

    async def _callback(self, ws: ClientConnection, topic: str, message_id: str, data: Any) -> None:
        try:
            payload = orjson.loads(data) if isinstance(data, str | bytes) else data
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            log.warning("dingtalk stream: a %s callback whose data is not a JSON object", topic)
            await _ack(ws, message_id, '{"response":null}')
            return
        answer = await self.on_callback(topic, payload, message_id)
        if answer is None:
            await _ack(ws, message_id, "{}", code=500, text="could not record the event; please push it again")
        else:
            await _ack(ws, message_id, orjson.dumps({"response": answer or None}).decode())


async def _ack(ws: ClientConnection, message_id: str, data: str, *, code: int = 200, text: str = "OK") -> None:
    ack = {"code": code, "headers": {"messageId": message_id, "contentType": "application/json"}, "message": text, "data": data}
    try:
        await ws.send(orjson.dumps(ack).decode())
    except ConnectionClosed:  # not acknowledged: DingTalk pushes it again, and the inbox knows it
        log.info("dingtalk stream: connection closed before %s was acknowledged", message_id)

"""DingTalk's Stream side, on the fake DingTalk's own server: `POST /v1.0/gateway/connections/open` (the
AppKey, AppSecret and subscriptions → an endpoint and a one-use ticket, valid 90 s) and the WebSocket
`GET {endpoint}?ticket=…` pushing JSON frames (`data` a JSON string) and reading one acknowledgement per
frame; SYSTEM `ping` and `disconnect` frames as the gateway sends them.

Written from shared/reference/longconn-cards-images.md §A2, independently of bot/platforms.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.gateway import Connection, Gateway

BOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"


class DingTalkGateway(Gateway):
    def __init__(self, client_id: str, client_secret: str) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.tickets: dict[str, float] = {}  # ticket → when issued (each good for one connection)
            self.open_bodies: list[dict[str, Any]] = []
            self.refused_tickets = 0

    def frame(self, kind: str, topic: str, data: Any, *, message_id: str | None = None) -> dict[str, Any]:
        headers = {"topic": topic, "messageId": message_id or uuid.uuid4().hex, "contentType": "application/json",
                   "time": str(int(time.time() * 1000)), "appId": "fake-app"}
        return {"specVersion": "1.0", "type": kind, "headers": headers, "data": json.dumps(data, ensure_ascii=False)}

    def push(
        self, data: Any, *, topic: str = BOT_TOPIC, kind: str = "CALLBACK", message_id: str | None = None,
        connection: Connection | None = None,
    ) -> str:
        """Push one frame; returns its messageId (what the acknowledgement names)."""
        frame = self.frame(kind, topic, data, message_id=message_id)
        key = frame["headers"]["messageId"]
        target = connection or self.newest()
        with self.lock:
            self.pushed[key] = time.monotonic()
        target.run(target.websocket.send_text(json.dumps(frame, ensure_ascii=False)))
        return str(key)

    def ping(self, connection: Connection | None = None) -> str:
        return self.push({"opaque": uuid.uuid4().hex}, topic="ping", kind="SYSTEM", connection=connection)

    def disconnect(self, connection: Connection | None = None) -> None:
        """What the gateway sends before it closes a connection (a deploy): the client should reconnect."""
        self.push({"reason": "server upgrade"}, topic="disconnect", kind="SYSTEM", connection=connection)

    def install(self, app: FastAPI) -> None:
        @app.post("/v1.0/gateway/connections/open")
        async def open_connection(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            with self.lock:
                self.open_bodies.append(body)
            failure = self._next_failure()
            if isinstance(failure, int):
                return JSONResponse({"code": "ServiceError", "message": "error"}, status_code=failure)
            if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
                refusal = {"code": "InvalidAuthentication", "message": "clientId or clientSecret invalid"}
                return JSONResponse(refusal, status_code=401)
            ticket = uuid.uuid4().hex
            with self.lock:
                self.tickets[ticket] = time.monotonic()
            return JSONResponse({"endpoint": f"ws://{request.url.netloc}/connect", "ticket": ticket})

        @app.websocket("/connect")
        async def connect(websocket: WebSocket) -> None:
            ticket = websocket.query_params.get("ticket", "")
            with self.lock:
                issued = self.tickets.pop(ticket, None)
                if issued is None or time.monotonic() - issued > 90:
                    self.refused_tickets += 1
                    issued = None
            if issued is None:
                await websocket.close(code=1008)
                return
            await websocket.accept()
            connection = Connection(websocket, asyncio.get_running_loop())
            self._opened(connection)
            try:
                while True:
                    body = json.loads(await websocket.receive_text())
                    message_id = str((body.get("headers") or {}).get("messageId", ""))
                    self._acked(message_id, body, connection)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self._closed(connection)

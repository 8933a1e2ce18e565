"""Feishu's long-connection side, on the fake Feishu's own server: `POST /callback/ws/endpoint` (the app
id and secret → a ws:// URL with device_id and service_id, and a ClientConfig) and the WebSocket that
pushes protobuf `pbbp2.Frame`s (encoded with the SDK's own generated class, not the bot's codec),
answers `ping` CONTROL frames with `pong` + ClientConfig, and records every acknowledgement.

Written from shared/reference/longconn-cards-images.md §A1, independently of bot/platforms.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from lark_oapi.ws.pb.pbbp2_pb2 import Frame
from starlette.websockets import WebSocket, WebSocketDisconnect

from tests.fakes.gateway import Connection, Gateway

SERVICE_ID = 33554678


class FeishuGateway(Gateway):
    def __init__(self, app_id: str, app_secret: str) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self._seq = 0
        super().__init__()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.client_config: dict[str, int] = {
                "ReconnectCount": -1, "ReconnectInterval": 1, "ReconnectNonce": 0, "PingInterval": 120
            }
            self.pings: list[dict[str, str]] = []  # headers of each ping received, with its service
            self.endpoint_bodies: list[dict[str, Any]] = []
            self.answer_pings = True

    # --- pushing ------------------------------------------------------------------------------

    def frame(self, payload: bytes, *, message_id: str, kind: str = "event", total: int = 1, seq: int = 0) -> Frame:
        with self.lock:
            self._seq += 1
            number = self._seq
        frame = Frame(SeqID=number, LogID=1000 + number, service=SERVICE_ID, method=1, payload=payload)
        for key, value in (("type", kind), ("message_id", message_id), ("sum", str(total)), ("seq", str(seq)),
                           ("trace_id", uuid.uuid4().hex)):
            frame.headers.add(key=key, value=value)
        return frame

    def push(
        self, event: dict[str, Any], *, fragments: int = 1, kind: str = "event", message_id: str | None = None,
        connection: Connection | None = None, gap: float = 0.0,
    ) -> str:
        """Push one event (split into `fragments` DATA frames); returns the frame message_id to wait on."""
        key = message_id or "ws_" + uuid.uuid4().hex
        data = json.dumps(event, ensure_ascii=False).encode()
        size = -(-len(data) // fragments)
        parts = [data[i * size : (i + 1) * size] for i in range(fragments)]
        target = connection or self.newest()
        with self.lock:
            self.pushed[key] = time.monotonic()
        for index, part in enumerate(parts):
            frame = self.frame(part, message_id=key, kind=kind, total=fragments, seq=index)
            target.run(target.websocket.send_bytes(frame.SerializeToString()))
            if gap:
                time.sleep(gap)
        return key

    def send_raw(self, frame: Frame, connection: Connection | None = None) -> None:
        target = connection or self.newest()
        target.run(target.websocket.send_bytes(frame.SerializeToString()))

    # --- the server ---------------------------------------------------------------------------

    def install(self, app: FastAPI) -> None:
        @app.post("/callback/ws/endpoint")
        async def endpoint(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            with self.lock:
                self.endpoint_bodies.append(body)
            failure = self._next_failure()
            if isinstance(failure, int):  # an HTTP status
                return JSONResponse({"code": failure, "msg": "error"}, status_code=failure)
            if isinstance(failure, dict):  # a Feishu error body (code 1: busy; 1000040350: too many connections …)
                return JSONResponse(failure)
            if body.get("AppID") != self.app_id or body.get("AppSecret") != self.app_secret:
                return JSONResponse({"code": 10003, "msg": "invalid app_id or app_secret"})
            url = f"ws://{request.url.netloc}/callback/ws/socket?device_id={uuid.uuid4().hex[:12]}&service_id={SERVICE_ID}"
            with self.lock:
                config = dict(self.client_config)
            return JSONResponse({"code": 0, "msg": "ok", "data": {"URL": url, "ClientConfig": config}})

        @app.websocket("/callback/ws/socket")
        async def socket(websocket: WebSocket) -> None:
            import asyncio

            if "device_id" not in websocket.query_params or websocket.query_params.get("service_id") != str(SERVICE_ID):
                await websocket.close(code=1008)
                return
            await websocket.accept()
            connection = Connection(websocket, asyncio.get_running_loop())
            self._opened(connection)
            try:
                while True:
                    data = await websocket.receive_bytes()
                    frame = Frame()
                    frame.ParseFromString(data)
                    headers = {h.key: h.value for h in frame.headers}
                    if frame.method == 0 and headers.get("type") == "ping":
                        with self.lock:
                            self.pings.append({**headers, "service": str(frame.service)})
                            answer, config = self.answer_pings, dict(self.client_config)
                        if answer:
                            pong = Frame(SeqID=0, LogID=0, service=frame.service, method=0, payload=json.dumps(config).encode())
                            pong.headers.add(key="type", value="pong")
                            await websocket.send_bytes(pong.SerializeToString())
                    elif frame.method == 1:
                        body = json.loads(frame.payload)
                        body["_headers"] = headers
                        body["_ids"] = (frame.SeqID, frame.LogID, frame.service)
                        self._acked(headers.get("message_id", ""), body, connection)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self._closed(connection)

"""A fake DingTalk: the open API (access token, robot group and 1:1 messages) and sessionWebhook reply
URLs served over real HTTP, checking requests as DingTalk does; and robot callbacks signed with the
AppSecret exactly as DingTalk sends them in HTTP mode.

Written from the platform documentation (shared/reference/dingtalk.md), independently of bot/platforms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.fakes.dingtalk_stream import DingTalkGateway

MSG_PARAM_LIMIT = 15_000
TEMPLATES = {
    "sampleText": ("content",), "sampleMarkdown": ("title", "text"), "sampleLink": ("text", "title", "messageUrl"),
    "sampleImageMsg": ("photoURL",), "sampleFile": ("mediaId", "fileName", "fileType"),
}


def callback_sign(timestamp: str, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()).decode()


@dataclass
class Sent:
    """A message DingTalk showed: via a sessionWebhook ("session"), the group API or the 1:1 API."""

    via: str
    conversation_id: str | None
    msgtype: str
    text: str
    title: str | None = None
    at_user_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)  # comparable across processes (CLOCK_MONOTONIC)


@dataclass
class Card:
    """An advanced card delivered into a group: its template, variables (as the last update left them)."""

    out_track_id: str
    template_id: str
    conversation_id: str
    params: dict[str, str]
    callback_type: str
    route_key: str | None
    at_user_ids: dict[str, str]
    updates: list[dict[str, str]] = field(default_factory=list)
    created_at: float = field(default_factory=time.monotonic)

    def items(self) -> list[dict[str, Any]]:
        return list(json.loads(self.params.get("items") or "[]"))

    def actions(self) -> list[dict[str, str]]:
        return [a for item in self.items() for a in item.get("actions", [])]


CARD_TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "deploy" / "dingtalk" / "prompt-card-template.json"
CARD_VALUE_LIMIT = 1024  # bytes per cardParamMap value
CARD_KEY_LIMIT = 100
CARD_TOTAL_LIMIT = 100 * 1024


def card_sign(timestamp: str, api_secret: str) -> str:
    """x-ddpaas-signature: base64(HmacSHA256(key=apiSecret, msg=timestamp))."""
    return base64.b64encode(hmac.new(api_secret.encode(), timestamp.encode(), hashlib.sha256).digest()).decode()


def card_data_problem(params: Any) -> str | None:
    """What DingTalk (and the shipped template) would refuse in a cardParamMap, or None."""
    if not isinstance(params, dict) or not params:
        return "cardParamMap must be a non-empty object"
    template = json.loads(CARD_TEMPLATE_FILE.read_text(encoding="utf-8"))
    known = set(template["variables"])
    total = 0
    for key, value in params.items():
        if not isinstance(value, str):
            return f"cardParamMap.{key} must be a string (numbers, lists as strings)"
        if len(key.encode()) > CARD_KEY_LIMIT:
            return f"cardParamMap key {key[:20]}… longer than 100 bytes"
        if len(value.encode()) > CARD_VALUE_LIMIT:
            return f"cardParamMap.{key} is {len(value.encode())} bytes (1 KB at most)"
        if key not in known:
            return f"cardParamMap.{key} is not a variable of the template"
        total += len(value.encode())
    if total > CARD_TOTAL_LIMIT:
        return "card data over 100 KB"
    items = params.get("items")
    if items is not None:
        try:
            parsed = json.loads(items)
        except ValueError:
            return "items is not a JSON list"
        fields = set(template["variables"]["items"]["item"])
        action_fields = set(template["variables"]["items"]["item"]["actions"]["item"])
        if not isinstance(parsed, list) or any(not isinstance(i, dict) or set(i) != fields for i in parsed):
            return f"items must be a list of {sorted(fields)}"
        for item in parsed:
            acts = item["actions"]
            if not isinstance(acts, list) or any(not isinstance(a, dict) or set(a) != action_fields for a in acts):
                return f"actions must be a list of {sorted(action_fields)}"
            if any(not isinstance(v, str) for a in acts for v in a.values()):
                return "action fields must be strings"
    return None


@dataclass
class Session:
    conversation_id: str
    expires_ms: int


class DingTalkFake:
    card_template_id = "tandem-prompt.schema"  # the published template the operator configured

    def __init__(
        self,
        *,
        client_id: str = "dingtestclientid",
        client_secret: str = "dingtalk-app-secret-0123456789",
        corp_id: str = "dingcorpfake",
        bot_user_id: str = "$:LWCP_v1:$botbotbot",
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.corp_id = corp_id
        self.bot_user_id = bot_user_id
        self.base_url = ""  # set once served
        self.lock = threading.Lock()
        self.stream = DingTalkGateway(client_id, client_secret)  # Stream mode
        self.reset()
        self.app = self._build()
        self.stream.install(self.app)

    def reset(self) -> None:
        """Forget everything (a fresh organisation), keeping the server and the credentials."""
        self.stream.reset()
        with self.lock:
            self.users: dict[str, str] = {}  # staffId → nick
            self.tokens: set[str] = set()
            self.token_requests = 0
            self.sessions: dict[str, Session] = {}
            self.sent: list[Sent] = []
            self.requests: list[dict[str, Any]] = []
            self.failures: deque[str] = deque()
            self.media: dict[str, bytes] = {}  # media_id → the uploaded bytes
            self.uploads: list[dict[str, Any]] = []  # every media upload: fields, filename, content type
            self.cards: dict[str, Card] = {}  # outTrackId → the card as DingTalk keeps it
            self.card_routes: dict[str, tuple[str, str]] = {}  # callbackRouteKey → (url, apiSecret)
            self.files: dict[str, tuple[str, bytes]] = {}  # downloadCode → a file people sent (file_message)
            self.download_urls: dict[str, str] = {}  # the path token of a downloadUrl → its downloadCode
            self.downloads: list[dict[str, Any]] = []  # every messageFiles/download call and URL fetch

    # --- test controls ------------------------------------------------------------------------

    def add_user(self, staff_id: str, nick: str) -> str:
        self.users[staff_id] = nick
        return staff_id

    def fail_next(self, *kinds: str) -> None:
        """Queue failures for the next sends: "130101" (session throttle), "qps" (API QPS limit, 403),
        "429", "500", "token" (token revoked), "expired" (the session expires now)."""
        with self.lock:
            self.failures.extend(kinds)

    def revoke_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def wait_for(self, count: int, *, conversation_id: str | None = None, timeout: float = 10.0) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [s for s in self.sent if conversation_id is None or s.conversation_id == conversation_id]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def wait_for_card(self, count: int, *, conversation_id: str | None = None, updates: int = 0,
                      timeout: float = 10.0) -> list[Card]:
        """The cards delivered (to a group), once there are `count` and `updates` updates among them."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = [c for c in self.cards.values() if conversation_id is None or c.conversation_id == conversation_id]
            found.sort(key=lambda c: c.created_at)
            if (len(found) >= count and sum(len(c.updates) for c in found) >= updates) or time.monotonic() > deadline:
                return found
            time.sleep(0.01)

    def card_callback(self, card: Card, user: str, params: dict[str, str]) -> dict[str, Any]:
        """The callback DingTalk makes when `user` presses a button of `card` (its 回传请求 params);
        over Stream it is the frame's data, over HTTP the body."""
        content = {"cardPrivateData": {"actionIds": ["tandem_action"], "params": params}}
        return {
            "type": "actionCallback", "outTrackId": card.out_track_id, "corpId": self.corp_id, "userId": user,
            "spaceType": "IM_GROUP", "spaceId": card.conversation_id, "userIdType": 1, "extension": "{}",
            "content": json.dumps(content, ensure_ascii=False),
        }

    def card_request(self, card: Card, data: dict[str, Any], *, secret: str | None = None,
                     timestamp: str | None = None) -> tuple[bytes, dict[str, str]]:
        """An HTTP card callback as DingTalk posts it to the card's registered route: the body and the
        x-ddpaas-signature headers (signed with the route's apiSecret, or `secret`)."""
        ts = timestamp or str(int(time.time() * 1000))
        key = secret if secret is not None else self.card_routes[card.route_key or ""][1]
        headers = {"content-type": "application/json", "x-ddpaas-signature-timestamp": ts,
                   "x-ddpaas-signature": card_sign(ts, key)}
        return json.dumps(data, ensure_ascii=False).encode(), headers

    # --- the callback side: what DingTalk posts to the robot's HTTP URL -------------------------

    def message(
        self,
        conversation_id: str,
        sender: str,
        text: str,
        *,
        conversation_type: str = "2",
        msgtype: str = "text",
        msg_id: str | None = None,
        session_minutes: float = 90,
        title: str = "项目群",
    ) -> dict[str, Any]:
        """A robot callback: `@nick` of known users become atUsers (in order, after the bot's own),
        the bot's mention is removed from the text and a leading space remains."""
        now_ms = int(time.time() * 1000)
        at_users = [{"dingtalkId": self.bot_user_id}] if conversation_type == "2" else []
        by_nick = {nick: staff for staff, nick in self.users.items()}
        for word in text.split():
            if word.startswith("@") and word[1:] in by_nick:
                staff = by_nick[word[1:]]
                at_users.append({"dingtalkId": "$:LWCP_v1:$" + staff, "staffId": staff})
        session = uuidlib.uuid4().hex
        expires = now_ms + int(session_minutes * 60_000)
        self.sessions[session] = Session(conversation_id, expires)
        payload: dict[str, Any] = {
            "conversationId": conversation_id,
            "atUsers": at_users,
            "chatbotCorpId": self.corp_id,
            "chatbotUserId": self.bot_user_id,
            "msgId": msg_id or f"msg{uuidlib.uuid4().hex}",
            "senderNick": self.users.get(sender, sender),
            "isAdmin": False,
            "senderStaffId": sender,
            "sessionWebhookExpiredTime": expires,
            "createAt": now_ms,
            "senderCorpId": self.corp_id,
            "conversationType": conversation_type,
            "senderId": "$:LWCP_v1:$" + sender,
            "isInAtList": True,
            "sessionWebhook": f"{self.base_url}/robot/sendBySession?session={session}",
            "robotCode": self.client_id,
            "msgtype": msgtype,
        }
        if conversation_type == "2":
            payload["conversationTitle"] = title
        if msgtype == "text":
            payload["text"] = {"content": " " + text}
        else:
            payload["content"] = {"downloadCode": "dl-" + uuidlib.uuid4().hex}
        return payload

    def file_message(self, conversation_id: str, sender: str, file_name: str, data: bytes, **kw: Any) -> dict[str, Any]:
        """A file sent to the robot: `content` `{downloadCode, fileName, spaceId, fileId}`; the file is then
        served through `/v1.0/robot/messageFiles/download` → `downloadUrl`."""
        payload = self.message(conversation_id, sender, "", msgtype="file", **kw)
        code = payload["content"]["downloadCode"]
        payload["content"] = {"downloadCode": code, "fileName": file_name, "spaceId": "21", "fileId": uuidlib.uuid4().hex}
        with self.lock:
            self.files[code] = (file_name, data)
        return payload

    def quoting(self, payload: dict[str, Any], quoted: dict[str, Any]) -> dict[str, Any]:
        """A text message that quotes (引用回复) an earlier one: `text.isReplyMsg` and `text.repliedMsg`."""
        payload["text"] |= {"isReplyMsg": True, "repliedMsg": {
            "msgType": quoted["msgtype"], "msgId": quoted["msgId"], "senderId": quoted["senderId"],
            "createdAt": quoted["createAt"], "content": quoted.get("content") or quoted.get("text")}}
        return payload

    def request(
        self, payload: dict[str, Any], *, timestamp: int | None = None, secret: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        ts = str(timestamp if timestamp is not None else int(time.time() * 1000))
        body = json.dumps(payload, ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "timestamp": ts,
            "sign": callback_sign(ts, secret or self.client_secret),
        }
        return body, headers

    # --- the API --------------------------------------------------------------------------------

    def _take_failure(self, applicable: tuple[str, ...]) -> str | None:
        """The next queued failure, if it is one this endpoint can produce."""
        with self.lock:
            if self.failures and self.failures[0] in applicable:
                return self.failures.popleft()
            return None

    def _api_error(self, status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message, "requestid": uuidlib.uuid4().hex}, status_code=status)

    def _check_token(self, request: Request) -> JSONResponse | None:
        token = request.headers.get("x-acs-dingtalk-access-token")
        if not token or token not in self.tokens:
            return self._api_error(401, "InvalidAuthentication", "不合法的access_token")
        return None

    def _check_param(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, JSONResponse | None]:
        if body.get("robotCode") != self.client_id:
            return None, self._api_error(400, "invalidParameter.robotCode.notExsit", "机器人不存在")
        key, param = body.get("msgKey"), body.get("msgParam")
        if key not in TEMPLATES:
            return None, self._api_error(400, "invalidParameter.msgKey.invalid", f"msgKey {key!r}")
        if not isinstance(param, str):
            return None, self._api_error(400, "invalidParameter.msgParam.invalid", "msgParam must be a JSON string")
        if len(param.encode()) > MSG_PARAM_LIMIT:
            return None, self._api_error(400, "invalidParameter.msgParam.tooLong", "msgParam too long")
        try:
            parsed = json.loads(param)
        except ValueError:
            return None, self._api_error(400, "invalidParameter.msgParam.invalid", "msgParam is not JSON")
        if not isinstance(parsed, dict) or any(not isinstance(parsed.get(k), str) for k in TEMPLATES[key]):
            return None, self._api_error(400, "invalidParameter.msgParam.invalid", f"msgParam needs {TEMPLATES[key]}")
        photo = parsed.get("photoURL")
        if key == "sampleImageMsg" and photo not in self.media and not str(photo).startswith(("http://", "https://")):
            return None, self._api_error(400, "invalidParameter.msgParam.photoURL", "photoURL 不是有效的 mediaId 或 URL")
        if key == "sampleFile" and parsed.get("mediaId") not in self.media:
            return None, self._api_error(400, "invalidParameter.msgParam.mediaId", "mediaId 不是有效的 mediaId")
        return parsed, None

    def _api_failure(self) -> JSONResponse | None:
        kind = self._take_failure(("qps", "429", "500", "token"))
        if kind is None:
            return None
        if kind == "qps":
            return self._api_error(403, "Forbidden.AccessDenied.QpsLimitForApi", "触发限流")
        if kind == "429":
            return self._api_error(429, "Throttling", "Too many requests")
        if kind == "500":
            return self._api_error(500, "ServiceUnavailable", "服务暂不可用")
        if kind == "token":
            self.revoke_tokens()
            return self._api_error(401, "InvalidAuthentication", "不合法的access_token")
        raise ValueError(kind)

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1.0/oauth2/accessToken")
        async def access_token(request: Request) -> JSONResponse:
            body = await _json(request)
            with self.lock:
                self.token_requests += 1
            if not isinstance(body, dict) or body.get("appKey") != self.client_id or body.get("appSecret") != self.client_secret:
                return self._api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
            token = uuidlib.uuid4().hex
            with self.lock:
                self.tokens.add(token)
            return JSONResponse({"accessToken": token, "expireIn": 7200})

        @app.post("/v1.0/robot/messageFiles/download")
        async def message_file(request: Request) -> JSONResponse:
            denied = self._check_token(request)
            body = await _json(request)
            code = body.get("downloadCode") if isinstance(body, dict) else None
            with self.lock:
                self.downloads.append({"step": "api", "downloadCode": code, "status": denied.status_code if denied else 200})
            if denied is not None:
                return denied
            if not isinstance(body, dict) or body.get("robotCode") != self.client_id:
                return self._api_error(400, "invalidParameter.robotCode", "robotCode 不合法")
            if code not in self.files:
                return self._api_error(400, "invalidParameter.downloadCode", "downloadCode 不合法")
            path = uuidlib.uuid4().hex
            with self.lock:
                self.download_urls[path] = code
            return JSONResponse({"downloadUrl": f"{self.base_url}/oss/{path}"})

        @app.get("/oss/{path}")
        async def oss_object(path: str) -> Response:
            code = self.download_urls.get(path)
            with self.lock:
                self.downloads.append({"step": "url", "downloadCode": code, "status": 200 if code else 404})
            if code is None:
                return Response(b"<Error><Code>NoSuchKey</Code></Error>", status_code=404, media_type="application/xml")
            return Response(self.files[code][1], media_type="application/octet-stream")

        @app.post("/media/upload")
        async def media_upload(request: Request) -> JSONResponse:
            """oapi media/upload: `access_token` in the query, multipart `type=image` and `media=<file>`."""
            token = request.query_params.get("access_token")
            if not token or token not in self.tokens:
                return JSONResponse({"errcode": 40014, "errmsg": "不合法的access_token"})
            if not request.headers.get("content-type", "").startswith("multipart/form-data"):
                return JSONResponse({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
            form = await request.form()
            media = form.get("media")
            record: dict[str, Any] = {"fields": sorted(form.keys()), "type": form.get("type")}
            with self.lock:
                self.uploads.append(record)
            if (form.get("type") or request.query_params.get("type")) not in ("image", "voice", "video", "file"):
                return JSONResponse({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
            if media is None or isinstance(media, str):
                return JSONResponse({"errcode": 41005, "errmsg": "缺少多媒体文件数据"})
            data = await media.read()
            record.update(filename=media.filename, content_type=media.content_type, size=len(data))
            if not data or len(data) > 20 * 1024 * 1024:
                return JSONResponse({"errcode": 40006, "errmsg": "不合法的文件大小"})
            if form.get("type") == "image" and not data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF8", b"BM")):
                return JSONResponse({"errcode": 40004, "errmsg": "不合法的媒体文件类型"})
            media_id = "@lADP" + uuidlib.uuid4().hex
            with self.lock:
                self.media[media_id] = data
            return JSONResponse(
                {"errcode": 0, "errmsg": "ok", "media_id": media_id, "type": form.get("type"),
                 "created_at": int(time.time() * 1000)}
            )

        @app.post("/v1.0/robot/groupMessages/send")
        async def group_send(request: Request) -> JSONResponse:
            body = await _json(request)
            with self.lock:
                self.requests.append({"via": "group", "body": body})
            denied = self._check_token(request) or self._api_failure()
            if denied is not None:
                return denied
            if not isinstance(body, dict) or not isinstance(body.get("openConversationId"), str):
                return self._api_error(400, "invalidParameter.openConversationId.invalid", "openConversationId")
            parsed, bad = self._check_param(body)
            if bad is not None:
                return bad
            assert parsed is not None
            sent = Sent(
                "group",
                body["openConversationId"],
                body["msgKey"],
                parsed.get("content") or parsed.get("text") or parsed.get("photoURL") or parsed.get("mediaId", ""),
                title=parsed.get("title"),
            )
            with self.lock:
                self.sent.append(sent)
            return JSONResponse({"processQueryKey": uuidlib.uuid4().hex})

        @app.post("/v1.0/robot/oToMessages/batchSend")
        async def one_to_one(request: Request) -> JSONResponse:
            body = await _json(request)
            with self.lock:
                self.requests.append({"via": "oto", "body": body})
            denied = self._check_token(request) or self._api_failure()
            if denied is not None:
                return denied
            user_ids = body.get("userIds") if isinstance(body, dict) else None
            if not isinstance(user_ids, list) or not user_ids or not all(isinstance(u, str) for u in user_ids):
                return self._api_error(400, "invalidParameter.userIds.invalid", "userIds")
            parsed, bad = self._check_param(body)
            if bad is not None:
                return bad
            assert parsed is not None
            invalid = [u for u in user_ids if u not in self.users]
            with self.lock:
                self.sent.append(
                    Sent("oto", None, body["msgKey"],
                         parsed.get("content") or parsed.get("text") or parsed.get("photoURL") or parsed.get("mediaId", ""),
                         user_ids=user_ids)
                )
            return JSONResponse(
                {"processQueryKey": uuidlib.uuid4().hex, "invalidStaffIdList": invalid, "flowControlledStaffIdList": []}
            )

        @app.post("/v1.0/card/callbacks/register")
        async def register_callback(request: Request) -> JSONResponse:
            body = await _json(request)
            denied = self._check_token(request)
            if denied is not None:
                return denied
            if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k)
                                                     for k in ("callbackRouteKey", "callbackUrl", "apiSecret")):
                return self._api_error(400, "param.invalid", "callbackRouteKey, callbackUrl and apiSecret are required")
            with self.lock:
                if body["callbackRouteKey"] in self.card_routes and not body.get("forceUpdate"):
                    return self._api_error(400, "param.callbackRouteKeyExist", "callbackRouteKey 已存在")
                self.card_routes[body["callbackRouteKey"]] = (body["callbackUrl"], body["apiSecret"])
            return JSONResponse({"success": True, "result": {"callbackUrl": body["callbackUrl"]}})

        @app.post("/v1.0/card/instances/createAndDeliver")
        async def create_and_deliver(request: Request) -> JSONResponse:
            body = await _json(request)
            with self.lock:
                self.requests.append({"via": "card", "body": body})
            denied = self._check_token(request) or self._api_failure()
            if denied is not None:
                return denied
            if not isinstance(body, dict):
                return self._api_error(400, "param.invalid", "body")
            track = body.get("outTrackId")
            if not isinstance(track, str) or not track or len(track) > 100:
                return self._api_error(400, "param.outTrackIdInvalid", "outTrackId 必填，最长 100 个字符")
            if body.get("cardTemplateId") != self.card_template_id:
                return self._api_error(400, "param.templateNotExist", "模板不存在")
            space = body.get("openSpaceId")
            prefix = "dtv1.card//IM_GROUP."
            if not isinstance(space, str) or not space.startswith(prefix) or len(space) == len(prefix):
                return self._api_error(400, "param.openSpaceIdInvalid", "openSpaceId 格式错误")
            deliver = body.get("imGroupOpenDeliverModel")
            if not isinstance(deliver, dict) or deliver.get("robotCode") != self.client_id:
                return self._api_error(400, "param.robotCodeInvalid", "imGroupOpenDeliverModel.robotCode 无效")
            if not isinstance(body.get("imGroupOpenSpaceModel"), dict):
                return self._api_error(400, "param.imGroupOpenSpaceModelRequired", "imGroupOpenSpaceModel 必填")
            callback_type, route_key = body.get("callbackType", "STREAM"), body.get("callbackRouteKey")
            if callback_type not in ("STREAM", "HTTP") or (callback_type == "HTTP" and route_key not in self.card_routes):
                return self._api_error(400, "param.callbackRouteKeyNotExist", "callbackRouteKey 未注册")
            card_data = body.get("cardData")
            params = card_data.get("cardParamMap") if isinstance(card_data, dict) else None
            problem = card_data_problem(params)
            if problem is not None:
                return self._api_error(400, "param.cardDataInvalid", problem)
            at = deliver.get("atUserIds") or {}
            if not isinstance(at, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in at.items()):
                return self._api_error(400, "param.atUserIdsInvalid", "atUserIds 必须是 userId → 名字")
            with self.lock:
                if track in self.cards:
                    return self._api_error(400, "param.cardAlreadyExist", "卡片已存在")
                self.cards[track] = Card(track, body["cardTemplateId"], space[len(prefix):], dict(params),
                                         callback_type, route_key, dict(at))
            result = {"outTrackId": track, "deliverResults": [
                {"spaceType": "IM_GROUP", "spaceId": space[len(prefix):], "success": True, "carrierId": uuidlib.uuid4().hex}
            ]}
            return JSONResponse({"success": True, "result": result})

        @app.put("/v1.0/card/instances")
        async def update_card(request: Request) -> JSONResponse:
            body = await _json(request)
            with self.lock:
                self.requests.append({"via": "card_update", "body": body})
            denied = self._check_token(request) or self._api_failure()
            if denied is not None:
                return denied
            track = body.get("outTrackId") if isinstance(body, dict) else None
            card = self.cards.get(track) if isinstance(track, str) else None
            if card is None:
                return self._api_error(400, "param.cardNotExist", "卡片不存在")
            card_data = body.get("cardData")
            params = card_data.get("cardParamMap") if isinstance(card_data, dict) else None
            problem = card_data_problem(params)
            if problem is not None:
                return self._api_error(400, "param.cardDataInvalid", problem)
            assert isinstance(params, dict)
            options = body.get("cardUpdateOptions") or {}
            with self.lock:
                card.params = {**card.params, **params} if options.get("updateCardDataByKey") else dict(params)
                card.updates.append(dict(params))
            return JSONResponse({"success": True, "result": True})

        @app.post("/robot/sendBySession")
        async def session_reply(request: Request) -> Response:
            body = await _json(request)
            with self.lock:
                self.requests.append({"via": "session", "body": body})
            session = self.sessions.get(request.query_params.get("session", ""))
            kind = self._take_failure(("500", "130101", "expired"))
            if kind == "500":
                return JSONResponse({"errcode": -1, "errmsg": "系统繁忙"}, status_code=500)
            if kind == "130101":
                return JSONResponse({"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
            if session is not None and kind == "expired":
                session.expires_ms = 0
            if session is None or session.expires_ms < time.time() * 1000:
                return JSONResponse({"errcode": 300001, "errmsg": "session不存在或已过期"})
            if not isinstance(body, dict) or body.get("msgtype") not in ("text", "markdown"):
                return JSONResponse({"errcode": 40035, "errmsg": "缺少参数 msgtype"})
            if body["msgtype"] == "text":
                content = body.get("text", {}).get("content") if isinstance(body.get("text"), dict) else None
                title = None
            else:
                markdown = body.get("markdown") if isinstance(body.get("markdown"), dict) else {}
                content, title = markdown.get("text"), markdown.get("title")
                if not isinstance(title, str) or not title:
                    return JSONResponse({"errcode": 40035, "errmsg": "缺少参数 markdown.title"})
            if not isinstance(content, str) or not content:
                return JSONResponse({"errcode": 40035, "errmsg": "缺少参数 content"})
            at = body.get("at") or {}
            at_ids = at.get("atUserIds") or [] if isinstance(at, dict) else []
            if not isinstance(at_ids, list) or not all(isinstance(a, str) for a in at_ids):
                return JSONResponse({"errcode": 40035, "errmsg": "at.atUserIds must be a list of userIds"})
            with self.lock:
                self.sent.append(Sent("session", session.conversation_id, body["msgtype"], content, title, at_user_ids=at_ids))
            return JSONResponse({"errcode": 0, "errmsg": "ok"})

        return app


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None

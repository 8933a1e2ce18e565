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
class Session:
    conversation_id: str
    expires_ms: int


class DingTalkFake:
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

"""DingTalk (钉钉): verify and normalise robot HTTP callbacks; deliver outbox messages.

Inbound (`parse_request`, pure): the `timestamp` and `sign` headers are checked
(base64 HmacSHA256, key = AppSecret, message = timestamp + "\\n" + AppSecret; ±1 hour; constant
time). The sign covers the timestamp only, so the pair is handed on (`Inbound.signature`) to be
claimed for this msgId before the event is recorded, and the body's `robotCode` (when present) and
`chatbotCorpId` (when a corp id is configured) must be ours. The text loses its leading space and
the bot's mention; `@nick` words are paired in order with `atUsers` (staffId) when the counts agree,
else left as typed (the core resolves them by name). The dedup key is `msgId`; `conversationType`
"1" is a private chat; the sessionWebhook and its expiry travel as `reply_to` / `reply_to_expires_at`.

Outbound (`DingTalkApi`): replies through the message's sessionWebhook while it is valid, else the
app robot's group API (`/v1.0/robot/groupMessages/send`, msgParam a JSON string) with an access token
cached with a margin and refreshed when refused; private messages via `/v1.0/robot/oToMessages/batchSend`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from bot.clock import Clock, utcnow
from bot.messages import Mention, Reply
from bot.platforms import (
    DeliveryError,
    Ignored,
    Inbound,
    OutgoingMessage,
    Parsed,
    PermanentError,
    RateLimit,
    Refused,
    SenderLimits,
    SignatureUse,
    Throttled,
    TransientError,
    from_epoch,
    incoming,
    lower_headers,
)

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
SIGNATURE_TOLERANCE = timedelta(hours=1)
# No published figure for the app robot; 20 QPS per app is the standard edition's API quota. The custom
# group robot's 20 messages/minute would apply only to custom-robot webhooks, which we do not use.
LIMITS = SenderLimits(per_chat=None, per_app=RateLimit(20, 1.0))
SESSION_MARGIN = timedelta(seconds=30)
CUSTOM_ROBOT_THROTTLE = 130101
_AT_WORD = re.compile(r"(?<!\S)@([^\s@<>]+)")
_SPACES = re.compile(r"[ \t\u00a0\u3000]{2,}")
_APP_THROTTLE = re.compile(r"qpslimit|throttl|apicountlimit|flowcontrol", re.IGNORECASE)
_CHAT_THROTTLE = re.compile(r"too\.?fast|too\.?many", re.IGNORECASE)


def sign(timestamp: str, app_secret: str) -> str:
    """The callback's `sign` header: base64(HmacSHA256(key=AppSecret, timestamp + "\\n" + AppSecret))."""
    mac = hmac.new(app_secret.encode("utf-8"), f"{timestamp}\n{app_secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def trusted_session_webhook(url: str, base_url: str) -> bool:
    """Only post replies to DingTalk itself (or the configured API host): the callback signature does
    not cover the body, so a sessionWebhook URL must not be able to point anywhere."""
    parts, base = urlsplit(url), urlsplit(base_url)
    host, base_host = (parts.hostname or "").lower(), (base.hostname or "").lower()
    if parts.scheme == "https" and (host == "dingtalk.com" or host.endswith(".dingtalk.com")):
        return True
    if parts.scheme not in ("http", "https") or not host:
        return False
    loopback = ("127.0.0.1", "localhost", "::1")
    return host == base_host or (host in loopback and base_host in loopback)  # a local test setup


# --- inbound ------------------------------------------------------------------------------------


def parse_request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    app_secret: str,
    base_url: str,
    client_id: str | None = None,
    corp_id: str | None = None,
) -> Parsed:
    """Verify and normalise one robot callback; raises `Refused` for anything not genuine.

    `client_id` (the AppKey, which is also the robotCode) and `corp_id` (our organisation) are checked
    against the body when given: the signature does not cover it."""
    verified = verify_request(body, headers, now=now, app_secret=app_secret)
    parsed = normalise(verified.payload, now=now, base_url=base_url, client_id=client_id, corp_id=corp_id)
    if isinstance(parsed, Inbound):  # the pair covers no body: it may carry this one event only
        return replace(parsed, signature=SignatureUse(PLATFORM, verified.sign, verified.signed_at, parsed.incoming.event_key))
    return parsed


@dataclass(frozen=True, slots=True)
class Verified:
    payload: dict[str, Any]
    sign: str
    signed_at: datetime


def verify_request(body: bytes, headers: Mapping[str, str], *, now: datetime, app_secret: str) -> Verified:
    """The HTTP mode's part: the `timestamp` and `sign` headers (they cover the timestamp only) and a
    JSON object body. Raises `Refused` otherwise."""
    head = lower_headers(headers)
    timestamp, given = head.get("timestamp", "").strip(), head.get("sign", "").strip()
    if not timestamp or not given:
        raise Refused(401, "missing timestamp or sign header")
    if not timestamp.isdigit():
        raise Refused(401, "timestamp is not a number")
    if not hmac.compare_digest(given.encode(), sign(timestamp, app_secret).encode()):
        raise Refused(401, "signature mismatch")
    if abs(int(timestamp) - now.timestamp() * 1000) > SIGNATURE_TOLERANCE.total_seconds() * 1000:
        raise Refused(401, "stale timestamp")
    try:
        payload = orjson.loads(body)
    except ValueError:  # orjson.JSONDecodeError, invalid UTF-8 included
        raise Refused(400, "body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "body is not a JSON object")
    return Verified(payload, given, from_epoch(timestamp, default=now))


def normalise(
    payload: dict[str, Any], *, now: datetime, base_url: str, client_id: str | None = None, corp_id: str | None = None
) -> Parsed:
    """A robot callback, however it arrived (HTTP or Stream) → what to record. The body must name our
    robot (`client_id`, the AppKey) and our organisation (`corp_id`) when they are given."""
    robot_code = payload.get("robotCode")
    if client_id and robot_code not in (None, "") and robot_code != client_id:
        raise Refused(401, "robotCode is not this app's (TANDEM_DINGTALK_CLIENT_ID)")
    if corp_id and payload.get("chatbotCorpId") != corp_id:
        raise Refused(401, "chatbotCorpId is not the configured organisation (TANDEM_DINGTALK_CORP_ID)")
    msg_id = _require_str(payload, "msgId")
    conversation_id = _require_str(payload, "conversationId")
    sender_id = payload.get("senderStaffId") or payload.get("senderId")
    if not isinstance(sender_id, str) or not sender_id:
        raise Refused(400, "message without sender")
    kind = str(payload.get("msgtype") or "unknown")
    text, mentions = "", tuple[Mention, ...]()
    if kind == "text":
        content = payload.get("text")
        raw_text = content.get("content") if isinstance(content, dict) else None
        if not isinstance(raw_text, str):
            raise Refused(400, "text message without text.content")
        text, mentions = _resolve_mentions(raw_text, payload.get("atUsers"), payload.get("chatbotUserId"))
    session = payload.get("sessionWebhook")
    reply_to = None
    if isinstance(session, str) and session:
        if trusted_session_webhook(session, base_url):
            reply_to = session
        else:
            log.warning("dingtalk: ignoring a sessionWebhook outside DingTalk (%s)", urlsplit(session).hostname)
    expires = payload.get("sessionWebhookExpiredTime")
    received = incoming(
        platform=PLATFORM,
        event_key=msg_id,
        chat_id=conversation_id,
        sender_id=sender_id,
        sender_name=str(payload.get("senderNick") or ""),
        text=text,
        sent_at=from_epoch(payload.get("createAt"), default=now),
        is_group=str(payload.get("conversationType", "2")) != "1",
        kind=kind,
        mentions=mentions,
        reply_to=reply_to,
        reply_to_expires_at=from_epoch(expires, default=now) if reply_to and expires else None,
    )
    if payload.get("senderId") and payload.get("senderId") == payload.get("chatbotUserId"):
        return Ignored("the bot's own message")
    return Inbound(received)


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"message without {key}")
    return value


def _resolve_mentions(text: str, raw: Any, bot_id: Any) -> tuple[str, tuple[Mention, ...]]:
    users = [u for u in raw if isinstance(u, dict)] if isinstance(raw, list) else []
    others = [u for u in users if u.get("dingtalkId") != bot_id]
    words = list(_AT_WORD.finditer(text))
    bot_index = next((i for i, u in enumerate(users) if bot_id and u.get("dingtalkId") == bot_id), None)
    if len(words) == len(others):
        pairs = list(zip(words, others, strict=True))
    elif bot_index is not None and len(words) == len(users) and words[bot_index].start() == len(text) - len(text.lstrip()):
        pairs = list(zip(words, users, strict=True))  # the bot's own @ is still there, leading the text
    else:
        pairs = []  # cannot tell who is who: leave the @nick words for the core to resolve by name
    mentions: dict[str, Mention] = {}
    pieces: list[str] = []
    last = 0
    for word, user in pairs:
        pieces.append(text[last : word.start()])
        last = word.end()
        if user.get("dingtalkId") == bot_id and bot_id:
            continue
        staff_id = user.get("staffId")
        if isinstance(staff_id, str) and staff_id:
            mentions.setdefault(staff_id, Mention(staff_id, word.group(1)))
            pieces.append(f"<@{staff_id}>")
        else:
            pieces.append(word.group(0))  # not in our organisation: keep the nick
    pieces.append(text[last:])
    joined = "".join(pieces)
    cleaned = "\n".join(_SPACES.sub(" ", line).strip() for line in joined.strip().splitlines())
    return cleaned.strip(), tuple(mentions.values())


# --- outbound rendering -------------------------------------------------------------------------


def _markdown(reply: Reply, text: str) -> tuple[str, str]:
    title = reply.title or (text.strip().splitlines()[0][:30] if text.strip() else "Tandem")
    lines = text.split("\n")
    body = "  \n".join(lines)  # DingTalk markdown needs a hard break for each line
    return title, (f"#### {reply.title}\n\n{body}" if reply.title else body)


def session_body(reply: Reply) -> dict[str, Any]:
    """A sessionWebhook body: text or markdown, `@staffId` in the text plus at.atUserIds."""
    body: dict[str, Any]
    if reply.rich:
        title, markdown = _markdown(reply, reply.render(lambda m: f"@{m.user_id}", heading=_bold))
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    else:
        body = {"msgtype": "text", "text": {"content": reply.render(lambda m: f"@{m.user_id}")}}
    ids = reply.mentioned_ids()
    if ids:
        body["at"] = {"atUserIds": ids, "isAtAll": False}
    return body


def api_message(reply: Reply) -> tuple[str, str]:
    """(msgKey, msgParam) for the robot OpenAPI; it cannot @ people, so mentions read as @name."""
    if reply.rich:
        title, markdown = _markdown(reply, reply.render(lambda m: f"@{m.name}", heading=_bold))
        return "sampleMarkdown", json.dumps({"title": title, "text": markdown}, ensure_ascii=False)
    return "sampleText", json.dumps({"content": reply.render(lambda m: f"@{m.name}")}, ensure_ascii=False)


def _bold(heading: str) -> str:
    return f"**{heading}**"


# --- outbound API -------------------------------------------------------------------------------


class DingTalkApi:
    platform = PLATFORM
    limits = LIMITS

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        base_url: str,
        timeout: float = 10.0,
        clock: Clock = utcnow,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._token_lock = asyncio.Lock()
        self._dead_sessions: set[str] = set()  # sessionWebhooks that said they have expired

    async def aclose(self) -> None:
        await self._http.aclose()

    async def access_token(self) -> str:
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_valid_until:
                return self._token
            response = await self._post(
                f"{self._base_url}/v1.0/oauth2/accessToken",
                {"appKey": self._client_id, "appSecret": self._client_secret},
            )
            data = _json(response)
            token = data.get("accessToken")
            if response.status_code != 200 or not isinstance(token, str) or not token:
                _raise_api(response, data, "access token")
                raise TransientError(f"dingtalk access token: HTTP {response.status_code}, no accessToken")
            expire = float(data.get("expireIn") or 7200)
            self._token = token
            self._token_valid_until = time.monotonic() + expire - (300.0 if expire > 600 else expire / 2)
            return token

    def invalidate_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_valid_until = 0.0

    async def _post(self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
        try:
            return await self._http.post(url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"dingtalk: timeout ({type(exc).__name__})", code="timeout") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"dingtalk: {type(exc).__name__}: {exc}", code="network") from None

    async def _api(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.access_token()
            response = await self._post(f"{self._base_url}{path}", body, {"x-acs-dingtalk-access-token": token})
            data = _json(response)
            if response.status_code == 200:
                return data
            if attempt == 1 and _token_refused(response, data):
                log.info("dingtalk %s: access token refused, fetching a new one", what)
                self.invalidate_token(token)
                continue
            _raise_api(response, data, what)
        raise TransientError(f"dingtalk {what}: access token refused twice")

    async def send(self, message: OutgoingMessage) -> str | None:
        if message.to_user_id:
            return await self._private(message)
        if message.reply_to and message.reply_to not in self._dead_sessions and self._session_valid(message):
            try:
                return await self._session(message)
            except PermanentError as exc:
                log.warning("dingtalk sessionWebhook refused (%s); using the group API", exc)
                if len(self._dead_sessions) > 10_000:
                    self._dead_sessions.clear()
                self._dead_sessions.add(message.reply_to)
        return await self._group(message)

    def _session_valid(self, message: OutgoingMessage) -> bool:
        expires = message.reply_to_expires_at
        return expires is None or self._clock() + SESSION_MARGIN < expires

    async def _session(self, message: OutgoingMessage) -> str | None:
        assert message.reply_to is not None
        response = await self._post(message.reply_to, session_body(message.reply))
        data = _json(response)
        errcode = data.get("errcode")
        detail = f"dingtalk session reply: HTTP {response.status_code} errcode {errcode} {data.get('errmsg', '')}".strip()
        code = str(errcode) if errcode not in (0, None) else f"http_{response.status_code}"
        if response.status_code == 429 or errcode == CUSTOM_ROBOT_THROTTLE:
            raise Throttled(detail, retry_after=60.0, scope="chat", code=code)
        if response.status_code >= 500 or 300 <= response.status_code < 400:
            raise TransientError(detail, code=code)
        if response.status_code != 200 or errcode not in (0, None):
            raise PermanentError(detail, code=code)
        return None

    async def _group(self, message: OutgoingMessage) -> str | None:
        key, param = api_message(message.reply)
        body = {
            "robotCode": self._client_id,
            "openConversationId": message.chat_id,
            "msgKey": key,
            "msgParam": param,
        }
        data = await self._api("/v1.0/robot/groupMessages/send", body, "group message")
        return _query_key(data)

    async def _private(self, message: OutgoingMessage) -> str | None:
        assert message.to_user_id is not None
        key, param = api_message(message.reply)
        body = {"robotCode": self._client_id, "userIds": [message.to_user_id], "msgKey": key, "msgParam": param}
        data = await self._api("/v1.0/robot/oToMessages/batchSend", body, "private message")
        if message.to_user_id in (data.get("flowControlledStaffIdList") or []):
            raise Throttled("dingtalk private message: flow controlled", retry_after=60.0, scope="chat", code="flowControlled")
        if message.to_user_id in (data.get("invalidStaffIdList") or []):
            raise PermanentError(f"dingtalk private message: invalid staff id {message.to_user_id}", code="invalidStaffId")
        return _query_key(data)


def _query_key(data: dict[str, Any]) -> str | None:
    """The send's processQueryKey: DingTalk's id of the message sent."""
    key = data.get("processQueryKey")
    return key if isinstance(key, str) else None


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _token_refused(response: httpx.Response, data: dict[str, Any]) -> bool:
    code = str(data.get("code", ""))
    return (
        response.status_code == 401
        or code in ("InvalidAuthentication", "invalidAuthentication")
        or ("token" in code.lower() and "invalid" in code.lower())
    )


def _raise_api(response: httpx.Response, data: dict[str, Any], what: str) -> None:
    code = str(data.get("code") or data.get("errcode") or "")
    detail = f"dingtalk {what}: HTTP {response.status_code} {code} {data.get('message') or data.get('errmsg') or ''}".strip()
    request_id = data.get("requestid") or data.get("request_id")
    if request_id:
        detail += f" (requestid {request_id})"
    error: DeliveryError
    error_code = code or f"http_{response.status_code}"
    if response.status_code == 429 or _APP_THROTTLE.search(code):
        error = Throttled(detail, scope="app", code=error_code)
    elif _CHAT_THROTTLE.search(code) or code == str(CUSTOM_ROBOT_THROTTLE):
        error = Throttled(detail, retry_after=60.0, scope="chat", code=error_code)
    elif response.status_code >= 500 or _token_refused(response, data):
        error = TransientError(detail, code=error_code)
    else:
        error = PermanentError(detail, code=error_code)
    raise error

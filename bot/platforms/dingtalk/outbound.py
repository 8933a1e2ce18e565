"""DingTalk outbound: replies through the message's sessionWebhook while it is valid, else the app
robot's group API (`/v1.0/robot/groupMessages/send`, msgParam a JSON string) with an access token
cached with a margin and refreshed when refused; private messages via `/v1.0/robot/oToMessages/batchSend`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from bot.clock import Clock, utcnow
from bot.markup import markdown_literal
from bot.messages import Mention, Reply, list_rows
from bot.platforms import (
    DeliveryError,
    OutgoingMessage,
    PermanentError,
    RateLimit,
    SenderLimits,
    Throttled,
    TransientError,
    files,
)
from bot.platforms.dingtalk import card_send, cards, media
from bot.platforms.dingtalk.inbound import PLATFORM

log = logging.getLogger(__name__)

# No published figure for the app robot; 20 QPS per app is the standard edition's API quota. The custom
# group robot's 20 messages/minute would apply only to custom-robot webhooks, which we do not use.
LIMITS = SenderLimits(per_chat=None, per_app=RateLimit(20, 1.0))
SESSION_MARGIN = timedelta(seconds=30)
CUSTOM_ROBOT_THROTTLE = 130101
_APP_THROTTLE = re.compile(r"qpslimit|throttl|apicountlimit|flowcontrol", re.IGNORECASE)
_CHAT_THROTTLE = re.compile(r"too\.?fast|too\.?many", re.IGNORECASE)


# --- outbound rendering -------------------------------------------------------------------------


def _markdown(reply: Reply, mention: Callable[[Mention], str]) -> tuple[str, str]:
    """(title, text) of a markdown message. DingTalk markdown has no tables (they become lists) and reads
    markup out of any text, so every piece of text goes through markdown_literal."""
    text = reply.render(mention, heading=_bold, escape=markdown_literal, table=list_rows)
    plain = reply.render(lambda m: f"@{m.name}")
    # The title is the notification and conversation-list preview: plain text, never markup.
    title = reply.title or (plain.strip().splitlines()[0][:30] if plain.strip() else "Tandem")
    body = "  \n".join(text.split("\n"))  # DingTalk markdown needs a hard break for each line
    return title, (f"#### {markdown_literal(reply.title)}\n\n{body}" if reply.title else body)


def session_body(reply: Reply) -> dict[str, Any]:
    """A sessionWebhook body: text or markdown, `@staffId` in the text plus at.atUserIds."""
    body: dict[str, Any]
    if reply.rich:
        title, markdown = _markdown(reply, lambda m: f"@{m.user_id}")
        body = {"msgtype": "markdown", "markdown": {"title": title, "text": markdown}}
    else:
        content = reply.render(lambda m: f"@{m.user_id}", escape=markdown_literal)  # typed markup as look-alikes
        body = {"msgtype": "text", "text": {"content": content}}
    ids = reply.mentioned_ids()
    if ids:
        body["at"] = {"atUserIds": ids, "isAtAll": False}
    return body


def api_message(reply: Reply) -> tuple[str, str]:
    """(msgKey, msgParam) for the robot OpenAPI; it cannot @ people, so mentions read as @name."""
    if reply.rich:
        title, markdown = _markdown(reply, lambda m: f"@{m.name}")
        return "sampleMarkdown", json.dumps({"title": title, "text": markdown}, ensure_ascii=False)
    content = reply.render(lambda m: f"@{m.name}", escape=markdown_literal)
    return "sampleText", json.dumps({"content": content}, ensure_ascii=False)


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
        oapi_url: str = media.DINGTALK_OAPI,
        card_template_id: str | None = None,
        card_callback_route_key: str | None = None,
    ) -> None:
        self._client_id = client_id
        self.client_id = client_id
        self.oapi_url = oapi_url.rstrip("/")  # the old API host, for media uploads
        self._client_secret = client_secret
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=5.0), follow_redirects=False)
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._token_lock = asyncio.Lock()
        self._dead_sessions: set[str] = set()  # sessionWebhooks that said they have expired
        self.mentions_as_text = 0  # mentions that could not ping (sent through the group API as @名字)
        # Replies with buttons go as advanced cards of this template (bot.platforms.dingtalk.card_send);
        # their callbacks come over Stream, or over HTTP to the route registered under this key.
        self.card_template_id = card_template_id or None
        self.card_callback_route_key = card_callback_route_key or None

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

    async def _post(
        self, url: str, body: dict[str, Any], headers: dict[str, str] | None = None, *, method: str = "POST"
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"dingtalk: timeout ({type(exc).__name__})", code="timeout") from None
        except httpx.HTTPError as exc:
            raise TransientError(f"dingtalk: {type(exc).__name__}: {exc}", code="network") from None

    async def _api(self, path: str, body: dict[str, Any], what: str, *, method: str = "POST") -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.access_token()
            headers = {"x-acs-dingtalk-access-token": token}
            response = await self._post(f"{self._base_url}{path}", body, headers, method=method)
            data = _json(response)
            if response.status_code == 200:
                return data
            if attempt == 1 and _token_refused(response, data):
                log.info("dingtalk %s: access token refused, fetching a new one", what)
                self.invalidate_token(token)
                continue
            _raise_api(response, data, what)
        raise TransientError(f"dingtalk {what}: access token refused twice")

    async def download_file(self, download_code: str, *, limit: int) -> bytes:
        """A file people sent the robot: `POST /v1.0/robot/messageFiles/download` (robotCode and the
        message's downloadCode) gives a short-lived `downloadUrl`, then a GET of it, streamed and
        refused over `limit` before it is read (`files.FileTooLarge`)."""
        data = await self._api(
            "/v1.0/robot/messageFiles/download", {"downloadCode": download_code, "robotCode": self._client_id},
            "file download",
        )
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PermanentError("dingtalk file download: no downloadUrl in the answer", code="no_download_url")
        status, _kind, body = await files.download("GET", url, limit=limit)
        if status >= 400:
            error = TransientError if status >= 500 else PermanentError
            raise error(f"dingtalk file download: HTTP {status}", code=f"http_{status}")
        return body

    async def send(self, message: OutgoingMessage) -> str | None:
        if message.update_message_id:  # cards already sent, shown again as the database has them now
            return await card_send.update(self, message, message.update_message_id)
        if message.reply_to and message.reply_to.startswith(cards.LEGACY_ROUTE):  # a row written before that
            return await card_send.update(self, message, message.reply_to.removeprefix(cards.LEGACY_ROUTE))
        media_ids = await media.upload_images(self, message.reply)  # first: a failed upload posts nothing
        files = await media.upload_files(self, message.reply)
        sent = await self._send_reply(message)
        for media_id in media_ids:
            await media.send_image(self, message, media_id)
        for media_id, file in files:
            await media.send_file(self, message, media_id, file)
        return sent

    async def _send_reply(self, message: OutgoingMessage) -> str | None:
        if self.card_template_id and not message.to_user_id and cards.has_buttons(message.reply):
            sent = await card_send.deliver(self, message)
            if sent is not None:
                return sent
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
        mentioned = message.reply.mentioned_ids()
        if mentioned:
            # The group API cannot @ anyone: the names go out as plain "@名字". Say so to the operator
            # (the group's latest sessionWebhook had expired, or the group has not spoken in 90 minutes).
            self.mentions_as_text += len(mentioned)
            log.warning(
                "dingtalk: %d mention(s) sent as plain @name: no live sessionWebhook for the group",
                len(mentioned), extra={"outbox_id": message.id, "chat_id": message.chat_id},
            )
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

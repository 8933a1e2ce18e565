"""Feishu outbound: render a `Reply` (text with `<at>` mentions, or a card) and deliver it through
lark-oapi with the tenant token fetched by us (cached with a margin, invalidated and refetched once on
99991663), so the SDK never fetches one on its own nor shares its process-global cache. SDK calls run
in a small thread pool: its async methods block the event loop (a synchronous token fetch; a new httpx
client, SSL context included, per call). Replies quote the triggering message; the outbox row's
idempotency key is the Feishu `uuid`, so a retry within the hour never double-posts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import requests

from bot.markup import markdown_literal
from bot.messages import Reply
from bot.platforms import OutgoingMessage, PermanentError, RateLimit, SenderLimits, Throttled, TransientError, files
from bot.platforms.feishu import cards, media
from bot.platforms.feishu.inbound import PLATFORM

log = logging.getLogger(__name__)

# Documented limits for im/v1/messages: 5 per second per group, 50 per second per app. The limiter
# counts a burst plus a steady rate, so we stay a little under both in any one-second window.
LIMITS = SenderLimits(per_chat=RateLimit(4, 1.0), per_app=RateLimit(40, 1.0))
TOKEN_INVALID_CODES = frozenset({99991661, 99991663, 99991668})
APP_THROTTLE_CODES = frozenset({99991400, 11232})
CHAT_THROTTLE_CODES = frozenset({230020})
RESET_HEADER = "x-ogw-ratelimit-reset"


# --- outbound rendering -------------------------------------------------------------------------


def render(reply: Reply) -> tuple[str, str]:
    """(msg_type, content): a `post` of literal text nodes and `at` nodes, or a card for titled reports.

    Plain replies are posts rather than `text` messages: a text message reads `<at …>` tags, style tags
    and `[text](url)` links out of whatever it carries; a post's mentions are `at` nodes, never text."""
    if reply.rich or reply.has_buttons:
        built = cards.card(reply)
        if built is not None:
            return "interactive", json.dumps(built, ensure_ascii=False)
        log.warning("feishu: a card for %r would exceed Feishu's limits; sent as a post", reply.title)
    return "post", json.dumps({"zh_cn": {"content": post_paragraphs(reply)}}, ensure_ascii=False)


_AT = "\x00"  # stands for a mention while the reply is cut into nodes (never in stored text: inbound drops C0)
_AT_SPLIT = re.compile("\x00([^\x00]*)\x00")


def post_paragraphs(reply: Reply) -> list[list[dict[str, str]]]:
    """One paragraph per line: literal `text` nodes, and an `at` node for each real mention."""
    # Text nodes are not parsed, but typed markup still goes out as look-alikes: what people see is the
    # same on every platform and in every message kind (see bot.markup).
    body = reply.render(lambda m: f"{_AT}{m.user_id}{_AT}", escape=lambda t: markdown_literal(t.replace(_AT, "")))
    paragraphs: list[list[dict[str, str]]] = []
    for line in body.split("\n"):
        parts = _AT_SPLIT.split(line)
        nodes = [
            {"tag": "at", "user_id": part} if index % 2 else {"tag": "text", "text": part}
            for index, part in enumerate(parts)
            if part or index % 2
        ]
        paragraphs.append(nodes or [{"tag": "text", "text": ""}])
    return paragraphs


# --- outbound API -------------------------------------------------------------------------------


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class FeishuApi:
    """The open API through lark-oapi: tenant token, bot identity, user names, sending."""

    platform = PLATFORM
    limits = LIMITS

    def __init__(self, *, app_id: str, app_secret: str, base_url: str, timeout: float = 10.0) -> None:
        import lark_oapi as lark  # heavy import, only when Feishu is configured

        self._lark = lark
        self._app_id = app_id
        self._app_secret = app_secret
        self._base_url = base_url.rstrip("/")
        # enable_set_token: we hand the SDK our own token on every call (RequestOption), so it never
        # fetches one synchronously on the event loop nor caches it process-wide.
        self._client = (
            lark.Client.builder()
            .app_id(app_id)
            .app_secret(app_secret)
            .domain(base_url.rstrip("/"))
            .enable_set_token(True)
            .timeout(timeout)
            .build()
        )
        self._token: str | None = None
        self._token_valid_until = 0.0
        self._token_lock = asyncio.Lock()
        # The SDK's async methods build a new httpx.AsyncClient per call (~40 ms of CPU creating an SSL
        # context, on the event loop); its synchronous methods are cheap. We run those in threads.
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="feishu-api")

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # tokens

    async def tenant_token(self) -> str:
        async with self._token_lock:
            if self._token and time.monotonic() < self._token_valid_until:
                return self._token
            from lark_oapi.api.auth.v3 import InternalTenantAccessTokenRequest, InternalTenantAccessTokenRequestBody

            request = (
                InternalTenantAccessTokenRequest.builder()
                .request_body(
                    InternalTenantAccessTokenRequestBody.builder().app_id(self._app_id).app_secret(self._app_secret).build()
                )
                .build()
            )
            response = await self._run(lambda: self._client.auth.v3.tenant_access_token.internal(request))
            status = response.raw.status_code if response.raw else 0
            data = _raw_json(response)
            code = data.get("code")
            token = data.get("tenant_access_token")
            error_code = str(code) if code else f"http_{status}"
            if status == 429 or code in APP_THROTTLE_CODES:
                reset = _seconds(_header(response.raw.headers, RESET_HEADER))
                raise Throttled(f"feishu token: throttled ({code})", retry_after=reset, code=error_code)
            if status >= 500 or code != 0 or not isinstance(token, str):
                raise TransientError(f"feishu token: HTTP {status} code {code} {data.get('msg', '')}".strip(), code=error_code)
            expire = float(data.get("expire") or 7200)
            # Refresh well before expiry (a token with < 30 min left is replaced by a new one anyway).
            margin = 300.0 if expire > 600 else expire / 2
            self._token = token
            self._token_valid_until = time.monotonic() + expire - margin
            return token

    def invalidate_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_valid_until = 0.0

    async def _run(self, call: Callable[[], Any]) -> Any:
        """One SDK call in a worker thread; network and parse failures are transient: try again later."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except requests.Timeout as exc:
            raise TransientError(f"feishu: timeout ({type(exc).__name__})", code="timeout") from None
        except requests.RequestException as exc:
            raise TransientError(f"feishu: {type(exc).__name__}: {exc}", code="network") from None
        except ValueError as exc:  # the SDK could not read the response as JSON (an HTML 502 page...)
            raise TransientError(f"feishu: unreadable response ({exc})", code="unreadable") from None

    async def _call(self, invoke: Callable[[Any], Any], what: str) -> Any:
        """Run one authorised call; on an invalid token, refetch it and try once more."""
        for attempt in (1, 2):
            token = await self.tenant_token()
            option = self._lark.RequestOption.builder().tenant_access_token(token).build()
            response = await self._run(partial(invoke, option))
            code = response.code
            if code in TOKEN_INVALID_CODES and attempt == 1:
                log.info("feishu %s: token rejected (%s), fetching a new one", what, code)
                self.invalidate_token(token)
                continue
            _raise_for(response, what)
            return response
        raise AssertionError("unreachable")

    # identity

    async def bot_open_id(self) -> str:
        lark = self._lark
        request = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri("/open-apis/bot/v3/info")
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        response = await self._call(lambda option: self._client.request(request, option), "bot info")
        bot = _raw_json(response).get("bot")
        open_id = bot.get("open_id") if isinstance(bot, dict) else None
        if not isinstance(open_id, str) or not open_id:
            raise PermanentError("feishu bot info: no open_id in the answer")
        return open_id

    async def user_name(self, open_id: str) -> str | None:
        """A user's display name (needs contact:user.base:readonly); None when not allowed or unknown."""
        lark = self._lark
        request = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri("/open-apis/contact/v3/users/:user_id")
            .paths({"user_id": open_id})
            .queries([("user_id_type", "open_id")])
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        try:
            response = await self._call(lambda option: self._client.request(request, option), "user info")
        except PermanentError:
            return None
        data = _raw_json(response).get("data")
        user = data.get("user") if isinstance(data, dict) else None
        name = user.get("name") if isinstance(user, dict) else None
        return name if isinstance(name, str) and name else None

    # files people send

    async def message_file(self, message_id: str) -> tuple[str, str] | None:
        """(file_key, file_name) of a file message (`GET /open-apis/im/v1/messages/:message_id`), None
        when that message is something else."""
        lark = self._lark
        request = (
            lark.BaseRequest.builder()
            .http_method(lark.HttpMethod.GET)
            .uri("/open-apis/im/v1/messages/:message_id")
            .paths({"message_id": message_id})
            .token_types({lark.AccessTokenType.TENANT})
            .build()
        )
        response = await self._call(lambda option: self._client.request(request, option), "get message")
        data = _raw_json(response).get("data")
        items = data.get("items") if isinstance(data, dict) else None
        item = items[0] if isinstance(items, list) and items and isinstance(items[0], dict) else {}
        if item.get("msg_type") != "file":
            return None
        body = item.get("body")
        try:
            content = json.loads(body.get("content", "")) if isinstance(body, dict) else {}
        except ValueError:
            content = {}
        key, name = content.get("file_key"), content.get("file_name")
        return (key, name if isinstance(name, str) and name else key) if isinstance(key, str) and key else None

    async def download_resource(self, message_id: str, file_key: str, *, limit: int) -> bytes:
        """A file message's file (`GET /open-apis/im/v1/messages/:message_id/resources/:file_key?type=file`),
        streamed, refused over `limit` before it is read (`files.FileTooLarge`)."""
        url = f"{self._base_url}/open-apis/im/v1/messages/{message_id}/resources/{file_key}"
        for attempt in (1, 2):
            token = await self.tenant_token()
            status, kind, body = await files.download(
                "GET", url, headers={"Authorization": f"Bearer {token}"}, params={"type": "file"}, limit=limit
            )
            if status < 400 and not kind.startswith("application/json"):
                return body
            try:
                answer = json.loads(body)
            except ValueError:
                answer = {}
            code = answer.get("code") if isinstance(answer, dict) else None
            if code in TOKEN_INVALID_CODES and attempt == 1:
                self.invalidate_token(token)
                continue
            error = TransientError if status >= 500 or status == 429 else PermanentError
            raise error(f"feishu download: HTTP {status} code {code}", code=str(code) if code else f"http_{status}")
        raise AssertionError("unreachable")

    # sending

    async def send(self, message: OutgoingMessage) -> str | None:
        if message.update_message_id:
            return await self.update_card(message.update_message_id, message.reply)
        image_keys = await media.upload_images(self, message.reply)  # first: a failed upload posts nothing
        file_keys = await media.upload_files(self, message.reply)
        msg_type, content = render(message.reply)
        message_id = await self._deliver(message, msg_type, content, message.idempotency_key)
        for index, key in enumerate(image_keys):
            await self._deliver(message, "image", media.image_content(key), media.image_uuid(message.idempotency_key, index))
        for index, key in enumerate(file_keys):
            await self._deliver(message, "file", media.file_content(key), media.file_uuid(message.idempotency_key, index))
        return message_id

    async def _deliver(self, message: OutgoingMessage, msg_type: str, content: str, uuid: str) -> str | None:
        if message.to_user_id:
            return await self._create("open_id", message.to_user_id, msg_type, content, uuid)
        if message.reply_to:
            try:
                return await self._reply(message.reply_to, msg_type, content, uuid)
            except PermanentError as exc:
                if not message.chat_id:
                    raise
                # The message to quote is gone (recalled, deleted...): say it in the chat instead.
                log.warning("feishu reply to %s refused (%s); posting in the chat", message.reply_to, exc)
        return await self._create("chat_id", message.chat_id, msg_type, content, uuid)

    async def _create(self, id_type: str, receive_id: str, msg_type: str, content: str, uuid: str) -> str | None:
        from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

        request = (
            CreateMessageRequest.builder()
            .receive_id_type(id_type)
            .request_body(
                CreateMessageRequestBody.builder().receive_id(receive_id).msg_type(msg_type).content(content).uuid(uuid).build()
            )
            .build()
        )
        response = await self._call(lambda option: self._client.im.v1.message.create(request, option), "create message")
        return response.data.message_id if response.data else None

    async def _reply(self, message_id: str, msg_type: str, content: str, uuid: str) -> str | None:
        from lark_oapi.api.im.v1 import ReplyMessageRequest, ReplyMessageRequestBody

        request = (
            ReplyMessageRequest.builder()
            .message_id(message_id)
            .request_body(ReplyMessageRequestBody.builder().msg_type(msg_type).content(content).uuid(uuid).build())
            .build()
        )
        response = await self._call(lambda option: self._client.im.v1.message.reply(request, option), "reply")
        return response.data.message_id if response.data else None


    async def update_card(self, message_id: str, reply: Reply) -> str:
        """Show a card we sent as `reply` now is: `PATCH im/v1/messages/:message_id` (our own card,
        `update_multi`, under 14 days old; 5 per second per message, within the chat's lane)."""
        from lark_oapi.api.im.v1 import PatchMessageRequest, PatchMessageRequestBody

        built = cards.card(reply)
        if built is None:  # cannot be a card any more; a card cannot become a post
            raise PermanentError("feishu card update: the card would exceed Feishu's limits", code="card_too_big")
        content = json.dumps(built, ensure_ascii=False)
        request = (
            PatchMessageRequest.builder()
            .message_id(message_id)
            .request_body(PatchMessageRequestBody.builder().content(content).build())
            .build()
        )
        await self._call(lambda option: self._client.im.v1.message.patch(request, option), "update card")
        return message_id


def _raw_json(response: Any) -> dict[str, Any]:
    raw = getattr(response, "raw", None)
    try:
        data = json.loads(raw.content) if raw is not None and raw.content else {}
    except ValueError:
        raise TransientError("feishu: unreadable response") from None
    return data if isinstance(data, dict) else {}


def _raise_for(response: Any, what: str) -> None:
    """Map an SDK response to success or a DeliveryError (throttle / transient / permanent)."""
    raw = response.raw
    status = raw.status_code if raw is not None else 0
    headers = raw.headers if raw is not None else None
    code = response.code
    detail = f"feishu {what}: HTTP {status} code {code} {response.msg or ''}".strip()
    log_id = _header(headers, "x-tt-logid")
    if log_id:
        detail += f" (log_id {log_id})"
    reset = _seconds(_header(headers, RESET_HEADER))
    error_code = str(code) if code else f"http_{status}"
    if status == 429 or code in APP_THROTTLE_CODES:
        raise Throttled(detail, retry_after=reset, scope="app", code=error_code)
    if code in CHAT_THROTTLE_CODES:
        raise Throttled(detail, retry_after=reset, scope="chat", code=error_code)
    if status >= 500 or code in TOKEN_INVALID_CODES:
        raise TransientError(detail, code=error_code)
    if code != 0 or not 200 <= status < 300:
        raise PermanentError(detail, code=error_code)

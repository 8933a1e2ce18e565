"""DingTalk inbound: verify a robot HTTP callback (the `timestamp` and `sign` headers: base64
HmacSHA256, key = AppSecret, message = timestamp + "\\n" + AppSecret; ±1 hour; constant time), then
normalise a callback, whichever receive mode delivered it.

The sign covers the timestamp only, so over HTTP the pair is handed on (`Inbound.signature`) to be
claimed for this msgId before the event is recorded, and the body's `robotCode` (when present) and
`chatbotCorpId` (when a corp id is configured) must be ours. The text loses its leading space and the
bot's mention; `@nick` words are paired in order with `atUsers` (staffId) when the counts agree, else
left as typed (the core resolves them by name). The dedup key is `msgId`; `conversationType` "1" is a
private chat; the sessionWebhook and its expiry travel as `reply_to` / `reply_to_expires_at`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from bot.markup import defuse_markers, is_everyone
from bot.messages import REPLY_TO_MAX, IncomingFile, Mention
from bot.platforms import (
    Ignored,
    Inbound,
    Parsed,
    Refused,
    SignatureUse,
    display_name,
    from_epoch,
    incoming,
    lower_headers,
)

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
SIGNATURE_TOLERANCE = timedelta(hours=1)
_AT_WORD = re.compile(r"(?<!\S)@([^\s@<>]+)")
_SPACES = re.compile(r"[ \t\u00a0\u3000]{2,}")


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
    file = _file(payload.get("content"), replied=False) if kind == "file" else None
    if kind == "text" and isinstance(payload.get("text"), dict):
        replied = payload["text"].get("repliedMsg")  # a quoting reply (引用回复) carries the quoted message
        if isinstance(replied, dict):
            file = _file(replied.get("content"), replied=True)
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
        file=file,
    )
    if payload.get("senderId") and payload.get("senderId") == payload.get("chatbotUserId"):
        return Ignored("the bot's own message")
    return Inbound(received)


def _file(content: Any, *, replied: bool) -> IncomingFile | None:
    """A file message's `content` (`{downloadCode, fileName, spaceId, fileId}`): the download code
    is what `/v1.0/robot/messageFiles/download` takes (no size: the download checks it)."""
    if not isinstance(content, dict):
        return None
    code, name = content.get("downloadCode"), content.get("fileName")
    if not isinstance(code, str) or not code or len(code) > REPLY_TO_MAX:
        return None
    return IncomingFile(name=display_name(name) if isinstance(name, str) and name else "文件",
                        source={"download_code": code}, replied=replied)


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"message without {key}")
    return value


def _resolve_mentions(text: str, raw: Any, bot_id: Any) -> tuple[str, tuple[Mention, ...]]:
    text = defuse_markers(text)  # typed marker look-alikes: only DingTalk's own mentions become markers
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
        if isinstance(staff_id, str) and staff_id and not is_everyone(staff_id):
            mentions.setdefault(staff_id, Mention(staff_id, word.group(1)))
            pieces.append(f"<@{staff_id}>")
        else:
            pieces.append(word.group(0))  # not in our organisation: keep the nick
    pieces.append(text[last:])
    joined = "".join(pieces)
    cleaned = "\n".join(_SPACES.sub(" ", line).strip() for line in joined.strip().splitlines())
    return cleaned.strip(), tuple(mentions.values())

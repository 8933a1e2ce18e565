"""Feishu inbound: verify a webhook request (url_verification, AES-256-CBC with the Encrypt Key,
`X-Lark-Signature` over the raw body with a timestamp window, the Verification Token; schema 2.0 only),
then normalise a genuine event into what to record, whichever receive mode delivered it.

`im.message.receive_v1` becomes an `Incoming` (dedup key: message_id); a `card.action.trigger` whose
button value carries `{"command": "..."}` becomes an `Incoming` run as if the operator had typed it
(dedup key: event_id), answered with a toast; a form's button (`"input"` in its value) appends the words
typed into the form, and an empty form is answered with a warning toast and not recorded.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.markup import defuse_markers, is_everyone
from bot.messages import NAME_MAX, REPLY_TO_MAX, IncomingFile, Mention
from bot.platforms import (
    Challenge,
    Ignored,
    Inbound,
    Parsed,
    Refused,
    display_name,
    from_epoch,
    incoming,
    lower_headers,
)

PLATFORM = "feishu"
# Feishu documents no replay window for X-Lark-Request-Timestamp; we accept one hour either way, the
# window the platform uses for its own signed webhooks. A replay inside it is a duplicate (same
# message_id/event_id), which the inbox turns into a no-op.
SIGNATURE_TOLERANCE = timedelta(hours=1)
CARD_TOAST = {"toast": {"type": "info", "content": "收到，正在处理…"}}
CARD_NO_COMMAND = {"toast": {"type": "warning", "content": "这个按钮没有可执行的指令。"}}
_MENTION_KEY = re.compile(r"@_[A-Za-z0-9_]+")
_SPACES = re.compile(r"[ \t\u00a0\u3000]{2,}")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """What inbound verification needs; at least one of the two must be set for the webhook to be on."""

    verification_token: str | None
    encrypt_key: str | None


# --- crypto -------------------------------------------------------------------------------------


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """X-Lark-Signature: hex SHA-256 of timestamp + nonce + encrypt_key, then the raw body bytes."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode("utf-8") + body).hexdigest()


BLOCK = 16  # AES block size in bytes


@functools.lru_cache(maxsize=8)
def _aes_key(encrypt_key: str) -> algorithms.AES:
    """The AES-256 key, sha256 of the Encrypt Key: derived once per key, not per request."""
    return algorithms.AES(hashlib.sha256(encrypt_key.encode("utf-8")).digest())


def decrypt(encrypted: str, encrypt_key: str) -> str:
    """AES-256-CBC with key sha256(encrypt_key); base64(iv + ciphertext); PKCS#7 padding checked strictly."""
    try:
        raw = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise Refused(400, "encrypt is not valid base64") from None
    if len(raw) < 2 * BLOCK or len(raw) % BLOCK:
        raise Refused(400, "encrypt has an invalid length")
    decryptor = Cipher(_aes_key(encrypt_key), modes.CBC(raw[:BLOCK])).decryptor()
    plain = decryptor.update(raw[BLOCK:]) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise Refused(400, "encrypt does not decrypt with the configured Encrypt Key")
    try:
        return plain[:-pad].decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "encrypt does not decrypt to UTF-8 text") from None


# --- inbound ------------------------------------------------------------------------------------


def parse_request(
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: datetime,
    config: WebhookConfig,
    bot_open_id: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Parsed:
    """Verify and normalise one request to the Feishu webhook; raises `Refused` for anything not genuine."""
    verified = verify_request(body, headers, now=now, config=config)
    if isinstance(verified, Challenge):
        return verified
    return normalise(verified, now=now, bot_open_id=bot_open_id, names=names)


def verify_request(
    body: bytes, headers: Mapping[str, str], *, now: datetime, config: WebhookConfig
) -> dict[str, Any] | Challenge:
    """The webhook's part: decrypt, check the signature and the Verification Token; the genuine v2.0
    event (or the url_verification answer). Raises `Refused` for anything else."""
    head = lower_headers(headers)
    envelope = json_object(body, "body")
    encrypted = envelope.get("encrypt")
    signed = False
    if config.encrypt_key:
        if encrypted is None:
            if envelope.get("type") == "url_verification":
                return _challenge(envelope, config)
            raise Refused(400, "expected an encrypted body (an Encrypt Key is configured)")
        if not isinstance(encrypted, str):
            raise Refused(400, "encrypt must be a string")
        if "x-lark-signature" in head:
            _verify_signature(body, head, config.encrypt_key, now)
            signed = True
        if signed:
            payload = json_object(decrypt(encrypted, config.encrypt_key), "decrypted body")
        else:
            # Only the url_verification handshake comes unsigned. One answer for every way an unsigned
            # body can fail, so that it cannot serve as a padding oracle for captured ciphertexts.
            try:
                payload = json_object(decrypt(encrypted, config.encrypt_key), "decrypted body")
            except Refused:
                raise Refused(400, "unsigned encrypted body that is not a url_verification request") from None
        if payload.get("type") == "url_verification":
            return _challenge(payload, config)
        if not signed:
            raise Refused(401, "missing X-Lark-Signature")
    else:
        if encrypted is not None:
            raise Refused(400, "encrypted body but no Encrypt Key is configured (TANDEM_FEISHU_ENCRYPT_KEY)")
        payload = envelope
        if payload.get("type") == "url_verification":
            return _challenge(payload, config)

    if payload.get("schema") != "2.0":
        if "uuid" in payload or payload.get("type") == "event_callback":
            raise Refused(400, "v1 events are not supported: set the app's event format to 2.0 in the console")
        raise Refused(400, "not a Feishu v2.0 event")
    header = payload.get("header")
    if not isinstance(header, dict):
        raise Refused(400, "event without header")
    _check_token(header.get("token"), config)
    return payload


def normalise(
    payload: dict[str, Any], *, now: datetime, bot_open_id: str | None = None, names: Mapping[str, str] | None = None
) -> Parsed:
    """A genuine v2.0 event, however it arrived (webhook or long connection) → what to record."""
    header = _object(payload, "header")
    event = payload.get("event")
    if not isinstance(event, dict):
        raise Refused(400, "event without body")
    event_type = header.get("event_type")
    if event_type == "im.message.receive_v1":
        return _message(event, now=now, bot_open_id=bot_open_id, names=names or {})
    if event_type == "card.action.trigger":
        return _card_action(event, header, now=now)
    return Ignored(f"event type {event_type!r} is not used")


def json_object(data: bytes | str, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except ValueError:  # orjson.JSONDecodeError, invalid UTF-8 included
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is not a JSON object")
    return value


def _check_token(token: Any, config: WebhookConfig) -> None:
    if config.verification_token is None:
        return
    if not isinstance(token, str) or not hmac.compare_digest(token.encode(), config.verification_token.encode()):
        raise Refused(401, "verification token mismatch")


def _challenge(payload: dict[str, Any], config: WebhookConfig) -> Challenge:
    _check_token(payload.get("token"), config)
    challenge = payload.get("challenge")
    if not isinstance(challenge, str):
        raise Refused(400, "url_verification without challenge")
    return Challenge({"challenge": challenge})


def _verify_signature(body: bytes, head: Mapping[str, str], encrypt_key: str, now: datetime) -> None:
    timestamp = head.get("x-lark-request-timestamp", "")
    nonce = head.get("x-lark-request-nonce", "")
    given = head.get("x-lark-signature", "")
    if not timestamp or not given:
        raise Refused(401, "missing X-Lark-Request-Timestamp or X-Lark-Signature")
    expected = signature(timestamp, nonce, encrypt_key, body)
    if not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
        raise Refused(401, "signature mismatch")
    try:
        sent = int(timestamp)
    except ValueError:
        raise Refused(401, "X-Lark-Request-Timestamp is not a number") from None
    if abs(now.timestamp() - sent) > SIGNATURE_TOLERANCE.total_seconds():
        raise Refused(401, "stale X-Lark-Request-Timestamp")


def _require_str(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise Refused(400, f"event without {key}")
    return value


def _message(event: dict[str, Any], *, now: datetime, bot_open_id: str | None, names: Mapping[str, str]) -> Parsed:
    sender = event.get("sender")
    message = event.get("message")
    if not isinstance(sender, dict) or not isinstance(message, dict):
        raise Refused(400, "message event without sender or message")
    sender_ids = _object(sender, "sender_id")
    open_id = sender_ids.get("open_id") or sender_ids.get("user_id") or sender_ids.get("union_id")
    message_id = _require_str(message, "message_id")
    chat_id = _require_str(message, "chat_id")
    if sender.get("sender_type", "user") != "user":
        return Ignored("message from an app or bot")
    if not isinstance(open_id, str) or not open_id:
        raise Refused(400, "message event without sender id")
    if bot_open_id and open_id == bot_open_id:
        return Ignored("the bot's own message")
    kind = message.get("message_type") or "unknown"
    text = ""
    mentions: tuple[Mention, ...] = ()
    if kind == "text":
        content = message.get("content")
        try:
            data = orjson.loads(content) if isinstance(content, str) else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("text"), str):
            raise Refused(400, "text message without text content")
        text, mentions = _resolve_mentions(data["text"], message.get("mentions"), bot_open_id)
    file: IncomingFile | None = None
    parent = message.get("parent_id")
    if kind == "file":
        file = _file(message.get("content"), message_id)
    elif kind == "text" and isinstance(parent, str) and parent and len(parent) <= REPLY_TO_MAX:
        # A reply (`@Tandem /导入` to a file message): the replied message may hold the file.
        file = IncomingFile(name="", source={"message_id": parent}, replied=True)
    received = incoming(
        platform=PLATFORM,
        event_key=message_id,
        chat_id=chat_id,
        sender_id=open_id,
        sender_name=names.get(open_id, ""),
        text=text,
        sent_at=from_epoch(message.get("create_time"), default=now),
        is_group=message.get("chat_type") != "p2p",
        kind=str(kind),
        mentions=mentions,
        reply_to=message_id,
        file=file,
    )
    return Inbound(received)


def _file(content: Any, message_id: str) -> IncomingFile | None:
    """A file message's `{"file_key": …, "file_name": …}` (no size: the download checks it)."""
    try:
        data = orjson.loads(content) if isinstance(content, str) else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("file_key"), str) or not data["file_key"]:
        return None
    name = data.get("file_name")
    return IncomingFile(
        name=display_name(name) if isinstance(name, str) and name else data["file_key"][:NAME_MAX],
        source={"message_id": message_id, "file_key": data["file_key"][:REPLY_TO_MAX]},
    )


def _resolve_mentions(text: str, raw: Any, bot_open_id: str | None) -> tuple[str, tuple[Mention, ...]]:
    """`@_user_N` placeholders: the bot's own dropped, others to `<@open_id>` markers with names."""
    entries = [m for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []
    by_key: dict[str, tuple[str, str]] = {}
    bot_keys: set[str] = set()
    first_key = match.group(0) if (match := _MENTION_KEY.match(text.lstrip())) else None
    for entry in entries:
        key = entry.get("key")
        ids = _object(entry, "id")
        open_id = ids.get("open_id") or ids.get("user_id") or ids.get("union_id")
        if not isinstance(key, str) or not isinstance(open_id, str):
            continue
        is_bot = (
            open_id == bot_open_id
            if bot_open_id
            # Identity not known yet: a mention typed as a bot, else the leading one (in groups the
            # platform only delivers messages that @-mention the bot, and people start with it).
            else entry.get("mentioned_type") == "bot" or (entry.get("mentioned_type") is None and key == first_key)
        )
        if is_bot:
            bot_keys.add(key)
        else:
            by_key[key] = (open_id, str(entry.get("name") or open_id))
    mentions: dict[str, Mention] = {}

    def substitute(match: re.Match[str]) -> str:
        key = match.group(0)
        if key in bot_keys:
            return " "
        found = by_key.get(key)
        if found is None or is_everyone(found[0]):
            return key if found is None else "@所有人"
        mentions.setdefault(found[0], Mention(found[0], found[1]))
        return f"<@{found[0]}>"

    # Longest keys first is implied by the regex (it takes the whole @_user_12, never @_user_1 of it).
    # Typed marker look-alikes are defused first: only Feishu's own mentions become markers.
    replaced = _MENTION_KEY.sub(substitute, defuse_markers(text))
    cleaned = "\n".join(_SPACES.sub(" ", line).strip() for line in replaced.strip().splitlines())
    return cleaned.strip(), tuple(mentions.values())


def _object(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """A JSON object member, or an empty one when it is missing or not an object."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _card_action(event: dict[str, Any], header: dict[str, Any], *, now: datetime) -> Parsed:
    event_id = _require_str(header, "event_id")
    operator, action, context = _object(event, "operator"), _object(event, "action"), _object(event, "context")
    open_id = operator.get("open_id") or operator.get("user_id")
    chat_id = context.get("open_chat_id")
    message_id = context.get("open_message_id")
    if not isinstance(open_id, str) or not open_id:
        raise Refused(400, "card action without operator")
    value = action.get("value")
    command = value.get("command") if isinstance(value, dict) else None
    if not isinstance(command, str) or not command.strip() or not isinstance(chat_id, str) or not chat_id:
        return Ignored("card action without a command", answer=CARD_NO_COMMAND)
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        # A form's button: the command takes the words typed into the form's input (see feishu/cards.py).
        typed = _object(action, "form_value").get(value["input"])
        words = typed.strip() if isinstance(typed, str) else ""
        if not words:
            needs = value.get("needs") if isinstance(value.get("needs"), str) else "内容"
            return Ignored("card form submitted empty", answer={"toast": {"type": "warning", "content": f"请先填写{needs}"}})
        command = f"{command.strip()} {words}"
    received = incoming(
        platform=PLATFORM,
        event_key=event_id,
        chat_id=chat_id,
        sender_id=open_id,
        sender_name="",
        text=command.strip(),
        sent_at=now,
        is_group=True,
        reply_to=message_id if isinstance(message_id, str) and message_id else None,
        card=True,
    )
    return Inbound(received, answer=CARD_TOAST, await_outcome=True)

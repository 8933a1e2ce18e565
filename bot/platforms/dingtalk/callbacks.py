"""DingTalk card callbacks (互动卡片回传请求), over Stream (`/v1.0/card/instances/callback`) or over HTTP
(the route registered with `POST /v1.0/card/callbacks/register`, posted to `/webhook/dingtalk/card`): a
button whose callback params carry `{"command": "..."}` runs that command as if the person who pressed
it had typed it in the group, like Feishu's card buttons. A button that needs words (`needs`, e.g.
"原因") runs `command` followed by the item's input (`arg`); an empty input is answered with a warning
and not recorded.

The answer (within DingTalk's 2 s) tells the clicker what happened in their private card data
(`cards.answer`); the card itself is re-rendered from the database afterwards, through the outbox
(`Incoming.card_message_id`: the card set it was pressed on, as the Feishu card's message id).

Dedup: a Stream callback has no id of its own (a second click is a second callback), so its key is the
frame's messageId, which a re-push of the same callback keeps. An HTTP callback is signed over its
timestamp only (`x-ddpaas-signature` = base64(HmacSHA256(key=apiSecret, msg=timestamp))), so its key
is a digest of the body and that timestamp, and the signature is claimed for it (one event per pair).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from bot.platforms import Ignored, Inbound, Parsed, Refused, SignatureUse, from_epoch, incoming, lower_headers
from bot.platforms.dingtalk import cards
from bot.platforms.dingtalk.inbound import PLATFORM, SIGNATURE_TOLERANCE

NO_COMMAND: dict[str, Any] = {}  # nothing to change on the card
SIGNATURE_HEADER = "x-ddpaas-signature"
TIMESTAMP_HEADER = "x-ddpaas-signature-timestamp"


def card_sign(timestamp: str, api_secret: str) -> str:
    """The HTTP card callback's `x-ddpaas-signature`: base64(HmacSHA256(key=apiSecret, msg=timestamp))."""
    return base64.b64encode(hmac.new(api_secret.encode(), timestamp.encode(), hashlib.sha256).digest()).decode("ascii")


def is_card_callback(headers: Mapping[str, str]) -> bool:
    return SIGNATURE_HEADER in lower_headers(headers)


def parse_card_request(
    body: bytes, headers: Mapping[str, str], *, now: datetime, api_secret: str | None, corp_id: str | None = None
) -> Parsed:
    """Verify and normalise an HTTP card callback; raises `Refused` for anything not genuine."""
    if not api_secret:
        raise Refused(404, "card callbacks over HTTP are off: set TANDEM_DINGTALK_CARD_CALLBACK_SECRET")
    head = lower_headers(headers)
    timestamp, given = head.get(TIMESTAMP_HEADER, "").strip(), head.get(SIGNATURE_HEADER, "").strip()
    if not timestamp.isdigit() or not given:
        raise Refused(401, "missing or malformed x-ddpaas-signature-timestamp / x-ddpaas-signature")
    if not hmac.compare_digest(given.encode(), card_sign(timestamp, api_secret).encode()):
        raise Refused(401, "card callback signature mismatch")
    if abs(int(timestamp) - now.timestamp() * 1000) > SIGNATURE_TOLERANCE.total_seconds() * 1000:
        raise Refused(401, "stale card callback timestamp")
    try:
        payload = orjson.loads(body)
    except ValueError:
        raise Refused(400, "card callback body is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "card callback body is not a JSON object")
    digest = hashlib.sha256(timestamp.encode() + b"\n" + body).hexdigest()[:40]
    parsed = normalise_card_callback(payload, message_id=f"http:{digest}", now=now, corp_id=corp_id)
    if isinstance(parsed, Inbound):  # the signature covers no body: it may carry this one event only
        use = SignatureUse(PLATFORM, f"card:{given}", from_epoch(timestamp, default=now), parsed.incoming.event_key)
        return replace(parsed, signature=use)
    return parsed


def _params(data: dict[str, Any]) -> dict[str, Any]:
    content = data.get("content")
    try:
        parsed = orjson.loads(content) if isinstance(content, str | bytes) else content
    except ValueError:
        raise Refused(400, "card callback content is not JSON") from None
    private = parsed.get("cardPrivateData") if isinstance(parsed, dict) else None
    params = private.get("params") if isinstance(private, dict) else None
    return params if isinstance(params, dict) else {}


def normalise_card_callback(data: dict[str, Any], *, message_id: str, now: datetime, corp_id: str | None = None) -> Parsed:
    """A card callback's data → the command it runs (or Ignored: a button without one, not in a group,
    an empty input)."""
    if corp_id and data.get("corpId") not in (None, "", corp_id):
        raise Refused(401, "card callback from another organisation (TANDEM_DINGTALK_CORP_ID)")
    params = _params(data)
    command = params.get("command")
    space_type, space_id, user_id = data.get("spaceType"), data.get("spaceId"), data.get("userId")
    if not isinstance(command, str) or not command.strip():
        return Ignored("card callback without a command", answer=NO_COMMAND)
    if space_type not in (None, "IM_GROUP") or not isinstance(space_id, str) or not space_id:
        return Ignored("card callback outside a group", answer=NO_COMMAND)
    if not isinstance(user_id, str) or not user_id or not message_id:
        raise Refused(400, "card callback without userId or messageId")
    text = command.strip()
    needs = params.get("needs")
    if isinstance(needs, str) and needs.strip():
        words = params.get("arg")
        words = words.strip() if isinstance(words, str) else ""
        if not words:
            return Ignored("card input left empty", answer=cards.private_notice(f"请先填写{needs.strip()}", "warning"))
        text = f"{text} {words}"
    received = incoming(
        platform=PLATFORM,
        event_key=f"card:{message_id}",
        chat_id=space_id,
        sender_id=user_id,
        sender_name="",
        text=text,
        sent_at=now,
        is_group=True,
    )
    track = data.get("outTrackId")
    pressed_on = cards.set_of_track(track) if isinstance(track, str) else None
    if pressed_on is not None:  # a card we sent: the message (its set of cards) is shown again once the command ran
        received = replace(received, card_message_id=pressed_on)
    return Inbound(received, answer=cards.answer(None, pending=True), await_outcome=True)

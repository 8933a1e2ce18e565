"""DingTalk card callbacks (互动卡片回传请求, `/v1.0/card/instances/callback`, over Stream): a button whose
callback params carry `{"command": "..."}` runs that command as if the person who pressed it had typed
it in the group, like Feishu's card buttons. The ack's response leaves the card as it is.

The callback has no id of its own (a second click is a second callback), so its dedup key is the
Stream frame's messageId, which a re-push of the same callback keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from bot.platforms import Ignored, Inbound, Parsed, Refused, incoming
from bot.platforms.dingtalk.inbound import PLATFORM

NO_COMMAND: dict[str, Any] = {}  # nothing to change on the card
CARD_ANSWER: dict[str, Any] = {}


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
    """A card callback's data → the command it runs (or Ignored: a button without one, not in a group)."""
    if corp_id and data.get("corpId") not in (None, "", corp_id):
        raise Refused(401, "card callback from another organisation (TANDEM_DINGTALK_CORP_ID)")
    command = _params(data).get("command")
    space_type, space_id, user_id = data.get("spaceType"), data.get("spaceId"), data.get("userId")
    if not isinstance(command, str) or not command.strip():
        return Ignored("card callback without a command", answer=NO_COMMAND)
    if space_type not in (None, "IM_GROUP") or not isinstance(space_id, str) or not space_id:
        return Ignored("card callback outside a group", answer=NO_COMMAND)
    if not isinstance(user_id, str) or not user_id or not message_id:
        raise Refused(400, "card callback without userId or messageId")
    received = incoming(
        platform=PLATFORM,
        event_key=f"card:{message_id}",
        chat_id=space_id,
        sender_id=user_id,
        sender_name="",
        text=command.strip(),
        sent_at=now,
        is_group=True,
    )
    return Inbound(received, answer=CARD_ANSWER)

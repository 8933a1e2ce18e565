"""Sending and updating DingTalk advanced cards: `POST /v1.0/card/instances/createAndDeliver` into the
group (`openSpaceId` dtv1.card//IM_GROUP.<openConversationId>, the robot as sender) and
`PUT /v1.0/card/instances` by outTrackId.

A reply's cards are one message: the row's `platform_message_id` is their set id (`cards.card_set_id`:
the row's idempotency key and each card's sections), and each card's outTrackId is that id plus its
index, so a retry after a partial send creates the same ids (DingTalk answers `param.cardAlreadyExist`
for the cards already there, which counts as sent), and an update of the message (a row with
`update_message_id` = the set id, after a click or a typed change: bot.dispatcher) re-renders each
card with the sections it was sent with. A top-level `success` can hide a failed delivery, so each
`deliverResults[].success` is checked too.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.platforms import OutgoingMessage, PermanentError, TransientError
from bot.platforms.dingtalk import cards

if TYPE_CHECKING:
    from bot.platforms.dingtalk.outbound import DingTalkApi

log = logging.getLogger(__name__)

CREATE_PATH = "/v1.0/card/instances/createAndDeliver"
UPDATE_PATH = "/v1.0/card/instances"
ALREADY_THERE = "param.cardAlreadyExist"
_BUSY = ("busy", "throttl", "qpslimit", "timeout")


def space_id(chat_id: str) -> str:
    return f"dtv1.card//IM_GROUP.{chat_id}"


def create_body(api: DingTalkApi, message: OutgoingMessage, chunk: cards.Chunk, set_id: str) -> dict[str, Any]:
    reply = message.reply
    body: dict[str, Any] = {
        "cardTemplateId": api.card_template_id,
        "outTrackId": cards.out_track_id(set_id, chunk),
        "callbackType": "HTTP" if api.card_callback_route_key else "STREAM",
        "cardData": {"cardParamMap": chunk.params},
        "openSpaceId": space_id(message.chat_id),
        "imGroupOpenSpaceModel": {"supportForward": False, "lastMessageI18n": {"ZH_CN": chunk.params["title"][:60]}},
        "imGroupOpenDeliverModel": {"robotCode": api.client_id},
        "userIdType": 1,
    }
    if api.card_callback_route_key:
        body["callbackRouteKey"] = api.card_callback_route_key
    names = {m.user_id: m.name for m in reply.mentions}
    mentioned = reply.mentioned_ids() if chunk.index == 0 else []
    if mentioned:  # the card's notification @-mentions the people it asks (first card only)
        body["imGroupOpenDeliverModel"]["atUserIds"] = {uid: names.get(uid, uid) for uid in mentioned}
    return body


async def deliver(api: DingTalkApi, message: OutgoingMessage) -> str | None:
    """Send the reply as cards; their set id, or None when it does not fit cards (the caller sends
    markdown instead)."""
    chunks = cards.render(message.reply)
    set_id = cards.card_set_id(message.idempotency_key, chunks or [])
    if chunks is None or len(cards.out_track_id(set_id, chunks[-1])) > cards.TRACK_MAX:
        log.info("dingtalk: a reply with buttons does not fit %d cards; sending markdown", cards.MAX_CARDS,
                 extra={"outbox_id": message.id})
        return None
    for chunk in chunks:
        body = create_body(api, message, chunk, set_id)
        try:
            data = await api._api(CREATE_PATH, body, "card createAndDeliver")
        except PermanentError as exc:
            if exc.code == ALREADY_THERE:  # sent by an earlier attempt of this row
                continue
            raise
        _check(data, "card createAndDeliver")
    return set_id


async def update(api: DingTalkApi, message: OutgoingMessage, message_id: str) -> str | None:
    """Show the cards of `message_id` (a set id) as the row's reply (rebuilt from the database): each
    card re-rendered with its own sections, every variable within 1 KB (a card that no longer fits is
    left as it was). A message that is not our cards (a prompt that went as markdown) is left alone."""
    sent = cards.sent_cards(message_id)
    if sent is None:
        log.info("dingtalk: %s is not a card we sent; nothing to update", message_id, extra={"outbox_id": message.id})
        return None
    for card in sent:
        params = cards.rerender(message.reply, card.index, card.start, card.end)
        if params is None:
            log.warning("dingtalk: card %s no longer fits its template variables; left as it was", card.track)
            continue
        body = {
            "outTrackId": card.track,
            "userIdType": 1,
            "cardData": {"cardParamMap": params},
            "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        }
        _check(await api._api(UPDATE_PATH, body, "card update", method="PUT"), "card update")
    return message_id


def _check(data: dict[str, Any], what: str) -> None:
    if data.get("success") is False:
        raise PermanentError(f"dingtalk {what}: success false: {data}", code=str(data.get("code") or "card_failed"))
    result = data.get("result")
    results = result.get("deliverResults") if isinstance(result, dict) else None
    for delivered in results if isinstance(results, list) else []:
        if isinstance(delivered, dict) and delivered.get("success") is False:
            error = str(delivered.get("errorMsg") or "")
            detail = f"dingtalk {what}: not delivered to {delivered.get('spaceId')}: {error}"
            if any(word in error.lower() for word in _BUSY):
                raise TransientError(detail, code="card_deliver_busy")
            raise PermanentError(detail, code="card_not_delivered")

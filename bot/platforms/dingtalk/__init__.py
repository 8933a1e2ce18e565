"""DingTalk (钉钉): the platform as one package — `inbound` (verify, normalise), `outbound` (render,
the robot API), `cards` / `card_send` (advanced interactive cards: template variables, createAndDeliver,
updates), `callbacks` (card clicks over Stream and HTTP), `stream` (Stream mode), `platform` (the
`Platform` object and `build(settings, clock)` for the registry)."""

from bot.platforms.dingtalk.inbound import (
    PLATFORM,
    SIGNATURE_TOLERANCE,
    normalise,
    parse_request,
    sign,
    trusted_session_webhook,
    verify_request,
)
from bot.platforms.dingtalk.outbound import LIMITS, DingTalkApi, api_message, session_body

__all__ = [
    "LIMITS",
    "PLATFORM",
    "SIGNATURE_TOLERANCE",
    "DingTalkApi",
    "api_message",
    "normalise",
    "parse_request",
    "session_body",
    "sign",
    "trusted_session_webhook",
    "verify_request",
]

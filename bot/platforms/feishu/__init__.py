"""Feishu (Lark): the platform as one package — `inbound` (verify, normalise), `outbound` (render,
the open API), `platform` (the `Platform` object and `build(settings, clock)` for the registry)."""

from bot.platforms.feishu.inbound import (
    PLATFORM,
    SIGNATURE_TOLERANCE,
    WebhookConfig,
    decrypt,
    normalise,
    parse_request,
    signature,
    verify_request,
)
from bot.platforms.feishu.outbound import LIMITS, FeishuApi, render

__all__ = [
    "LIMITS",
    "PLATFORM",
    "SIGNATURE_TOLERANCE",
    "FeishuApi",
    "WebhookConfig",
    "decrypt",
    "normalise",
    "parse_request",
    "render",
    "signature",
    "verify_request",
]

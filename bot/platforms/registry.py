"""The platforms there are. Adding one is a package under `bot/platforms/` with a `build(settings,
clock) -> Platform | None` and the message saying which settings turn it on, its settings in
`bot/config.py`, and one line in `ENTRIES` here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.platforms import console
from bot.platforms.dingtalk import platform as dingtalk
from bot.platforms.feishu import platform as feishu
from bot.platforms.platform import Platform


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    kind: type[Platform]  # what it can do is known without building it (`tandem jobs run` builds none)
    build: Callable[[Settings, Clock], Platform | None]
    off: str  # what to set when it is off (the webhook's 404 says it)


ENTRIES = (
    Entry(console.PLATFORM, console.ConsolePlatform, console.build, "the console receives no webhooks"),
    Entry(feishu.PLATFORM, feishu.FeishuPlatform, feishu.build, feishu.OFF),
    Entry(dingtalk.PLATFORM, dingtalk.DingTalkPlatform, dingtalk.build, dingtalk.OFF),
)


def build_platforms(settings: Settings, clock: Clock) -> dict[str, Platform]:
    """The platforms that are on, by name (a platform whose credentials are absent is left out)."""
    built = ((entry.name, entry.build(settings, clock)) for entry in ENTRIES)
    return {name: platform for name, platform in built if platform is not None}


def private_platforms() -> frozenset[str]:
    """The platforms that can send a member a private message (the console prints it "[→ user]")."""
    return frozenset(entry.name for entry in ENTRIES if entry.kind.capabilities.private_messages)


def reply_route_platforms() -> frozenset[str]:
    """The platforms whose open API cannot @ people, where only a reply route (a DingTalk sessionWebhook)
    can: scheduled posts that mention someone borrow the group's latest live one."""
    return frozenset(entry.name for entry in ENTRIES if not entry.kind.capabilities.api_mentions)


def card_update_platforms(settings: Settings) -> frozenset[str]:
    """The platforms that update a card already sent in place, with these settings (a pressed card
    re-rendered, today's cards refreshed after a typed change; DingTalk: with a card template)."""
    return frozenset(entry.name for entry in ENTRIES if entry.kind.updates_cards(settings))


def card_answer_platforms() -> frozenset[str]:
    """The platforms whose callback answer shows the pressed card (its update row then waits)."""
    return frozenset(entry.name for entry in ENTRIES if entry.kind.capabilities.answer_shows_card)


def off_reason(name: str) -> str:
    """Why a platform's webhook answers 404 when the platform is not on."""
    return next((entry.off for entry in ENTRIES if entry.name == name), f"there is no platform {name!r}")

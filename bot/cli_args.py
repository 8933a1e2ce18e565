"""Arguments the `tandem` commands share."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import click


def parse_at(value: str | None, timezone: str) -> datetime | None:
    """An ISO 8601 moment (`--at`); without an offset it is read in the configured time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"不是 ISO 8601 时间：{value}（例：2026-11-23T09:30）") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(timezone))

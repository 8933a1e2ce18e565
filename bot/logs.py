"""Logging for the `tandem` commands: one function sets it up, plain text or JSON lines on stderr.

`configure_logging(settings)` is called once by the CLI (`bot.cli.main`); nothing is configured at
import time, and an application that embeds Tandem (or pytest) keeps its own handlers. Records carry
their ids as `extra` fields (`event_id`, `outbox_id`, `platform`, `chat_id`, …): JSON lines
(`TANDEM_LOG_FORMAT=json`, python-json-logger) put them in keys, plain text appends them as
`key=value`.

What is never logged: message text (nothing at INFO includes it), credentials, and sessionWebhook
URLs (their `session` parameter is an access token). As a last line of defence every formatted line,
tracebacks included, has the configured secrets and token-bearing URL parameters replaced by `***`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.engine import make_url

from bot.config import Settings

REDACTED = "***"
# Commands that print their own results: their INFO lines would only clutter the terminal.
CONSOLE_COMMANDS = frozenset({"say", "chat"})
# Libraries that say too much at INFO: httpx logs every request URL, a sessionWebhook's token included.
QUIET_LOGGERS = ("alembic.runtime.migration", "httpx", "httpcore")
# Libraries that install a handler of their own on import (lark-oapi: plain text on stdout).
SDK_LOGGERS = ("Lark",)
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words

_TOKEN_PARAMETER = re.compile(r"(?i)([?&](?:session|access_token|accesstoken|token|sign)=)[^&\s\"'<>]+")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
# uvicorn adds `color_message` (the same message with ANSI colours) to its records.
_SKIPPED_FIELDS = [*RESERVED_ATTRS, "color_message"]
_STANDARD_FIELDS = frozenset(_SKIPPED_FIELDS) | {"message", "asctime"}
_OURS = "_tandem_handler"


class Redactor:
    """Replaces secrets and token-bearing URL parameters in a formatted line."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # A JSON line holds a secret with its special characters escaped: look for both spellings.
        values |= {json.dumps(s, ensure_ascii=False)[1:-1] for s in values}
        self._secrets = sorted(values, key=len, reverse=True)

    def __call__(self, line: str) -> str:
        for secret in self._secrets:
            if secret in line:
                line = line.replace(secret, REDACTED)
        if "?" in line or "&" in line:  # cheap tests first: most lines have neither
            line = _TOKEN_PARAMETER.sub(rf"\1{REDACTED}", line)
        if "earer" in line:
            line = _BEARER.sub(rf"\1{REDACTED}", line)
        return line


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message key=value …` (the record's extra fields, in the order given)."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{key}={value}" for key, value in _extra_fields(record))
        if extra:
            head, newline, rest = line.partition("\n")  # after the message, before any traceback
            line = f"{head} {extra}{newline}{rest}"
        return self._redact(line)


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the extra fields, exc_info."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            reserved_attrs=_SKIPPED_FIELDS,
            json_ensure_ascii=False,
        )
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        return self._redact(super().format(record))


def _extra_fields(record: logging.LogRecord) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in record.__dict__.items() if key not in _STANDARD_FIELDS and not key.startswith("_")]


def secrets_of(settings: Settings) -> list[str]:
    """Every configured credential, and the database password."""
    values = [
        settings.feishu_app_secret,
        settings.feishu_verification_token,
        settings.feishu_encrypt_key,
        settings.dingtalk_client_secret,
        settings.metrics_token,
    ]
    found = [v.get_secret_value() for v in values if v is not None]
    try:
        password = make_url(settings.database_url).password
    except Exception:  # an unparsable URL fails elsewhere, with a better message
        password = None
    if password:
        found.append(str(password))
    return found


def make_handler(log_format: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None) -> logging.Handler:
    """A stderr handler (or `stream`) writing `log_format` ("text" or "json") lines, secrets redacted."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    redact = Redactor(secrets)
    handler.setFormatter(JsonLineFormatter(redact) if log_format == "json" else TextFormatter(redact))
    setattr(handler, _OURS, True)
    return handler


def configure_logging(settings: Settings, *, command: str | None = None, stream: TextIO | None = None) -> logging.Handler | None:
    """Set up the process's logging for a `tandem` command (the one place that does).

    Leaves everything alone when the root logger already has handlers that are not ours (Tandem
    embedded in another application, or under pytest), and returns None then.
    """
    root = logging.getLogger()
    if any(not getattr(h, _OURS, False) for h in root.handlers):
        return None
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = make_handler(settings.log_format, secrets=secrets_of(settings), stream=stream)
    root.addHandler(handler)
    root.setLevel(logging.WARNING if command in CONSOLE_COMMANDS else logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    adopt_sdk_loggers()
    return handler


def adopt_sdk_loggers() -> None:
    """Route SDK loggers that print on their own through ours (call after importing the SDK).

    lark-oapi adds a plain-text stdout handler to its "Lark" logger when imported (lazily, once
    Feishu is configured): removed, its records reach our handler like everyone else's. Only when
    `configure_logging` is in charge.
    """
    if not any(getattr(h, _OURS, False) for h in logging.getLogger().handlers):
        return
    for name in SDK_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True

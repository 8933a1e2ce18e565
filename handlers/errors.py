"""Errors a handler raises to answer the user; the dispatcher rolls back the handler's changes."""

from __future__ import annotations


class UserError(Exception):
    """Something the user asked for cannot be done; the message says why, in Chinese."""

    def __init__(self, message: str, usage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.usage = usage

    def reply_text(self) -> str:
        return f"{self.message}\n用法：{self.usage}" if self.usage else self.message


class UsageError(UserError):
    """The message could not be parsed as the command it names."""


class PermissionDenied(UserError):
    pass

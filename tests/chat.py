"""Test helpers: a settable clock and a console group chat that runs the whole pipeline."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.messages import IncomingFile
from bot.platforms.console import console_incoming, deliver_console, press, private_chat_id
from bot.runtime import Runtime


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, now: datetime) -> None:
        self.now = now


class ConsoleChat:
    """Posts messages as named users through inbox → handler → outbox → console, and returns the replies."""

    def __init__(self, runtime: Runtime, clock: FixedClock, *, chat_id: str) -> None:
        self.runtime = runtime
        self.clock = clock
        self.chat_id = chat_id

    def private(self, text: str, *, name: str, user: str | None = None, at: datetime | None = None) -> str:
        """Say `text` to the bot privately (the person's own chat with it) and return its replies there."""
        user_id = user or name
        chat_id = private_chat_id(user_id)
        pressed = press(self.runtime.session_factory, text, chat_id=chat_id, private_to=user_id)  # `1`: a choice
        if pressed.text is None:
            return pressed.answer or ""
        incoming = console_incoming(
            pressed.text, chat_id=chat_id, user_id=user_id, name=name, at=at or self.clock(), private=True
        )
        for event_id in self.runtime.dispatcher.accept([incoming]):
            self.runtime.dispatcher.process(event_id)
        out: list[str] = []
        deliver_console(self.runtime.session_factory, out.append, chat_id=chat_id, clock=self.clock)
        return "\n".join(out)

    def say(
        self, text: str, *, name: str = "王经理", user: str | None = None, at: datetime | None = None,
        file: IncomingFile | None = None,
    ) -> str:
        pressed = press(self.runtime.session_factory, text, chat_id=self.chat_id)  # a numbered choice
        if pressed.text is None:
            return pressed.answer or ""
        incoming = console_incoming(
            pressed.text, chat_id=self.chat_id, user_id=user or name, name=name, at=at or self.clock()
        )
        if file is not None:  # a file the platform fetched: with a command, or a file message on its own
            incoming = replace(incoming, file=file, kind="text" if text else "file")
        for event_id in self.runtime.dispatcher.accept([incoming]):
            self.runtime.dispatcher.process(event_id)
        out: list[str] = []
        deliver_console(self.runtime.session_factory, out.append, chat_id=self.chat_id, clock=self.clock)
        return "\n".join(out)

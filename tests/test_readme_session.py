"""The README's worked console session, replayed: the documented replies are the real ones."""

from __future__ import annotations

import re
import shlex
from datetime import datetime
from pathlib import Path

from tests.chat import ConsoleChat
from tests.conftest import SHANGHAI

README = Path(__file__).resolve().parent.parent / "README.md"


def session_steps() -> list[tuple[str, datetime, str, str]]:
    block = re.search(r"## A worked console session.*?```text\n(.*?)```", README.read_text(), re.S)
    assert block, "README has no worked console session"
    steps = []
    for chunk in block.group(1).strip().split("\n\n"):
        command, _, expected = chunk.partition("\n")
        argv = shlex.split(command.removeprefix("$ "))
        assert argv[:2] == ["tandem", "say"], command
        name, at, text = argv[argv.index("--name") + 1], argv[argv.index("--at") + 1], argv[-1]
        steps.append((name, datetime.fromisoformat(at).replace(tzinfo=SHANGHAI), text, expected))
    return steps


def test_readme_session_replays_exactly(chat: ConsoleChat) -> None:
    steps = session_steps()
    assert len(steps) >= 10
    for name, at, text, expected in steps:
        chat.clock.set(at)
        assert chat.say(text, name=name) == expected, text

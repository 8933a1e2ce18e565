"""The pieces every Feishu card (JSON 2.0) is made of, and Feishu's limits on one: the wrapper (schema,
config, header), markdown blocks, and the size and component count a card is measured by (reference
feishu.md §5.2/§5.4: at most 30 KB and 200 components)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.markup import markdown_literal
from bot.messages import Reply, pipe_rows

MAX_CARD_BYTES = 30 * 1024
MAX_ELEMENTS = 200
# The header colour for the reply's neutral `tone` (Feishu's header templates).
TONE_TEMPLATES = {"alert": "red", "attention": "orange", "good": "green", "info": "blue"}


def wrap(reply: Reply, elements: list[dict[str, Any]]) -> dict[str, Any]:
    plain = reply.render(lambda m: f"@{m.name}")
    first_line = plain.strip().splitlines()[0][:60] if plain.strip() else ""
    result: dict[str, Any] = {
        "schema": "2.0",
        "config": {"update_multi": True, "summary": {"content": reply.title or first_line}},
        "body": {"elements": elements or [md("")]},
    }
    if reply.title:
        template = TONE_TEMPLATES.get(reply.tone, "blue")
        result["header"] = {"title": {"tag": "plain_text", "content": reply.title}, "template": template}
    return result


def markdown(part: Reply) -> str:
    """`part` as card markdown: every piece of text through markdown_literal, mentions as `<at id=…>`."""
    return part.render(
        lambda m: f"<at id={m.user_id}></at>",
        heading=lambda title: f"**{title}**",
        escape=markdown_literal,
        table=lambda table, cell: pipe_rows(table, cell, rule=True),
    )


def md(content: str) -> dict[str, Any]:
    return {"tag": "markdown", "content": content}


def within_limits(result: dict[str, Any]) -> bool:
    return count_elements(result["body"]["elements"]) <= MAX_ELEMENTS and size(result) <= MAX_CARD_BYTES


def size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


def count_elements(value: Any, _tagged: Callable[[Any], bool] = lambda v: isinstance(v, dict) and "tag" in v) -> int:
    """Every component in a card's element tree (text objects such as plain_text titles excluded)."""
    if isinstance(value, list):
        return sum(count_elements(v) for v in value)
    if not isinstance(value, dict):
        return 0
    own = 1 if _tagged(value) and value["tag"] not in ("plain_text", "lark_md") else 0
    return own + sum(count_elements(v) for v in value.values())

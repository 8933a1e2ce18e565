"""A Feishu card (JSON 2.0) for a reply without buttons — digests, agendas, minutes, registers: the title
as the header (coloured by the reply's `tone`), then one block per section, `hr` between blocks: a bold
heading over its lines, `Field`s as a `column_set` of short figures, a `Table` as the `table` component,
a section longer than `FOLD_LINES` in a `collapsible_panel`, folded; an untitled section of several lines
a block of its own. Untitled one-line parts (`逾期：无`) run together in one markdown block.

Feishu's documented rules for these components (open.feishu.cn, card JSON 2.0 components): a table sits
only at the card's root, at most five per card, at most 50 columns, `page_size` 1–10; a collapsible panel
has a header, holds no form. When the card would pass 30 KB or 200 components, the longest section is cut
(its first lines kept and “…另有 N 行，发送 /… 查看” — the section's `more` command), again until it fits;
past 200 components however short the sections (too many of them), the reply is one markdown block, cut
the same way; `report_card` returns None when even that does not fit, and the reply goes as a post.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.markup import markdown_literal
from bot.messages import Field, Reply, Section, Table
from bot.platforms.feishu.card_parts import MAX_ELEMENTS, count_elements, markdown, md, within_limits, wrap

FOLD_LINES = 10  # a titled section longer than this is folded
MAX_TABLES = 5  # table components per card
MAX_TABLE_COLUMNS = 50
TABLE_PAGE = 10  # rows per page of a table component (Feishu: 1–10)
FIELDS_PER_ROW = 3  # figures side by side (a phone is narrow)
MIN_SHOWN = 3  # lines a section keeps however much the card must shrink; below that: a post
SHRINK = 0.75  # each cut keeps this share of the longest section


def report_card(reply: Reply) -> dict[str, Any] | None:
    """The card for `reply` (no buttons), its longest sections cut until it fits; past 200 components
    even so, the whole reply as one markdown block, cut the same way; None: send a post."""
    for compact in (False, True):
        shown: dict[int, int] = {}  # section index → how many of its lines/rows the card keeps
        while True:
            sections = tuple(_cut(s, shown.get(i)) for i, s in enumerate(reply.sections))
            elements = [md(markdown(replace(reply, sections=sections)))] if compact else _elements(reply, sections)
            result = wrap(reply, elements)
            if within_limits(result):
                return result
            if not compact and count_elements(elements) > MAX_ELEMENTS:
                break  # cutting lines does not remove blocks: one block instead
            longest = max(
                ((index, shown.get(index, _length(section))) for index, section in enumerate(reply.sections)),
                key=lambda pair: pair[1],
                default=None,
            )
            if longest is None or longest[1] <= MIN_SHOWN:
                break
            shown[longest[0]] = max(MIN_SHOWN, int(longest[1] * SHRINK))
    return None


def _length(section: Section) -> int:
    return len(section.lines) + (len(section.table.rows) if section.table is not None else 0)


def _cut(section: Section, keep: int | None) -> Section:
    """The section with only `keep` of its lines and table rows (lines first), and a last line saying how
    many it leaves out and where to see them."""
    if keep is None or keep >= _length(section):
        return section
    lines = section.lines[:keep]
    rows = section.table.rows[: max(keep - len(lines), 0)] if section.table is not None else ()
    left = _length(section) - len(lines) - len(rows)
    note = f"…另有 {left} 行" + (f"，发送 {section.more} 查看" if section.more else "未显示")
    table = replace(section.table, rows=rows) if section.table is not None else None
    return replace(section, lines=(*lines, note), table=table)


def _elements(reply: Reply, sections: tuple[Section, ...]) -> list[dict[str, Any]]:
    blocks: list[list[dict[str, Any]]] = []
    run: list[str] = []  # consecutive untitled parts, one markdown block
    tables = 0

    def flush() -> None:
        if run:
            blocks.append([md("\n".join(run))])
            run.clear()

    if reply.text:
        run.append(_text(reply, reply.text))
    for section in sections:
        if section.title is None and not section.fields and section.table is None and len(section.lines) <= 1:
            run.extend(_text(reply, line) for line in section.lines)
            continue
        flush()
        use_table = section.table is not None and tables < MAX_TABLES and len(section.table.columns) <= MAX_TABLE_COLUMNS
        tables += use_table
        blocks.append(_block(reply, section, use_table))
    flush()
    names = markdown(replace(reply, text="", sections=(), buttons=()))  # attachments, by name
    if names:
        blocks.append([md(names)])
    elements: list[dict[str, Any]] = []
    for number, block in enumerate(blocks):
        elements += ([{"tag": "hr"}] if number else []) + block
    return elements


def _block(reply: Reply, section: Section, use_table: bool) -> list[dict[str, Any]]:
    heading = f"**{_text(reply, section.title)}**" if section.title else ""
    body = "\n".join(_text(reply, line) for line in section.lines)
    block: list[dict[str, Any]] = []
    if heading and len(section.lines) > FOLD_LINES and not section.fields and section.table is None:
        return [_panel(heading, body)]
    head = "\n".join(p for p in (heading, body if section.table is None else "") if p)
    if head:
        block.append(md(head))
    block += _figures(reply, section.fields)
    if section.table is not None:
        if use_table:
            block.append(_table(reply, section.table))
        else:
            only = Section(table=section.table)
            block.append(md(markdown(replace(reply, text="", sections=(only,), buttons=(), attachments=()))))
        if body:
            block.append(md(body))  # under the table: the note on rows left out
    return block


def _panel(heading: str, body: str) -> dict[str, Any]:
    return {
        "tag": "collapsible_panel",
        "expanded": False,
        "header": {"title": {"tag": "markdown", "content": heading}},
        "elements": [md(body)],
    }


def _figures(reply: Reply, fields: tuple[Field, ...]) -> list[dict[str, Any]]:
    """Key figures side by side: each a bold label over its value."""
    rows = [fields[i : i + FIELDS_PER_ROW] for i in range(0, len(fields), FIELDS_PER_ROW)]
    return [
        {
            "tag": "column_set",
            "flex_mode": "none",
            "columns": [
                {
                    "tag": "column",
                    "width": "weighted",
                    "weight": 1,
                    "elements": [md(f"**{_text(reply, f.label)}**\n{_text(reply, f.value)}")],
                }
                for f in row
            ],
        }
        for row in rows
    ]


def _table(reply: Reply, table: Table) -> dict[str, Any]:
    """The `table` component: plain-text cells (mentions as @名字; a table cell mentions nobody)."""
    names = [f"c{i}" for i in range(len(table.columns))]
    return {
        "tag": "table",
        "page_size": TABLE_PAGE,
        "row_height": "low",
        "header_style": {"bold": True, "background_style": "grey"},
        "columns": [
            {"name": key, "display_name": _cell(reply, column), "data_type": "text", "width": "auto"}
            for key, column in zip(names, table.columns, strict=True)
        ],
        "rows": [{key: _cell(reply, value) for key, value in zip(names, row, strict=False)} for row in table.rows],
    }


def _text(reply: Reply, text: str) -> str:
    """Card markdown of one piece of the reply's text: literal, mentions as `<at id=…></at>`."""
    return markdown(replace(reply, text=text, title=None, sections=(), buttons=(), attachments=()))


def _cell(reply: Reply, text: str) -> str:
    return replace(reply, text=text, title=None, sections=(), buttons=(), attachments=()).render(
        lambda m: f"@{m.name}", escape=markdown_literal
    )

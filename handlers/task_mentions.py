"""Where a free-text message names tasks, and which words belong to which task.

People name task 12 as `#12`, `＃12` (normalised to `#12`), `12号任务`, `任务12`, `任务 #12`, `第12项`,
`第十二个任务` or `task 12`. A message is cut into segments: one per line, and on a line one per run of
ids, each run owning the words up to the next run (“#1 完成 #2 开始”, “#1、#2 都完成了”). Malformed ids
(`#1.5`, `#0`) are kept as refusals, never read as another task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from handlers.text import normalize

MAX_NUMBER = 999_999_999  # nine digits, as every other id
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUMBER = r"\d{1,9}(?:\.\d+)?|[零〇一二两三四五六七八九十百]{1,4}"
# One id, in any of the spellings above; `number` holds the digits (Arabic or Chinese).
_REF = re.compile(
    rf"#\s?(?P<hash>-?\d+(?:\.\d+)?)(?![\d.])(?:\s?号任务|号)?"
    rf"|第\s?(?P<ordinal>{_NUMBER})\s?(?:项任务|个任务|项|号任务)"
    rf"|(?P<numbered>{_NUMBER})\s?号任务"
    rf"|任务\s?#?\s?(?P<after>\d{{1,9}}(?:\.\d+)?|[一二两三四五六七八九十百]{{1,4}})(?![\d.号个%天周月点日])"
    rf"|\btask\s?#?(?P<english>\d{{1,9}}(?:\.\d+)?)\b",
    re.IGNORECASE,
)
# What may stand between the ids of one run: “#1、#2”, “#1 和 #2”, “#1/#2”.
_JOINER = re.compile(r"(?:[\s,，、/&+]|和|及|与|跟|以及|还有)*")
_EDGE = re.compile(r"^(?:[\s,，。:：;；、—~～【】\[\]「」]|-(?!\d))+|[\s,，;；、\-—~～【】\[\]「」]+$")
_LIST_NUMBER = re.compile(r"\s+\d{1,2}[.、)]$")  # “1. #3 完成 2. #4 开始”: the next item's number


def chinese_number(text: str) -> int | None:
    """一 … 九十九, 一百 (and Arabic digits): the small numbers people write for task ids and shares."""
    if text.isdigit():
        return int(text)
    if text == "一百" or text == "百":
        return 100
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


@dataclass(frozen=True, slots=True)
class Ref:
    """One id as typed: the number it names, or why it names none (`#1.5`, `#0`)."""

    typed: str
    number: int | None
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of ids and the words that are theirs; `before` is what the line said ahead of its first id."""

    refs: tuple[Ref, ...]
    text: str
    before: str = ""
    line: int = 0  # which line of the message
    last_on_line: bool = True  # no other run of ids follows on its line
    one_sentence: bool = False  # several runs that are one sentence (“#4 被 #2 卡住了”): not read as updates


def _ref(match: re.Match[str]) -> Ref:
    typed = match.group(0).strip()
    digits = next(g for g in match.groups() if g is not None)
    if "." in digits:
        return Ref(typed, None, f"“{typed}”不是任务编号（编号是整数，如 #12）")
    number = chinese_number(digits.lstrip("-"))
    if number is None:
        return Ref(typed, None, f"“{typed}”不是任务编号（编号写成 #12）")
    if digits.startswith("-") or number == 0:
        return Ref(typed, None, f"没有任务 {typed}（编号从 #1 开始）")
    if number > MAX_NUMBER:
        return Ref(typed, None, f"本项目没有任务 {typed}。发送 /任务 列表 查看现有任务")
    return Ref(typed, number)


def task_segments(raw: str) -> list[Segment]:
    """Every segment of a message that names tasks; [] when it names none."""
    found: list[Segment] = []
    for number, line in enumerate(raw.splitlines()):
        found += _line_segments(normalize(line), number)
    return found


def _line_segments(line: str, number: int) -> list[Segment]:
    matches = list(_REF.finditer(line))
    if not matches:
        return []
    runs: list[list[re.Match[str]]] = [[matches[0]]]
    for previous, match in pairwise(matches):
        between = line[previous.end(): match.start()]
        if _JOINER.fullmatch(between):
            runs[-1].append(match)
        else:
            runs.append([match])
    segments = []
    for index, run in enumerate(runs):
        end = runs[index + 1][0].start() if index + 1 < len(runs) else len(line)
        text = _EDGE.sub("", _LIST_NUMBER.sub("", _EDGE.sub("", line[run[-1].end(): end])))
        before = _EDGE.sub("", line[: run[0].start()]) if index == 0 else ""
        refs = tuple(dict.fromkeys(_ref(m) for m in run))
        segments.append(Segment(refs, text, before, number, index + 1 == len(runs)))
    return segments

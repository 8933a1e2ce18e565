"""How far along a task is, as people say it: 60%, 进度 60, 一半, 八成, 百分之七十, 三分之一, 还差 20%.

Whole percentages 0–100 only: “30.5%” is refused, not rounded; two different measures in one
update are refused too (the bot cannot know which one is the task's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.task_mentions import chinese_number

_CN = r"[零〇一二两三四五六七八九十百]{1,3}"
_LEAD = (
    r"(?:(?:已经?|都)?(?:完成了?|做了|做到了?|弄了|搞了|干了)\s*(?:约|大约)?"
    r"|(?P<pw>进度|progress)\s*(?:已经?)?\s*(?:到了?|为|是|达到|达|:)?\s*)?"
)
_MEASURE = re.compile(
    rf"(?P<rest>还差|还剩|剩下?|只差|就差|差)?\s*{_LEAD}"
    rf"(?:(?P<percent>-?\d+(?:\.\d+)?)\s*%"
    rf"|百分之(?P<cn_percent>{_CN}|\d{{1,3}})"
    rf"|(?P<tenths>[一二两三四五六七八九十]|\d)\s?成(?![功本员熟果型形都立交绩为品])"
    rf"|(?P<denominator>[二两三四五六七八九十]|\d)\s?分之\s?(?P<numerator>[一二两三四五六七八九]|\d)"
    rf"|(?P<half>一半|一大半|大半|过半|半数|\bhalf(?:way)?\b)"
    rf"|(?(pw)(?P<bare>-?\d+(?:\.\d+)?)(?![\d.天号日月点个周年])|(?!)))"
    rf"(?P<after>(?:\s*(?:了|左右|以上|多|出头|\+))?(?:\s*(?:done|complete|completed|finished)\b)?)",
    re.IGNORECASE,
)
_APPROXIMATE_AFTER = re.compile(r"左右|以上|多|出头|\+")


@dataclass(frozen=True, slots=True)
class Measure:
    value: int
    start: int
    end: int
    approximate: bool = False  # 60% 左右, 一大半, 过半: asked back


def find_measure(text: str) -> Measure | str | None:
    """The one progress measure in the text, a refusal (as text), or None."""
    found: list[Measure] = []
    for m in _MEASURE.finditer(text):
        value = _value(m)
        if isinstance(value, str):
            return value
        if value is None:
            continue
        approximate = bool(_APPROXIMATE_AFTER.search(m.group("after"))) or m.group("half") in ("一大半", "大半", "过半")
        found.append(Measure(100 - value if m.group("rest") else value, m.start(), m.end(), approximate))
    if len({f.value for f in found}) > 1:
        return "一条更新里有几个不同的进度（" + "、".join(f"{f.value}%" for f in found) + "），请分开写，例如：#3 进度 60%"
    return found[0] if found else None


def _value(m: re.Match[str]) -> int | str | None:
    typed = m.group("percent") or m.group("bare")
    if typed is not None:
        if "." in typed:
            return f"进度要写 0–100 的整数百分比，“{typed}%”不行"
        whole = int(typed)
        if not 0 <= whole <= 100:
            return f"进度应在 0% 到 100% 之间（写的是 {whole}%）"
        return whole
    if m.group("cn_percent"):
        value = chinese_number(m.group("cn_percent"))
        return value if value is not None and value <= 100 else None
    if m.group("tenths"):
        tenths = chinese_number(m.group("tenths"))
        return tenths * 10 if tenths is not None and tenths <= 10 else None
    if m.group("denominator"):
        denominator, numerator = chinese_number(m.group("denominator")), chinese_number(m.group("numerator"))
        if not denominator or numerator is None or numerator > denominator:
            return None
        return round(numerator * 100 / denominator)
    if m.group("half"):
        return 50
    return None

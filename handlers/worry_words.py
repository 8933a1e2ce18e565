"""Worries in a status update: words that say a task may be late, without saying it is.

Pure text in, a `Worry` out (no database). Three word classes, strongest first:

- LATE: the person expects the date to be missed (赶不上, 来不及, 要延期, 得推迟, 完不成, 交不了, behind
  schedule); high when said flatly or as an estimate (估计赶不上), medium when only possible (可能要延期);
- DOUBT: the date is uncertain (悬, 没把握, 不一定, 难说, 够呛, 吃紧, 有风险, at risk);
- HEDGE: a promise with a reservation (原则上, 尽量, 争取, 力争, 希望, 理论上, 应该能, hopefully).

Negated worries (“不会延期”, “没有风险”, “来得及”) are not worries. `handlers.risk_proposals` turns
one into a proposal for the PM; `handlers.free_text` asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models import RiskLevel


class WorryKind(StrEnum):
    LATE = "late"
    DOUBT = "doubt"
    HEDGE = "hedge"


@dataclass(frozen=True, slots=True)
class Worry:
    kind: WorryKind
    level: RiskLevel
    words: str  # the words that said it (quoted in the proposal)


WORRY_LABELS = {WorryKind.LATE: "可能延期", WorryKind.DOUBT: "进度没把握", WorryKind.HEDGE: "承诺有保留"}

_SLIP_VERBS = "延期|延后|延迟|推迟|推后|顺延|往后推|往后挪|拖期|拖延|拖后腿|拖|delay(?:ed)?|slip(?:s|ped)?|postpone(?:d)?"
# The date will be missed: “赶不上”, “来不及”, “完不成”, “交不了”, “做不完”; a slip verb after a word of
# necessity or estimate (“要延期”, “得推迟”, “会延后”).
_LATE = re.compile(
    r"(?:赶|来|追)不(?:上|及)|(?:完|做|交|搞|弄|写|干|办)不(?:成|完|了|出来)|"
    r"(?:要|得|会|需要|只能|恐怕|可能|估计|大概|应该|也许|或许|怕是|看来|肯定)\s*(?:要|得|会)?\s*(?:" + _SLIP_VERBS + r")|"
    r"(?:赶|来|跟)不上(?:进度|节奏)?|落后(?:于)?(?:计划|进度)|进度(?:落后|滞后)|超期|逾期|误期|晚于计划|"
    r"(?:会|要|得|可能|估计|恐怕|怕是|也许)\s*(?:要|会|得)?\s*(?:晚|迟)(?:[一两三四五几\d]+\s*(?:天|周|个工作日)|一点|一些|些|交|到)|"
    r"不太可能按时|按时(?:完成|交付|交)?(?:有|很)?(?:难|困难)|恐怕不行|"
    r"\b(?:behind schedule|won't make it|will (?:be )?slip|might slip|may slip|(?:will|might|may) be late|"
    r"running late|can't make (?:it|the deadline))\b",
    re.I,
)
_DOUBT = re.compile(
    r"悬|没把握|没有把握|不一定|不确定|说不准|说不好|难说|够呛|吃紧|紧张|有风险|风险(?:比较|很|挺|有点)?大|"
    r"(?:可能|怕|担心|恐怕|估计)(?:会|要)?(?:卡住|卡在|卡壳|阻塞|受阻|被卡)|不太乐观|不乐观|"
    r"(?:延期|延误|拖期|逾期)(?:的)?(?:风险|可能)|有点?危险|很危险|玄(?!学|关|机)|没谱|看情况|时间(?:很|比较|有点|太)?(?:赶|紧)|"
    r"比较赶|有点赶|太赶|人手不够|人手不足|资源不足|排不过来|忙不过来|没底|心里没数|难度(?:比较|很|挺)?大|有难度|压力(?:比较|很|挺)?大|卡点|有变数|不好说|"
    r"\b(?:at risk|not sure|unsure|uncertain|tight|risky|doubtful)\b",
    re.I,
)
_HEDGE = re.compile(
    r"原则上|理论上|尽量|尽可能|争取|试试看?|力争|力求|希望|但愿|努力|应该能|应该可以|估计能|估计可以|大概能|差不多能|"
    r"如果顺利|顺利的话|不出意外|没意外的话|\b(?:hopefully|in principle|try to|trying to|should be able to|aim to)\b",
    re.I,
)
# Words right before a worry that take it back (“不会延期”, “没有风险”, “不紧张”), or after (“悬念”).
_TAKEN_BACK_BEFORE = re.compile(r"(?:不会|不用|不必|无需|没有|没|不|并不|并没有|无|免得|以免|避免|防止)\s*$")
_TAKEN_BACK_AFTER = re.compile(r"^(?:念|疑)")
_SURE_LATE = re.compile(r"肯定|一定|确定|绝对|估计|恐怕|怕是|看来|基本|大概率|\b(?:definitely|surely|certainly)\b", re.I)
_MAYBE = re.compile(r"可能|也许|或许|说不定|有可能|\b(?:might|may|maybe|perhaps|possibly)\b", re.I)
_CLAUSE = re.compile(r"[^，,。;；!！?？\n]+")


def read_worry(text: str) -> Worry | None:
    """The strongest worry in the text, or None (a question or a taken-back worry is none)."""
    found: list[Worry] = []
    for clause in _CLAUSE.findall(text):
        worry = _clause_worry(clause)
        if worry is not None:
            found.append(worry)
    if not found:
        return None
    order = list(WorryKind)
    return min(found, key=lambda w: (order.index(w.kind), _LEVEL_ORDER.index(w.level)))


_LEVEL_ORDER = (RiskLevel.HIGH, RiskLevel.MEDIUM, RiskLevel.LOW)


def _clause_worry(clause: str) -> Worry | None:
    late = _said(_LATE, clause)
    if late is not None:
        start, words = late
        before = clause[:start + len(words)]
        if _MAYBE.search(before) and not _SURE_LATE.search(before):
            return Worry(WorryKind.LATE, RiskLevel.MEDIUM, words)
        return Worry(WorryKind.LATE, RiskLevel.HIGH, words)
    doubt = _said(_DOUBT, clause)
    if doubt is not None:
        return Worry(WorryKind.DOUBT, RiskLevel.MEDIUM, doubt[1])
    hedge = _said(_HEDGE, clause)
    if hedge is not None:
        return Worry(WorryKind.HEDGE, RiskLevel.LOW, hedge[1])
    return None


def _said(pattern: re.Pattern[str], clause: str) -> tuple[int, str] | None:
    for match in pattern.finditer(clause):
        if _TAKEN_BACK_BEFORE.search(clause[:match.start()]) or _TAKEN_BACK_AFTER.match(clause[match.end():]):
            continue
        return match.start(), match.group(0).strip()
    return None

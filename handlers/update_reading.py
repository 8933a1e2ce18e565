"""What one task's words say: a status that happened, a progress measure, a note, or nothing certain.

Pure text in, a `Reading` out (no database). A status is applied only when its clause says it happened:
any marker of the future, intention, negation, condition, request or partial completion before it
(or a “前/不了/吗” after it) means no change; estimates, reported speech, hedges (“吧”) and weaker words
(提交了, 在等) are asked back; a completion whose clause names something else than the task's title
(“场地订好了” for another task) is asked back too. Notes keep the person's words; only a status word at
the very start or end is taken off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from handlers.measures import Measure, find_measure
from handlers.update_words import (
    FILLER,
    MAYBE_AFTER,
    NOT_A_STATUS_AFTER,
    NOT_YET_AFTER,
    PARTIAL_AFTER,
    PERFECTIVE_AFTER,
    QUESTION,
    STATUS_WORDS,
    Marker,
    Word,
    markers,
)
from models import TaskStatus


class Outcome(StrEnum):
    APPLY = "apply"
    ASK = "ask"  # probably this; asked back, applied on “是”
    NOTE = "note"  # a comment, no field changes
    SHOW = "show"  # the id alone
    NO_CHANGE = "no-change"  # understood: it has not happened (future, negation, question, partial …)
    UNKNOWN = "unknown"  # no status words at all
    REFUSE = "refuse"  # a malformed value (30.5%)


@dataclass(frozen=True, slots=True)
class Reading:
    outcome: Outcome
    status: TaskStatus | None = None
    progress: int | None = None
    note: str | None = None
    why: str = ""
    unblock: bool = False  # “不卡了”: back to in progress, from blocked


# Why nothing changed, by the marker that said so (the reply quotes it).
WHY = {
    Marker.QUESTION: "像是在问",
    Marker.NEGATION: "是说还没做到",
    Marker.FUTURE: "是说以后的事",
    Marker.CONDITION: "是个假设",
    Marker.REQUEST: "是个请求",
    Marker.PARTIAL: "是说只完成了一部分（进度可以写成 进度 60%）",
    Marker.TIME: "是说计划的时间",
}
_STOPS = {Marker.NEGATION, Marker.FUTURE, Marker.CONDITION, Marker.REQUEST, Marker.PARTIAL, Marker.ABILITY}
_ASKS = {Marker.MODAL, Marker.REPORTED}
_DOUBTS_AFTER = {Marker.PARTIAL, Marker.NEGATION, Marker.CONTRAST, Marker.MODAL, Marker.REPORTED}
_CLAUSE = re.compile(r"[^，,。;；!！~～()（）\n]+")
_STRONG = {Word.DONE: TaskStatus.DONE, Word.STARTED: TaskStatus.IN_PROGRESS, Word.BLOCKED: TaskStatus.BLOCKED}
_WEAK = {Word.DONE_WEAK: TaskStatus.DONE, Word.BLOCKED_WEAK: TaskStatus.BLOCKED}
_FAMILY = {Word.DONE: "done", Word.DONE_WEAK: "done", Word.BLOCKED: "blocked", Word.BLOCKED_WEAK: "blocked",
           Word.STARTED: "started", Word.UNBLOCKED: "unblocked"}
_EDGE = re.compile(r"^(?:[\s,，。.:：;；、—~～【】\[\]「」()（）]|-(?!\d))+|[\s,，。.:：;；、\-—~～【】\[\]「」]+$")
_LEFT_FILLER = re.compile(
    r"(?:已经|已|都|全部|全都|均已|均|也|刚刚|刚|终于|总算|顺利|目前|现在|依旧|依然|仍然|仍|还是|一直|又|我们|我这边|我|\s|"
    r"\b(?:is|are|was|has been|have been|it's|all|now|just|still|currently|"
    r"finally|already|fully|totally|completely)\b)+$",
    re.I,
)
_MEASURE_NOISE = re.compile(r"\d+\s*%|已经?|完成了?|done|wip|进行中|in progress|进度", re.I)
_REASON_TAIL = re.compile(r"(?:上|这里|这儿|那里|那儿)(?:了|呢)?\s*$")  # 卡在预算审批上了
_RIGHT_FILLER = re.compile(r"^(?:做|干|弄|搞|动|起来|了|啦|喽|咯|哦|噢|吧|✅|👌|🎉|!|！|\s)+")


@dataclass(frozen=True, slots=True)
class _Hit:
    word: Word
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Verdict:
    hit: _Hit
    sure: bool  # it happened
    stop: Marker | None = None  # it did not (the marker that says so)
    negated: bool = False


def read_update(text: str, *, before: str = "", title: str = "") -> Reading:
    """Read the words after a task id (`before`: what the line said ahead of the id)."""
    text = _EDGE.sub("", text)
    if not text:
        return Reading(Outcome.SHOW)
    if (note := _note_command(text)) is not None:
        return Reading(Outcome.NOTE, note=note) if note else Reading(Outcome.REFUSE, why="备注写什么？")
    if QUESTION.search(f"{before} {text}"):
        return Reading(Outcome.NO_CHANGE, why=WHY[Marker.QUESTION])
    if re.fullmatch(r"\d{1,3}", text):
        return Reading(Outcome.ASK, progress=int(text))
    measure = find_measure(text)
    if isinstance(measure, str):
        return Reading(Outcome.REFUSE, why=measure)
    verdicts = [_judge(text, hit, before, title) for hit in _hits(text, measure)]
    if measure is not None:
        return _progress(text, measure, before, verdicts)
    return _status(text, verdicts, title)


def _note_command(text: str) -> str | None:
    note_word = STATUS_WORDS[0][1].match(text)
    return None if note_word is None else _EDGE.sub("", text[note_word.end():])


def _hits(text: str, measure: Measure | None) -> list[_Hit]:
    """Status words, longest first where they overlap; none inside a measure (完成一半) or 完成度."""
    taken: list[_Hit] = []
    for word, pattern in STATUS_WORDS[1:]:
        for m in pattern.finditer(text):
            if any(m.start() < h.end and h.start < m.end() for h in taken):
                continue
            if NOT_A_STATUS_AFTER.match(text[m.end():]):
                continue
            if measure is not None and word in (Word.DONE, Word.DONE_WEAK) and _same_clause(text, m.start(), measure.start):
                continue
            taken.append(_Hit(word, m.start(), m.end()))
    return sorted(taken, key=lambda h: h.start)


def _clause_of(text: str, position: int) -> tuple[int, int]:
    for m in _CLAUSE.finditer(text):
        if m.start() <= position < m.end():
            return m.start(), m.end()
    return position, position


def _same_clause(text: str, a: int, b: int) -> bool:
    return _clause_of(text, a) == _clause_of(text, b)


def _judge(text: str, hit: _Hit, before: str, title: str) -> _Verdict:
    start, end = _clause_of(text, hit.start)
    pre = text[start:hit.start]
    post = text[hit.end:end]
    first_clause = not _EDGE.sub("", text[:start])
    found = [kind for kind, _, _ in markers(pre)]
    if first_clause:
        found += [kind for kind, _, _ in markers(before)]
    if hit.word not in (Word.BLOCKED, Word.BLOCKED_WEAK):  # English puts “tomorrow”, “by Friday” after the verb
        found += [kind for kind, s, e in markers(post) if post[s:e].isascii() and kind in _STOPS | _ASKS]
    if Marker.NEGATION in found:
        return _Verdict(hit, False, Marker.NEGATION, negated=True)
    if pre.endswith("一") and "就" in post:
        return _Verdict(hit, False, Marker.CONDITION)  # 一完成就告诉你: when it is done
    if PARTIAL_AFTER.match(post):
        return _Verdict(hit, False, Marker.PARTIAL)  # 完成了一部分
    if NOT_YET_AFTER.match(post):
        negated = bool(re.match(r"^\s*(?:不|没)", post))
        return _Verdict(hit, False, Marker.NEGATION if negated else Marker.FUTURE, negated=negated)
    for stop in (Marker.CONDITION, Marker.REQUEST, Marker.FUTURE, Marker.PARTIAL, Marker.ABILITY):
        if stop in found:
            return _Verdict(hit, False, Marker.FUTURE if stop == Marker.ABILITY else stop)
    perfective = Marker.PERFECTIVE in found or bool(PERFECTIVE_AFTER.match(post)) or text[hit.start:hit.end].endswith("了")
    if Marker.TIME in found and not perfective:
        return _Verdict(hit, False, Marker.TIME)  # 下午开始弄, 周五前完成: a plan
    if Marker.MODAL in found and not perfective:
        return _Verdict(hit, False, Marker.FUTURE)  # 可能卡住, 能完成: not yet
    if any(kind in _ASKS for kind in found) or MAYBE_AFTER.match(post):
        return _Verdict(hit, False)
    earlier = {k for k, _, _ in markers(text[:start])} if not first_clause else set()
    for stop in (Marker.CONDITION, Marker.REQUEST):
        if stop in earlier:
            return _Verdict(hit, False, stop)
    if earlier & (_STOPS | _ASKS):
        return _Verdict(hit, False)
    if hit.word in (Word.DONE, Word.DONE_WEAK) and not _about_the_task(pre + post, title):
        return _Verdict(hit, False)
    return _Verdict(hit, hit.word in _STRONG or hit.word == Word.UNBLOCKED)


def _about_the_task(words: str, title: str) -> bool:
    """No other object named than the task itself (“文案写完了” for #3 写文案)."""
    rest = FILLER.sub("", words)
    if not rest:
        return True
    lowered = title.lower()
    if rest.isascii():
        english = re.findall(r"[a-z]{3,}", rest.lower())
        return bool(english) and all(w in lowered for w in english)
    if len(rest) == 1:
        return rest in lowered
    pairs = {rest[i:i + 2] for i in range(len(rest) - 1)}
    return bool(pairs) and sum(p in lowered for p in pairs) * 2 >= len(pairs)


def _progress(text: str, measure: Measure, before: str, verdicts: list[_Verdict]) -> Reading:
    start, _ = _clause_of(text, measure.start)
    found = [kind for kind, s, e in markers(text[start:measure.start]) if not measure.start <= s < measure.end]
    found += [kind for kind, _, _ in markers(before)] if not _EDGE.sub("", text[:start]) else []
    for stop in (Marker.NEGATION, Marker.CONDITION, Marker.REQUEST, Marker.FUTURE, Marker.ABILITY):
        if stop in found:
            return Reading(Outcome.NO_CHANGE, why=WHY[Marker.FUTURE if stop == Marker.ABILITY else stop])
    note = _note(text, measure.start, measure.end)
    if note is not None and not _EDGE.sub("", _MEASURE_NOISE.sub("", note)):
        note = None  # “100%完成”, “WIP 60%”: nothing said beyond the measure
    blocked = next((v for v in verdicts if v.sure and v.hit.word == Word.BLOCKED), None)
    if blocked is not None and measure.value < 100:
        rest = _EDGE.sub("", text[: measure.start] + " " + text[measure.end:])
        reason = _note(rest, *_span_in(rest, text[blocked.hit.start:blocked.hit.end]), reason=True)
        return Reading(Outcome.APPLY, TaskStatus.BLOCKED, measure.value, reason)
    if measure.approximate or any(k in (Marker.PARTIAL, Marker.MODAL, Marker.REPORTED) for k in found):
        return Reading(Outcome.ASK, progress=measure.value, note=note)
    return Reading(Outcome.APPLY, progress=measure.value, note=note)


def _span_in(text: str, word: str) -> tuple[int, int]:
    at = text.find(word)
    return (at, at + len(word)) if at >= 0 else (0, 0)


def _status(text: str, verdicts: list[_Verdict], title: str) -> Reading:
    negated = {_FAMILY[v.hit.word] for v in verdicts if v.negated}
    live = [v for v in verdicts if _FAMILY[v.hit.word] not in negated or v.hit.word == Word.UNBLOCKED]
    sure = [v for v in live if v.sure]
    kinds = {v.hit.word for v in sure}
    if Word.UNBLOCKED in kinds:
        return Reading(Outcome.APPLY, TaskStatus.IN_PROGRESS, note=_verdict_note(text, sure[-1], title), unblock=True)
    if Word.DONE in kinds and kinds & {Word.BLOCKED, Word.STARTED}:
        done = next(v for v in sure if v.hit.word == Word.DONE)
        return Reading(Outcome.ASK, TaskStatus.DONE, note=_verdict_note(text, done, title))
    for word in (Word.BLOCKED, Word.STARTED, Word.DONE):
        chosen = next((v for v in sure if v.hit.word == word), None)
        if chosen is None:
            continue
        note = _verdict_note(text, chosen, title)
        if word == Word.DONE and _doubted_later(text, chosen):
            return Reading(Outcome.ASK, TaskStatus.DONE, note=note)
        return Reading(Outcome.APPLY, _STRONG[word], note=note)
    unsure = [v for v in live if v.stop is None and v.hit.word != Word.UNBLOCKED]
    if unsure:
        word = unsure[0].hit.word
        status = _STRONG.get(word) or _WEAK[word]
        note = _verdict_note(text, unsure[0], title)
        return Reading(Outcome.ASK, status, note=None if _only_hedges(note, unsure[0], text) else note)
    stopped = [v for v in verdicts if v.stop is not None]
    if stopped:
        return Reading(Outcome.NO_CHANGE, why=WHY[stopped[0].stop or Marker.FUTURE])
    said = [kind for kind, _, _ in markers(text) if kind in WHY]  # 还差一点, soon: no status, but clearly not done
    if said:
        return Reading(Outcome.NO_CHANGE, why=WHY[said[0]])
    return Reading(Outcome.UNKNOWN)


def _only_hedges(note: str | None, verdict: _Verdict, text: str) -> bool:
    """“应该完成了”, “听说做完了”: the note would say nothing but the hedge and the status word."""
    if note is None:
        return True
    rest = note.replace(text[verdict.hit.start:verdict.hit.end], "")
    for _, start, end in sorted(markers(rest), key=lambda m: -m[1]):
        rest = rest[:start] + rest[end:]
    return not FILLER.sub("", rest)


def _doubted_later(text: str, verdict: _Verdict) -> bool:
    """“完成了，还差测试”, “前端完成了，后端还没”: a later clause takes part of it back."""
    _, end = _clause_of(text, verdict.hit.start)
    return any(kind in _DOUBTS_AFTER for kind, _, _ in markers(text[end:]))


def _verdict_note(text: str, verdict: _Verdict, title: str) -> str | None:
    reason = verdict.hit.word in (Word.BLOCKED, Word.BLOCKED_WEAK)
    return _note(text, verdict.hit.start, verdict.hit.end, reason=reason, title=title)


def _note(text: str, start: int, end: int, *, reason: bool = False, title: str = "") -> str | None:
    """The words as typed, without the status phrase when it opens them (a blocker's reason: or closes
    them, “因为法务审批卡住了”); never cut from the middle, never leaving an object without its verb."""
    left = _LEFT_FILLER.sub("", text[:start])
    right_match = _RIGHT_FILLER.match(text[end:])
    right = text[end + (right_match.end() if right_match else 0):]
    if title and _EDGE.sub("", left) in title and not _EDGE.sub("", right):
        return None  # “#3 写文案 完成”, “#3 文案写完了”: only the task's own name and the status
    if not _EDGE.sub("", left):
        if not reason and right and not right_match and not _EDGE.match(right):
            return _EDGE.sub("", text) or None  # “已提交审核”: the verb stays with its object
        if reason:
            right = _REASON_TAIL.sub("", right)
        return _EDGE.sub("", right) or None
    if reason and not _EDGE.sub("", right):
        return _EDGE.sub("", left) or None
    return _EDGE.sub("", text) or None

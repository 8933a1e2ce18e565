"""A private message to the bot: a task update answered in the one project it is about.

The sender's projects are their active memberships on that platform (`models.people.memberships`, one
statement). A task command — free text naming tasks (`#12 完成`, `12号任务做完了`), `/任务 #12 …` or a
shortcut (`/完成 #12`), the merged prompt's buttons — runs in the project it resolves to, as that
member, through the same `handle_message` path as in the group (permissions, history, undo, replies):

- `发布会#12 …` names the project: a unique exact name, else a unique prefix, else a unique substring
  of the sender's project names (spaces ignored); none or several → asked back with the list;
- a bare `#12` goes to the one project of theirs that has every task the message names; in several →
  asked back with the qualified forms to type, changing nothing;
- a yes/no goes to the one project where the bot is waiting for their answer (`pending_update`).

Anything else gets a help that says what works here; someone in no project gets the usual private help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.messages import Incoming, Reply
from handlers import help as help_commands
from handlers import task_updates, tasks
from handlers.router import CommandGroup, CommandRegistry
from handlers.task_mentions import task_segments
from handlers.text import normalize, split_tokens
from models import Member, Project
from models.people import memberships, projects_with_tasks, waiting_for_answer
from reports.text_person import qualifier

# An id, with the word glued before it (`发布会#12`): the word is a project qualifier unless it is a command.
_QUALIFIED = re.compile(r"(?P<word>[^\s#/<>@,，。;；、:：()（）]*)#(?P<number>\d{1,9})(?!\d)")
_TASK_NUMBER_FIRST = re.compile(r"(?:任务|task)\s*\d", re.IGNORECASE)
TASK_GROUPS = frozenset(g.names[0] for g in (tasks.group, *task_updates.SHORTCUTS))  # (registered extended)


@dataclass(frozen=True, slots=True)
class Routed:
    """Where a private message runs: the project, the sender's membership there, the text as the group
    would have it (the project qualifiers taken off)."""

    project: Project
    sender: Member
    text: str


def route(session: Session, incoming: Incoming, registry: CommandRegistry) -> Routed | Reply:
    """The project a private message runs in, or the reply that asks back or says what works here."""
    mine = memberships(session, platform=incoming.platform, user_id=incoming.sender_id)
    if not mine:
        return help_commands.private_chat_reply(registry)
    text = normalize(incoming.text) if incoming.kind == "text" else ""
    qualifiers = [m.group("word") for m in _QUALIFIED.finditer(text) if not _is_command(registry, m.group("word"))]
    stripped = _QUALIFIED.sub(
        lambda m: m.group(0) if _is_command(registry, m.group("word")) else f"#{m.group('number')}", text
    )
    if not stripped or not _is_task_command(registry, stripped):
        return what_works(mine)
    numbers = sorted({r.number for s in task_segments(stripped) for r in s.refs if r.number is not None})
    if not numbers:
        return what_works(mine) if _group_of(registry, stripped) else _answer_to_question(session, mine, stripped)
    if qualifiers:
        return _by_qualifiers(qualifiers, mine, stripped)
    if len(mine) == 1:
        return Routed(mine[0][0], mine[0][1], stripped)
    return _by_numbers(session, mine, numbers, stripped)


def _by_qualifiers(qualifiers: list[str], mine: list[tuple[Project, Member]], text: str) -> Routed | Reply:
    """`发布会#12`: each qualifier must name one of the sender's projects, and all of them the same one."""
    chosen: dict[int, tuple[Project, Member]] = {}
    for word in qualifiers:
        found = _named(word, mine)
        if len(found) != 1:
            return _which_project(word, found or mine, known=bool(found))
        chosen[found[0][0].id] = found[0]
    if len(chosen) > 1:
        names = "、".join(p.name for p, _ in chosen.values())
        return Reply(f"一条消息只更新一个项目的任务（这条写了 {names}），请分开发送（没有改动）。")
    project, member = next(iter(chosen.values()))
    return Routed(project, member, text)


def _by_numbers(session: Session, mine: list[tuple[Project, Member]], numbers: list[int], text: str) -> Routed | Reply:
    """Bare ids: the one project of the sender's that has every task named; else ask, changing nothing."""
    having = projects_with_tasks(session, project_ids=[p.id for p, _ in mine], numbers=numbers)
    everywhere = set.intersection(*having.values())
    candidates = [(p, m) for p, m in mine if p.id in everywhere]
    if len(candidates) == 1:
        return Routed(candidates[0][0], candidates[0][1], text)
    refs = "、".join(f"#{n}" for n in numbers)
    if not candidates:
        return Reply(
            f"你的 {len(mine)} 个项目里没有一个有 {refs}。请写明项目，例如：{_example(text, numbers[0], mine[0][0])}\n"
            f"你的项目：{_names(mine)}"
        )
    lines = [f"{refs} 在你的 {len(candidates)} 个项目里都有，请写明是哪个项目（没有改动）："]
    lines += [f"  {_example(text, numbers[0], p)}" for p, _ in candidates]
    return Reply("\n".join(lines))


def what_works(mine: list[tuple[Project, Member]]) -> Reply:
    """Help for a private chat with someone in projects: what can be done here, and where the rest is."""
    return Reply(
        "私信里可以直接更新自己的任务：\n"
        "  #12 完成 ｜ #7 阻塞 等接口 ｜ #3 进度 60%\n"
        "  编号在几个项目里都有时，写上项目名：发布会#12 完成（写前几个字即可）\n"
        f"你的项目：{_names(mine)}\n"
        "其他指令（新增任务、风险、周会……）请在项目群里发送。",
        title="私信可以做什么",
    )


def _names(mine: list[tuple[Project, Member]]) -> str:
    return "、".join(p.name for p, _ in mine)


def _example(text: str, number: int, project: Project) -> str:
    """The message as it should be typed for `project`: its first `#number` qualified."""
    return re.sub(rf"#{number}(?!\d)", f"{qualifier(project.name)}#{number}", text, count=1)


def _named(word: str, mine: list[tuple[Project, Member]]) -> list[tuple[Project, Member]]:
    """The sender's projects a qualifier names: exact name, else prefix, else substring (spaces ignored)."""
    key = word.lower()
    names = [(qualifier(p.name).lower(), (p, m)) for p, m in mine]
    for test in (str.__eq__, str.startswith, str.__contains__):
        found = [pm for name, pm in names if test(name, key)]
        if found:
            return found
    return []


def _which_project(word: str, options: list[tuple[Project, Member]], *, known: bool) -> Reply:
    head = f"“{word}”对应你的好几个项目" if known else f"你的项目里没有“{word}”"
    lines = [f"{head}，请写明是哪个项目（没有改动）："]
    lines += [f"  {qualifier(p.name)}#12 …" for p, _ in options]
    return Reply("\n".join(lines))


def _is_command(registry: CommandRegistry, word: str) -> bool:
    return not word or registry.find_group(word) is not None


def _group_of(registry: CommandRegistry, text: str) -> CommandGroup | None:
    head = split_tokens(text.removeprefix("/"))[0] if text.removeprefix("/").strip() else ""
    group = registry.find_group(head)
    if group is None and (glued := registry.split_head(head)) is not None:
        group = glued[0]
    return group


def _is_task_command(registry: CommandRegistry, text: str) -> bool:
    """Free text (a task update or an answer), or a named command of the task groups."""
    if _TASK_NUMBER_FIRST.match(text):
        return True
    group = _group_of(registry, text)
    if group is None:
        return not text.startswith("/")
    return group.names[0] in TASK_GROUPS


def _answer_to_question(session: Session, mine: list[tuple[Project, Member]], text: str) -> Routed | Reply:
    """Words without a task id: an answer to what the bot asked in the one project it is waiting in."""
    waiting = waiting_for_answer(session, member_ids=[m.id for _, m in mine])
    found = [(p, m) for p, m in mine if m.id in waiting]
    if len(found) == 1:
        return Routed(found[0][0], found[0][1], text)
    return what_works(mine)

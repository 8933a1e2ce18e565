"""The command registry: declared commands with Chinese and English names, options and usage lines.

A command is `/<group> [<sub>] args…` (the slash is optional). Each handler module declares its
`CommandGroup`s (and a module that adds subcommands to another module's group declares a `CommandSet`);
`handlers.build_registry()` lists what is registered, explicitly. `/帮助` is generated from the registry.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from bot.messages import Reply
from handlers.errors import UsageError
from handlers.text import Args, parse_args, split_tokens

if TYPE_CHECKING:
    from handlers.context import Context

Handler = Callable[["Context", Args], Reply]

# Every option key a command may accept, canonical key -> spellings (Chinese first).
OPTION_SPELLINGS: dict[str, tuple[str, ...]] = {
    "due": ("截止", "截至", "到期", "due", "deadline"),
    "start": ("开始", "start"),
    "dept": ("部门", "dept", "department"),
    "deps": ("依赖", "前置", "dep", "deps", "depends"),
    "parent": ("父", "父任务", "parent"),
    "role": ("角色", "role"),
    "goal": ("目标", "goal"),
    "level": ("等级", "级别", "level"),
    "impact": ("影响", "impact"),
    "mitigation": ("措施", "mitigation"),
    "strategy": ("应对", "策略", "strategy"),
    "trigger": ("触发", "trigger"),
    "deliverable": ("交付物", "交付", "deliverable"),
    "owner": ("负责人", "owner"),
    "title": ("标题", "title"),
    "note": ("说明", "备注", "note"),
    "status": ("状态", "status"),
    "origin": ("来源", "出处", "origin", "from"),
    "desc": ("描述", "内容", "description", "desc"),
    "reason": ("原因", "理由", "reason"),
    "budget": ("预算", "budget"),
    "new_task": ("新增任务", "新任务", "addtask", "newtask"),
    "cancel_task": ("取消", "取消任务", "cancel"),
    "criteria": ("验收标准", "标准", "criteria"),
    "template": ("模板", "template"),
    "milestone": ("里程碑", "milestone"),
    "message": ("消息", "message", "msg"),
}


@dataclass(slots=True)
class Command:
    names: tuple[str, ...]  # Chinese name first, then English and other aliases
    usage: str
    summary: str
    func: Handler
    options: tuple[str, ...] = ()
    needs_project: bool = True
    group: CommandGroup | None = None

    @property
    def option_keys(self) -> dict[str, str]:
        return {spelling.lower(): key for key in self.options for spelling in OPTION_SPELLINGS[key]}

    def parse(self, tokens: list[str], names: dict[str, str]) -> Args:
        return parse_args(tokens, option_keys=self.option_keys, names=names)


@dataclass(slots=True)
class CommandGroup:
    """A top-level name (`任务`/`task`) with subcommands and optionally a default command."""

    names: tuple[str, ...]
    summary: str
    subcommands: list[Command] = field(default_factory=list)
    default: Command | None = None

    def command(
        self,
        names: Iterable[str],
        *,
        usage: str,
        summary: str,
        options: Iterable[str] = (),
        needs_project: bool = True,
    ) -> Callable[[Handler], Handler]:
        return _declare(self.subcommands, self, names, usage, summary, options, needs_project)

    def default_command(
        self, *, usage: str, summary: str, options: Iterable[str] = (), needs_project: bool = True
    ) -> Callable[[Handler], Handler]:
        """The command run when no subcommand name follows (`/决议 <内容>`, `/任务 #12`)."""

        def register(func: Handler) -> Handler:
            self.default = Command(self.names, usage, summary, func, tuple(options), needs_project, self)
            return func

        return register

    @property
    def usage(self) -> str:
        lines = [c.usage for c in self.subcommands]
        if self.default:
            lines.insert(0, self.default.usage)
        return "\n".join(lines)

    def extended(self, *more: CommandSet) -> CommandGroup:
        """A new group: this one's commands, then those declared in `more` (the declarations stay as they are)."""
        group = CommandGroup(self.names, self.summary)
        group.subcommands = [replace(c, group=group) for c in [*self.subcommands, *(c for s in more for c in s.commands)]]
        group.default = replace(self.default, group=group) if self.default else None
        return group


@dataclass(slots=True)
class CommandSet:
    """Subcommands declared in one module for a group declared in another (`/任务 修改` in task_edits for
    `/任务` in tasks); `handlers.build_registry` adds them with `CommandGroup.extended`."""

    commands: list[Command] = field(default_factory=list)

    def command(
        self,
        names: Iterable[str],
        *,
        usage: str,
        summary: str,
        options: Iterable[str] = (),
        needs_project: bool = True,
    ) -> Callable[[Handler], Handler]:
        return _declare(self.commands, None, names, usage, summary, options, needs_project)


def _declare(
    into: list[Command],
    group: CommandGroup | None,
    names: Iterable[str],
    usage: str,
    summary: str,
    options: Iterable[str],
    needs_project: bool,
) -> Callable[[Handler], Handler]:
    """The decorator that declares a subcommand: the function is kept as it is, and listed in `into`."""

    def register(func: Handler) -> Handler:
        into.append(Command(tuple(names), usage, summary, func, tuple(options), needs_project, group))
        return func

    return register


@dataclass(frozen=True, slots=True)
class Resolved:
    command: Command
    args: Args


_GLUED_ID = re.compile(r"#\d+|[RrAaDd]\d+")


class CommandRegistry:
    def __init__(self) -> None:
        self.groups: list[CommandGroup] = []
        self._by_name: dict[str, CommandGroup] = {}
        self._longest_first: list[str] = []
        self._initials: set[str] = set()

    def include(self, *groups: CommandGroup) -> None:
        for group in groups:
            for name in group.names:
                key = name.lower()
                if key in self._by_name:
                    raise ValueError(f"command name {name!r} declared twice")
                self._by_name[key] = group
            self._longest_first = sorted(self._by_name, key=len, reverse=True)
            self._initials = {name[:1] for name in self._by_name}
            seen: set[str] = set()
            for cmd in group.subcommands:
                for name in cmd.names:
                    if name.lower() in seen:
                        raise ValueError(f"subcommand {name!r} declared twice in {group.names[0]}")
                    seen.add(name.lower())
            self.groups.append(group)

    def find_group(self, name: str) -> CommandGroup | None:
        return self._by_name.get(name.lower())

    def all_names(self) -> list[str]:
        return list(self._by_name)

    def split_head(self, head: str) -> tuple[CommandGroup, str] | None:
        """A group name glued to what follows, as typed on phones: “任务列表”, “完成#12”, “风险R3”.

        Only when the rest is one of the group's subcommand names, or an id (#12, R3, A4, D2) for its
        default command; anything else is not guessed.
        """
        lowered = head.lower()
        if lowered[:1] not in self._initials:
            return None
        for name in self._longest_first:
            if len(lowered) <= len(name) or not lowered.startswith(name):
                continue
            group, rest = self._by_name[name], head[len(name):]
            if any(rest.lower() == n.lower() for cmd in group.subcommands for n in cmd.names):
                return group, rest
            if group.default is not None and _GLUED_ID.fullmatch(rest):
                return group, rest
        return None

    def nearest_group(self, word: str) -> CommandGroup | None:
        match = difflib.get_close_matches(word.lower(), self.all_names(), n=1, cutoff=0.5)
        return self._by_name[match[0]] if match else None

    def resolve(self, text: str, names: dict[str, str]) -> Resolved:
        """Find the command a normalised message names; raise UsageError with the nearest usage line."""
        tokens = split_tokens(text.removeprefix("/"))
        if not tokens:
            raise UsageError("没有收到指令。发送 /帮助 查看可用指令。")
        head, rest = tokens[0], tokens[1:]
        group = self.find_group(head)
        if group is None and (glued := self.split_head(head)) is not None:
            group, rest = glued[0], [glued[1], *rest]
        if group is None:
            near = self.nearest_group(head.lstrip("/"))
            if near is not None:
                raise UsageError(f"不认识指令“{head}”，是不是想用 /{near.names[0]}？", near.usage)
            raise UsageError(f"不认识指令“{head}”。发送 /帮助 查看可用指令。")
        if rest:
            sub = rest[0].lower()
            for cmd in group.subcommands:
                if sub in (n.lower() for n in cmd.names):
                    return Resolved(cmd, cmd.parse(rest[1:], names))
        if group.default is not None:
            return Resolved(group.default, group.default.parse(rest, names))
        if rest:
            raise UsageError(f"/{group.names[0]} 没有“{rest[0]}”这个子指令。", group.usage)
        raise UsageError(f"/{group.names[0]} 需要子指令。", group.usage)

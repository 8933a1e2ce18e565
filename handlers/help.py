"""/帮助: generated from the command registry, led by the shorthand people type, in lines a phone shows whole."""

from __future__ import annotations

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup, CommandRegistry
from handlers.task_updates import SHORTCUTS
from handlers.text import Args

group = CommandGroup(("帮助", "help", "?"), summary="帮助：列出指令或某个指令的用法")

PHONE_WIDTH = 40  # characters a phone shows on one line of a group chat
SHORTHAND = ("#12 完成", "#7 阻塞 等接口", "#3 进度 60%", "#12 开始 ｜ #12 备注 …")
UPDATE_HINT = "直接说也行：#12 完成 ｜ #7 阻塞 等接口 ｜ #3 进度 60%"
_SHORTCUT_NAMES = {g.names[0] for g in SHORTCUTS}


def phone_lines(text: str, indent: str = "  ") -> list[str]:
    """A long line broken at spaces so that each piece fits `PHONE_WIDTH` (continuations indented)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if len(candidate) > PHONE_WIDTH and current.strip():
            lines.append(current)
            current = indent + word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _brief(summary: str) -> str:
    """“任务：新增、列表、查看、更新” → “新增、列表、查看、更新”; parenthesised detail dropped."""
    summary = summary.split("（")[0]
    return summary.split("：", 1)[1] if "：" in summary else summary


def _shorthand_lines() -> list[str]:
    return ["更新任务，直接说：", *(f"  {s}" for s in SHORTHAND)]


def _overview(registry: CommandRegistry) -> str:
    shortcuts = " ".join(f"/{g.names[0]}" for g in SHORTCUTS)
    lines = [*_shorthand_lines(), f"  也可以：{shortcuts} #12", "指令："]
    for g in registry.groups:
        if g.names[0] in _SHORTCUT_NAMES or g is group or len(g.names) < 2:
            continue
        lines += phone_lines(f"/{g.names[0]} {g.names[1]} — {_brief(g.summary)}")
    lines.append("/帮助 <指令> 看用法，例如 /帮助 任务")
    return "\n".join(lines)


@group.default_command(usage="/帮助 [指令]", summary="列出指令或某个指令的用法", needs_project=False)
def show_help(ctx: Context, args: Args) -> Reply:
    registry = ctx.registry
    if not args.words:
        return Reply(_overview(registry), title="Tandem 指令")
    name = args.words[0].removeprefix("/")
    found = registry.find_group(name) or registry.nearest_group(name)
    if found is None:
        raise UsageError(f"没有“{name}”这个指令。", "/帮助 [指令]")
    return Reply("\n".join(_group_lines(found)), title=f"/{found.names[0]} 的用法")


def _group_lines(found: CommandGroup) -> list[str]:
    lines = _shorthand_lines() if found.names[0] in {"任务", *_SHORTCUT_NAMES} else []
    if not lines:
        lines.append(_brief(found.summary))
    commands = [*([found.default] if found.default else []), *found.subcommands]
    for command in commands:
        for usage in dict.fromkeys(part.strip() for part in command.usage.split("｜")):
            lines += phone_lines(usage)
        lines += phone_lines(f"  — {command.summary}", indent="    ")
    return list(dict.fromkeys(lines))  # a line said once


def short_help() -> Reply:
    return Reply(f"我在。发送 /帮助 查看指令。\n{UPDATE_HINT}")


def private_chat_reply(registry: CommandRegistry) -> Reply:
    return Reply(
        "项目在群里管理：把我拉进项目群，@我 发送 /项目 创建 <名称>。\n\n" + _overview(registry),
        title="Tandem 使用说明",
    )


GROUPS = (group,)

"""/帮助: generated from the command registry."""

from __future__ import annotations

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError
from handlers.router import CommandGroup, CommandRegistry
from handlers.text import Args

group = CommandGroup(("帮助", "help", "?"), summary="帮助：列出指令或某个指令的用法")

UPDATE_HINT = "直接说也行：#12 完成 ｜ #7 阻塞 等接口 ｜ #3 进度 80% 明天联调"


def _overview(registry: CommandRegistry) -> str:
    lines = [f"/{g.names[0]}（{g.names[1]}）— {g.summary}" for g in registry.groups if len(g.names) > 1]
    lines += ["", UPDATE_HINT, "发送 /帮助 <指令> 查看详细用法，例如 /帮助 任务"]
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
    lines = [found.summary]
    if found.default:
        lines.append(f"{found.default.usage}  — {found.default.summary}")
    lines += [f"{c.usage}  — {c.summary}" for c in found.subcommands]
    return Reply("\n".join(lines), title=f"/{found.names[0]} 的用法")


def short_help() -> Reply:
    return Reply(f"我在。发送 /帮助 查看指令。\n{UPDATE_HINT}")


def private_chat_reply(registry: CommandRegistry) -> Reply:
    return Reply(
        "项目在群里管理：把我拉进项目群，@我 发送 /项目 创建 <名称>。\n\n" + _overview(registry),
        title="Tandem 使用说明",
    )


GROUPS = (group,)

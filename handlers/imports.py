"""/导入 (/import): a task breakdown (.xlsx or .csv) brought into the project — a preview first, written
only on `/导入 确认` by the one who asked (PM and co-PMs), dropped with `/导入 取消`.

The file comes with the message (`incoming.file`), fetched by the platform before the command runs:
on Feishu a reply `@Tandem /导入` to a file message in the group (or the file message itself, when the
bot receives every group message), on DingTalk a file sent to the robot. The previewed plan waits in
`models.pending_import`; confirming compares it again with the tasks as they are then.
"""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Reply
from handlers.context import Context
from handlers.errors import UsageError, UserError
from handlers.router import CommandGroup
from handlers.sheet_apply import ImportResult, apply_plan
from handlers.sheet_import import plan_from_file, plan_from_json, plan_to_json, preview
from handlers.sheet_read import SHEET_SUFFIXES
from handlers.text import Args, normalize, split_tokens
from models.pending_import import drop_pending_import, keep_pending_import, pending_import

FILE_USAGE = "/导入（回复群里的 .xlsx/.csv 文件消息）"
USAGE = f"{FILE_USAGE} ｜ /导入 确认 ｜ /导入 取消"
CONFIRM_USAGE = "/导入 确认"
CANCEL_USAGE = "/导入 取消"
PENDING_FOR = timedelta(hours=24)
HOW_TO = ("请把任务表（.xlsx 或 .csv）发到群里，然后回复（钉钉：引用）那条文件消息：@Tandem /导入。")
SHOWN_SKIPPED = 20

group = CommandGroup(("导入", "import"), summary="导入：从 Excel/CSV 任务分工表批量导入任务（PM）")


def wants_file(text: str, *, name: str = "", replied: bool = True) -> bool:
    """Whether the file a message brings is worth downloading: a replied-to file when the message is
    `/导入` (not `/导入 确认|取消`), a file message of its own when it looks like a spreadsheet (a PDF
    dropped into the group is not fetched; the bot says what it always says of non-text messages)."""
    if not replied:
        return name.lower().endswith(SHEET_SUFFIXES)
    words = split_tokens(normalize(text))
    if not words or words[0].lstrip("/").lower() not in group.names:
        return False
    subcommands = {name for command in group.subcommands for name in command.names}
    return len(words) == 1 or words[1].lower() not in subcommands


def _rows(result: ImportResult) -> str:
    numbers = sorted(t.number for t in result.created)
    if not numbers:
        return ""
    return f"（#{numbers[0]}–#{numbers[-1]}）" if len(numbers) > 1 else f"（#{numbers[0]}）"


@group.default_command(usage=FILE_USAGE, summary="预览导入一个任务表文件（回复文件消息发 /导入；PM）")
def import_file(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_manager("导入任务表")
    file = ctx.incoming.file
    if file is None:
        waiting = pending_import(ctx.session, project_id=project.id)
        hint = f"\n（{waiting.filename} 的导入还在等确认：/导入 确认 或 /导入 取消）" if waiting else ""
        raise UsageError(f"没有收到文件。{HOW_TO}{hint}", USAGE)
    if file.problem:
        raise UserError(file.problem)
    if file.data is None:
        raise UserError(f"没能取到文件“{file.name or ''}”的内容，请稍后再发一次。")
    plan = plan_from_file(ctx.session, project, file.data, file.name, year=ctx.today.year)
    lines, anything = preview(ctx.session, project, plan, filename=file.name, today=ctx.today)
    if anything:
        keep_pending_import(
            ctx.session, project_id=project.id, member_id=sender.id, filename=file.name, at=ctx.incoming.sent_at,
            expires_at=ctx.incoming.sent_at + PENDING_FOR, plan=plan_to_json(plan),
        )
    return Reply("\n".join(lines[1:]), title=lines[0])


@group.command(("确认", "confirm", "yes"), usage=CONFIRM_USAGE, summary="写入刚才预览的导入")
def confirm_import(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_manager("导入任务表")
    waiting = pending_import(ctx.session, project_id=project.id)
    if waiting is None:
        raise UserError(f"没有等待确认的导入。{HOW_TO}")
    if waiting.expires_at < ctx.incoming.sent_at:
        drop_pending_import(ctx.session, project_id=project.id)
        raise UserError(f"{waiting.filename} 的预览已过期（{int(PENDING_FOR.total_seconds() // 3600)} 小时），请重新发 /导入。")
    if waiting.member_id != sender.id:
        raise UserError(f"这份导入（{waiting.filename}）是别人预览的，请由发起人确认，或你重新发 /导入。")
    filename, problems = waiting.filename, len({p["row"] for p in waiting.plan.get("problems", ())})
    result = apply_plan(ctx.session, project, plan_from_json(waiting.plan), actor=sender, at=ctx.incoming.sent_at)
    drop_pending_import(ctx.session, project_id=project.id)
    lines = [f"新增 {len(result.created)} 个任务{_rows(result)}，更新 {len(result.updated)} 个，"
             f"不变 {result.unchanged} 个。"]
    if result.skipped:
        lines.append(f"没有导入 {len(result.skipped)} 行：")
        lines += [p.line() for p in result.skipped[:SHOWN_SKIPPED]]
        if len(result.skipped) > SHOWN_SKIPPED:
            lines.append(f"…另有 {len(result.skipped) - SHOWN_SKIPPED} 行")
    if problems:
        lines.append(f"预览里有问题的 {problems} 行没有导入，改好后可以再发一次文件。")
    lines.append("查看：/任务 列表 全部")
    return Reply("\n".join(lines), title=f"已导入 {filename}")


@group.command(("取消", "cancel", "no"), usage=CANCEL_USAGE, summary="放弃刚才预览的导入")
def cancel_import(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    ctx.require_manager("导入任务表")
    waiting = pending_import(ctx.session, project_id=project.id)
    if waiting is None:
        raise UserError("没有等待确认的导入。")
    filename = waiting.filename
    drop_pending_import(ctx.session, project_id=project.id)
    return Reply(f"已取消导入 {filename}，什么都没有写入。")


GROUPS = (group,)

"""/成员 and /部门: who is in the project, in which department, with which role.

Anyone who speaks in the group is a member already; `/成员 添加` records department and role.
PM and co-PMs manage members and departments; only a PM changes roles, and a project always keeps a PM.
A member may set their own department (`/成员 修改 我 部门:研发部`).
"""

from __future__ import annotations

from collections import defaultdict

from bot.messages import Mention, Reply
from handlers.common import MAX_DEPARTMENT, checked_text, department_named, is_clear, word_option
from handlers.context import Context
from handlers.errors import PermissionDenied, UsageError, UserError
from handlers.router import CommandGroup
from handlers.text import Args
from models import Department, Member, Role, Task, get_or_create_department, record_change
from models.registers import TaskFilter, count_role, member_ids, open_task_counts, project_members
from models.registers import list_tasks as list_task_rows
from reports.format import ROLE_LABELS, day, mention, person, shorten

LIST_LIMIT = 50

ADD_USAGE = "/成员 添加 @某人 [@某人…] [部门:研发部] [角色:PM|副PM|成员]"
EDIT_USAGE = "/成员 修改 @某人|我 [部门:…|无] [角色:PM|副PM|成员]"
REMOVE_USAGE = "/成员 移除 @某人 [@某人…]"
LIST_USAGE = "/成员 列表"
DEPT_ADD_USAGE = "/部门 添加 <名称>[,名称…]"
DEPT_LIST_USAGE = "/部门 列表"
SELF_WORDS = frozenset({"我", "自己", "me", "myself"})
ROLE_WORDS = {
    "pm": Role.PM, "项目经理": Role.PM, "经理": Role.PM, "负责人": Role.PM,
    "副pm": Role.CO_PM, "co-pm": Role.CO_PM, "copm": Role.CO_PM, "co_pm": Role.CO_PM, "副经理": Role.CO_PM,
    "副项目经理": Role.CO_PM, "协同pm": Role.CO_PM,
    "成员": Role.MEMBER, "组员": Role.MEMBER, "member": Role.MEMBER, "普通成员": Role.MEMBER,
}

group = CommandGroup(("成员", "member", "members"), summary="成员：添加、列表、修改部门和角色")
dept_group = CommandGroup(("部门", "dept", "department"), summary="部门：添加、列表")


def parse_role(value: str, usage: str) -> Role:
    role = ROLE_WORDS.get(value.strip().lower())
    if role is None:
        raise UsageError(f"不认识角色“{value}”，可选：PM、副PM、成员。", usage)
    return role


# ---------------------------------------------------------------------------- /成员 添加 · 修改


@group.command(
    ("添加", "新增", "加", "add"),
    usage=ADD_USAGE,
    summary="添加成员并设置部门、角色（PM）",
    options=("dept", "role"),
)
def add_members(ctx: Context, args: Args) -> Reply:
    ctx.require_manager("添加成员")
    word_option(args, "role", ROLE_WORDS)
    if not args.mentions:
        hint = f"，例如 @{args.words[0]}" if args.words else ""
        raise UsageError(f"请 @ 要添加的人{hint}。", ADD_USAGE)
    if args.words:
        raise UsageError(f"不明白“{' '.join(args.words)}”。成员请用 @ 提及，部门和角色写成 部门:… 角色:…。", ADD_USAGE)
    known = member_ids(ctx.session, project_id=ctx.require_project().id)
    members = [ctx.resolve_member(m, may_add=True) for m in dict.fromkeys(args.mentions)]
    for member in members:
        if not member.is_active:  # removed earlier: back in the project, the history row says so
            record_change(
                ctx.session, project_id=member.project_id, entity="member", entity_id=member.id,
                actor=ctx.require_sender(), at=ctx.incoming.sent_at, field="rejoined", new=member.name,
                before={"removed_at": member.removed_at},
            )
            member.removed_at = None
    return _apply(ctx, members, args, ADD_USAGE, verb="已添加", new={m.id for m in members} - known)


@group.command(
    ("修改", "设置", "改", "edit", "set"),
    usage=EDIT_USAGE,
    summary="修改成员的部门或角色（PM；成员可改自己的部门）",
    options=("dept", "role"),
)
def edit_member(ctx: Context, args: Args) -> Reply:
    sender = ctx.require_sender()
    word_option(args, "role", ROLE_WORDS)
    words = [w for w in args.words if w.lower() not in SELF_WORDS]
    if words:
        raise UsageError(f"不明白“{' '.join(words)}”。", EDIT_USAGE)
    members = [ctx.resolve_member(m) for m in dict.fromkeys(args.mentions)]
    if len(words) < len(args.words):
        members.append(sender)
    if not members:
        raise UsageError("请 @ 要修改的人（改自己写“我”）。", EDIT_USAGE)
    if "dept" not in args.options and "role" not in args.options:
        raise UsageError("请写明要改的部门或角色。", EDIT_USAGE)
    if not sender.is_manager and any(m.id != sender.id for m in members):
        raise PermissionDenied("只有 PM 可以修改别人的部门或角色；你可以改自己的部门：/成员 修改 我 部门:…")
    return _apply(ctx, list(dict.fromkeys(members)), args, EDIT_USAGE, verb="已修改")


def _apply(
    ctx: Context, members: list[Member], args: Args, usage: str, *, verb: str, new: set[int] | None = None
) -> Reply:
    sender = ctx.require_sender()
    project = ctx.require_project()
    department: Department | None = None
    clear_department = False
    if "dept" in args.options:
        value = args.options["dept"]
        if is_clear(value):
            clear_department = True
        else:
            department = department_named(ctx, value, may_create=sender.is_manager)
    role = parse_role(args.options["role"], usage) if "role" in args.options else None
    if role is not None and any(m.role != role for m in members) and sender.role != Role.PM:
        raise PermissionDenied("只有 PM 可以设置角色。")
    if role is not None and role != Role.PM:
        demoted = [m for m in members if m.role == Role.PM]
        if demoted:
            pms = count_role(ctx.session, project_id=project.id, role=Role.PM)
            if pms - len(demoted) < 1:
                raise UserError("项目至少要有一位 PM。请先把另一位成员设为 PM（/成员 修改 @某人 角色:PM），再改这位的角色。")
    now = ctx.incoming.sent_at
    lines: list[str] = []
    for member in members:
        changed: list[str] = []
        if department is not None or clear_department:
            new_id = department.id if department else None
            if new_id != member.department_id:
                old = member.department.name if member.department else None
                record_change(
                    ctx.session, project_id=project.id, entity="member", entity_id=member.id, actor=sender, at=now,
                    field="dept", old=old, new=department.name if department else None,
                    before={"department_id": member.department_id},
                )
                member.department = department
                changed.append(f"部门 {old or '无'} → {department.name if department else '无'}")
        if role is not None and role != member.role:
            record_change(
                ctx.session, project_id=project.id, entity="member", entity_id=member.id, actor=sender, at=now,
                field="role", old=member.role.value, new=role.value, before={"role": member.role},
            )
            changed.append(f"角色 {ROLE_LABELS[member.role]} → {ROLE_LABELS[role]}")
            member.role = role
        state = f"{member.department.name if member.department else '未分部门'} · {ROLE_LABELS[member.role]}"
        who = member.name if member.id == sender.id else mention(member)
        if changed:
            lines.append(f"{verb} {who}：" + "，".join(changed))
        elif new and member.id in new:
            lines.append(f"{verb} {who}（{state}）")
        else:
            lines.append(f"{who} 在项目中（{state}）")
    return Reply("\n".join(lines), mentions=tuple(Mention(m.user_id, m.name) for m in members if m.id != sender.id))


# ---------------------------------------------------------------------------- /成员 移除


@group.command(
    ("移除", "删除", "移出", "remove", "rm"),
    usage=REMOVE_USAGE,
    summary="把成员移出项目（PM）：历史保留，列出 TA 的未完成任务以便改派",
)
def remove_members(ctx: Context, args: Args) -> Reply:
    sender = ctx.require_manager("移除成员")
    project = ctx.require_project()
    if not args.mentions:
        hint = f"，例如 @{args.words[0]}" if args.words else ""
        raise UsageError(f"请 @ 要移除的人{hint}。", REMOVE_USAGE)
    if args.words or args.options:
        raise UsageError("只需要 @ 要移除的人。", REMOVE_USAGE)
    members = list(dict.fromkeys(ctx.resolve_member(m) for m in args.mentions))
    leaving_pms = sum(1 for m in members if m.role == Role.PM)
    if leaving_pms and count_role(ctx.session, project_id=project.id, role=Role.PM) - leaving_pms < 1:
        raise UserError("项目至少要有一位 PM。请先把另一位成员设为 PM（/成员 修改 @某人 角色:PM），再移除。")
    now = ctx.incoming.sent_at
    lines: list[str] = []
    for member in members:
        record_change(
            ctx.session, project_id=project.id, entity="member", entity_id=member.id, actor=sender, at=now,
            field="removed", new=member.name, before={"removed_at": None},
        )
        member.removed_at = now
        lines.append(f"已把 {member.name} 移出项目（历史记录保留）。")
        page = list_task_rows(
            ctx.session, project_id=project.id, kind=TaskFilter.OWNER, owner_id=member.id, department_id=None,
            today=ctx.today, limit=LIST_LIMIT,
        )
        if not page.rows:
            continue
        lines.append(f"{member.name} 还有 {page.total} 个未完成的任务，请改派：")
        lines += [f"  #{r.number} {shorten(r.title, 30)} · 截止{day(r.due_date, today=ctx.today)}" for r in page.rows]
        if page.total > len(page.rows):
            lines.append(f"  …另有 {page.total - len(page.rows)} 个：/任务 列表 @{member.name}")
        lines.append(f"改派：/任务 修改 #{page.rows[0].number} @新负责人")
    return Reply("\n".join(lines))


# ---------------------------------------------------------------------------- /成员 列表


@group.command(("列表", "list", "ls"), usage=LIST_USAGE, summary="按部门列出成员、角色和未完成任务数")
def list_members(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    members = project_members(ctx.session, project_id=project.id)
    open_counts = open_task_counts(ctx.session, project_id=project.id, by=Task.owner_id)
    by_department: dict[str, list[Member]] = defaultdict(list)
    for member in members:
        by_department[member.department.name if member.department else ""].append(member)
    order = [d.name for d in project.departments if d.name in by_department]
    if "" in by_department:
        order.append("")
    lines: list[str] = []
    for name in order:
        lines.append(f"▸ {name or '未分部门'}（{len(by_department[name])}）")
        for member in by_department[name]:
            role = "" if member.role == Role.MEMBER else f"（{ROLE_LABELS[member.role]}）"
            count = open_counts.get(member.id, 0)
            lines.append(f"  {member.name}{role}" + (f" · 未完成 {count}" if count else ""))
    return Reply("\n".join(lines) or "还没有成员。", title=f"成员（{len(members)}）")


# ---------------------------------------------------------------------------- /部门


@dept_group.command(("添加", "新增", "add"), usage=DEPT_ADD_USAGE, summary="新增部门（PM）")
def add_departments(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    sender = ctx.require_manager("新增部门")
    names = [n for n in _split_names(args.text) if n]
    if not names:
        raise UsageError("缺少部门名称。", DEPT_ADD_USAGE)
    for name in names:
        checked_text(name, what="部门名称", limit=MAX_DEPARTMENT, usage=DEPT_ADD_USAGE)
    existing = {d.name for d in project.departments}
    added = [n for n in dict.fromkeys(names) if n not in existing]
    if not added:
        raise UserError(f"部门已存在：{'、'.join(names)}。")
    for name in added:
        department = get_or_create_department(ctx.session, project=project, name=name)
        record_change(
            ctx.session, project_id=project.id, entity="department", entity_id=department.id, actor=sender,
            at=ctx.incoming.sent_at, field="created", new=name,
        )
    text = f"已新增部门：{'、'.join(added)}"
    skipped = [n for n in names if n in existing]
    if skipped:
        text += f"（已存在：{'、'.join(skipped)}）"
    return Reply(text + "\n设置成员部门：/成员 添加 @某人 部门:" + added[0])


@dept_group.command(("列表", "list", "ls"), usage=DEPT_LIST_USAGE, summary="列出部门、成员和未完成任务数")
def list_departments(ctx: Context, args: Args) -> Reply:
    project = ctx.require_project()
    departments = project.departments
    if not departments:
        return Reply(f"还没有部门。新增：{DEPT_ADD_USAGE}")
    members = project_members(ctx.session, project_id=project.id, with_department=True)
    names: dict[int, list[str]] = defaultdict(list)
    for member in members:
        if member.department_id is not None:
            names[member.department_id].append(person(member))
    open_counts = open_task_counts(ctx.session, project_id=project.id, by=Task.department_id)
    lines = []
    for department in departments:
        people = "、".join(names.get(department.id, [])) or "暂无成员"
        lines.append(f"{department.name} · {people} · 未完成任务 {open_counts.get(department.id, 0)}")
    return Reply("\n".join(lines), title=f"部门（{len(departments)}）")


def _split_names(value: str) -> list[str]:
    for sep in ("，", "、", ";", "；", " "):
        value = value.replace(sep, ",")
    return [part.strip() for part in value.split(",")]


GROUPS = (group, dept_group)

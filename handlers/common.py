"""Small helpers shared by the handler modules: text limits, ids, option dates, clearing a field, history."""

from __future__ import annotations

import re
from collections.abc import Container
from datetime import date
from typing import Protocol

from sqlalchemy.orm import Session

from bot.messages import Mention
from handlers.context import Context
from handlers.dates import check_future, is_time_of_day, parse_date_and_time
from handlers.due_dates import due_date_warnings
from handlers.errors import UsageError, UserError
from handlers.names import nearest_names
from handlers.text import Args
from models import Change, Department, Member, find_department, record_change
from models.history import entity_history
from models.snapshots import FIELD_COLUMNS, column_values
from reports.format import describe_change, person

# Words that empty an optional field: `截止:无`, `父:无`, `部门:none`.
CLEAR_WORDS = frozenset({"无", "空", "没有", "清空", "-", "none", "null", "clear"})
MAX_DEPARTMENT = 50


def is_clear(value: str) -> bool:
    return value.strip().lower() in CLEAR_WORDS


YES_WORDS = frozenset({"是", "是的", "对", "开", "yes", "y", "true", "on", "1"})
NO_WORDS = frozenset({"否", "不是", "不", "关", "no", "n", "false", "off", "0", *CLEAR_WORDS})


def yes_no(value: str, usage: str) -> bool:
    """An option that is a yes or a no (`里程碑:是`, `milestone:no`); anything else is refused."""
    word = value.strip().lower()
    if word in YES_WORDS:
        return True
    if word in NO_WORDS:
        return False
    raise UsageError(f"“{value.strip()}”看不懂，请写 是 或 否。", usage)


def checked_text(value: str, *, what: str, limit: int, usage: str | None = None, required: bool = True) -> str:
    """A stripped text within its length limit; empty is refused when required."""
    value = value.strip()
    if required and not value:
        raise UsageError(f"缺少{what}。", usage)
    if len(value) > limit:
        raise UsageError(f"{what}太长（{len(value)} 字），请控制在 {limit} 字以内。", usage)
    return value


def parse_ref(word: str, prefix: str, *, what: str, usage: str) -> int:
    """`R3` / `r3` (risks), `A4` (action items), `D2` (decisions) → the number."""
    match = re.fullmatch(rf"#?{prefix}(\d{{1,9}})", word.strip(), flags=re.IGNORECASE)
    if not match:
        raise UsageError(f"“{word}”不是{what}编号，{what}编号写成 {prefix}3。", usage)
    return int(match.group(1))


def date_option(
    ctx: Context, args: Args, key: str, *, what: str, future: bool = True
) -> date | None:
    """The date in option `key`, or None when absent.

    An option's value runs over the words after it (for `next Monday`); when the whole value is not a
    date but its first word is (`截止:周五 发邮件`), the rest goes back to the plain words — except a
    time of day right after the date (`截止:12月10日 18:00`), which belongs to the date. Tasks keep
    dates: a time is dropped and the reply says so. A due date on a day off or after the project's
    deadline is kept, with a warning naming the nearest workday (`handlers.due_dates`).
    """
    value = args.options.get(key)
    if value is None:
        return None

    def parse(text: str) -> tuple[date, str | None]:
        found, time_text = parse_date_and_time(text, today=ctx.today)
        return (check_future(found, today=ctx.today, what=what) if future else found), time_text

    try:
        found, time_text = parse(value)
    except UserError as whole_error:
        first, _, rest = value.partition(" ")
        if not rest:
            raise
        try:
            found, time_text = parse(first)
        except UserError:
            raise whole_error from None
        rest_words = rest.split()
        if time_text is None and rest_words and is_time_of_day(rest_words[0]):
            time_text = rest_words.pop(0)
        args.options[key] = first
        args.words.extend(rest_words)
    if time_text:
        ctx.notes.append(f"（只记下了日期，时间“{time_text}”没有记录）")
    if key == "due":
        ctx.notes.extend(due_date_warnings(ctx, found))
    return found


def word_option(args: Args, key: str, accepted: Container[str]) -> str | None:
    """A one-word option (等级:高, 角色:PM, 应对:减轻) whose value ran over into the words after it.

    `等级:中 已扩容一倍` is the level 中 and the words 已扩容一倍; a value that is not accepted either way
    is returned whole, for the caller to refuse with its list of choices.
    """
    value = args.options.get(key)
    if value is None:
        return None
    value = value.strip()
    first, _, rest = value.partition(" ")
    if value.lower() not in accepted and rest and first.lower() in accepted:
        args.options[key] = first
        args.words.extend(rest.split())
        return first
    return value


def named_owner(ctx: Context, args: Args, *, what: str, usage: str) -> Member | None:
    """The one person a command names as owner: an @mention or `负责人:名字`; None when it names nobody."""
    if len(args.mentions) > 1:
        raise UsageError(f"一个{what}只能有一位负责人，请只 @ 一个人。", usage)
    if args.mentions:
        return ctx.resolve_member(args.mentions[0], assigning=True)
    if args.options.get("owner"):
        return ctx.resolve_member(Mention("", args.options["owner"].strip().lstrip("@"), typed=True))
    return None


def department_named(ctx: Context, name: str, *, may_create: bool) -> Department:
    """A project department by name. An unknown name is refused with the nearest ones (“没有部门“研发”，
    是不是 研发部？”): a typo must not add a department. New departments come only from the PM's
    explicit `/部门 添加` (or `/项目 创建 … 部门:`); `may_create` (a manager) only changes the hint."""
    name = name.strip()
    if not name or len(name) > MAX_DEPARTMENT:
        raise UserError(f"部门名称应为 1–{MAX_DEPARTMENT} 个字。")
    project = ctx.require_project()
    found = find_department(ctx.session, project_id=project.id, name=name)
    if found is not None:
        return found
    names = [d.name for d in project.departments]
    near = nearest_names(name, names)
    first = f"没有部门“{name}”，是不是 {'、'.join(near)}？" if near else f"没有部门“{name}”。"
    listed = f"现有部门：{'、'.join(names)}。" if names else "项目还没有部门。"
    create = f"要新增请发：/部门 添加 {name}" if may_create or ctx.is_manager else f"新增部门请找 PM（/部门 添加 {name}）。"
    raise UserError(f"{first}\n{listed}{create}")


def history_lines(session: Session, ctx: Context, *, entity: str, entity_id: int, limit: int = 10) -> list[str]:
    """`记录：` and the latest changes of one task/risk/action item, newest first (one statement)."""
    changes: list[Change] = entity_history(session, entity=entity, entity_id=entity_id, limit=limit)
    if not changes:
        return []
    tz = ctx.now.tzinfo
    lines = ["记录："]
    for change in changes:
        stamp = change.at.astimezone(tz).strftime("%m-%d %H:%M")
        lines.append(f"  {stamp} {person(change.actor)} {describe_change(change)}")
    return lines


class Tracked(Protocol):
    """A row with history: a task, risk or action item."""

    id: int
    project_id: int


def log_change(
    ctx: Context, entity: str, row: Tracked, actor: Member, field: str, old: object, new: object,
    note: str | None = None, *, before: dict[str, object] | None = None,
) -> None:
    """A history row for a change to a task, risk or action item, at the message's own time.

    `before`: the row's columns this change overwrites, as they were (for undo); when not given, the
    field's column is read from the row, so call it before changing the row (or pass a snapshot).
    """
    column = FIELD_COLUMNS.get(field)
    if before is None and column is not None:
        before = column_values(row, (column,))  # type: ignore[arg-type]
    record_change(
        ctx.session, project_id=row.project_id, entity=entity, entity_id=row.id, actor=actor,
        at=ctx.incoming.sent_at, field=field, old=old, new=new, note=note, before=before,
    )

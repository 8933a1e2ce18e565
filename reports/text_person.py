"""The merged private prompt as Chinese text: one person's `OwnerTasks` from each project's daily prompt
(`reports.rows.PersonPrompt`) → one `Reply`, a section per project with the same task lines and buttons
as the group prompt (`reports.text.prompt_task_section`).

Every id is written with its project (`新品发布会#12`), in the lines and in the buttons' commands: task
numbers start at #1 in every project, so a bare `#12` is often in several of the person's projects (all of
them, not only the ones listed today); the qualified form is what a private answer resolves
(`handlers.private_chat`), so a copied id or a pressed button always lands in the right project.
"""

from __future__ import annotations

from dataclasses import replace

from bot.messages import Reply, Section
from reports.format import day
from reports.rows import PersonPrompt
from reports.text import PER_OWNER_LIMIT, folded_line, prompt_task_section

PERSON_VIEW = "person_prompt"  # Reply.view kind of the merged private prompt (reports/views.py builds it again)
PERSON_HINT = "直接回复即可更新：项目#12 完成 ｜ 项目#12 阻塞 原因 ｜ 项目#12 进度 60%（项目名写前几个字即可）"


def qualifier(project_name: str) -> str:
    """The project as written before `#12`: its name without spaces (a command splits at spaces)."""
    return "".join(project_name.split())


def person_prompt(rows: PersonPrompt) -> Reply:
    """`今日进度 · 我的任务 · 12-02(周三)`: the person's open tasks in each project, overdue first."""
    # Open ones only: shown again after a press, a task done from the card stays on it, as done.
    total = sum(1 for _, block in rows.projects for task in block.tasks if task.is_open)
    have = f"有 {total} 项未完成的任务" if total else "今天列出的任务都已更新完"
    intro = f"你在 {len(rows.projects)} 个项目里{have}，今天的提醒合并在这一条里（各项目群的日报照样列出，不再单独 @ 你）："
    sections: list[Section] = []
    for project_name, block in rows.projects:
        prefix = qualifier(project_name)
        heading = f"{project_name}（{len(block.tasks)} 项）"
        shown = block.tasks[:PER_OWNER_LIMIT]
        sections += [
            prompt_task_section(task, rows.today, heading if index == 0 else None, ref=f"{prefix}{task.ref}")
            for index, task in enumerate(shown)
        ]
        if len(block.tasks) > PER_OWNER_LIMIT:
            more = len(block.tasks) - PER_OWNER_LIMIT
            sections.append(Section(lines=(f"  …另有 {more} 项，在项目群发送 /任务 列表 我的 查看",)))
        if block.folded:  # reminders held back over the daily cap, with their project like every id here
            folded = [replace(f, ref=f"{prefix}{f.ref}") for f in block.folded]
            sections.append(Section(title=None if shown else heading, lines=(f"  {folded_line(folded, rows.today)}",)))
    sections.append(Section(lines=(PERSON_HINT,)))
    # The view names the day and, per project, the person's member row and the tasks shown, so the
    # private card is shown again as those tasks now are after a button on it is pressed.
    blocks = [block for _, block in rows.projects]
    view: dict[str, object] = {
        "kind": PERSON_VIEW,
        "day": rows.today.isoformat(),
        "projects": [[b.owner.project_id, b.owner.id, [t.id for t in b.tasks]] for b in blocks],
    }
    if any(b.folded for b in blocks):
        view["folded"] = [[b.owner.id, [[f.ref, f.due.isoformat(), f.job] for f in b.folded]] for b in blocks if b.folded]
    return Reply(
        intro, title=f"今日进度 · 我的任务 · {day(rows.today)}", style="report", sections=tuple(sections), view=view
    )

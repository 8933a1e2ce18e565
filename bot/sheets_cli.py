"""`tandem projects list`, `tandem export --project ID [--out FILE]`, `tandem import FILE --project ID`:
the spreadsheets for operators and for files kept outside the chat. Import shows the preview (what
would be created, updated, and every problem by row); writing it is not built yet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from models import Project


@click.group("projects")
def projects() -> None:
    """Projects in the database."""


@projects.command("list")
def list_command() -> None:
    """Every project: id, status, platform, chat id, name."""
    from models.task_sheet import list_projects

    with _session() as (session, _now):
        for project in list_projects(session):
            click.echo(f"{project.id}\t{project.status.value}\t{project.platform}\t{project.chat_id}\t{project.name}")


@click.command("export")
@click.option("--project", "project_id", type=int, required=True, help="The project's id (tandem projects list).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the workbook (default: its own name in this directory).")
def export_command(project_id: int, out: Path | None) -> None:
    """Every register of the project as one .xlsx workbook."""
    from reports.export import export_reply

    with _session() as (session, now):
        reply = export_reply(session, _project(session, project_id), now)
    attachment = reply.attachments[0]
    path = out or Path(attachment.name)
    path.write_bytes(attachment.data)
    click.echo(f"{path}\t{len(attachment.data)} bytes")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--project", "project_id", type=int, required=True, help="The project's id (tandem projects list).")
def import_command(file: Path, project_id: int) -> None:
    """Preview importing a task breakdown (.xlsx or .csv) into the project; nothing is written."""
    from handlers.errors import UserError
    from handlers.sheet_plan import read_plan
    from handlers.sheet_preview import ExistingTask, match_tasks, preview_lines
    from handlers.sheet_read import read_task_table
    from models.registers import active_member_names
    from models.task_sheet import sheet_task_rows

    with _session() as (session, now):
        project = _project(session, project_id)
        year = now.astimezone(ZoneInfo(project.timezone)).year
        try:
            table = read_task_table(file.read_bytes(), file.name)
        except UserError as error:
            raise click.ClickException(error.message) from None
        plan = read_plan(table, year=year, members=active_member_names(session, project_id=project.id),
                         departments=[d.name for d in project.departments])
        existing = [
            ExistingTask(row.number, row.title, None, {
                "title": row.title, "owner": row.owner, "departments": (row.department,) if row.department else None,
                "start": row.start_date, "due": row.due_date, "deliverable": row.deliverable,
            })
            for row in sheet_task_rows(session, project_id=project.id)
        ]
        lines = preview_lines(plan, match_tasks(plan, existing), filename=file.name)
    for line in lines:
        if "/导入 确认" in line:
            line = "（只是预览：写入还没有实现，请在群里逐条添加，或等导入功能上线）"
        click.echo(line)


class _session:
    """A read-only session and the moment, closed with the runtime."""

    def __enter__(self) -> tuple[Session, datetime]:
        from bot.config import get_settings
        from bot.runtime import build_runtime

        self.runtime = build_runtime(get_settings())
        self.session = self.runtime.session_factory()
        return self.session, self.runtime.clock()

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.runtime.close()


def _project(session: Session, project_id: int) -> Project:
    project = session.get(Project, project_id)
    if project is None:
        raise click.ClickException(f"没有 id 为 {project_id} 的项目（tandem projects list 列出全部）。")
    return project

"""`tandem projects list`, `tandem export --project ID [--out FILE]`, `tandem import FILE --project ID`:
the spreadsheets for operators and for files kept outside the chat. Import shows the preview (what
would be created, updated, and every problem by row) and writes it with --yes."""

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
@click.option("--yes", "write", is_flag=True, help="Write it (without: the preview only, nothing written).")
def import_command(file: Path, project_id: int, write: bool) -> None:
    """Import a task breakdown (.xlsx or .csv) into the project: the preview, and with --yes the import
    itself (the same code as /导入 确认 in chat, in one transaction)."""
    from handlers.errors import UserError
    from handlers.sheet_apply import apply_plan
    from handlers.sheet_import import plan_from_file, preview

    with _session() as (session, now):
        project = _project(session, project_id)
        today = now.astimezone(ZoneInfo(project.timezone)).date()
        try:
            plan = plan_from_file(session, project, file.read_bytes(), file.name, year=today.year)
            lines, anything = preview(session, project, plan, filename=file.name, today=today)
            for line in lines:
                if "/导入 确认" in line:
                    line = f"写入请加 --yes：tandem import {file} --project {project_id} --yes"
                if not (write and line.startswith("写入请加")):
                    click.echo(line)
            if write and anything:
                result = apply_plan(session, project, plan, actor=None, at=now)
                session.commit()
                click.echo(f"已导入：新增 {len(result.created)} 个，更新 {len(result.updated)} 个，"
                           f"不变 {result.unchanged} 个，跳过 {len(result.skipped)} 行。")
                for problem in result.skipped:
                    click.echo(problem.line())
        except UserError as error:
            session.rollback()
            raise click.ClickException(error.message) from None


class _session:
    """A session and the moment, closed with the runtime (only `import --yes` commits)."""

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

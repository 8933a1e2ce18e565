"""GET /dashboard/{project_id}/{token}: the project's read-only dashboard, rendered on the server (Jinja2),
so everything is in the HTML without JavaScript. A wrong, expired, revoked or other project's link gets
403 and a page that shows nothing of any project.

Task filters are query parameters (`status`, `dept`, `owner`, `overdue`), set by a plain GET form. The
Gantt shows `GANTT_ROWS` tasks a page (`gantt=N`, plain links to the other pages, filters kept), over
the whole plan's time axis, so a 1,000-task project is not one 0.8 MB page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from models import TaskStatus
from reports.dashboard import Dashboard, TaskFilters, dashboard
from reports.fonts import cjk_font_path
from reports.format import ACTION_STATUS_LABELS, TASK_STATUS_LABELS
from reports.plan import Plan
from reports.text import HEALTH_LABELS

router = APIRouter()
_templates = Environment(loader=PackageLoader("bot.dashboard", "templates"), autoescape=select_autoescape(["html"]))
FORBIDDEN = (
    "<!doctype html><meta charset='utf-8'><title>链接无效</title>"
    "<p>链接无效、已过期或已被重置。请在群里发送 /看板 获取新链接。</p>"
)
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True, slots=True)
class Span:
    left: float  # percent of the time axis
    width: float
    kind: str = ""
    label: str = ""


GANTT_ROWS = 100  # Gantt rows a page


@dataclass(frozen=True, slots=True)
class GanttGeometry:
    rows: list[GanttRow]
    offs: list[Span]
    ticks: list[Span]
    today: float
    page: int = 1
    pages: int = 1
    first_row: int = 1  # 1-based, of the whole plan
    links: dict[int, str] = field(default_factory=dict)  # page → its query string (the filters kept)


@dataclass(frozen=True, slots=True)
class GanttRow:
    task: object
    left: float
    width: float


def gantt_pages(plan: Plan) -> int:
    return max(1, -(-len(plan.tasks) // GANTT_ROWS))


def gantt_geometry(plan: Plan, page: int = 1, links: dict[int, str] | None = None) -> GanttGeometry:
    """Where each bar (of the Gantt's page `page`), day off and date tick goes on the whole plan's time
    axis, in percent."""
    days = (plan.last - plan.first).days + 1
    pages = gantt_pages(plan)
    page = min(max(page, 1), pages)

    def at(day: date) -> float:
        return round(100 * (day - plan.first).days / days, 3)

    shown = plan.tasks[(page - 1) * GANTT_ROWS : page * GANTT_ROWS]
    rows = [GanttRow(t, at(t.start), round(100 * ((t.end - t.start).days + 1) / days, 3)) for t in shown]
    offs: list[Span] = []
    for off in plan.days_off:
        kind = "holiday" if off.name else ""
        if offs and offs[-1].kind == kind and round(offs[-1].left + offs[-1].width, 3) == at(off.day):
            offs[-1] = Span(offs[-1].left, round(offs[-1].width + 100 / days, 3), kind)
        else:
            offs.append(Span(at(off.day), round(100 / days, 3), kind))
    offs += [Span(at(day), round(100 / days, 3), "extra") for day in plan.extra_workdays]
    step = 7 if days <= 120 else 30
    tick_days = [plan.first + timedelta(days=i) for i in range(0, days, step)]
    ticks = [Span(at(day), 0, label=f"{day:%m-%d}") for day in tick_days]
    return GanttGeometry(rows, offs, ticks, round(at(plan.today) + 50 / days, 3), page, pages,
                         (page - 1) * GANTT_ROWS + 1, links or {})


def render_page(view: Dashboard, *, gantt_page: int = 1, query: Mapping[str, str] | None = None) -> str:
    """The page's HTML; `query` (the request's own parameters) is kept in the links to the Gantt's pages."""
    kept = {k: v for k, v in (query or {}).items() if k != "gantt"}
    links = {n: urlencode({**kept, "gantt": n}) for n in range(1, gantt_pages(view.plan) + 1)}
    return _templates.get_template("dashboard.html").render(
        d=view, g=gantt_geometry(view.plan, gantt_page, links), status_labels=TASK_STATUS_LABELS,
        action_labels=ACTION_STATUS_LABELS, health_labels=HEALTH_LABELS,
    )


def _gantt_page(request: Request) -> int:
    value = request.query_params.get("gantt", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 6 else 1


def _filters(request: Request) -> TaskFilters:
    query = request.query_params
    status = query.get("status") or None
    return TaskFilters(
        status=TaskStatus(status) if status in {s.value for s in TaskStatus} else None,
        department=query.get("dept") or None,
        owner=query.get("owner") or None,
        overdue=query.get("overdue") == "1",
    )


@router.get("/dashboard/font/cjk.otf", include_in_schema=False)
def cjk_font() -> FileResponse:
    """The page's last-resort CJK font (phones have their own, so only a browser without one fetches it)."""
    return FileResponse(cjk_font_path(), media_type="font/otf", headers={"Cache-Control": "public, max-age=2592000"})


@router.get("/dashboard/{project_id}/{token}", response_class=HTMLResponse)
def show_dashboard(project_id: int, token: str, request: Request) -> HTMLResponse:
    runtime = request.app.state.runtime
    if runtime.links is None:
        return HTMLResponse(FORBIDDEN, status_code=403, headers=PRIVATE)
    now = runtime.clock()
    with runtime.session_factory() as session:
        project = runtime.links.project_for(session, project_id, token, now)
        if project is None:
            return HTMLResponse(FORBIDDEN, status_code=403, headers=PRIVATE)
        page = render_page(dashboard(session, project, now, _filters(request)), gantt_page=_gantt_page(request),
                           query=request.query_params)
    return HTMLResponse(page, headers=PRIVATE)

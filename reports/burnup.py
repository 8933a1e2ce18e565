"""The weekly digest's progress picture: planned vs actual completion over time (burn-up), and the open
blockers and risks by age. Rows first (`progress_rows`, from the plan and the snapshot's risks), then
one matplotlib (Agg) PNG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from models import Project, RiskLevel, RiskStatus, TaskStatus
from reports.fonts import cjk_font_family
from reports.format import RISK_LEVEL_LABELS, shorten
from reports.gantt import palette_png
from reports.plan import Plan
from reports.snapshot import Snapshot

AGE_LIMIT = 15  # blockers and risks shown, oldest first


@dataclass(frozen=True, slots=True)
class Aged:
    ref: str
    label: str
    days: int
    kind: str  # "blocked" | "risk-high" | "risk-medium" | "risk-low"


@dataclass(frozen=True, slots=True)
class ProgressRows:
    project_name: str
    today: date
    days: tuple[date, ...]  # the plan's span
    planned: tuple[int, ...]  # tasks due by each day (cancelled ones left out)
    actual: tuple[int | None, ...]  # tasks completed by each day; None after today
    scope: int  # tasks counted
    aged: tuple[Aged, ...]  # oldest first


def progress_rows(session: Session, project: Project, at: datetime, plan: Plan) -> ProgressRows:
    tasks = [t for t in plan.tasks if t.status != TaskStatus.CANCELLED]
    days = tuple(plan.first + timedelta(days=i) for i in range((plan.last - plan.first).days + 1))
    due_on: dict[date, int] = {}
    done_on: dict[date, int] = {}
    for task in tasks:
        due_on[task.end] = due_on.get(task.end, 0) + 1
        if task.status == TaskStatus.DONE:
            finished = task.completed_on or plan.today
            done_on[finished] = done_on.get(finished, 0) + 1
    planned, actual = [], []
    due_total = done_total = 0
    done_total = sum(n for d, n in done_on.items() if d < plan.first)
    for day in days:
        due_total += due_on.get(day, 0)
        done_total += done_on.get(day, 0)
        planned.append(due_total)
        actual.append(done_total if day <= plan.today else None)
    tz = ZoneInfo(project.timezone)
    aged = [
        Aged(t.ref, shorten(t.title, 16), (plan.today - t.status_since.astimezone(tz).date()).days, "blocked")
        for t in tasks
        if t.status == TaskStatus.BLOCKED
    ]
    for risk in Snapshot(session, [project.id], at=at).risks(project.id):
        if risk.status == RiskStatus.OPEN:
            age = (plan.today - risk.created_at.astimezone(tz).date()).days
            aged.append(Aged(risk.ref, f"{RISK_LEVEL_LABELS[risk.level]} {shorten(risk.description, 14)}", age,
                             f"risk-{RiskLevel(risk.level).value}"))
    aged.sort(key=lambda a: (-a.days, a.ref))
    return ProgressRows(project.name, plan.today, days, tuple(planned), tuple(actual), len(tasks), tuple(aged[:AGE_LIMIT]))


AGE_COLOURS = {"blocked": "#ef4444", "risk-high": "#f97316", "risk-medium": "#facc15", "risk-low": "#a3e635"}


def render_progress(rows: ProgressRows) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import dates as mdates
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context({"font.family": [cjk_font_family()], "font.size": 11, "axes.unicode_minus": False}):
        figure = Figure(figsize=(15, 6), dpi=100)
        FigureCanvasAgg(figure)
        burn, ages = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
        x = [mdates.date2num(d) for d in rows.days]
        burn.step(x, rows.planned, where="post", color="#64748b", linestyle="--", linewidth=2, label="计划完成")
        done = [(xi, a) for xi, a in zip(x, rows.actual, strict=True) if a is not None]
        if done:
            burn.step([d[0] for d in done], [d[1] for d in done], where="post", color="#16a34a", linewidth=2.6, label="实际完成")
        burn.axhline(rows.scope, color="#1e3a8a", linewidth=1, label=f"任务总数 {rows.scope}")
        burn.axvline(mdates.date2num(rows.today), color="#dc2626", linestyle="--", linewidth=1.4, label="今天")
        burn.set_ylim(0, max(rows.scope, 1) * 1.1)
        burn.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        burn.set_title("完成情况：计划 vs 实际（累计任务数）", loc="left", fontsize=13)
        burn.legend(loc="upper left", fontsize=10, frameon=False)
        burn.grid(color="#e2e8f0")
        ages.set_title("未解决的阻塞与风险（已持续天数）", loc="left", fontsize=13)
        if rows.aged:
            labels = [f"{a.ref} {a.label}" for a in rows.aged]
            ages.barh(range(len(rows.aged)), [max(a.days, 0.2) for a in rows.aged],
                      color=[AGE_COLOURS[a.kind] for a in rows.aged])
            ages.set_yticks(range(len(rows.aged)), labels, fontsize=10)
            ages.invert_yaxis()
            for i, aged in enumerate(rows.aged):
                ages.text(max(aged.days, 0.2), i, f" {aged.days}天", va="center", fontsize=10)
            ages.set_xlabel("天")
        else:
            ages.set_axis_off()
            ages.text(0.5, 0.5, "没有阻塞或未关闭的风险", ha="center", va="center", fontsize=13, color="#16a34a",
                      transform=ages.transAxes)
        figure.suptitle(f"{rows.project_name} 进度图 · {rows.today:%Y-%m-%d}", x=0.01, ha="left", fontsize=15)
        figure.tight_layout()
        return palette_png(figure)

"""The Gantt chart as PNG pages, drawn with matplotlib (Agg) from a `Plan` (`reports.plan`).

One bar per task in WBS order (subtasks indented), coloured by status, overdue bars edged in red,
progress as a darker inner bar with its percentage, milestones as diamonds, dependency arrows, the
project's days off shaded (weekends, holidays with their names, the project's own) and 调休 workdays
marked, today's line and the deadline. A long plan is split into pages of `ROWS_PER_PAGE` rows over
the same time axis, so the pages line up.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from models import TaskStatus
from reports.fonts import cjk_font_family
from reports.format import TASK_STATUS_LABELS, shorten
from reports.plan import DayOff, Plan, PlanTask

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ROWS_PER_PAGE = 50
WIDTH_INCHES, DPI = 15.0, 100  # 1,500 px: a phone shows it full width and zooms in
ROW_INCHES, CHROME_INCHES = 0.34, 1.9
STATUS_COLOURS = {
    TaskStatus.TODO: "#94a3b8",
    TaskStatus.IN_PROGRESS: "#3b82f6",
    TaskStatus.DONE: "#22c55e",
    TaskStatus.BLOCKED: "#ef4444",
    TaskStatus.CANCELLED: "#d1d5db",
}
PROGRESS_COLOURS = {
    TaskStatus.TODO: "#475569",
    TaskStatus.IN_PROGRESS: "#1d4ed8",
    TaskStatus.DONE: "#15803d",
    TaskStatus.BLOCKED: "#991b1b",
    TaskStatus.CANCELLED: "#9ca3af",
}
OVERDUE_EDGE, TODAY_COLOUR, DEADLINE_COLOUR = "#dc2626", "#dc2626", "#111827"
WEEKEND_SHADE, HOLIDAY_SHADE, EXTRA_WORKDAY_SHADE = "#e5e7eb", "#fde2e2", "#fef3c7"


@dataclass(frozen=True, slots=True)
class Elsewhere:
    """A predecessor of a task on this page that is not on it: on another page of the chart, or left
    out of the chart by its filter (`page` None). Drawn as an arrow stub labelled with its `#N`."""

    ref: str
    page: int | None


@dataclass(frozen=True, slots=True)
class PageRows:
    """What one page draws: the plan's header (name, span, calendar, today) with only this page's rows,
    and the predecessors of these rows drawn elsewhere (task id → where). JSON-able, so it can travel
    in the outbox row and be drawn after the commit (`reports.drawings`)."""

    plan: Plan
    page: int
    pages: int
    first_row: int  # 1-based row of the whole chart
    elsewhere: dict[int, Elsewhere]

    @property
    def name(self) -> str:  # file name: gantt.png, gantt-2.png …
        return "gantt.png" if self.page == 1 else f"gantt-{self.page}.png"

    @property
    def last_row(self) -> int:
        return self.first_row + len(self.plan.tasks) - 1


@dataclass(frozen=True, slots=True)
class GanttPage:
    name: str  # file name: gantt.png, gantt-2.png …
    png: bytes
    first_row: int  # 1-based rows of the plan on this page
    last_row: int
    page: int
    pages: int


def page_count(plan: Plan) -> int:
    return max(1, -(-len(plan.tasks) // ROWS_PER_PAGE))


def plan_pages(plan: Plan, *, max_pages: int | None = None) -> list[PageRows]:
    """The chart's pages (at least one, even for an empty plan), the first `max_pages` of them, as rows."""
    total = page_count(plan)
    wanted = total if max_pages is None else min(total, max_pages)
    page_of = {t.id: i // ROWS_PER_PAGE + 1 for i, t in enumerate(plan.tasks)}
    header = replace(plan, tasks=(), numbers={})
    pages = []
    for index in range(wanted):
        rows = plan.tasks[index * ROWS_PER_PAGE : (index + 1) * ROWS_PER_PAGE]
        elsewhere: dict[int, Elsewhere] = {}
        for task in rows:
            for pred in task.predecessors:
                page = page_of.get(pred)
                if page != index + 1 and pred in plan.numbers:  # a predecessor deleted since is no dependency
                    elsewhere[pred] = Elsewhere(f"#{plan.numbers[pred]}", page)
        pages.append(PageRows(replace(header, tasks=rows), index + 1, total, index * ROWS_PER_PAGE + 1, elsewhere))
    return pages


def render_gantt(plan: Plan, *, max_pages: int | None = None) -> list[GanttPage]:
    """The chart's pages drawn (at least one, even for an empty plan), the first `max_pages` of them."""
    return [
        GanttPage(rows.name, render_page(rows), rows.first_row, rows.last_row, rows.page, rows.pages)
        for rows in plan_pages(plan, max_pages=max_pages)
    ]


def render_page(rows: PageRows) -> bytes:
    return palette_png(page_figure(rows))


def page_figure(page_rows: PageRows) -> Figure:
    """One page as a matplotlib figure (Agg canvas attached), ready to be saved."""
    plan, rows, page, pages = page_rows.plan, page_rows.plan.tasks, page_rows.page, page_rows.pages
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import dates as mdates
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    family = cjk_font_family()
    count = max(len(rows), 1)
    with rc_context({"font.family": [family], "font.size": 11, "axes.unicode_minus": False}):
        figure = Figure(figsize=(WIDTH_INCHES, count * ROW_INCHES + CHROME_INCHES), dpi=DPI)
        FigureCanvasAgg(figure)
        top = 1 - 0.95 / (count * ROW_INCHES + CHROME_INCHES)
        bottom = 0.55 / (count * ROW_INCHES + CHROME_INCHES)
        figure.subplots_adjust(left=0.36, right=0.98, top=top, bottom=bottom)
        ax = figure.add_subplot()
        first, last = mdates.date2num(plan.first), mdates.date2num(plan.last + timedelta(days=1))
        ax.set_xlim(first, last)
        ax.set_ylim(count - 0.5, -0.5)
        _shade_calendar(ax, plan.days_off, plan.extra_workdays, mdates.date2num)

        lefts = [mdates.date2num(t.start) for t in rows]
        widths = [(t.end - t.start).days + 1 for t in rows]
        bars = [(i, t) for i, t in enumerate(rows) if not t.milestone]
        ax.barh(
            [i for i, _ in bars], [widths[i] for i, _ in bars], left=[lefts[i] for i, _ in bars], height=0.62,
            color=[STATUS_COLOURS[t.status] for _, t in bars],
            edgecolor=[OVERDUE_EDGE if t.overdue else "none" for _, t in bars],
            linewidth=[2.2 if t.overdue else 0 for _, t in bars], zorder=3,
        )
        ax.barh(  # progress inside the bar
            [i for i, _ in bars], [widths[i] * t.progress / 100 for i, t in bars], left=[lefts[i] for i, _ in bars],
            height=0.26, color=[PROGRESS_COLOURS[t.status] for _, t in bars], zorder=4,
        )
        milestones = [(i, t) for i, t in enumerate(rows) if t.milestone]
        if milestones:
            ax.scatter(
                [mdates.date2num(t.end) + 0.5 for _, t in milestones], [i for i, _ in milestones], marker="D", s=110,
                c=[STATUS_COLOURS[t.status] if t.status != TaskStatus.TODO else "#7c3aed" for _, t in milestones],
                edgecolors=[OVERDUE_EDGE if t.overdue else "#1f2937" for _, t in milestones], linewidths=1.2, zorder=5,
            )
        notes = [
            ax.text(lefts[i] + widths[i] + 0.3, i, _bar_note(task, plan.today), va="center", fontsize=9.5,
                    color=OVERDUE_EDGE if task.overdue else "#374151", zorder=6, clip_on=True)
            for i, task in enumerate(rows)
        ]
        _arrows(ax, rows, lefts, widths)
        day_px = (0.98 - 0.36) * WIDTH_INCHES * DPI / max(last - first, 1)
        _stubs(ax, rows, page_rows.elsewhere, page, [(lefts[i] - first) * day_px for i in range(len(rows))], lefts, notes)

        labels = blended_transform_factory(figure.transFigure, ax.transData)
        for i, task in enumerate(rows):
            indent = "    " * min(task.depth, 4)
            figure.text(0.005, i, f"{indent}{task.ref} {shorten(task.title, 20 - 2 * min(task.depth, 4))}",
                        transform=labels, va="center", fontsize=11, color="#111827")
            figure.text(0.255, i, shorten(" · ".join(p for p in (task.department, task.owner) if p) or "—", 12),
                        transform=labels, va="center", fontsize=9.5, color="#6b7280")
        ax.set_yticks([])

        today = mdates.date2num(plan.today) + 0.5
        ax.axvline(today, color=TODAY_COLOUR, linestyle="--", linewidth=1.6, zorder=7)
        ax.text(today, -0.5, f" 今天 {plan.today:%m-%d}", color=TODAY_COLOUR, va="bottom", fontsize=10, clip_on=False)
        if plan.deadline is not None and plan.first <= plan.deadline <= plan.last:
            deadline = mdates.date2num(plan.deadline) + 1
            ax.axvline(deadline, color=DEADLINE_COLOUR, linewidth=1.4, zorder=7)
            ax.text(deadline, count - 0.5, f"截止 {plan.deadline:%m-%d} ", color=DEADLINE_COLOUR, va="top", ha="right",
                    fontsize=10)

        span = (plan.last - plan.first).days
        if span <= 120:
            ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d"))
        else:
            ax.xaxis.set_major_locator(mdates.MonthLocator())
            ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
        ax.tick_params(axis="x", labelsize=10, labeltop=pages == 1 or count > 20, labelbottom=True)
        ax.grid(axis="x", color="#cbd5e1", linewidth=0.6, zorder=0)
        for spine in ("left", "right"):
            ax.spines[spine].set_visible(False)

        scope = f"（{plan.scope}）" if plan.scope else ""
        paging = f" · 第 {page}/{pages} 页" if pages > 1 else ""
        figure.suptitle(f"{plan.project_name} 甘特图{scope}{paging} · {plan.today:%Y-%m-%d}", x=0.01, ha="left",
                        fontsize=15, y=1 - 0.12 / (count * ROW_INCHES + CHROME_INCHES))
        legend = [Patch(color=STATUS_COLOURS[s], label=TASK_STATUS_LABELS[s]) for s in STATUS_COLOURS]
        legend += [
            Patch(facecolor="white", edgecolor=OVERDUE_EDGE, linewidth=2, label="逾期"),
            Patch(color=WEEKEND_SHADE, label="休息日"),
            Patch(color=HOLIDAY_SHADE, label="节假日"),
            Patch(color=EXTRA_WORKDAY_SHADE, label="调休上班"),
        ]
        figure.legend(handles=legend, loc="upper right", ncol=len(legend), fontsize=9.5, frameon=False,
                      bbox_to_anchor=(0.99, 1 - 0.08 / (count * ROW_INCHES + CHROME_INCHES)))
        if not rows:
            ax.text((first + last) / 2, 0, "没有任务", ha="center", va="center", fontsize=14, color="#6b7280")
        return figure


def palette_png(figure: object) -> bytes:
    """The figure as a 128-colour palette PNG: a chart has few colours, and this is a third of the bytes."""
    from PIL import Image

    figure.canvas.draw()  # type: ignore[attr-defined]
    rgba = figure.canvas.buffer_rgba()  # type: ignore[attr-defined]
    image = Image.frombuffer("RGBA", (rgba.shape[1], rgba.shape[0]), rgba, "raw", "RGBA", 0, 1).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _bar_note(task: PlanTask, today: date) -> str:
    if task.status == TaskStatus.CANCELLED:
        return "已取消"
    note = f"{task.progress}%" if not task.milestone else f"{task.end:%m-%d}"
    if task.status == TaskStatus.BLOCKED:
        note += " 阻塞"
    if task.overdue and task.due_date is not None:
        note += f" 逾期{(today - task.due_date).days}天"
    return note


def _shade_calendar(ax: object, days_off: Iterable[DayOff], extra: Iterable[date], to_num: object) -> None:
    """Days off as grey bands (holidays pink, with their names), 调休 workdays as yellow bands."""
    for start, end, name in _runs(days_off):
        colour = HOLIDAY_SHADE if name else WEEKEND_SHADE
        ax.axvspan(to_num(start), to_num(end) + 1, color=colour, zorder=0, linewidth=0)  # type: ignore[attr-defined, operator]
        if name and (end - start).days >= 1:
            ax.text(to_num(start) + 0.2, 0.995, name, transform=ax.get_xaxis_transform(), va="top",  # type: ignore[attr-defined, operator]
                    fontsize=8.5, color="#b91c1c", clip_on=True, zorder=2)
    for day in extra:
        ax.axvspan(to_num(day), to_num(day) + 1, color=EXTRA_WORKDAY_SHADE, zorder=0, linewidth=0)  # type: ignore[attr-defined, operator]


def _runs(days_off: Iterable[DayOff]) -> list[tuple[date, date, str | None]]:
    """Consecutive days off with the same kind (weekend / a named holiday) as one band each."""
    runs: list[tuple[date, date, str | None]] = []
    for off in days_off:
        if runs and runs[-1][1] + timedelta(days=1) == off.day and runs[-1][2] == off.name:
            runs[-1] = (runs[-1][0], off.day, off.name)
        else:
            runs.append((off.day, off.day, off.name))
    return runs


def _arrows(ax: object, rows: tuple[PlanTask, ...], lefts: list[float], widths: list[int]) -> None:
    """A dependency arrow from each predecessor's end to its successor's start (both on this page)."""
    row_of = {t.id: i for i, t in enumerate(rows)}
    for i, task in enumerate(rows):
        for pred in task.predecessors:
            j = row_of.get(pred)
            if j is None:
                continue
            ax.annotate(  # type: ignore[attr-defined]
                "", xy=(lefts[i], i), xytext=(lefts[j] + widths[j], j), zorder=6,
                arrowprops={"arrowstyle": "-|>", "color": "#334155", "lw": 1.1, "shrinkA": 0, "shrinkB": 1,
                            "connectionstyle": "angle,angleA=0,angleB=90,rad=0" if i != j else "arc3"},
            )


STUB_COLOUR = "#7c3aed"


def _stubs(ax: object, rows: tuple[PlanTask, ...], elsewhere: dict[int, Elsewhere], page: int, room: list[float],
           lefts: list[float], notes: Sequence[object]) -> None:
    """Predecessors not on this page, so no dependency is dropped: a label naming them (“↑#3 第1页” on an
    earlier page, “↓#60 第5页” on a later one, “#9 未显示” left out by the filter) with an arrow into the
    task's bar; when the bar starts too near the left edge (`room`, pixels) the label follows the bar's note
    as “依赖 …” instead."""
    for i, task in enumerate(rows):
        outside = [elsewhere[p] for p in task.predecessors if p in elsewhere]
        if not outside:
            continue
        label = " ".join(_stub_label(e, page) for e in outside)
        style = {"fontsize": 9, "color": STUB_COLOUR, "zorder": 8, "gid": "dependency-elsewhere", "va": "center",
                 "bbox": {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": STUB_COLOUR, "linewidth": 0.8}}
        if room[i] > _text_px(label) + 16:
            ax.annotate(  # type: ignore[attr-defined]
                label, xy=(lefts[i], i), xytext=(-10, 0), textcoords="offset points", ha="right",
                arrowprops={"arrowstyle": "-|>", "color": STUB_COLOUR, "lw": 1.1, "shrinkA": 0, "shrinkB": 1}, **style,
            )
        else:
            ax.annotate(f"依赖 {label}", xy=(1, 0.5), xycoords=notes[i], xytext=(6, 0), textcoords="offset points",  # type: ignore[attr-defined]
                        ha="left", **style)


def _text_px(text: str) -> float:
    """About how wide `text` is at 9 pt (a CJK character is twice a Latin one)."""
    return sum(12.5 if ord(c) > 0x2E80 else 6.5 for c in text)


def _stub_label(where: Elsewhere, page: int) -> str:
    if where.page is None:
        return f"{where.ref} 未显示"
    return f"{'↑' if where.page < page else '↓'}{where.ref} 第{where.page}页"

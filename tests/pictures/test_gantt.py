"""The Gantt renderer: every task drawn as its own bar, real CJK glyphs (no tofu), pages for long plans."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from models import TaskStatus
from reports import gantt
from reports.fonts import cjk_font_family, cjk_font_path
from reports.plan import DayOff, Plan, PlanTask, filter_plan, wbs_order

TODAY = date(2026, 10, 12)


def task(number: int, *, start: int = 0, days: int = 5, status: TaskStatus = TaskStatus.IN_PROGRESS, parent: int | None = None,
         preds: tuple[int, ...] = (), milestone: bool = False, dept: int | None = None, owner: int | None = None,
         overdue: bool = False) -> PlanTask:
    first = TODAY + timedelta(days=start)
    return PlanTask(
        id=number * 10, number=number, title=f"任务{number} 联调测试", status=status, progress=40, owner_id=owner,
        owner="张三" if owner else None, department_id=dept, department="研发部" if dept else None,
        parent_id=parent * 10 if parent else None, depth=0, start=first, end=first + timedelta(days=days - 1),
        start_date=first, due_date=first + timedelta(days=days - 1), completed_on=None,
        status_since=datetime(2026, 10, 1, tzinfo=UTC), predecessors=tuple(p * 10 for p in preds), milestone=milestone,
        overdue=overdue,
    )


def plan_of(tasks: list[PlanTask]) -> Plan:
    ordered = wbs_order(tasks)
    first = min(t.start for t in ordered) - timedelta(days=1)
    last = max(t.end for t in ordered) + timedelta(days=1)
    days_off = tuple(DayOff(first + timedelta(days=i), None) for i in range((last - first).days)
                     if (first + timedelta(days=i)).weekday() >= 5)
    return Plan(1, "发布会", TODAY, last, tuple(ordered), first, last, days_off, (), numbers={t.id: t.number for t in ordered})


def bar_bands(png: bytes) -> int:
    """Horizontal bands of bar colour at least 15 px tall: one per drawn task bar (legend swatches are smaller)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    colours = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in gantt.STATUS_COLOURS.values()]
    colours += [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in gantt.PROGRESS_COLOURS.values()]
    hit = np.zeros(pixels.shape[0], dtype=bool)
    for colour in colours:
        match = (np.abs(pixels - np.array(colour)).sum(axis=2) < 12).sum(axis=1) >= 20
        hit |= match
    bands, height = 0, 0
    for row in [*hit, False]:
        if row:
            height += 1
        else:
            bands += height >= 15
            height = 0
    return bands


def test_every_task_is_a_bar_and_long_plans_are_paged() -> None:
    tasks = [task(n, start=n % 20, days=3 + n % 7) for n in range(1, 72)]
    pages = gantt.render_gantt(plan_of(tasks))
    assert [p.page for p in pages] == [1, 2] and pages[0].pages == 2
    assert (pages[0].first_row, pages[0].last_row, pages[1].first_row, pages[1].last_row) == (1, 50, 51, 71)
    assert [bar_bands(p.png) for p in pages] == [50, 21]
    heights = [Image.open(io.BytesIO(p.png)).size[1] for p in pages]
    assert heights[0] > heights[1]  # a page's height follows its rows
    assert len(gantt.render_gantt(plan_of(tasks), max_pages=1)) == 1


def test_milestones_are_diamonds_not_bars() -> None:
    tasks = [task(1), task(2, start=6, days=1, milestone=True), task(3, start=2)]
    png = gantt.render_gantt(plan_of(tasks))[0].png
    assert bar_bands(png) == 2


def test_dependency_arrows_and_the_today_line_are_drawn() -> None:
    without = gantt.render_gantt(plan_of([task(1), task(2, start=6)]))[0].png
    with_arrow = gantt.render_gantt(plan_of([task(1), task(2, start=6, preds=(1,))]))[0].png
    arrow_ink = np.asarray(Image.open(io.BytesIO(with_arrow)).convert("RGB")).astype(int)
    plain = np.asarray(Image.open(io.BytesIO(without)).convert("RGB")).astype(int)
    arrow_colour = np.array([0x33, 0x41, 0x55])
    assert (np.abs(arrow_ink - arrow_colour).sum(axis=2) < 30).sum() > (np.abs(plain - arrow_colour).sum(axis=2) < 30).sum() + 20
    tall = np.asarray(Image.open(io.BytesIO(gantt.render_gantt(plan_of([task(n) for n in range(1, 11)]))[0].png)).convert("RGB"))
    today = np.array([0xDC, 0x26, 0x26])
    assert (np.abs(tall.astype(int) - today).sum(axis=2) < 30).sum(axis=0).max() > 150  # a red line over the 10 rows


def test_wbs_order_puts_subtasks_under_their_parents_and_filters_keep_branches() -> None:
    tasks = [task(1), task(2), task(3, parent=1), task(4, parent=3, dept=7), task(5, parent=2, owner=9)]
    plan = plan_of(tasks)
    assert [(t.number, t.depth) for t in plan.tasks] == [(1, 0), (3, 1), (4, 2), (2, 0), (5, 1)]
    branch = filter_plan(plan, branch=30, scope="#3")
    assert [(t.number, t.depth) for t in branch.tasks] == [(3, 0), (4, 1)]
    assert [t.number for t in filter_plan(plan, department_id=7).tasks] == [4]
    assert [t.number for t in filter_plan(plan, owner_id=9).tasks] == [5]


def _glyph(text: str, family: str) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1), dpi=60)
    FigureCanvasAgg(figure)
    figure.text(0.1, 0.2, text, fontsize=30, family=family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # DejaVu lacks the glyphs: that is the point
        figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., 0].copy()  # type: ignore[attr-defined]


def test_chinese_is_drawn_with_real_glyphs_not_tofu() -> None:
    from matplotlib.ft2font import FT2Font

    family = cjk_font_family()
    charmap = FT2Font(str(cjk_font_path())).get_charmap()
    text = "甘特图进度阻塞已完成逾期今天截止休息日调休研发部"
    assert all(ord(c) in charmap for c in text)
    tofu = _glyph("甘", "DejaVu Sans")  # a font without CJK draws its missing-glyph box
    drawn = [_glyph(c, family) for c in "甘特图阻塞"]
    assert all((d < 128).sum() > 20 for d in drawn)  # ink on the canvas
    assert all(not np.array_equal(d, tofu) for d in drawn)
    assert len({d.tobytes() for d in drawn}) == len(drawn)  # five different shapes, not five boxes


def test_the_chart_never_falls_back_to_missing_glyphs() -> None:
    tasks = [task(1, status=TaskStatus.BLOCKED, overdue=True, dept=1, owner=1), task(2, milestone=True, days=1),
             task(3, status=TaskStatus.CANCELLED), task(4, status=TaskStatus.DONE)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph … missing from font(s)" for tofu
        pages = gantt.render_gantt(plan_of(tasks))
    assert pages[0].png.startswith(b"\x89PNG")


@pytest.mark.parametrize("count", [0, 1])
def test_small_plans_still_render(count: int) -> None:
    tasks = [task(1)] if count else []
    plan = plan_of([task(1)])
    plan = Plan(plan.project_id, plan.project_name, TODAY, None, tuple(tasks), plan.first, plan.last, (), ())
    pages = gantt.render_gantt(plan)
    assert len(pages) == 1 and bar_bands(pages[0].png) == count

"""Dependencies across pages: a predecessor drawn on another page, or left out by a filter, is shown on
the successor's page as a labelled stub pointing at its bar, so no dependency is silently dropped."""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
from matplotlib.text import Annotation
from PIL import Image

from reports import drawings, gantt
from reports.fonts import cjk_font_path
from reports.plan import Plan, filter_plan
from tests.pictures.test_gantt import plan_of, task


def stubs(rows: gantt.PageRows) -> dict[int, Annotation]:
    """The page's dependency stubs by the row (0-based on the page) of the task they point at."""
    figure = gantt.page_figure(rows)
    figure.canvas.draw()  # type: ignore[attr-defined]
    found = {}
    ax = figure.axes[0]
    for artist in ax.get_children():
        if isinstance(artist, Annotation) and artist.get_gid() == "dependency-elsewhere":
            extent = artist.get_window_extent()
            width, height = figure.bbox.width, figure.bbox.height
            assert 0 <= extent.x0 < extent.x1 <= width and 0 <= extent.y0 < extent.y1 <= height  # on the page
            row = round(float(ax.transData.inverted().transform(((extent.x0 + extent.x1) / 2, (extent.y0 + extent.y1) / 2))[1]))
            found[row] = artist
    return found


def long_plan() -> Plan:
    """120 tasks, three pages: #60 (page 2) depends on #3 (page 1) and #58 (same page); #20 (page 1)
    depends on #110 (page 3); #101 starts at the left edge and depends on #2."""
    tasks = [task(n, start=10 + n % 15) for n in range(1, 121)]
    tasks[59] = task(60, start=20, preds=(3, 58))
    tasks[19] = task(20, start=22, preds=(110,))
    tasks[100] = task(101, start=-2, preds=(2,))
    return plan_of(tasks)


def test_a_predecessor_on_another_page_is_a_labelled_stub_into_the_bar() -> None:
    pages = gantt.plan_pages(long_plan())
    assert [p.page for p in pages] == [1, 2, 3]
    second = stubs(pages[1])
    assert set(second) == {9}  # #60 is the 10th row of page 2; #58 is on the same page: a normal arrow
    label = second[9]
    assert label.get_text() == "↑#3 第1页" and label.arrow_patch is not None
    assert label.xy[0] < gantt.page_figure(pages[1]).axes[0].get_xlim()[1]
    first = stubs(pages[0])
    assert {row: a.get_text() for row, a in first.items()} == {19: "↓#110 第3页"}
    third = stubs(pages[2])
    assert third[0].get_text() == "依赖 ↑#2 第1页"  # the bar starts at the left edge: the label follows its note


def test_a_predecessor_left_out_by_a_filter_is_named_too() -> None:
    tasks = [task(1, dept=1), task(2, dept=2, start=6, preds=(1,)), task(3, dept=2, start=9, preds=(2,))]
    plan = filter_plan(plan_of(tasks), department_id=2, scope="部门：研发部")
    (page,) = gantt.plan_pages(plan)
    assert {row: a.get_text() for row, a in stubs(page).items()} == {0: "#1 未显示"}


def test_the_stub_is_drawn_with_real_glyphs_where_the_task_is() -> None:
    from matplotlib.ft2font import FT2Font

    charmap = FT2Font(str(cjk_font_path())).get_charmap()
    assert all(ord(c) in charmap for c in "↑↓#第页依赖未显示")
    pages = gantt.plan_pages(long_plan())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing glyphs
        png = drawings.draw(json.loads(json.dumps(drawings.gantt_attachment(pages[1]).drawing)))  # as the sender draws it
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    colour = np.array([int(gantt.STUB_COLOUR[i : i + 2], 16) for i in (1, 3, 5)])
    ink = np.abs(pixels - colour).sum(axis=2) < 40
    rows = np.nonzero(ink.sum(axis=1))[0]
    assert ink.sum() > 60
    figure = gantt.page_figure(pages[1])
    figure.canvas.draw()  # type: ignore[attr-defined]
    y = figure.bbox.height - figure.axes[0].transData.transform((0, 9))[1]  # row 10 of the page, from the top
    assert abs(float(np.median(rows)) - y) < 12  # the label is drawn on #60's row

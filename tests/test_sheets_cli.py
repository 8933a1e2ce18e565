"""`tandem projects list`, `tandem export`, `tandem import` (preview) on a temporary SQLite database."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from bot.cli import main
from bot.config import get_settings


@pytest.fixture
def tandem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TANDEM_TIMEZONE", "Asia/Shanghai")
    monkeypatch.chdir(tmp_path)  # no stray .env; the export lands here
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def run(cli: CliRunner, *args: str, code: int = 0) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def say(cli: CliRunner, text: str, minute: int) -> None:
    run(cli, "say", "--name", "王经理", "--at", f"2026-11-16T10:{minute:02d}", text)


def setup(cli: CliRunner) -> None:
    say(cli, "/项目 创建 发布会 部门:研发部", 0)
    say(cli, "/成员 添加 @李四 部门:研发部", 1)
    say(cli, "/任务 新增 写发布稿 @李四 截止:2026-11-20", 2)
    say(cli, "/任务 新增 联调 截止:2026-11-30 依赖:#1", 3)


def test_projects_list_and_export(tandem: CliRunner, tmp_path: Path) -> None:
    setup(tandem)
    listed = run(tandem, "projects", "list").output
    assert "\t发布会" in listed and listed.split("\t")[0] == "1"
    out = tmp_path / "台账.xlsx"
    assert str(out) in run(tandem, "export", "--project", "1", "--out", str(out)).output
    book = openpyxl.load_workbook(io.BytesIO(out.read_bytes()))
    titles = [r[1] for r in list(book["任务分工表"].iter_rows(values_only=True))[1:]]
    assert titles == ["写发布稿", "联调"]
    assert "没有 id 为 9 的项目" in run(tandem, "export", "--project", "9", code=1).output


def test_import_previews_then_writes_with_yes(tandem: CliRunner, tmp_path: Path) -> None:
    setup(tandem)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["发布会 任务分工表"], ["任务名称", "负责人", "配合部门", "截止时间"],
                ["写发布稿", "李四", "研发部", "2026-11-25"], ["彩排", "李思", None, "12/1"], ["订场地", None, "研发", None]):
        sheet.append(row)
    path = tmp_path / "plan.xlsx"
    book.save(path)
    text = run(tandem, "import", str(path), "--project", "1").output
    assert "新增 0 个，更新 1 个，不变 0 个；有问题 2 行。" in text
    assert "更新 #1（第 3 行）：截止 2026-11-20 → 2026-11-25" in text
    assert "第 4 行 负责人“李思”" in text and "第 5 行 配合部门“研发”" in text
    assert "写入请加 --yes" in text
    listed = run(tandem, "say", "--name", "王经理", "--at", "2026-11-16T11:00", "/任务 列表 全部").output
    assert "彩排" not in listed and "11-20" in listed
    written = run(tandem, "import", str(path), "--project", "1", "--yes").output
    assert "已导入：新增 0 个，更新 1 个，不变 0 个" in written and "写入请加" not in written
    listed = run(tandem, "say", "--name", "王经理", "--at", "2026-11-16T11:01", "/任务 列表 全部").output
    assert "彩排" not in listed and "11-25" in listed and "11-20" not in listed
    detail = run(tandem, "say", "--name", "王经理", "--at", "2026-11-16T11:02", "/任务 #1").output
    assert "截止：2026-11-20 → 2026-11-25" in detail
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF")
    assert "只能导入" in run(tandem, "import", str(bad), "--project", "1", code=1).output

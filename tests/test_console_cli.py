"""`tandem say` refuses ids no platform would send, before touching the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import main
from bot.config import get_settings


@pytest.mark.parametrize("option", ["--user", "--chat"])
def test_say_refuses_an_id_longer_than_any_platform_gives(
    option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["say", option, "x" * 129, "/帮助"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}: 最长 128 个字符，现在是 129 个" in result.output
    assert "Usage: main say [OPTIONS] TEXT..." in result.output
    assert not (tmp_path / "cli.db").exists()  # refused before anything was created


def test_say_private_speaks_to_the_bot_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--private`: the sender's own chat with the bot; a task update there runs in their project."""
    monkeypatch.setenv("TANDEM_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        for text in ("/项目 创建 发布会", "/任务 新增 写稿 @李四"):
            assert runner.invoke(main, ["say", "--name", "王经理", text]).exit_code == 0
        result = runner.invoke(main, ["say", "--private", "--name", "李四", "#1 完成"])
        stranger = runner.invoke(main, ["say", "--private", "--name", "路人", "#1 完成"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0 and "【发布会】#1 写稿 → 已完成" in result.output, result.output
    assert "项目在群里管理" in stranger.output

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

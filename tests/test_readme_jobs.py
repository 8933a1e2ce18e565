"""The README's `tandem jobs run` examples, replayed line by line as written: what each comment says
happens is what the CLI prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from tests.test_jobs_cli import run, tandem  # noqa: F401  (the fixture)

README = Path(__file__).resolve().parent.parent / "README.md"

# What each kind of comment promises on stdout (the console prints every message it posts).
PROMISES = {
    "prints nothing": lambda out: out == "",
    "the prompt goes out": lambda out: "【今日进度更新 · 发布会 · 10-10(周六)】" in out and "调休" in out and "@李四" in out,
    "agenda": lambda out: "周会议程" in out and "周会时间：10-12(周一) 09:00" in out,
    "due by the next workday": lambda out: "即将到期：\n  @李四 #1 订场地" in out,
    "due today": lambda out: "今天到期：\n  @李四 #1 订场地" in out,
    "overdue": lambda out: "已逾期" in out and "@李四 #1 订场地" in out and "逾期1天" in out,
}


def example_lines() -> list[tuple[list[str], str]]:
    block = re.search(r"`tandem jobs run KIND --at T` does exactly.*?```bash\n(.*?)```", README.read_text(), re.S)
    assert block, "README has no jobs run example"
    lines = []
    for line in block.group(1).strip().splitlines():
        command, _, comment = line.partition("#")
        argv = shlex.split(command)
        assert argv[0] == "tandem", line
        lines.append((argv[1:], comment.strip()))
    return lines


def test_the_readme_jobs_examples_are_true_as_written(tandem: CliRunner) -> None:  # noqa: F811
    lines = example_lines()
    assert sum(argv[:2] == ["jobs", "run"] for argv, _ in lines) >= 5
    for argv, comment in lines:
        result = run(tandem, *argv)
        if argv[0] == "say":
            assert "❌" not in result.stdout and result.stdout, argv
            continue
        promised = [check for key, check in PROMISES.items() if key in comment]
        assert promised, f"no check for the comment: {comment}"
        for check in promised:
            assert check(result.stdout), f"{' '.join(argv)}  # {comment}\n{result.stdout}"

"""Webhook answers while a big `/甘特图` is drawn: `python bench/gantt_acks.py [tasks]`.

The real app (uvicorn on 127.0.0.1, a SQLite file database) with the fake Feishu: `/甘特图` for a plan of
`tasks` tasks (230 by default: its first four pages are posted) in one chat, then a message every 50 ms
in another chat until the chart's image messages have arrived; prints how long each webhook took to
answer (Feishu wants an answer within 3 s; we answer 503 past 2 s) and how long the pictures took.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.app import create_app
from bot.db import make_engine, upgrade_database
from bot.runtime import build_runtime
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.fakes.server import ServerThread, serve
from tests.platforms.conftest import Tandem, platform_settings
from tests.platforms.test_gantt_off_lock import acks_while_drawing


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 230
    feishu, dingtalk = FeishuFake(), DingTalkFake()
    with tempfile.TemporaryDirectory() as directory, serve(feishu.app, lifespan="off") as f, \
            serve(dingtalk.app, lifespan="off") as d:
        feishu.url, dingtalk.base_url = f.url, d.url
        url = f"sqlite:///{Path(directory) / 'acks.db'}"
        upgrade_database(url)
        engine = make_engine(url)
        settings = platform_settings(url, feishu, dingtalk)
        runtime = build_runtime(settings, engine=engine)
        server = ServerThread(create_app(settings, runtime=runtime)).start()
        try:
            with httpx.Client(base_url=server.url, timeout=10) as client:
                tandem = Tandem(server.url, client, runtime, feishu, dingtalk, server)
                acks = acks_while_drawing(tandem, engine, tasks=tasks)
                seconds = [s for s, _ in acks.during]
                refused = sum(status != 200 for _, status in acks.during)
                print(f"tasks {tasks}: pictures posted after {acks.seconds:.1f} s; "
                      f"{len(seconds)} webhooks meanwhile: median {statistics.median(seconds) * 1000:.0f} ms, "
                      f"max {max(seconds) * 1000:.0f} ms, {refused} answered 503")
        finally:
            server.stop()
            engine.dispose()


if __name__ == "__main__":
    main()

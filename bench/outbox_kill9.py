"""kill -9 `tandem serve` while it delivers to (fake) DingTalk, whose robot API has no idempotency key,
and count what a restart sends twice: the sends in flight at the kill (reached DingTalk, outcome not
yet written) are the most that can repeat.

    python bench/outbox_kill9.py [--rounds 3] [--load 16]

Each round: a fresh SQLite file, 200 outbox rows for 20 groups written directly (as a scheduler
fan-out), `tandem serve` started, `--load` threads posting signed DingTalk callbacks meanwhile (the
webhook busy, as in production: background writes then wait for their turn), kill -9 once a third of
the rows are delivered, restart, wait for every row. Prints, per round, the tracked rows that were
sent but unrecorded at the kill and those delivered twice.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from bot.db import make_engine, upgrade_database
from models import OutboundStatus
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.server import ServerThread
from tests.platforms.serve_process import ServeProcess, count_outbox, insert_outbox, sent_texts

GROUPS = [f"cidBench{i:02d}" for i in range(20)]
PER_GROUP = 10


def post_load(server: ServeProcess, dingtalk: DingTalkFake, stop: threading.Event) -> None:
    """Group messages arriving all the while (each one answered through its sessionWebhook)."""
    with httpx.Client(base_url=server.url, timeout=5) as client:
        n = 0
        while not stop.is_set():
            n += 1
            body, headers = dingtalk.request(dingtalk.message(f"cidLoad{n % 50}", "staff_load", f"/帮助 {n}"))
            try:
                client.post("/webhook/dingtalk", content=body, headers=headers)
            except httpx.HTTPError:
                time.sleep(0.05)  # the server is down (killed) or restarting


def one_round(workdir: Path, dingtalk: DingTalkFake, load: int) -> tuple[int, int, int]:
    dingtalk.reset()
    dingtalk.add_user("staff_load", "压测")
    url = f"sqlite:///{workdir / 'tandem.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    messages = [(group, f"{group} 第 {i} 条") for i in range(PER_GROUP) for group in GROUPS]
    tracked = {text for _, text in messages}
    insert_outbox(engine, "dingtalk", messages)
    settings = {
        "TANDEM_DATABASE_URL": url,
        "TANDEM_OUTBOX_LEASE_SECONDS": "3",
        "TANDEM_DINGTALK_CLIENT_ID": dingtalk.client_id,
        "TANDEM_DINGTALK_CLIENT_SECRET": dingtalk.client_secret,
        "TANDEM_DINGTALK_BASE_URL": dingtalk.base_url,
    }
    server = ServeProcess(workdir, settings)
    stop = threading.Event()
    loaders = [threading.Thread(target=post_load, args=(server, dingtalk, stop), daemon=True) for _ in range(load)]

    def tracked_sent() -> list[str]:
        return [s.text for s in dingtalk.sent if s.text in tracked]

    try:
        server.start()
        for thread in loaders:
            thread.start()
        while len(tracked_sent()) < len(messages) // 3:
            time.sleep(0.01)
        server.kill()
        time.sleep(0.3)  # requests that reached the fake before the kill finish there
        unrecorded = len(set(tracked_sent()) - sent_texts(engine))
        server.start()
        deadline = time.monotonic() + 60
        while count_outbox(engine, OutboundStatus.PENDING) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        server.stop()
        engine.dispose()
    delivered = Counter(tracked_sent())
    lost = len(tracked - set(delivered))
    twice = sum(n - 1 for n in delivered.values())
    return unrecorded, twice, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load", type=int, default=16, help="threads posting callbacks meanwhile (0: none)")
    args = parser.parse_args()
    dingtalk = DingTalkFake()
    fake = ServerThread(dingtalk.app, lifespan="off").start()
    dingtalk.base_url = fake.url
    try:
        for round_ in range(1, args.rounds + 1):
            with tempfile.TemporaryDirectory() as tmp:
                unrecorded, twice, lost = one_round(Path(tmp), dingtalk, args.load)
            print(f"round {round_}: {unrecorded} sent but unrecorded at the kill, {twice} delivered twice, {lost} lost")
    finally:
        fake.stop()


if __name__ == "__main__":
    main()

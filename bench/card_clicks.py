"""Card-click benchmark: 20 people press 完成 on the same daily-prompt card at once (issue 11).

    python bench/card_clicks.py [--rounds 5] [--clicks 20] [--database-url postgresql+psycopg://…]

Processes on 127.0.0.1, as in production:

* tandem: `tandem serve --no-scheduler` (the real app: webhook, inbox worker, outbox sender) on a fresh
          database: a SQLite file by default, or a fresh PostgreSQL database made next to the one
          `--database-url` names (dropped afterwards);
* fake:   the fake Feishu open API from tests/fakes (bench/ingest.py's `fake` role), which accepts the
          bot's messages and card updates and answers the contact API;
* this process, the load: it sends pre-built, signed and encrypted callbacks over one raw keep-alive
          connection each (asyncio streams), all written at the same moment, and times each from its
          write to the end of its answer. Twenty small requests a round cost this process almost
          nothing, so it takes no core from the server the way a busy Python load generator would.

Setup through the real webhook: per round a project in its own group with `--clicks` owners and a task
each, then `tandem jobs run daily-prompt` posts each group's prompt card. A round presses every task's
完成 on that card, one click per owner, concurrently, and checks each answer is that click's own success
toast with the re-rendered card. Reported: p50 and p99 of callback → answer over all rounds' clicks,
and how many answers were the in-time fallback. Target: p99 ≤ 1 s (Feishu gives up after 3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from ingest import (  # noqa: E402  (bench/ is not a package)
    APP_ID,
    APP_SECRET,
    ENCRYPT_KEY,
    ROOT,
    VERIFICATION_TOKEN,
    server,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def feishu_builder() -> Any:
    from tests.fakes.feishu import FeishuFake

    return FeishuFake(app_id=APP_ID, app_secret=APP_SECRET, verification_token=VERIFICATION_TOKEN, encrypt_key=ENCRYPT_KEY)


@contextlib.contextmanager
def database(url: str | None, workdir: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a new PostgreSQL database beside `url`'s."""
    if url is None:
        yield f"sqlite:///{workdir / 'clicks.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_clicks_{os.getpid()}"
    admin = create_engine(make_url(url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def tandem_env(database_url: str, fake_port: int) -> dict[str, str]:
    return {
        "TANDEM_DATABASE_URL": database_url,
        "TANDEM_FEISHU_APP_ID": APP_ID,
        "TANDEM_FEISHU_APP_SECRET": APP_SECRET,
        "TANDEM_FEISHU_VERIFICATION_TOKEN": VERIFICATION_TOKEN,
        "TANDEM_FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "TANDEM_FEISHU_BASE_URL": f"http://127.0.0.1:{fake_port}",
    }


@contextlib.contextmanager
def tandem_serve(env: dict[str, str], workdir: Path) -> Iterator[int]:
    """`tandem serve --no-scheduler` on the migrated database; yields its port."""
    from tests.platforms.serve_process import ServeProcess

    serve = ServeProcess(workdir, env)
    tandem = Path(sys.executable).with_name("tandem")
    subprocess.run([str(tandem), "db", "upgrade"], env=serve.env, cwd=workdir, check=True, capture_output=True)
    try:
        yield serve.start().port
    finally:
        serve.stop()


class Fake:
    """The fake Feishu process, seen from here."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.http = httpx.Client(timeout=30)

    def users(self, users: dict[str, str]) -> None:
        self.http.post(f"{self.url}/_bench/users", json=users).raise_for_status()

    def register(self, messages: dict[str, str]) -> None:
        self.http.post(f"{self.url}/_bench/register", json=messages).raise_for_status()

    def messages(self) -> list[tuple[str, str, str]]:
        return [tuple(m) for m in self.http.get(f"{self.url}/_bench/messages").json()]

    def wait_for(self, count: int, chat_id: str, timeout: float = 60) -> list[tuple[str, str, str]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            mine = [m for m in self.messages() if m[0] == chat_id]
            if len(mine) >= count:
                return mine
            time.sleep(0.1)
        raise RuntimeError(f"{chat_id}: fewer than {count} messages arrived")


def next_workday_prompt() -> datetime:
    from models.calendar import national_calendar

    day = datetime.now(SHANGHAI).date()
    while True:
        day += timedelta(days=1)
        if national_calendar().is_workday(day):
            return datetime.combine(day, datetime.min.time().replace(hour=17), SHANGHAI)


def setup(port: int, fake: Fake, builder: Any, rounds: int, clicks: int, env: dict[str, str], workdir: Path) -> list[str]:
    """Per round a group with a project and `clicks` tasks, each with its own owner; then the prompt cards.
    Returns each round's prompt card message id."""
    pm = "ou_bench_pm"
    users = {pm: "王经理"} | {f"ou_owner_{i}": f"同事{i}" for i in range(clicks)}
    fake.users(users)
    for open_id, name in users.items():
        builder.add_user(open_id, name)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for r in range(rounds):
            chat = f"oc_clicks_{r}"
            texts = ["/项目 创建 发布会"] + [f"/任务 新增 任务{i + 1} @同事{i}" for i in range(clicks)]
            for n, text in enumerate(texts, 1):
                payload = builder.message_event(chat, pm, text)
                fake.register({payload["event"]["message"]["message_id"]: chat})
                body, headers = builder.request(payload)
                http.post("/webhook/feishu", content=body, headers=headers).raise_for_status()
                if n == 1:  # the project must exist before its tasks
                    fake.wait_for(1, chat)
            fake.wait_for(len(texts), chat)
    environment = {**{k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}, **env}
    tandem = Path(sys.executable).with_name("tandem")
    at = next_workday_prompt().isoformat()
    subprocess.run([str(tandem), "jobs", "run", "daily-prompt", "--at", at], env=environment, cwd=workdir, check=True,
                   capture_output=True)
    cards = []
    for r in range(rounds):
        chat = f"oc_clicks_{r}"
        posted = fake.wait_for(clicks + 2, chat)
        cards.append(next(message_id for _, message_id, kind in posted if kind == "interactive"))
    return cards


def http_request(port: int, body: bytes, headers: dict[str, str]) -> bytes:
    head = ["POST /webhook/feishu/card HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def press_together(port: int, requests: list[bytes]) -> list[tuple[float, dict[str, Any]]]:
    """Open one connection per click, then write every request at once; each timed to its whole answer."""
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in requests]

    async def one(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], request: bytes) -> tuple[float, dict[str, Any]]:
        reader, writer = stream
        started = time.perf_counter()
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line[15:]) for line in head.split(b"\r\n") if line[:15].lower() == b"content-length:")
        body = await reader.readexactly(length)
        seconds = time.perf_counter() - started
        writer.close()
        return seconds, json.loads(body)

    return await asyncio.gather(*(one(c, r) for c, r in zip(connections, requests, strict=True)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--database-url", help="PostgreSQL to make a fresh database beside (default: a SQLite file)")
    args = parser.parse_args()
    builder = feishu_builder()
    latencies: list[float] = []
    fallbacks = 0
    with (
        tempfile.TemporaryDirectory(prefix="tandem-clicks-") as tmp,
        server("fake") as fake_port,
        database(args.database_url, Path(tmp)) as url,
    ):
        workdir = Path(tmp)
        env = tandem_env(url, fake_port)
        fake = Fake(fake_port)
        with tandem_serve(env, workdir) as port:
            cards = setup(port, fake, builder, args.rounds, args.clicks, env, workdir)
            for r, card in enumerate(cards):
                chat = f"oc_clicks_{r}"
                requests = []
                for i in range(args.clicks):
                    value = {"command": f"/任务 #{i + 1} 完成"}
                    body, headers = builder.request(builder.card_event(chat, f"ou_owner_{i}", card, value))
                    requests.append(http_request(port, body, headers))
                answers = asyncio.run(press_together(port, requests))
                for i, (seconds, answer) in enumerate(answers):
                    latencies.append(seconds)
                    toast = answer.get("toast", {})
                    if "card" not in answer:
                        fallbacks += 1
                    elif toast.get("type") != "success" or f"#{i + 1}" not in toast.get("content", ""):
                        raise SystemExit(f"round {r + 1}, click {i + 1}: unexpected answer {answer}")
                times = [s for s, _ in answers]
                print(f"  round {r + 1}: p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms",
                      file=sys.stderr)
                time.sleep(1.0)  # let the round's replies and card updates go out before the next round
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"card clicks ({kind}, {args.rounds} rounds × {args.clicks} concurrent clicks on one prompt card):")
    print(f"  callback → answer p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms "
          f"(target p99 ≤ 1000 ms)")
    print(f"  answered with the in-time fallback instead of their own toast and card: {fallbacks} of {len(latencies)}")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()

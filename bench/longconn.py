"""Long connection vs webhook, side by side: Feishu events into one `tandem serve` both ways.

    python bench/longconn.py [--rounds 3] [--burst 400] [--replies 100] [--reply-rate 20] [--concurrency 32]

One `tandem serve` (a subprocess, file SQLite, `--no-scheduler`) with Feishu on in both receive modes:
the long connection (the default) and the webhook (Verification Token + Encrypt Key set). The fake
Feishu from tests/fakes (open API, long-connection endpoint and protobuf WebSocket) runs in this process,
so push, acknowledgement and reply times are read on one monotonic clock.

* frame → ack: `--burst` events as fast as they can be sent — over the long connection as DATA frames
  pushed back to back, over the webhook as signed, encrypted POSTs from `--concurrency` connections —
  and the time from sending each to its acknowledgement (the ack frame / the 200).
* event → reply: `--replies` events at `--reply-rate` a second, each to its own group (well inside the
  rate limits), and the time from sending each to its reply reaching the fake.

The transports take turns within each round (webhook first in odd rounds), so drift in a shared
machine's speed hits both alike. Reported: p50/p99 per transport, all rounds merged.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes.feishu import FeishuFake  # noqa: E402
from tests.fakes.server import ServerThread  # noqa: E402
from tests.platforms.serve_process import ServeProcess  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


class Bench:
    def __init__(self, fake: FeishuFake, server: ServeProcess, concurrency: int) -> None:
        self.fake, self.server, self.concurrency = fake, server, concurrency
        self.sent_at: dict[str, float] = {}  # message_id → when it was sent (either way)
        self.counter = 0

    def event(self, text: str = "/帮助") -> dict[str, object]:
        self.counter += 1  # every event gets one reply
        return self.fake.message_event(f"oc_bench{self.counter}", "ou_bench", text)

    # --- the two transports ---------------------------------------------------------------------

    def burst_ws(self, count: int) -> list[float]:
        connection = self.fake.ws.newest()
        keys = []
        for _ in range(count):
            keys.append(self.fake.ws.push(self.event(), connection=connection))
        return [(a := self.fake.ws.wait_ack(k, timeout=30)).at - a.pushed_at for k in keys]

    def burst_webhook(self, count: int) -> list[float]:
        requests = [self.fake.request(self.event()) for _ in range(count)]
        latencies: list[float] = []

        async def run() -> None:
            queue = list(requests)
            async with httpx.AsyncClient(base_url=self.server.url, timeout=30,
                                         limits=httpx.Limits(max_connections=self.concurrency)) as client:
                async def worker() -> None:
                    while queue:
                        body, headers = queue.pop()
                        started = time.monotonic()
                        response = await client.post("/webhook/feishu", content=body, headers=headers)
                        latencies.append(time.monotonic() - started)
                        assert response.status_code == 200, response.text

                await asyncio.gather(*(worker() for _ in range(self.concurrency)))

        asyncio.run(run())
        return latencies

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until every event sent so far has its reply (a burst leaves a backlog at 40 replies/s)."""
        deadline = time.monotonic() + timeout
        while len(self.fake.posted) < self.counter and time.monotonic() < deadline:
            time.sleep(0.05)

    def replies(self, count: int, rate: float, *, webhook: bool) -> list[float]:
        self.drain()
        sent: dict[str, float] = {}
        with httpx.Client(base_url=self.server.url, timeout=30) as client:
            start = time.monotonic()
            for index in range(count):
                time.sleep(max(0.0, start + index / rate - time.monotonic()))
                event = self.event()
                message_id = str(event["event"]["message"]["message_id"])  # type: ignore[index]
                if webhook:
                    body, headers = self.fake.request(event)
                    sent[message_id] = time.monotonic()
                    client.post("/webhook/feishu", content=body, headers=headers)
                else:
                    sent[message_id] = time.monotonic()
                    self.fake.ws.push(event)
        self.drain(60.0)
        return [p.at - sent[p.reply_to] for p in list(self.fake.posted) if p.reply_to in sent]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--burst", type=int, default=400, help="events per burst (frame → ack)")
    parser.add_argument("--concurrency", type=int, default=32, help="webhook connections in a burst")
    parser.add_argument("--replies", type=int, default=100, help="events per reply-latency run")
    parser.add_argument("--reply-rate", type=float, default=20.0)
    args = parser.parse_args()

    fake = FeishuFake()
    fake_server = ServerThread(fake.app, lifespan="off").start()
    fake.url = fake_server.url
    workdir = Path(tempfile.mkdtemp(prefix="tandem-bench-longconn-"))
    settings = {
        "TANDEM_DATABASE_URL": f"sqlite:///{workdir / 'tandem.db'}",
        "TANDEM_FEISHU_APP_ID": fake.app_id,
        "TANDEM_FEISHU_APP_SECRET": fake.app_secret,
        "TANDEM_FEISHU_VERIFICATION_TOKEN": fake.verification_token,
        "TANDEM_FEISHU_ENCRYPT_KEY": fake.encrypt_key or "",
        "TANDEM_FEISHU_BASE_URL": fake.url,
    }
    server = ServeProcess(workdir, settings, name="bench").start()
    fake.ws.newest(timeout=20)
    bench = Bench(fake, server, args.concurrency)
    results: dict[str, list[float]] = {"ack ws": [], "ack webhook": [], "reply ws": [], "reply webhook": []}
    try:
        bench.burst_ws(50)  # warm-up, both ways
        bench.burst_webhook(50)
        for round_number in range(args.rounds):
            order = (True, False) if round_number % 2 == 0 else (False, True)
            for webhook in order:
                name = "webhook" if webhook else "ws"
                bench.drain()  # the previous backlog first
                results[f"ack {name}"] += bench.burst_webhook(args.burst) if webhook else bench.burst_ws(args.burst)
                results[f"reply {name}"] += bench.replies(args.replies, args.reply_rate, webhook=webhook)
            print(f"round {round_number + 1} done", file=sys.stderr)
    finally:
        server.stop()
        fake_server.stop()
    print(f"{'measure':<16}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, values in results.items():
        ms = [v * 1000 for v in values]
        mean = statistics.fmean(ms) if ms else 0.0
        print(f"{name:<16}{len(ms):>6}{percentile(ms, 50):>10.1f}{percentile(ms, 99):>10.1f}{mean:>10.1f}")


if __name__ == "__main__":
    main()

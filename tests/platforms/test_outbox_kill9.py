"""kill -9 while the outbox sender is delivering to DingTalk, whose robot API has no idempotency key:
after a restart every message is delivered, and the only repeats are messages whose send was in
flight at the kill (reached DingTalk, outcome not yet written), at most the sender's concurrency."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from bot.db import make_engine, upgrade_database
from models import OutboundStatus
from tests.fakes.dingtalk import DingTalkFake
from tests.platforms.conftest import wait_until
from tests.platforms.serve_process import ServeProcess, count_outbox, insert_outbox, sent_texts

CONCURRENCY = 16  # OutboxSender's default: sends in flight at once
CHATS = [f"cidKill{i}" for i in range(10)]
PER_CHAT = 12


def test_kill_9_repeats_only_the_sends_in_flight(tmp_path: Path, dingtalk: DingTalkFake) -> None:
    url = f"sqlite:///{tmp_path / 'tandem.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    messages = [(chat, f"{chat} 第 {i} 条") for i in range(PER_CHAT) for chat in CHATS]
    insert_outbox(engine, "dingtalk", messages)
    settings = {
        "TANDEM_OUTBOX_LEASE_SECONDS": "3",  # a dead process's messages and chats free sooner
        "TANDEM_DATABASE_URL": url,
        "TANDEM_DINGTALK_CLIENT_ID": dingtalk.client_id,
        "TANDEM_DINGTALK_CLIENT_SECRET": dingtalk.client_secret,
        "TANDEM_DINGTALK_BASE_URL": dingtalk.base_url,
    }
    server = ServeProcess(tmp_path, settings)
    try:
        server.start()
        dingtalk.wait_for(len(messages) // 3, timeout=20)
        server.kill()
        time.sleep(0.3)  # requests that reached the fake before the kill finish being recorded there
        before_kill = [s.text for s in dingtalk.sent]
        unrecorded = set(before_kill) - sent_texts(engine)  # sent, outcome not written: these may repeat
        server.start()
        wait_until(lambda: count_outbox(engine, OutboundStatus.PENDING) == 0, timeout=30)
    finally:
        server.stop()
        engine.dispose()
    delivered = Counter(s.text for s in dingtalk.sent)
    repeated = {text for text, n in delivered.items() if n > 1}
    print(
        f"kill -9 after {len(before_kill)} of {len(messages)} sends: {len(unrecorded)} sent but unrecorded, "
        f"{sum(delivered.values()) - len(delivered)} delivered twice"
    )
    assert set(delivered) == {text for _, text in messages}  # nothing lost
    assert repeated <= unrecorded and max(delivered.values()) <= 2
    assert len(unrecorded) <= CONCURRENCY
    for chat in CHATS:  # each group's messages in order (a repeat comes right after its first delivery)
        order = list(dict.fromkeys(s.text for s in dingtalk.sent if s.conversation_id == chat))
        assert order == [text for c, text in messages if c == chat]

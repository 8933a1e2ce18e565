"""The long connections' pure parts: the Feishu frame codec against the SDK's own generated protobuf
class, ClientConfig updates, and the connection status (states, times, one log line per change)."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest
from lark_oapi.ws.pb.pbbp2_pb2 import Frame as SdkFrame

from bot.platforms import receiving
from bot.platforms.feishu.frames import DATA, Frame, FrameError, decode, encode
from bot.platforms.feishu.longconn import ClientConfig
from bot.platforms.receiving import ConnectionStatus, LongConnection


def sdk_frame(**values: object) -> SdkFrame:
    headers = values.pop("headers", [])
    frame = SdkFrame(**values)
    for key, value in headers:  # type: ignore[attr-defined]
        frame.headers.add(key=key, value=value)
    return frame


@pytest.mark.parametrize("service", [0, 1, 33554678, -5, 2**31 - 1])
def test_frames_decode_what_the_sdk_encodes_and_back(service: int) -> None:
    original = sdk_frame(
        SeqID=2**40 + 3, LogID=99, service=service, method=1, headers=[("type", "event"), ("message_id", "m-消息")],
        payload="{\"text\": \"你好\"}".encode(), payload_type="json", LogIDNew="log-1",
    )
    mine = decode(original.SerializeToString())
    assert (mine.seq_id, mine.log_id, mine.service, mine.method) == (2**40 + 3, 99, service, DATA)
    assert mine.header("message_id") == "m-消息" and mine.payload == original.payload and mine.payload_type == "json"
    again = SdkFrame()
    again.ParseFromString(encode(mine))
    assert again == original


def test_the_ack_is_the_same_frame_with_a_new_payload_and_extra_header() -> None:
    raw = sdk_frame(SeqID=7, LogID=8, service=9, method=1, headers=[("type", "event")], payload=b"x").SerializeToString()
    pushed = decode(raw)
    ack = SdkFrame()
    ack.ParseFromString(encode(pushed.answered(b'{"code":200}', biz_rt="4")))
    assert (ack.SeqID, ack.LogID, ack.service, ack.method) == (7, 8, 9, 1)
    assert [(h.key, h.value) for h in ack.headers] == [("type", "event"), ("biz_rt", "4")]
    assert ack.payload == b'{"code":200}'


def test_malformed_frames_raise_frame_error() -> None:
    good = encode(Frame(seq_id=1, headers=(("type", "ping"),), payload=b"abc"))
    for broken in (good[:-1], b"\x08", b"\x0f\x00", good + b"\x42\x05ab"):
        with pytest.raises(FrameError):
            decode(broken)


def test_client_config_takes_valid_numbers_only() -> None:
    config = ClientConfig()
    config.update({"ReconnectInterval": 5, "ReconnectNonce": 0, "PingInterval": "x", "ReconnectCount": -1})
    assert (config.reconnect_interval, config.reconnect_nonce, config.ping_interval, config.reconnect_count) == (5, 0, 120, -1)
    config.update({"ReconnectInterval": -3, "PingInterval": True})
    assert config.reconnect_interval == 5 and config.ping_interval == 120


def test_status_moves_and_logs_each_change_once(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.platforms.receiving")
    status = ConnectionStatus("feishu", "websocket")
    assert status.snapshot()["state"] == "connecting" and status.unavailable_for() >= 0
    status.lost("endpoint answered HTTP 502")
    status.lost("endpoint answered HTTP 502")
    assert status.snapshot()["state"] == "connecting"
    status.connected()
    assert status.unavailable_for() == 0 and status.snapshot()["state"] == "connected"
    for attempt in range(5):
        status.lost(f"attempt {attempt} failed")
    assert status.snapshot()["state"] == "reconnecting" and status.snapshot()["error"] == "attempt 4 failed"
    status.lost("credentials refused", fatal=True)
    assert status.state == "down"
    status.connected()
    changes = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert changes == [
        "feishu websocket: not connected yet: endpoint answered HTTP 502 (retrying)",
        "feishu websocket: connected",
        "feishu websocket: reconnecting: attempt 0 failed",
        "feishu websocket: down: credentials refused (still retrying)",
        "feishu websocket: connected",
    ]
    monkeypatch.setattr(receiving, "DOWN_AFTER", 0.0)
    status.lost("gone")
    assert status.snapshot()["state"] == "down"  # not connected for longer than the limit


async def test_connections_that_end_at_once_back_off_instead_of_reconnecting_at_once() -> None:
    """A server that accepts and closes straight away is retried with a growing back-off."""
    attempts: list[float] = []

    class ClosesAtOnce(LongConnection):
        BACKOFF_BASE = 0.05

        async def session(self) -> None:
            attempts.append(asyncio.get_running_loop().time())
            self.connected()

    receiver = ClosesAtOnce(ConnectionStatus("test", "stream"))
    receiver.start()
    await asyncio.sleep(0.6)
    await receiver.stop()
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert 3 <= len(attempts) <= 8  # not hundreds
    assert gaps[-1] > gaps[0]  # growing

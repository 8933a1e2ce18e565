"""Logs: one line per processed event and per sent or failed outbox row, with their ids; JSON lines when
asked; never the message text, a credential or a sessionWebhook's token (a message carrying a marker
and a configured secret is fed through, and the output is searched for both)."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from bot.config import Settings
from bot.dispatcher import Dispatcher
from bot.logs import REDACTED, Redactor, configure_logging, make_handler, secrets_of
from bot.messages import Incoming, Reply
from bot.platforms.console import console_incoming
from bot.runtime import Runtime
from models import InboundEvent, OutboundMessage
from tests.chat import FixedClock
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.platforms.conftest import Tandem, platform_settings, wait_until

MARKER = "MARKER-7f3a9c"


@pytest.fixture
def capture() -> Iterator[Callable[[str, Settings], io.StringIO]]:
    """Our handler on the root logger at INFO, writing into a buffer, as `tandem serve` would."""
    root = logging.getLogger()
    level = root.level
    installed: list[logging.Handler] = []

    def attach(log_format: str, settings: Settings) -> io.StringIO:
        buffer = io.StringIO()
        handler = make_handler(log_format, secrets=secrets_of(settings), stream=buffer)
        root.addHandler(handler)
        installed.append(handler)
        root.setLevel(logging.INFO)
        return buffer

    yield attach
    for handler in installed:
        root.removeHandler(handler)
    root.setLevel(level)


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def secret_values(settings: Settings) -> list[str]:
    values = secrets_of(settings)
    assert len(values) >= 4
    return values


def test_feishu_event_and_reply_lines_carry_ids_and_nothing_secret(
    make_tandem: Callable[..., Tandem], capture: Callable[[str, Settings], io.StringIO]
) -> None:
    tandem = make_tandem()
    settings = tandem.runtime.settings
    buffer = capture("json", settings)
    f = tandem.feishu
    pm = f.add_user("ou_pm", "王经理")
    assert tandem.feishu_say("oc_g1", pm, "/项目 创建 发布会").status_code == 200
    f.wait_for(1, chat_id="oc_g1")
    secret = settings.feishu_app_secret.get_secret_value() if settings.feishu_app_secret else ""
    assert tandem.feishu_say("oc_g1", pm, f"/任务 新增 {MARKER} {secret} 写稿").status_code == 200
    [_, answer] = f.wait_for(2, chat_id="oc_g1")
    assert MARKER in answer.text  # the text went all the way through …
    wait_until(lambda: buffer.getvalue().count('"outbox message sent"') == 2)

    output = buffer.getvalue()
    assert MARKER not in output  # … and never into the logs
    for value in secret_values(settings):
        assert value not in output
    records = json_lines(output)
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    with tandem.runtime.session_factory() as session:
        event = session.scalars(select(InboundEvent).order_by(InboundEvent.id.desc())).first()
        reply = session.scalars(select(OutboundMessage).where(OutboundMessage.origin == f"event:{event.id}")).one()
    [processed] = [r for r in records if r["message"] == "event processed" and r["event_id"] == event.id]
    assert processed == processed | {
        "level": "INFO",
        "logger": "bot.dispatcher",
        "platform": "feishu",
        "chat_id": "oc_g1",
        "event_key": event.event_key,
        "outbox_id": reply.id,
    }
    [sent] = [r for r in records if r["message"] == "outbox message sent" and r["outbox_id"] == reply.id]
    assert sent == sent | {"platform": "feishu", "chat_id": "oc_g1", "attempt": 1, "outcome": "sent"}


def test_a_failed_send_is_one_line_with_its_outcome_and_code(
    make_tandem: Callable[..., Tandem], capture: Callable[[str, Settings], io.StringIO]
) -> None:
    tandem = make_tandem()
    buffer = capture("json", tandem.runtime.settings)
    f = tandem.feishu
    f.fail_next("500", "230002", "230002")
    assert tandem.feishu_say("oc_g1", f.add_user("ou_pm", "王经理"), f"/帮助 {MARKER}").status_code == 200
    wait_until(lambda: '"outcome": "failed"' in buffer.getvalue())
    records = [r for r in json_lines(buffer.getvalue()) if r.get("outbox_id") and r["logger"] == "bot.delivery"]
    assert [(r["level"], r["attempt"], r["outcome"], r["code"]) for r in records] == [
        ("WARNING", 1, "retry", "1500"),
        ("ERROR", 2, "failed", "230002"),
    ]
    assert MARKER not in buffer.getvalue()


def test_dingtalk_session_webhook_tokens_stay_out_of_the_logs(
    make_tandem: Callable[..., Tandem], capture: Callable[[str, Settings], io.StringIO]
) -> None:
    tandem = make_tandem()
    buffer = capture("text", tandem.runtime.settings)
    logging.getLogger("httpx").setLevel(logging.INFO)  # the worst case: a library logging every URL
    try:
        assert tandem.dingtalk_say("cidG1", "staff_pm", f"/帮助 {MARKER}").status_code == 200
        tandem.dingtalk.wait_for(1, conversation_id="cidG1")
        wait_until(lambda: "outbox message sent" in buffer.getvalue())
    finally:
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    with tandem.runtime.session_factory() as session:
        session_url = session.scalars(select(OutboundMessage.reply_to)).one()
    [session_token] = parse_qs(urlsplit(session_url).query)["session"]
    output = buffer.getvalue()
    assert "sendBySession?session=***" in output  # httpx's line, redacted
    assert session_token not in output and MARKER not in output
    [line] = [line for line in output.splitlines() if "event processed" in line]
    assert "platform=dingtalk chat_id=cidG1" in line and "event_id=" in line and "outbox_id=" in line


def test_database_errors_do_not_carry_message_text_into_logs_or_the_inbox(
    runtime: Runtime, clock: FixedClock, capture: Callable[[str, Settings], io.StringIO]
) -> None:
    """A failing statement's parameters (the message, a sessionWebhook) used to be in its error text."""
    buffer = capture("text", runtime.settings)

    def handle(session: Session, incoming: Incoming) -> tuple[Reply | None, int | None]:
        session.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": incoming.text})
        return None, None

    dispatcher = Dispatcher(runtime.session_factory, handle, clock=clock)
    [event_id] = dispatcher.accept([console_incoming(f"/帮助 {MARKER}", chat_id="g1", user_id="u", name="u", at=clock())])
    dispatcher.process(event_id)
    output = buffer.getvalue()
    assert "processing event" in output and "no_such_table" in output  # the failure is logged, with its SQL
    assert MARKER not in output
    with runtime.session_factory() as session:
        error = session.get(InboundEvent, event_id).error  # type: ignore[union-attr]
    assert error and "no_such_table" in error and MARKER not in error


def test_the_redactor_removes_secrets_tokens_and_bearer_credentials() -> None:
    redact = Redactor(["app-secret-1", 'quote"secret', "abc"])
    line = 'POST https://oapi.dingtalk.com/robot/sendBySession?session=s3ss10n&x=1 app-secret-1 {"k": "quote\\"secret"}'
    expected = f'POST https://oapi.dingtalk.com/robot/sendBySession?session={REDACTED}&x=1 {REDACTED} {{"k": "{REDACTED}"}}'
    assert redact(line) == expected
    assert redact("Authorization: Bearer t-g1044abcdefgh") == f"Authorization: Bearer {REDACTED}"
    assert redact("abc is too short to be a secret") == "abc is too short to be a secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_tandem_serve_writes_json_lines_when_asked(
    database_url: str, engine: Engine, feishu: FeishuFake, dingtalk: DingTalkFake, tmp_path: Path
) -> None:
    """The real command: every stderr line is a JSON object (uvicorn's too), with the ids, without secrets."""
    settings = platform_settings(database_url, feishu, dingtalk)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    env.update(
        TANDEM_DATABASE_URL=database_url,
        TANDEM_LOG_FORMAT="json",
        TANDEM_FEISHU_APP_ID=feishu.app_id,
        TANDEM_FEISHU_APP_SECRET=feishu.app_secret,
        TANDEM_FEISHU_VERIFICATION_TOKEN=feishu.verification_token,
        TANDEM_FEISHU_ENCRYPT_KEY=feishu.encrypt_key or "",
        TANDEM_FEISHU_BASE_URL=feishu.url,
        TANDEM_DINGTALK_CLIENT_ID=dingtalk.client_id,
        TANDEM_DINGTALK_CLIENT_SECRET=dingtalk.client_secret,
        TANDEM_DINGTALK_BASE_URL=dingtalk.base_url,
    )
    port = _free_port()
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-c", "from bot.cli import main; main()", "serve", "--port", str(port), "--no-scheduler"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            wait_until(lambda: _healthy(http), timeout=20)
            body, headers = feishu.request(feishu.message_event("oc_g1", feishu.add_user("ou_pm", "王经理"), f"/帮助 {MARKER}"))
            assert http.post("/webhook/feishu", content=body, headers=headers).status_code == 200
            body, headers = dingtalk.request(dingtalk.message("cidG1", "staff_pm", f"/帮助 {MARKER}"))
            assert http.post("/webhook/dingtalk", content=body, headers=headers).status_code == 200
            feishu.wait_for(1, chat_id="oc_g1")
            dingtalk.wait_for(1, conversation_id="cidG1")
            wait_until(lambda: stderr_path.read_text().count("outbox message sent") == 2)
    finally:
        process.terminate()
        process.wait(timeout=15)
    output = stderr_path.read_text()
    records = json_lines(output)  # raises if any line is not JSON
    messages = [r["message"] for r in records]
    assert any(m.startswith("Uvicorn running on") for m in messages)
    processed = {r["platform"]: r for r in records if r["message"] == "event processed"}
    assert set(processed) == {"feishu", "dingtalk"} and all(r["outbox_id"] for r in processed.values())
    assert MARKER not in output and "[Lark]" not in output and "HTTP Request" not in output
    for value in secret_values(settings):
        assert value not in output
    assert "session=" not in output


def _healthy(http: httpx.Client) -> bool:
    try:
        return http.get("/healthz").status_code == 200
    except httpx.TransportError:
        time.sleep(0.05)
        return False


@contextmanager
def bare_root() -> Iterator[logging.Logger]:
    """The root logger as a fresh `tandem` process has it: pytest's handlers (added for each phase, so
    this runs inside the test) set aside, then everything put back."""
    root, lark, httpx_logger = logging.getLogger(), logging.getLogger("Lark"), logging.getLogger("httpx")
    saved = (list(root.handlers), root.level, list(lark.handlers), lark.propagate, httpx_logger.level)
    root.handlers[:] = []
    try:
        yield root
    finally:
        root.handlers[:], lark.handlers[:] = saved[0], saved[2]
        root.setLevel(saved[1])
        lark.propagate = saved[3]
        httpx_logger.setLevel(saved[4])


def test_configure_logging_is_the_one_setup() -> None:
    settings = Settings(_env_file=None, log_format="json", feishu_app_secret="the-app-secret")  # type: ignore[call-arg]
    lark = logging.getLogger("Lark")
    sdk_handler = logging.StreamHandler(io.StringIO())
    buffer = io.StringIO()
    with bare_root() as root:
        lark.addHandler(sdk_handler)  # what importing lark-oapi does
        assert configure_logging(settings, command="serve", stream=buffer) is not None
        assert configure_logging(settings, command="serve", stream=buffer) is not None  # again: replaces, never doubles
        assert len(root.handlers) == 1 and root.level == logging.INFO
        assert logging.getLogger("httpx").level == logging.WARNING
        assert sdk_handler not in lark.handlers and lark.propagate
        logging.getLogger("bot.test").info("hello the-app-secret", extra={"outbox_id": 3})
        lark.warning("from the SDK")

        configure_logging(settings, command="say", stream=buffer)
        assert root.level == logging.WARNING  # `tandem say` prints its replies; INFO lines would clutter them

        root.addHandler(logging.NullHandler())  # someone else's logging (an embedding app, pytest)
        assert configure_logging(settings, command="serve", stream=buffer) is None
    [ours, sdk] = json_lines(buffer.getvalue())
    assert ours["message"] == f"hello {REDACTED}" and ours["outbox_id"] == 3 and sdk["logger"] == "Lark"

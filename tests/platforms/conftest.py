"""Fixtures for the platform tests: fake Feishu and DingTalk servers, and the real app served over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from bot import outbox_retry
from bot.app import create_app
from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from models import InboundEvent, InboundStatus, OutboundMessage, OutboundStatus
from tests.fakes.dingtalk import DingTalkFake
from tests.fakes.feishu import FeishuFake
from tests.fakes.server import ServerThread, serve


@pytest.fixture(scope="session")
def _feishu_server() -> Iterator[FeishuFake]:
    fake = FeishuFake()
    with serve(fake.app, lifespan="off") as server:
        fake.url = server.url
        yield fake


@pytest.fixture(scope="session")
def _dingtalk_server() -> Iterator[DingTalkFake]:
    fake = DingTalkFake()
    with serve(fake.app, lifespan="off") as server:
        fake.base_url = server.url
        yield fake


@pytest.fixture
def feishu(_feishu_server: FeishuFake) -> FeishuFake:
    _feishu_server.reset()
    return _feishu_server


@pytest.fixture
def dingtalk(_dingtalk_server: DingTalkFake) -> DingTalkFake:
    _dingtalk_server.reset()
    return _dingtalk_server


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries after server errors come after tens of milliseconds instead of seconds (same code path)."""
    monkeypatch.setattr(outbox_retry, "BACKOFF_BASE", 0.05)


def platform_settings(database_url: str, feishu: FeishuFake, dingtalk: DingTalkFake, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "feishu_app_id": feishu.app_id,
        "feishu_app_secret": feishu.app_secret,
        "feishu_verification_token": feishu.verification_token,
        "feishu_encrypt_key": feishu.encrypt_key,
        "feishu_base_url": feishu.url,
        "dingtalk_client_id": dingtalk.client_id,
        "dingtalk_client_secret": dingtalk.client_secret,
        "dingtalk_base_url": dingtalk.base_url,
        "dingtalk_oapi_url": dingtalk.base_url,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Tandem:
    """The running app (uvicorn on 127.0.0.1) and helpers to talk to it the way the platforms do."""

    url: str
    http: httpx.Client
    runtime: Runtime
    feishu: FeishuFake
    dingtalk: DingTalkFake
    server: ServerThread | None = None

    def platform(self, name: str) -> Any:
        """The running app's platform object (its long-connection receiver, for the tests that need it)."""
        assert self.server is not None
        return self.server.server.config.app.state.platforms.get(name)

    def post_feishu(self, payload: dict[str, Any], path: str = "/webhook/feishu", **kw: Any) -> httpx.Response:
        body, headers = self.feishu.request(payload, **kw)
        return self.http.post(path, content=body, headers=headers)

    def feishu_say(self, chat: str, sender: str, text: str, **kw: Any) -> httpx.Response:
        return self.post_feishu(self.feishu.message_event(chat, sender, text, **kw))

    def post_dingtalk(self, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        body, headers = self.dingtalk.request(payload, **kw)
        return self.http.post("/webhook/dingtalk", content=body, headers=headers)

    def dingtalk_say(self, conversation: str, sender: str, text: str, **kw: Any) -> httpx.Response:
        return self.post_dingtalk(self.dingtalk.message(conversation, sender, text, **kw))

    def count(self, model: Any, *where: Any) -> int:
        with self.runtime.session_factory() as session:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every inbox event is processed and no outbox message is due now."""
        wait_until(
            lambda: (
                self.count(InboundEvent, InboundEvent.status == InboundStatus.PENDING) == 0
                and self.count(OutboundMessage, OutboundMessage.status == OutboundStatus.PENDING) == 0
            ),
            timeout=timeout,
        )


def wait_until(condition: Callable[[], bool], *, timeout: float = 10.0, interval: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


@pytest.fixture
def make_tandem(database_url: str, engine: Engine, feishu: FeishuFake, dingtalk: DingTalkFake) -> Iterator[Callable[..., Tandem]]:
    servers: list[ServerThread] = []
    clients: list[httpx.Client] = []

    def start(**overrides: Any) -> Tandem:
        settings = platform_settings(database_url, feishu, dingtalk, **overrides)
        runtime = build_runtime(settings, engine=engine)
        server = ServerThread(create_app(settings, runtime=runtime)).start()
        servers.append(server)
        client = httpx.Client(base_url=server.url, timeout=10)
        clients.append(client)
        return Tandem(server.url, client, runtime, feishu, dingtalk, server)

    yield start
    for client in clients:
        client.close()
    for server in servers:
        server.stop()


@pytest.fixture
def tandem(make_tandem: Callable[..., Tandem]) -> Tandem:
    return make_tandem()


@pytest.fixture
def carded(make_tandem: Callable[..., Tandem]) -> Tandem:
    """DingTalk with a card template (replies with buttons go as advanced cards), over Stream."""
    tandem = make_tandem(dingtalk_card_template_id="tandem-prompt.schema")
    tandem.dingtalk.stream.newest()
    return tandem

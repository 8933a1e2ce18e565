"""Settings: one home for configuration (environment or `.env`, prefix `TANDEM_`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

FEISHU_OPEN_API = "https://open.feishu.cn"
DINGTALK_OPEN_API = "https://api.dingtalk.com"
DINGTALK_OAPI = "https://oapi.dingtalk.com"  # the old API host: media uploads


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TANDEM_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./tandem.db"
    timezone: str = "Asia/Shanghai"
    scheduler_grace_minutes: int = 60  # a slot missed while down is made up within this, later skipped
    # Reminders (@ a person about a task or action item due or overdue) per person and local day across all
    # their projects; the rest are listed in their next daily prompt. 0: no cap.
    reminder_daily_cap: int = Field(default=5, ge=0)
    # How long an outbox sender's hold on a message and its chat lasts unrenewed (renewed every second
    # while it works): a replica that dies has its chats taken over after this.
    outbox_lease_seconds: float = Field(default=8.0, ge=2.0)

    # Retention (bot/retention.py). Inbox events must outlive the platforms' redelivery (Feishu: ~7.1 h),
    # or a late redelivery would be processed twice; slots must outlive the scheduler's look-back (a day).
    retention_inbox_hours: int = Field(default=72, ge=8)
    retention_outbox_days: int = Field(default=30, ge=1)
    retention_job_run_days: int = Field(default=90, ge=3)
    retention_interval_minutes: float = Field(default=60.0, ge=0)  # how often `tandem serve` prunes; 0: never

    feishu_app_id: str | None = None
    feishu_app_secret: SecretStr | None = None
    feishu_verification_token: SecretStr | None = None
    feishu_encrypt_key: SecretStr | None = None
    feishu_base_url: str = FEISHU_OPEN_API
    # websocket: the long connection (no public URL; only the app id and secret). The webhook stays on
    # whenever its Verification Token or Encrypt Key is set, whatever the mode.
    feishu_mode: Literal["websocket", "webhook"] = "websocket"

    dingtalk_client_id: str | None = None
    dingtalk_client_secret: SecretStr | None = None
    dingtalk_base_url: str = DINGTALK_OPEN_API
    # stream: Stream mode (no public URL). The webhook (verified with the app secret) is on in either mode.
    dingtalk_mode: Literal["stream", "webhook"] = "stream"
    dingtalk_oapi_url: str = DINGTALK_OAPI
    dingtalk_corp_id: str | None = None  # when set, callbacks must come from this organisation (chatbotCorpId)
    # Advanced interactive cards (issue 11): the published template (deploy/dingtalk/prompt-card-template.json)
    # that replies with buttons are sent as; unset: markdown with the commands to type. Card callbacks come
    # over Stream unless a callback route is registered (POST /v1.0/card/callbacks/register) under this key
    # and secret: then over HTTP to /webhook/dingtalk/card, verified with x-ddpaas-signature.
    dingtalk_card_template_id: str | None = None
    dingtalk_card_callback_route_key: str | None = None
    dingtalk_card_callback_secret: SecretStr | None = None

    metrics_enabled: bool = False  # GET /metrics answers 404 unless on
    metrics_token: SecretStr | None = None  # when set, /metrics wants `Authorization: Bearer <token>`
    log_format: Literal["text", "json"] = "text"

    # The read-only dashboard (bot/dashboard): links are `<public_url>/dashboard/<project>/<token>`, signed
    # with `secret_key` (unset: a key generated once and kept in the database), valid for `dashboard_link_days`.
    public_url: str = "http://127.0.0.1:8000"
    secret_key: SecretStr | None = None
    dashboard_link_days: float = Field(default=7.0, gt=0)

    @property
    def feishu_enabled(self) -> bool:
        return bool(self.feishu_app_id and self.feishu_app_secret)

    @property
    def dingtalk_enabled(self) -> bool:
        return bool(self.dingtalk_client_id and self.dingtalk_client_secret)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def secret_value(value: SecretStr | None) -> str | None:
    """A secret setting's text, or None when it is unset or empty."""
    text = value.get_secret_value() if value is not None else None
    return text or None

"""Dashboard links: `<TANDEM_PUBLIC_URL>/dashboard/<project id>/<token>`, the token an itsdangerous signature
over (project id, link generation) with its time, so a link is checked without any table of links.

The signing key is `TANDEM_SECRET_KEY`, or one generated once and kept in the database (`app_secret`).
A link stops working when it expires (`TANDEM_DASHBOARD_LINK_DAYS`), when `/看板 重置` moves the
project's `dashboard_generation` on, or when it names another project than the one in its path.
Times come from the caller (the message's own time when signing, the app's clock when checking).
"""

from __future__ import annotations

import hmac
import threading
from datetime import datetime, timedelta
from typing import Any

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Settings, secret_value
from models import AppSecret, Project, get_or_create_secret
from models.secrets import DASHBOARD_SIGNING_KEY

SALT = "tandem.dashboard.v1"


class _ClockedSigner(TimestampSigner):
    """A TimestampSigner that reads the time it is given instead of the wall clock."""

    def __init__(self, *args: Any, moment: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._moment = moment

    def get_timestamp(self) -> int:
        return int(self._moment.timestamp())


class DashboardLinks:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.public_url.rstrip("/")
        self.valid_for = timedelta(days=settings.dashboard_link_days)
        self._configured = secret_value(settings.secret_key)
        self._secret: str | None = self._configured
        self._lock = threading.Lock()

    def ensure_secret(self, session: Session, now: datetime) -> str:
        """The signing key (generated and stored on first use when none is configured)."""
        with self._lock:
            if self._secret is None:
                self._secret = get_or_create_secret(session, name=DASHBOARD_SIGNING_KEY, now=now)
            return self._secret

    def _known_secret(self, session: Session) -> str | None:
        """The key if one exists; checking a link never creates one (no key: no link can be valid)."""
        with self._lock:
            if self._secret is None:
                self._secret = session.scalar(select(AppSecret.value).where(AppSecret.name == DASHBOARD_SIGNING_KEY))
            return self._secret

    def _serializer(self, secret: str, moment: datetime) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(secret, salt=SALT, signer=_ClockedSigner, signer_kwargs={"moment": moment})

    def link(self, session: Session, project: Project, issued_at: datetime) -> str:
        token = self._serializer(self.ensure_secret(session, issued_at), issued_at).dumps(
            {"p": project.id, "g": project.dashboard_generation}
        )
        return f"{self.base_url}/dashboard/{project.id}/{token}"

    def expires_at(self, issued_at: datetime) -> datetime:
        return issued_at + self.valid_for

    def project_for(self, session: Session, project_id: int, token: str, now: datetime) -> Project | None:
        """The project a link opens, or None: tampered, expired, revoked, or for another project."""
        secret = self._known_secret(session)
        if secret is None:
            return None
        serializer = self._serializer(secret, now)
        try:
            data = serializer.loads(token, max_age=int(self.valid_for.total_seconds()))
        except BadData:
            return None
        # base64 leaves the last character's low bits unused: a signature spelled differently that decodes to
        # the same bytes passes `loads`. Only the one canonical spelling of a link opens it.
        value, _, signature = token.rpartition(".")
        if not hmac.compare_digest(serializer.make_signer(SALT).get_signature(value), signature.encode()):
            return None
        if not isinstance(data, dict) or data.get("p") != project_id or not isinstance(data.get("g"), int):
            return None
        project = session.get(Project, project_id)
        if project is None or project.dashboard_generation != data["g"]:
            return None
        return project

"""/healthz answers 503 (not a 500 with a traceback) while the database does not answer, and 200 again after."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from tests.platforms.conftest import Tandem


def test_healthz_is_503_while_the_database_does_not_answer(tandem: Tandem, monkeypatch: pytest.MonkeyPatch) -> None:
    assert tandem.http.get("/healthz").status_code == 200

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with monkeypatch.context() as patch:
        patch.setattr(tandem.runtime.engine, "connect", unreachable)
        response = tandem.http.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "down", "database": "unreachable"}
    assert tandem.http.get("/healthz").status_code == 200

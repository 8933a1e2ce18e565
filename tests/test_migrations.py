"""The migrations and the models describe the same schema, on the backend the suite runs on."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from models import Base


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    # `engine` is the suite's database, upgraded to head by the Alembic migrations (tests/conftest.py).
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "migrations and models differ; add a revision:\n" + "\n".join(map(str, differences))

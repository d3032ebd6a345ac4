"""What the commands share: the database's sessions (one engine, disposed on exit) and Prefect
pointed at the project's own server."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from forecaster.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker


@contextlib.contextmanager
def open_sessions(settings: Settings, *, migrate: bool = False) -> Iterator[sessionmaker[Session]]:
    """A session factory on the settings' database, its engine disposed on exit.

    The schema is brought to head first: `migrate` runs the migrations (a command that writes);
    otherwise a read checks the revision in one query and migrates only an old schema.
    """
    from forecaster.db.session import Database, ensure_schema, upgrade

    (upgrade if migrate else ensure_schema)(settings.database_url)
    with Database(settings.database_url) as db:
        yield db.sessions


def quiet_prefect(settings: Settings) -> None:
    """Offline Prefect in the project's own home, on the project's server when one is up
    (flows.server): a flow command then pays no server start-up."""
    from flows.server import use_running_server

    use_running_server(settings.data_dir)

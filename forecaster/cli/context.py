"""What the commands share: the database's sessions (one engine, disposed on exit) and Prefect
pointed at the project's own server."""

from __future__ import annotations

import contextlib
import sys
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
    (flows.server): a flow command then pays no server start-up. Otherwise the command starts
    a server of its own and waits for it as long as it is starting: Prefect's temporary server
    gives up after a fixed time, and a retrain under CPU load died of it."""
    from flows.server import command_server, use_running_server

    if use_running_server(settings.data_dir) is None and not _prefect_configured():
        command_server(settings.data_dir)


def _prefect_configured() -> bool:
    """Whether Prefect, already loaded here, names an API (a test harness's server)."""
    if "prefect.settings" not in sys.modules:
        return False
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())

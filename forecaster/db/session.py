"""Engines and sessions: the one module that creates them (never at import time)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:  # Alembic is imported only to migrate: a read finds the schema current
    from alembic.config import Config

logger = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"', re.M)
_DOWN = re.compile(r'^down_revision(?:: [^=]+)? = "([^"]+)"', re.M)
_STORED_REVISION = text("SELECT version_num FROM alembic_version")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """One database: its engine, the session factory bound to it, and their disposal.

    `Database(url)` builds the engine (a connection pool; SQLite files get their pragmas) and
    `.sessions` makes sessions on it; `.dispose()`, or leaving `with Database(url) as db:`,
    closes the pool's connections. `Database(engine)` adopts an engine built elsewhere.
    """

    def __init__(self, url: str | Engine) -> None:
        self.engine: Engine = make_engine(url) if isinstance(url, str) else url
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        """Close the pool's connections (a later session opens new ones)."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.dispose()


def transaction(
    sessions: sessionmaker[Session], work: Callable[[Session], T], *, retry_s: float | None = None
) -> T:
    """`work(session)` in one transaction, run again from the start when the database dropped the
    connection under it (a restart, a failover: `connection_invalidated`), for up to `retry_s`
    seconds (FORECASTER_DB_RETRY_S). For the writes that end long work (a candidate's
    registration after minutes of training, a series' commit, closing a run): the rolled-back
    transaction is redone whole, never half. New connections wait on their own (the flows'
    engines: flows.common.wait_for_connections); other errors are raised at once."""
    if retry_s is None:
        from forecaster.config import get_settings

        retry_s = get_settings().db_retry_s
    deadline = time.monotonic() + retry_s
    while True:
        try:
            with sessions.begin() as session:
                return work(session)
        except DBAPIError as exc:
            if not exc.connection_invalidated or time.monotonic() >= deadline:
                raise
            logger.warning("database connection lost mid-transaction; running it again")
            time.sleep(1.0)


def make_session_factory(url: str | Engine) -> sessionmaker[Session]:
    """`Database(url).sessions`, for callers that dispose `factory.kw["bind"]` themselves."""
    return Database(url).sessions


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# pg_advisory_lock key for migrations: any fixed 64-bit number, the same in every process.
MIGRATION_LOCK = 0x466F7265  # "Fore"


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema to `revision` (the only way the schema changes).

    On PostgreSQL the upgrade holds a session advisory lock, so processes that start together
    (an API and a worker) migrate one after the other: the second finds the schema current.
    SQLite serializes writers itself, and Alembic's DDL runs in one transaction there.
    """
    from alembic import command

    cfg = alembic_config(url)
    if not url.startswith("postgresql"):
        command.upgrade(cfg, revision)
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                conn.commit()
            finally:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
                conn.commit()
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _file_head() -> str | None:
    """The one revision no other revision builds on, read from the files' text (milliseconds;
    Alembic imports every revision). None when that is not exactly one."""
    revisions, downs = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text()
        revisions.update(_REVISION.findall(source))
        downs.update(_DOWN.findall(source))
    heads = revisions - downs
    return heads.pop() if len(heads) == 1 else None


def ensure_schema(url: str) -> None:
    """`upgrade(url)` unless the database is already at head: a CLI read then costs one query,
    not Alembic's import and environment."""
    head = _file_head()
    if head is not None:
        engine = create_engine(url, poolclass=NullPool)
        try:
            with engine.connect() as conn:
                stored = conn.execute(_STORED_REVISION).scalar()
        except DBAPIError:
            stored = None  # no database or no schema yet
        finally:
            engine.dispose()
        if stored == head:
            return
    upgrade(url)


def schema_revision(*, engine: Engine) -> str | None:
    """The Alembic revision stored in the database (None: never migrated); raises when the
    database cannot be reached. A tenth of the cost of Alembic's MigrationContext, so /health
    can afford it on every call."""
    with engine.connect() as conn:
        try:
            return conn.execute(_STORED_REVISION).scalar()
        except DBAPIError:
            return None  # no alembic_version table

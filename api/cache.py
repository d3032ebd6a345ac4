"""The API's caches, in memory on app.state, keyed so that they never go stale, and their one
owner, ForecastCaches (app.state.caches), with one invalidate(...).

A forecast body's key is (model version id, its status, the series' data revision, horizon,
level): every ingest that writes rows moves the revision and a promotion changes the champion's
id or status, so new data or a new champion simply leads to a different key; old entries age
out of the LRU.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session, sessionmaker

from forecaster.app.catalog import list_versions
from forecaster.app.model_cache import ModelCache

logger = logging.getLogger(__name__)

ForecastKey = tuple[Hashable, ...]
T = TypeVar("T")


class ForecastCache:
    """Thread-safe LRU (sync routes run on a thread pool); a miss is computed once per key."""

    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._bodies: OrderedDict[ForecastKey, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[ForecastKey, threading.Lock] = {}

    def get(self, key: ForecastKey) -> bytes | None:
        with self._lock:
            body = self._bodies.get(key)
            if body is not None:
                self._bodies.move_to_end(key)
            return body

    def get_or_compute(self, key: ForecastKey, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The body cached under `key`, or `compute()` it once; returns (body, was_hit).

        Concurrent misses on one key wait for the first instead of each running the model.
        """
        body = self.get(key)
        if body is not None:
            return body, True
        with self._lock:
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            body = self.get(key)
            if body is not None:
                return body, True
            try:
                body = compute()
                with self._lock:
                    self._bodies[key] = body
                    while len(self._bodies) > self.maxsize:
                        self._bodies.popitem(last=False)
            finally:
                with self._lock:
                    self._computing.pop(key, None)
            return body, False

    def evict_version(self, version_id: int) -> None:
        """Forget every body a version produced (its status changed: promotion, archive)."""
        with self._lock:
            for key in [k for k in self._bodies if k[0] == version_id]:
                del self._bodies[key]

    def clear(self) -> None:
        with self._lock:
            self._bodies.clear()

    def __len__(self) -> int:
        return len(self._bodies)


class RevisionCache:
    """Facts about a series' stored data (its variables, a range's row count) that cost a scan,
    keyed by (series id, series.updated_at, ...): every ingest that writes rows moves updated_at,
    so an entry is never stale, only unused. Thread-safe LRU."""

    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._facts: OrderedDict[ForecastKey, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ForecastKey) -> Any:
        """The value cached under `key`, or None."""
        with self._lock:
            if key in self._facts:
                self._facts.move_to_end(key)
                return self._facts[key]
        return None

    def get_or_compute(self, key: ForecastKey, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._facts:
                self._facts.move_to_end(key)
                return cast(T, self._facts[key])
        value = compute()  # two concurrent misses may both compute: cheap next to a lock held
        with self._lock:
            self._facts[key] = value
            while len(self._facts) > self.maxsize:
                self._facts.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._facts)


class ForecastCaches:
    """The one owner of every forecast cache the API keeps, and their one `invalidate(...)`.

    - `memo`: request parameters -> (cache key, trusted until), so a hot forecast or accuracy
      read is answered on the event loop without a query (api/routers/forecasts.py, accuracy.py);
    - `bodies`: rendered forecast responses by (version id, status, data revision, horizon, level);
    - `models`: loaded models and their computed forecasts (forecaster.app.forecasts.ModelCache).

    Bodies and computed forecasts are keyed by what they are computed from, and the `forecast`
    table (the forecast flow's stored forecasts) by data end and revision, so new data or a new
    champion leads to new keys: only the memo and a demoted version's entries need forgetting.
    """

    def __init__(
        self, *, bodies: ForecastCache | None = None, models: ModelCache | None = None
    ) -> None:
        self.memo: dict[tuple[object, ...], tuple[tuple[object, ...], float]] = {}
        self.bodies = bodies or ForecastCache()
        self.models = models or ModelCache()

    def invalidate(self, *, series_key: str | None = None, version_id: int | None = None) -> None:
        """Forget what a change may have made stale: the memo's lookups (of `series_key`, or all
        when None: an in-process ingest, retrain or promotion changed the keys behind them) and,
        with `version_id`, that version's bodies and loaded model (a promotion archived it)."""
        if series_key is None:
            self.memo.clear()
        else:  # forecast reads remember (series, ...), accuracy reads ("accuracy", series, ...)
            for key in [k for k in self.memo if series_key in k[:2]]:
                del self.memo[key]
        if version_id is not None:
            self.bodies.evict_version(version_id)
            self.models.forget(version_id)

    def keep_champions(self, sessions: sessionmaker[Session]) -> None:
        """Keep exactly the champions loaded: at start-up and after each in-process retrain, so a
        forecast read never waits for a model to load (versions read by id load on first use)."""
        self.invalidate()
        with sessions.begin() as session:
            champions = list_versions(session=session, status="champion")
            for version in champions:
                try:
                    self.models.model(version)
                except Exception:  # noqa: BLE001 - one broken version must not stop the server
                    logger.exception("champion %d could not be loaded", version.id)
        for gone in set(self.models.loaded) - {v.id for v in champions}:
            self.invalidate(version_id=gone)  # archived by a promotion elsewhere: free its memory
        logger.info("champions loaded: %s", self.models.loaded)

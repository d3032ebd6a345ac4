"""Rendered forecast responses, in memory on app.state, keyed so that they never go stale.

The key is (model version id, its status, the series' updated_at, horizon, level): every ingest
that writes rows moves updated_at and a promotion changes the champion's id or status, so new
data or a new champion simply leads to a different key; old entries age out of the LRU. Loaded
models live beside it in forecaster.app.forecasts.ModelCache (app.state.models).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

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

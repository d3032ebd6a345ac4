"""Rendered forecast responses, in memory on app.state, keyed so that they never go stale.

The key is (model version id, its status, the series' updated_at, horizon, level): every ingest
that writes rows moves updated_at and a promotion changes the champion's id or status, so new
data or a new champion simply leads to a different key; old entries age out of the LRU. Loaded
models live beside it in forecaster.service.ModelCache (app.state.models).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

ForecastKey = tuple[Hashable, ...]


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

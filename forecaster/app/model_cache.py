"""Models kept loaded by version id, and the forecasts they computed: a read never reloads a
model nor reruns one for a request it has answered.

Importing this loads no torch: the model code is imported when a model is first loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from forecaster.db.models import ModelVersion

if TYPE_CHECKING:
    from forecaster.forecasting.predictor import Forecast, Predictor


class ModelCache:
    """Loaded models by version id, and computed forecasts by (version, data end, horizon, level).

    A forecast read never retrains or reloads a model; a promotion or new data changes the key.
    Thread-safe: sync FastAPI routes run in a thread pool.
    """

    def __init__(self, max_forecasts: int = 512) -> None:
        self._models: dict[int, Predictor] = {}
        self._forecasts: OrderedDict[tuple[Any, ...], Forecast] = OrderedDict()
        self._max = max_forecasts
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def model(self, version: ModelVersion) -> Predictor:
        with self._lock:
            found = self._models.get(version.id)
        if found is not None:
            return found
        from forecaster.db.versions import load_version  # torch: only when a model loads

        loaded = load_version(version)
        with self._lock:
            return self._models.setdefault(version.id, loaded)

    def forecast(self, key: tuple[Any, ...], compute: Callable[[], Forecast]) -> Forecast:
        with self._lock:
            found = self._forecasts.get(key)
            if found is not None:
                self._forecasts.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        result = compute()
        with self._lock:
            self._forecasts[key] = result
            while len(self._forecasts) > self._max:
                self._forecasts.popitem(last=False)
        return result

    def forget(self, version_id: int | None = None) -> None:
        """Drop a version (all when None): after a promotion the next read loads the champion anew."""
        with self._lock:
            if version_id is None:
                self._models.clear()
                self._forecasts.clear()
                return
            self._models.pop(version_id, None)
            for k in [k for k in self._forecasts if k[0] == version_id]:
                del self._forecasts[k]

    @property
    def loaded(self) -> list[int]:
        with self._lock:
            return sorted(self._models)

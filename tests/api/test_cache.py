"""The API's caches have one owner and one invalidate(...): what each call forgets."""

from __future__ import annotations

from api.cache import ForecastCaches


def _filled() -> ForecastCaches:
    caches = ForecastCaches()
    caches.memo[("AAPL", None, "champion", None, None)] = ((1, "champion", 3, None, None), 9.0)
    caches.memo[("accuracy", "AAPL", "recursive", None, None)] = (("AAPL",), 9.0)
    caches.memo[("IBM", None, "champion", None, None)] = ((2, "champion", 1, None, None), 9.0)
    for version_id in (1, 2):
        caches.bodies.get_or_compute((version_id, "champion", 1, None, None), lambda: b"{}")
    return caches


def test_invalidate_without_arguments_forgets_every_lookup_and_keeps_bodies() -> None:
    caches = _filled()
    caches.invalidate()
    assert caches.memo == {} and len(caches.bodies) == 2


def test_invalidate_a_series_and_version_forgets_their_lookups_and_bodies_only() -> None:
    caches = _filled()
    caches.invalidate(series_key="AAPL", version_id=1)
    assert list(caches.memo) == [("IBM", None, "champion", None, None)]
    assert caches.bodies.get((1, "champion", 1, None, None)) is None
    assert caches.bodies.get((2, "champion", 1, None, None)) == b"{}"

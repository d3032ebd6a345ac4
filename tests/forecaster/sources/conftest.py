"""Fixtures for the source tests: fakes at the network seams, serving real recorded data."""

from tests.fixtures.meteostat import fake_meteostat
from tests.fixtures.yahoo import fake_yahoo

__all__ = ["fake_meteostat", "fake_yahoo"]

"""Training's defaults, decided before any model trains: which variables are targets and
inputs, how many backtest origins, a spec completed for a series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.app.training import (
    backtest_origins,
    complete_spec,
    default_inputs,
    default_targets,
)
from forecaster.db.models import Series
from forecaster.errors import InvalidRequest
from forecaster.spec import ModelSpec


def _frame(columns: dict[str, float]) -> pd.DataFrame:
    """20 rows; each column observed on the given share of them."""
    data = {}
    for name, observed in columns.items():
        values = np.arange(20.0)
        values[int(20 * observed) :] = np.nan
        data[name] = values
    return pd.DataFrame(data)


@pytest.mark.parametrize(
    ("columns", "targets"),
    [
        (["open", "close", "volume"], ("close",)),
        (["tmin", "tmax", "prcp"], ("tmax",)),
        (["tavg", "temp"], ("tavg",)),
        (["HUFL", "ot"], ("ot",)),
        (["a", "b"], ("a",)),  # none known: the first column
    ],
)
def test_default_targets(columns: list[str], targets: tuple[str, ...]) -> None:
    assert default_targets(_frame(dict.fromkeys(columns, 1.0))) == targets


def test_default_inputs_are_the_targets_and_mostly_observed_variables() -> None:
    frame = _frame({"close": 1.0, "volume": 0.95, "sparse": 0.5})
    assert default_inputs(frame, ("close",)) == ("close", "volume")


@pytest.mark.parametrize(
    ("requested", "rows", "origins"), [(20, 1000, 20), (20, 100, 10), (20, 5, 1), (3, 1000, 3)]
)
def test_backtest_origins(requested: int, rows: int, origins: int) -> None:
    assert backtest_origins(requested, pd.DataFrame({"x": range(rows)})) == origins


def test_complete_spec_fills_targets_and_inputs_and_refuses_unknown_ones() -> None:
    series = Series(key="s", source="csv", params={})
    frame = _frame({"close": 1.0, "volume": 1.0})
    spec = complete_spec(
        ModelSpec(architecture="gru", strategy="recursive", lookback=5, horizon=1), series, frame
    )
    assert (spec.targets, spec.inputs) == (("close",), ("close", "volume"))
    with pytest.raises(InvalidRequest, match=r"^unknown target 'x' for series 's'"):
        complete_spec(
            ModelSpec(
                architecture="gru", strategy="recursive", lookback=5, horizon=1, targets=("x",)
            ),
            series,
            frame,
        )

"""Per-variable transforms and input screening on real series with their real edge cases."""

import json

import numpy as np
import pandas as pd
import pytest

from forecaster.data.pipeline import Pipeline, choose_transforms, screen_inputs
from tests.forecaster.data.real_series import stock, weather


def _fit(frame: pd.DataFrame, variables: tuple[str, ...], transform: str, border: int) -> Pipeline:
    return Pipeline.fit(
        frame,
        border=border,
        variables=variables,
        freq="B",
        transform=transform,  # type: ignore[arg-type]
        global_scale=True,
        fill_limit=3,
        calendar=False,
    )


def _zero_volume_aapl() -> pd.DataFrame:
    """AAPL around its 2005-02-28 2:1 split (unadjusted close halves), some no-trade days."""
    frame = stock("AAPL", columns=("close", "volume"), rows=3270).loc["2004-06-01":"2005-12-30"]
    frame = frame.copy()
    frame.iloc[[10, 11, 50, 120], 1] = 0.0  # in the training split
    return frame


def test_log_return_falls_back_to_log1p_for_a_volume_with_zero_days():
    frame = _zero_volume_aapl()
    pipe = _fit(frame, ("close", "volume"), "log_return", border=280)
    assert pipe.per_variable == ("log_return", "log1p")
    assert dict(pipe.notes) == {
        "volume": "log_return needs values > 0 but 'volume' has 4 value(s) <= 0 in the training "
        "split (min 0); log1p instead"
    }
    enc = pipe.encode(frame)
    assert np.isfinite(enc.values[1:]).all()  # the split day is a large return, not a failure
    split_day = frame.index.get_loc(pd.Timestamp("2005-02-28"))
    close_return = enc.values[split_day, 0] * pipe.scaler.scale[0] + pipe.scaler.mean[0]  # type: ignore[union-attr]
    assert close_return == pytest.approx(np.log(44.86 / 88.99), abs=1e-4)
    origins = np.array([300, 320])
    rows = origins[:, None] + np.arange(5)
    decoded = pipe.decode(
        enc.values[rows].astype(np.float64), anchor=enc.anchor[origins - 1], idx=[0, 1]
    )
    assert np.allclose(decoded, enc.raw[rows], rtol=1e-5)  # each variable inverted its own way
    restored = Pipeline.from_state(json.loads(json.dumps(pipe.state(), allow_nan=False)))
    assert restored == pipe
    assert pipe.state()["transforms"] == {"close": "log_return", "volume": "log1p"}


def test_a_zero_after_the_training_split_is_a_gap_not_minus_infinity():
    frame = stock("IBM", columns=("close", "volume"), rows=200).copy()
    pipe = _fit(frame, ("close", "volume"), "log_return", border=140)
    assert pipe.per_variable == ("log_return", "log_return") and pipe.notes == ()
    frame.iloc[160, 1] = 0.0  # a no-trade day the training split never saw
    enc = pipe.encode(frame)
    assert np.isfinite(enc.values[1:]).all()  # forward-filled like any one-day gap
    assert enc.values[160, 1] == np.float32((0.0 - pipe.scaler.mean[1]) / pipe.scaler.scale[1])  # type: ignore[union-attr]
    assert enc.anchor[160, 1] == frame.iloc[159, 1]  # a forecast grows from the last level > 0
    assert enc.raw[160, 1] == 0.0  # scoring still sees what was stored


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        # Chicago winter: temperatures below zero stay at level, precipitation has dry days
        ("log_return", ("level", "level", "log1p", "log_return")),
        ("log1p", ("level", "level", "log1p", "log1p")),
        ("level", ("level", "level", "level", "level")),
    ],
)
def test_each_variable_gets_the_transform_it_can_take(requested, expected):
    frame = weather("chicago", columns=("tmin", "tmax", "prcp", "wspd"), rows=300)
    chosen, reasons = choose_transforms(
        frame.iloc[:210].to_numpy(), ("tmin", "tmax", "prcp", "wspd"), requested
    )
    assert chosen == expected
    assert set(reasons) == {v for v, t in zip(frame.columns, chosen, strict=True) if t != requested}
    if requested == "log_return":
        low = frame["tmax"].iloc[:210].min()
        n_bad = int((frame["tmax"].iloc[:210] <= 0).sum())
        assert reasons["tmax"] == (
            f"log_return needs values > 0 but 'tmax' has {n_bad} value(s) <= 0 in the training "
            f"split (min {low:g}); level instead"
        )


def test_a_state_from_before_per_variable_transforms_uses_one_for_all():
    frame = stock(rows=120)
    pipe = _fit(frame, ("close", "volume"), "log_return", border=80)
    old = pipe.state()
    for key in ("transforms", "transform_notes", "dropped"):
        del old[key]
    restored = Pipeline.from_state(old)
    assert restored.per_variable == ("log_return", "log_return")
    assert np.array_equal(restored.encode(frame).values, pipe.encode(frame).values, equal_nan=True)


def test_constant_and_mostly_missing_inputs_are_dropped_but_never_a_target():
    frame = weather("seattle", columns=("tmax", "tmin", "prcp", "tavg", "snow"), rows=300).copy()
    frame["snwd"] = 0.0  # a snow-depth sensor that read zero all autumn
    frame.loc[frame.index[:150], "prcp"] = np.nan  # a rain gauge out for 5 months
    kept, dropped = screen_inputs(frame, border=210, inputs=list(frame.columns), targets=["tmax"])
    assert kept == ["tmax", "tmin"]
    assert dropped == {
        "prcp": "71% of the training split is missing",
        "tavg": "100% of the training split is missing",  # Seattle reports no tavg
        "snow": "100% of the training split is missing",
        "snwd": "constant (0) in the training split",
    }
    frame["tmax"] = 15.0
    kept, _ = screen_inputs(frame, border=210, inputs=["tmax", "tmin"], targets=["tmax"])
    assert kept == ["tmax", "tmin"]

import numpy as np
import pytest

from forecaster.data.splits import all_true_runs, split_borders, window_origins


def test_split_borders_are_time_ordered_fractions():
    b = split_borders(100, val_fraction=0.15, test_fraction=0.15)
    assert (b.train_end, b.valid_end, b.n_rows) == (70, 85, 100)
    assert b.rows("valid") == (70, 85)


def test_all_true_runs_matches_a_loop():
    rng = np.random.default_rng(0)
    ok = rng.random(50) > 0.1
    expected = [ok[s : s + 5].all() for s in range(46)]
    assert all_true_runs(ok, 5).tolist() == expected


def test_windows_never_cross_split_border():
    n, lookback, horizon = 100, 8, 4
    b = split_borders(n, val_fraction=0.2, test_fraction=0.2)
    ok = np.ones(n, dtype=bool)
    train = window_origins(
        lookback=lookback,
        horizon=horizon,
        lo=0,
        hi=b.train_end,
        input_ok=ok,
        target_ok=ok,
        keep_lookback_inside=True,
    )
    valid = window_origins(
        lookback=lookback,
        horizon=horizon,
        lo=b.train_end,
        hi=b.valid_end,
        input_ok=ok,
        target_ok=ok,
    )
    # training: the whole window inside train; validation: the targets inside valid
    assert train.min() - lookback == 0 and train.max() + horizon == b.train_end
    assert valid.min() == b.train_end and valid.max() + horizon == b.valid_end


@pytest.mark.parametrize(
    ("gap_row", "excluded"),
    [
        (10, set(range(11, 15))),  # an input gap: origins whose lookback (4 rows) holds row 10
        (20, set(range(18, 21))),  # a target gap: origins whose 3 targets hold row 20
    ],
)
def test_windows_with_gaps_are_left_out(gap_row, excluded):
    input_ok = np.ones(40, dtype=bool)
    target_ok = np.ones(40, dtype=bool)
    (input_ok if gap_row == 10 else target_ok)[gap_row] = False
    got = set(
        window_origins(
            lookback=4, horizon=3, lo=0, hi=40, input_ok=input_ok, target_ok=target_ok
        ).tolist()
    )
    assert got == set(range(4, 38)) - excluded


def test_stride_keeps_every_nth_window():
    ok = np.ones(30, dtype=bool)
    got = window_origins(lookback=4, horizon=2, lo=0, hi=30, input_ok=ok, target_ok=ok, stride=5)
    assert got.tolist() == [4, 9, 14, 19, 24]

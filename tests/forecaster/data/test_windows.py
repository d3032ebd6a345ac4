import numpy as np
import torch

from forecaster.data.windows import (
    fill_window_gaps,
    gather_lookbacks,
    make_window_set,
    sliding_windows,
)


def test_sliding_windows_is_a_view_with_every_window():
    values = torch.arange(20.0).view(10, 2)  # (T=10, F=2)
    win = sliding_windows(values, size=4, stride=2)
    assert win.shape == (4, 4, 2)
    assert win.data_ptr() == values.data_ptr()  # a view: nothing copied
    assert torch.equal(win[1], values[2:6])


def test_batch_gathers_lookback_calendar_and_targets():
    values = np.arange(30, dtype=np.float32).reshape(15, 2)
    cal = np.arange(15, dtype=np.float32).reshape(15, 1)
    ws = make_window_set(values, cal, np.array([3, 7]), lookback=3, horizon=2, out_idx=[1])
    x, c, y = ws.batch(torch.tensor([1]))
    assert torch.equal(x[0], torch.from_numpy(values[4:7]))
    assert torch.equal(y[0], torch.from_numpy(values[7:9, [1]]))
    assert c is not None and torch.equal(c[0, :, 0], torch.arange(4.0, 9.0))


def test_fill_window_gaps_carries_forward_then_backward_and_keeps_empty_columns():
    nan = float("nan")
    x = torch.tensor([[[nan, nan], [1.0, nan], [nan, nan], [3.0, nan]]])  # (1, L=4, F=2)
    out = fill_window_gaps(x)
    assert out[0, :, 0].tolist() == [1.0, 1.0, 1.0, 3.0]
    assert torch.isnan(out[0, :, 1]).all()


def test_gather_lookbacks_ends_just_before_each_origin():
    values = torch.arange(10.0).view(10, 1)
    out = gather_lookbacks(values, torch.tensor([3, 10]), lookback=3)
    assert out[:, :, 0].tolist() == [[0.0, 1.0, 2.0], [7.0, 8.0, 9.0]]

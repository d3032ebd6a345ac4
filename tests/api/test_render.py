"""The attention a forecast response carries, at the resolution the model attends."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from api.render import attention_public


def test_segment_attention_comes_with_the_spans_it_covers_and_each_rows_entropy():
    start = datetime(2024, 1, 1, tzinfo=UTC)  # the API gives every timestamp its UTC offset
    stamps = [start + timedelta(hours=i) for i in range(12)]  # a lookback of 12 rows
    weights = np.array([[1 / 3, 1 / 3, 1 / 3], [0.0, 0.0, 1.0]])  # 2 output segments of 4 steps
    a = attention_public(weights, unit=4, horizon=7, lookback_ts=stamps)
    assert a.resolution == "segment" and a.segment_len == 4
    assert a.uniform == pytest.approx(1 / 3)
    assert a.row_entropy == pytest.approx([1.0, 0.0], abs=1e-4)
    assert a.row_steps == [[1, 4], [5, 7]]  # the last segment is cut to the horizon
    assert a.column_start_ts == [stamps[0], stamps[4], stamps[8]]
    assert a.column_end_ts == [stamps[3], stamps[7], stamps[11]]
    assert a.lookback_ts == stamps


def test_step_attention_without_known_timestamps_still_says_what_uniform_is():
    a = attention_public(np.full((2, 5), 0.2), unit=1, horizon=2, lookback_ts=[])
    assert a.resolution == "step" and a.uniform == pytest.approx(0.2)
    assert a.row_steps == [[1, 1], [2, 2]] and a.column_start_ts == []
    assert a.row_entropy == pytest.approx([1.0, 1.0])

"""Saved state: a format this code does not read is refused, before anything is built.

The bit-for-bit round trip of every architecture is in test_train.py (and test_predictor.py,
test_prepare.py for a recursive and a transformed model)."""

import pytest

from forecaster.errors import InvalidData
from forecaster.forecasting.persist import STATE_FORMAT, restore


def test_a_state_of_another_format_is_refused():
    with pytest.raises(InvalidData) as err:
        restore({"format": STATE_FORMAT + 1}, {})
    assert str(err.value) == (
        f"model state format={STATE_FORMAT + 1} is not supported; expected {STATE_FORMAT}"
    )

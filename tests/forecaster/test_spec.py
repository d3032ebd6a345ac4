"""ModelSpec: a JSON round trip, and unknown fields refused."""

import json

import pytest

from forecaster.errors import InvalidRequest
from forecaster.spec import ModelSpec


def test_spec_round_trips_through_json():
    spec = ModelSpec(
        "gru",
        "direct",
        lookback=48,
        horizon=24,
        targets=("OT",),
        segment_len=24,
        time_budget_s=60.0,
    )
    data = json.loads(json.dumps(spec.to_dict()))
    assert ModelSpec.from_dict(data) == spec
    with pytest.raises(InvalidRequest, match=r"^unknown ModelSpec fields \['colour'\]"):
        ModelSpec.from_dict({**data, "colour": "red"})

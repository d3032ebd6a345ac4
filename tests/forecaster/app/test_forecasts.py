"""A forecast request's checks, table-driven: each refusal once, with one wording, from a
version's stored facts alone (no model loaded)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from forecaster.app.forecasts import read_strategy, version_limits
from forecaster.checks import NO_REACH, HorizonLimits, check_level, check_request
from forecaster.db.models import ModelVersion
from forecaster.errors import HorizonTooLong, InvalidRequest, LevelOutOfRange

DIRECT = HorizonLimits(strategy="direct", horizon=5, level=0.9)
RECURSIVE = HorizonLimits(strategy="recursive", horizon=1, level=0.8, reach=30, reach_reason="r")
OLD_RECURSIVE = HorizonLimits(strategy="recursive", horizon=7, level=0.9)  # no reach recorded
BASELINE = HorizonLimits(strategy="recursive", horizon=7, level=0.9, baseline=True)


@pytest.mark.parametrize(
    ("limits", "horizon", "level", "expected"),
    [
        (DIRECT, None, None, (5, 0.9)),  # the version's own H and level
        (DIRECT, 3, 0.5, (3, 0.5)),
        (RECURSIVE, 30, None, (30, 0.8)),
        (OLD_RECURSIVE, 7, None, (7, 0.9)),
        (BASELINE, 1000, None, (1000, 0.9)),  # a baseline has no reach of its own
    ],
)
def test_valid_requests_get_their_defaults_filled_in(
    limits: HorizonLimits, horizon: int | None, level: float | None, expected: tuple[int, float]
) -> None:
    assert check_request(horizon=horizon, level=level, limits=limits, recursive_cap=1000) == (
        expected
    )


@pytest.mark.parametrize(
    ("limits", "horizon", "level", "error", "message"),
    [
        (DIRECT, 0, None, InvalidRequest, "horizon=0 must be a positive number of steps"),
        (RECURSIVE, -1, None, InvalidRequest, "horizon=-1 must be a positive number of steps"),
        (
            DIRECT,
            6,
            None,
            HorizonTooLong,
            "horizon=6 exceeds this direct model's H=5; use strategy=recursive or horizon<=5",
        ),
        (
            RECURSIVE,
            51,
            None,
            HorizonTooLong,
            "horizon=51 exceeds the limit of 50 steps for a recursive forecast; "
            "give horizon between 1 and 50",
        ),
        (
            RECURSIVE,
            31,
            None,
            HorizonTooLong,
            "horizon=31 exceeds this recursive model's maximum horizon 30 (r); use horizon<=30",
        ),
        (
            OLD_RECURSIVE,
            8,
            None,
            HorizonTooLong,
            f"horizon=8 exceeds this recursive model's maximum horizon 7 ({NO_REACH}); "
            "use horizon<=7",
        ),
        (BASELINE, 51, None, HorizonTooLong, "horizon=51 exceeds the limit of 50 steps"),
        (DIRECT, None, 95.0, LevelOutOfRange, "level=95.0 must be in (0, 1)"),
        (DIRECT, None, 0.0, LevelOutOfRange, "level=0.0 must be in (0, 1)"),
        (DIRECT, None, 1.0, LevelOutOfRange, "level=1.0 must be in (0, 1)"),
        (DIRECT, None, math.nan, LevelOutOfRange, "level=nan must be in (0, 1)"),
        (DIRECT, 6, 95.0, HorizonTooLong, "horizon=6 exceeds"),  # the horizon is checked first
    ],
)
def test_invalid_requests_are_refused_with_one_wording(
    limits: HorizonLimits,
    horizon: int | None,
    level: float | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error) as caught:
        check_request(horizon=horizon, level=level, limits=limits, recursive_cap=50)
    assert str(caught.value).startswith(message)


def test_level_out_of_range_carries_its_value() -> None:
    with pytest.raises(LevelOutOfRange) as caught:
        check_level(1.5)
    assert caught.value.level == 1.5 and isinstance(caught.value, InvalidRequest)


def _version(**fields: Any) -> ModelVersion:
    row = {
        "architecture": "gru",
        "strategy": "recursive",
        "hyperparameters": {"horizon": 1, "level": 0.8},
        "feature_spec": {"intervals": {"max_horizon": 30, "reason": "r"}},
    }
    return ModelVersion(**(row | fields))


@pytest.mark.parametrize(
    ("fields", "limits", "max_horizon"),
    [
        ({}, RECURSIVE, 30),
        (
            {"strategy": "direct", "hyperparameters": {"horizon": 5}, "feature_spec": {}},
            DIRECT,
            5,
        ),
        (
            {"hyperparameters": {"horizon": 7}, "feature_spec": {"intervals": None}},
            OLD_RECURSIVE,
            7,
        ),
        (
            {"architecture": "naive", "hyperparameters": {"horizon": 7}, "feature_spec": {}},
            BASELINE,
            None,
        ),
    ],
)
def test_a_versions_limits_come_from_its_stored_row(
    fields: dict[str, Any], limits: HorizonLimits, max_horizon: int | None
) -> None:
    found = version_limits(_version(**fields))
    assert found == limits and found.max_horizon == max_horizon


@pytest.mark.parametrize(
    ("strategy", "version_id", "expected"),
    [
        (None, None, "recursive"),
        ("direct", None, "direct"),
        (None, 4, None),
        ("direct", 4, "direct"),
    ],
)
def test_which_strategy_a_read_asks_for(
    strategy: str | None, version_id: int | None, expected: str | None
) -> None:
    assert read_strategy(strategy, version_id) == expected

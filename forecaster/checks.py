"""The checks a forecast request passes, each in one place with one wording: its level, its
horizon against the version's limits.

Pure (no database, no model): the API route, the CLI and forecast_series call `check_request`
with a version's stored facts before any model loads; a loaded model checks with the same
functions, so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from forecaster.errors import HorizonTooLong, InvalidRequest, LevelOutOfRange

MAX_ANY_HORIZON = 100_000  # past any cap a setting can give (Settings.forecast_max_horizon's le)
DEFAULT_MAX_HORIZON = 1000  # Settings.forecast_max_horizon's default: a recursive read's cap
NO_REACH = "trained before reaches"  # why a recursive version without a recorded reach serves H


@dataclass(frozen=True)
class HorizonLimits:
    """What bounds the horizon and level of a version's forecasts, read from its stored row
    (forecaster.app.forecasts.version_limits) or its loaded model (TrainedModel.limits)."""

    strategy: str  # recursive or direct
    horizon: int  # the H it was trained for: the default horizon, a direct model's maximum
    level: float  # its own interval level: the default level
    reach: int | None = None  # a recursive model's calibrated reach (None: not recorded)
    reach_reason: str = NO_REACH  # why the reach is what it is
    baseline: bool = False  # a baseline repeats values: no limit of its own

    @property
    def max_horizon(self) -> int | None:
        """The longest horizon served: H for a direct model, the recorded reach for a recursive
        one (H for a version trained before reaches were recorded); None for a baseline."""
        if self.baseline:
            return None
        if self.strategy == "recursive" and self.reach is not None:
            return self.reach
        return self.horizon


def check_level(level: float) -> float:
    """The level of a prediction interval, strictly between 0 and 1 (NaN is refused too)."""
    if not 0.0 < level < 1.0:
        raise LevelOutOfRange(level=level)
    return level


def positive_horizon(horizon: int | None, default: int) -> int:
    """`horizon`, or `default` when None; a step count of at least one."""
    h = default if horizon is None else horizon
    if h <= 0:
        raise InvalidRequest(f"horizon={h} must be a positive number of steps")
    return h


def check_horizon(
    horizon: int | None, limits: HorizonLimits, *, recursive_cap: int | None = None
) -> int:
    """The horizon a forecast runs for (`limits.horizon` when None).

    Raises:
        InvalidRequest: horizon <= 0.
        HorizonTooLong: past a direct model's H, past `recursive_cap` (the configured bound on
            steps rolled forward: each is a model call, so it bounds a read's CPU time), or past
            a recursive model's recorded reach.
    """
    h = positive_horizon(horizon, limits.horizon)
    if limits.strategy == "direct" and h > limits.horizon:
        raise HorizonTooLong(horizon=h, cap=limits.horizon, strategy="direct")
    if limits.strategy == "recursive" and recursive_cap is not None and h > recursive_cap:
        raise HorizonTooLong(horizon=h, cap=recursive_cap, strategy="recursive")
    top = limits.max_horizon
    if limits.strategy == "recursive" and top is not None and h > top:
        raise HorizonTooLong(horizon=h, cap=top, strategy="recursive", reason=limits.reach_reason)
    return h


def check_request(
    *,
    horizon: int | None,
    level: float | None,
    limits: HorizonLimits,
    recursive_cap: int = DEFAULT_MAX_HORIZON,
) -> tuple[int, float]:
    """(horizon, level) a forecast of this version runs with, defaults filled in, or the error
    that refuses it. Cheap: call it before loading the model."""
    h = check_horizon(horizon, limits, recursive_cap=recursive_cap)
    return h, check_level(limits.level if level is None else level)

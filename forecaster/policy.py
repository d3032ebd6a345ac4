"""The retrain policy: when live evidence on a champion starts a retrain (pure: no database).

forecaster.app.accuracy gathers the evidence and applies it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from forecaster.errors import InvalidRequest


@dataclass(frozen=True)
class RetrainPolicy:
    """When live evidence starts a retrain of a series (the `policy:` section of retrain.yaml).

    Over the champion's last `window` scored origins since the series' last retrain (at least
    `min_origins` of them): its live MAE above its backtest MAE by more than `error_margin`
    (0.25: 25 %), its live interval coverage below `coverage_floor`, or (a learned model) its live
    MAE at or above `naive_ratio` x the naive forecast's on the same points.
    """

    enabled: bool = True
    window: int = 20
    min_origins: int = 10
    error_margin: float = 0.25
    coverage_floor: float = 0.7
    naive_ratio: float = 1.0

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> RetrainPolicy:
        raw = dict(raw or {})
        known = set(asdict(cls()))
        unknown = sorted(set(raw) - known)
        if unknown:
            raise InvalidRequest(
                f"retrain policy: unknown field(s) {', '.join(unknown)}; "
                f"valid fields are {', '.join(sorted(known))}"
            )
        policy = cls(**raw)
        if policy.window < 1 or not 1 <= policy.min_origins <= policy.window:
            raise InvalidRequest(
                f"retrain policy: window={policy.window} and min_origins={policy.min_origins} "
                "need 1 <= min_origins <= window"
            )
        if policy.error_margin < 0 or not 0 <= policy.coverage_floor <= 1:
            raise InvalidRequest(
                f"retrain policy: error_margin={policy.error_margin} must be >= 0 and "
                f"coverage_floor={policy.coverage_floor} between 0 and 1"
            )
        return policy


@dataclass
class PolicyVerdict:
    series: str
    strategy: str
    version_id: int
    origins: int  # scored origins the evidence covers
    reasons: list[str] = field(default_factory=list)

    @property
    def retrain(self) -> bool:
        return bool(self.reasons)

    @property
    def reason(self) -> str:
        return (
            f"{self.strategy} champion v{self.version_id} over its last {self.origins} scored "
            f"origins: " + "; ".join(self.reasons)
        )

"""The retrain run as pure values: the plan (which candidates, baselines and global models a run
trains, from the retrain config and the series it retrains) and the reconciliation of what the
tasks report into the run's result. No database, no Prefect: the flow does the I/O."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from forecaster.champion import Decision
from forecaster.retrain_config import RetrainConfig
from forecaster.spec import ModelSpec

OUTSCORED = "; another candidate of this run scored better"


@dataclass(frozen=True)
class CandidateJob:
    """One model to train on one series (or, in `RetrainPlan.baselines`, the spec whose strategy,
    targets and horizon the series' baselines are refreshed for)."""

    series_key: str
    spec: ModelSpec


@dataclass(frozen=True)
class GroupJob:
    """One global model to train across a group's members (two or more of this run's series)."""

    group: str
    members: tuple[str, ...]
    spec: ModelSpec
    embedding_dim: int


@dataclass(frozen=True)
class RetrainPlan:
    series: tuple[str, ...]  # the series retrained, in order; each commits on its own
    baselines: tuple[CandidateJob, ...]  # per series and strategy: the longest candidate's spec
    candidates: tuple[CandidateJob, ...]
    groups: tuple[GroupJob, ...]
    skipped_groups: tuple[tuple[str, int], ...]  # (group, its members in this run): under two
    metric: str
    origins: int


def plan_retrain(
    config: RetrainConfig, series: Sequence[tuple[str, str]], *, quick: bool = False
) -> RetrainPlan:
    """What a run over `series` ((key, frequency) pairs) trains under `config`.

    A group trains only when two or more of its members are in the run (a run touches only its
    own series' champions). Each series' baselines are refreshed once per strategy, calibrated
    for the longest horizon any of its candidates (own or global) forecasts.
    """
    members = {name: g.members(series) for name, g in config.groups.items()}
    skipped = tuple((name, len(m)) for name, m in members.items() if len(m) < 2)
    members = {name: m for name, m in members.items() if len(m) >= 2}
    freq_of = dict(series)
    groups = tuple(
        GroupJob(name, tuple(keys), spec, config.groups[name].embedding_dim)
        for name, keys in members.items()
        for spec in config.group_specs(name, freq_of[keys[0]], quick=quick)
    )
    own = {key: config.specs(key, freq, quick=quick) for key, freq in series}
    baselines = []
    for key, _ in series:
        longest: dict[str, ModelSpec] = {}  # first seen strategy first; the first longest wins
        for spec in [*own[key], *(g.spec for g in groups if key in g.members)]:
            if spec.horizon > getattr(longest.get(spec.strategy), "horizon", 0):
                longest[spec.strategy] = spec
        baselines += [CandidateJob(key, spec) for spec in longest.values()]
    return RetrainPlan(
        series=tuple(key for key, _ in series),
        baselines=tuple(baselines),
        candidates=tuple(CandidateJob(key, spec) for key, _ in series for spec in own[key]),
        groups=groups,
        skipped_groups=skipped,
        metric=config.metric,
        origins=config.backtest_origins,
    )


@dataclass(frozen=True)
class Placement:
    """Where a candidate's task ran (for the run's result): its process, its Dask worker's
    address (None: not on Dask) and the torch threads it trained with."""

    pid: int
    dask_worker: str | None
    torch_threads: int

    def to_json(self) -> dict[str, int | str | None]:
        return asdict(self)


@dataclass(frozen=True)
class CandidateResult:
    """What one candidate's task reports: its decision when it trained, else why not."""

    series_key: str
    architecture: str
    strategy: str
    version_id: int | None  # None: cancelled before anything was stored
    promoted: bool
    reason: str
    executor: Placement | None = None  # where it ran; None: nowhere recorded
    failed: bool = False
    cancelled: bool = False
    group: str | None = None  # the global model's group, for a member's version
    global_model_id: int | None = None
    decision: Decision | None = None  # None: it failed or was cancelled

    @classmethod
    def trained(
        cls,
        series_key: str,
        architecture: str,
        decision: Decision,
        *,
        executor: Placement,
        group: str | None = None,
        global_model_id: int | None = None,
    ) -> CandidateResult:
        """A registered candidate with the champion rule's decision (not applied yet)."""
        return cls(
            series_key,
            architecture,
            decision.strategy,
            decision.version_id,
            decision.promoted,
            decision.reason,
            executor=executor,
            group=group,
            global_model_id=global_model_id,
            decision=decision,
        )

    @property
    def cut_short(self) -> bool:
        """The time budget ended its fit: its weights depend on the machine's speed."""
        return self.decision is not None and bool(self.decision.extra.get("cut_short"))

    @property
    def notices(self) -> list[str]:
        return [] if self.decision is None else list(self.decision.extra.get("notices", []))

    @property
    def label(self) -> str:
        """How logs and the run's error name a candidate: "AAPL lstm/direct (global stocks)"."""
        group = f" (global {self.group})" if self.group else ""
        return f"{self.series_key} {self.architecture}/{self.strategy}{group}"

    def as_dict(self) -> dict[str, Any]:
        """The candidate's row in the run's result (JSON)."""
        row: dict[str, Any] = {
            "series": self.series_key,
            "architecture": self.architecture,
            "strategy": self.strategy,
        }
        if self.group is not None:
            row["group"] = self.group
        row["executor"] = {} if self.executor is None else self.executor.to_json()
        row["failed"] = self.failed
        if self.decision is None:
            row["version_id"] = self.version_id
            row["promoted"] = self.promoted
            if self.cancelled:
                row["cancelled"] = True
            row["reason"] = self.reason
            return row
        if self.global_model_id is not None:
            row["global_model_id"] = self.global_model_id
        return {**row, **self.decision.as_dict(), "promoted": self.promoted, "reason": self.reason}


@dataclass(frozen=True)
class SeriesCommit:
    """What one series' commit did: the versions promoted and the forecasts stored."""

    promoted: tuple[int, ...]
    forecasts: Mapping[str, int]  # strategy -> the champion version forecast


def decisions_of(results: Sequence[CandidateResult], series_key: str) -> list[Decision]:
    """The decisions to apply for one series: its candidates that trained."""
    return [r.decision for r in results if r.series_key == series_key and r.decision is not None]


def settle(results: Sequence[CandidateResult], promoted: Collection[int]) -> list[CandidateResult]:
    """The results as committed: a candidate the rule would promote that is not among the
    `promoted` versions lost to a better one of this run, and says so."""
    return [
        replace(r, promoted=False, reason=r.reason + OUTSCORED)
        if r.promoted and r.version_id not in promoted
        else r
        for r in results
    ]


@dataclass(frozen=True)
class RetrainResult:
    """What a retrain run did: each candidate's result as committed (`settle`), the forecasts
    each series' commit stored, and which version serves each strategy now."""

    run_id: int
    candidates: tuple[CandidateResult, ...]
    forecasts: Mapping[str, Mapping[str, int]]  # series key -> strategy -> version forecast
    served: tuple[Mapping[str, Any], ...]  # app.training.served_champions rows

    @property
    def versions(self) -> list[int]:
        return [r.version_id for r in self.candidates if r.version_id is not None]

    @property
    def promoted(self) -> list[int | None]:
        return [r.version_id for r in self.candidates if r.promoted]

    @property
    def failed(self) -> list[int | None]:
        return [r.version_id for r in self.candidates if r.failed]

    @property
    def cut_short(self) -> list[int | None]:
        """Weights of these depend on the machine's speed: the time budget ended their fit."""
        return [r.version_id for r in self.candidates if r.cut_short]

    @property
    def error(self) -> str | None:
        """The run's error: each failed candidate and why (some failing is a failed run)."""
        return "; ".join(f"{r.label}: {r.reason}" for r in self.candidates if r.failed) or None

    def record(self) -> dict[str, Any]:
        """The run's result as stored on its row (JSON)."""
        return {
            "versions": self.versions,
            "promoted": self.promoted,
            "failed": self.failed,
            "cut_short": self.cut_short,
            "candidates": [r.as_dict() for r in self.candidates],
            "forecasts": {key: dict(f) for key, f in self.forecasts.items()},
            "served": [dict(s) for s in self.served],
        }

    def to_json(self) -> dict[str, Any]:
        """The flow's result as JSON: the run's id and its stored result."""
        return {"run_id": self.run_id, **self.record()}

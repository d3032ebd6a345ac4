"""The retrain flow's candidate list: a YAML file the user can edit (forecaster/retrain.yaml)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from forecaster.champion import DEFAULT_BACKTEST_ORIGINS, DEFAULT_METRIC
from forecaster.errors import InvalidData, InvalidRequest
from forecaster.global_models import DEFAULT_EMBEDDING_DIM
from forecaster.policy import RetrainPolicy
from forecaster.spec import ModelSpec

SPEC_FIELDS = {f.name for f in fields(ModelSpec)}


GROUP_KEYS = ("series", "frequency", "embedding_dim", "candidates")


@dataclass(frozen=True)
class GroupConfig:
    """A global model's group: its members (listed, or every retrained series of a frequency),
    the embedding size, its candidates (the config's own when unset) and spec overrides."""

    name: str
    series: tuple[str, ...] = ()
    frequency: str | None = None
    embedding_dim: int = DEFAULT_EMBEDDING_DIM
    candidates: tuple[dict[str, Any], ...] = ()
    overrides: dict[str, Any] = field(default_factory=dict)

    def members(self, jobs: Sequence[tuple[str, str]]) -> list[str]:
        """The group's members among the series (key, frequency) being retrained, in order."""
        if self.series:
            keys = {key for key, _ in jobs}
            return [key for key in self.series if key in keys]
        return [key for key, freq in jobs if freq == self.frequency]


@dataclass(frozen=True)
class RetrainConfig:
    metric: str
    backtest_origins: int
    defaults: dict[str, Any]
    by_frequency: dict[str, dict[str, Any]]
    by_series: dict[str, dict[str, Any]]
    candidates: list[dict[str, Any]]
    quick: dict[str, Any]
    groups: dict[str, GroupConfig] = field(default_factory=dict)
    policy: RetrainPolicy = RetrainPolicy()

    def specs(self, series_key: str, frequency: str, *, quick: bool = False) -> list[ModelSpec]:
        """One ModelSpec per candidate for this series, with every override applied."""
        out = []
        for cand in self.candidates:
            merged = {
                **self.defaults,
                **self.by_frequency.get(frequency, {}),
                **self.by_series.get(series_key, {}),
                **cand,
                **(self.quick if quick else {}),
            }
            out.append(ModelSpec.from_dict(merged))
        return out

    def group_specs(self, group: str, frequency: str, *, quick: bool = False) -> list[ModelSpec]:
        """One ModelSpec per candidate of a group: defaults < by_frequency < the group's own keys
        < the candidate's < quick."""
        cfg = self.groups[group]
        out = []
        for cand in cfg.candidates or tuple(self.candidates):
            merged = {
                **self.defaults,
                **self.by_frequency.get(frequency, {}),
                **cfg.overrides,
                **cand,
                **(self.quick if quick else {}),
            }
            out.append(ModelSpec.from_dict(merged))
        return out


def _check_keys(where: str, mapping: dict[str, Any]) -> None:
    unknown = sorted(set(mapping) - SPEC_FIELDS)
    if unknown:
        raise InvalidData(
            f"retrain config {where}: unknown field(s) {', '.join(unknown)}; "
            f"valid fields are {', '.join(sorted(SPEC_FIELDS))}"
        )


def _group(where: str, name: str, raw: Any) -> GroupConfig:
    if not isinstance(raw, dict):
        raise InvalidData(f"retrain config {where} groups.{name} must be a mapping")
    series = raw.get("series") or []
    frequency = raw.get("frequency")
    if bool(series) == (frequency is not None):
        raise InvalidData(
            f"retrain config {where} groups.{name}: give its members as series: [KEY, ...] "
            "or frequency: ALIAS (every retrained series of that frequency), one of the two"
        )
    overrides = {k: v for k, v in raw.items() if k not in GROUP_KEYS}
    _check_keys(f"{where} groups.{name}", overrides)
    candidates = [dict(c) for c in raw.get("candidates") or []]
    for i, c in enumerate(candidates):
        _check_keys(f"{where} groups.{name}.candidates[{i}]", c)
    dim = raw.get("embedding_dim", DEFAULT_EMBEDDING_DIM)
    if not isinstance(dim, int) or dim < 1:
        raise InvalidData(
            f"retrain config {where} groups.{name}.embedding_dim={dim!r} must be an integer >= 1"
        )
    return GroupConfig(
        name=name,
        series=tuple(str(k) for k in series),
        frequency=None if frequency is None else str(frequency),
        embedding_dim=dim,
        candidates=tuple(candidates),
        overrides=overrides,
    )


def _policy(where: str, raw: Any) -> RetrainPolicy:
    if raw is not None and not isinstance(raw, dict):
        raise InvalidData(f"retrain config {where} policy must be a mapping, not {raw!r}")
    try:
        return RetrainPolicy.from_dict(raw)
    except (InvalidRequest, TypeError) as exc:
        raise InvalidData(f"retrain config {where} {exc}") from exc


def load_retrain_config(path: Path | None = None) -> RetrainConfig:
    """Read the YAML at `path` (the bundled default when None); unknown keys are errors."""
    if path is None:
        text = resources.files("forecaster").joinpath("retrain.yaml").read_text()
        where = "forecaster/retrain.yaml"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise InvalidData(f"cannot read retrain config {str(path)!r}: {exc}") from exc
        where = str(path)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidData(f"retrain config {where} is not valid YAML: {exc}") from exc
    candidates = raw.get("candidates") or []
    if not candidates:
        raise InvalidData(f"retrain config {where} lists no candidates")
    cfg = RetrainConfig(
        metric=str(raw.get("metric", DEFAULT_METRIC)),
        backtest_origins=int(raw.get("backtest_origins", DEFAULT_BACKTEST_ORIGINS)),
        defaults=dict(raw.get("defaults") or {}),
        by_frequency={str(k): dict(v) for k, v in (raw.get("by_frequency") or {}).items()},
        by_series={str(k): dict(v) for k, v in (raw.get("by_series") or {}).items()},
        candidates=[dict(c) for c in candidates],
        quick=dict(raw.get("quick") or {}),
        groups={str(k): _group(where, str(k), v) for k, v in (raw.get("groups") or {}).items()},
        policy=_policy(where, raw.get("policy")),
    )
    _check_keys(f"{where} defaults", cfg.defaults)
    _check_keys(f"{where} quick", cfg.quick)
    for k, v in cfg.by_frequency.items():
        _check_keys(f"{where} by_frequency.{k}", v)
    for k, v in cfg.by_series.items():
        _check_keys(f"{where} by_series.{k}", v)
    for i, c in enumerate(cfg.candidates):
        _check_keys(f"{where} candidates[{i}]", c)
        if "architecture" not in c or "strategy" not in c:
            raise InvalidData(
                f"retrain config {where} candidates[{i}] needs architecture and strategy"
            )
    return cfg

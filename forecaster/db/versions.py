"""Model versions in the database: save (safetensors + JSON) and load without unpickling, with
their evaluation rows. Which version serves is decided elsewhere (forecaster.champion)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from forecaster.architectures import is_baseline
from forecaster.backtest import EvalRow, EvaluationReport
from forecaster.baselines import BaselineModel
from forecaster.db.models import Evaluation as EvaluationRow
from forecaster.db.models import GlobalModel, ModelVersion
from forecaster.errors import UnknownModel
from forecaster.forecasting.predictor import Predictor, TrainedModel
from forecaster.forecasting.train import TrainOutcome
from forecaster.global_models import GlobalOutcome
from forecaster.values import finite_or_none, naive_utc


def save_version(
    *,
    session: Session,
    series_id: int,
    outcome: TrainOutcome,
    run_id: int | None = None,
    status: str = "candidate",
    global_model_id: int | None = None,
) -> ModelVersion:
    """Store a trained model: weights as safetensors bytes, everything else as JSON, and its figures.

    A member of a global model (`global_model_id`) stores no weights: they are the global model's.
    """
    model = outcome.model
    state = model.state()
    version = ModelVersion(
        series_id=series_id,
        architecture=model.spec.architecture,
        strategy=model.spec.strategy,
        hyperparameters=state.pop("spec"),
        normalization=state.pop("normalization"),
        feature_spec=state,  # format, freq, variables, targets, module, calibration, data range, fit
        train_start=naive_utc(outcome.train_range[0]),
        train_end=naive_utc(outcome.train_range[1]),
        weights=None if global_model_id is not None else save_safetensors(model.weights()),
        status=status,
        run_id=run_id,
        global_model_id=global_model_id,
    )
    session.add(version)
    session.flush()
    add_evaluation(session=session, version_id=version.id, report=outcome.report)
    return version


def save_baseline(
    *,
    session: Session,
    series_id: int,
    model: BaselineModel,
    train_start: pd.Timestamp,
    run_id: int | None = None,
) -> ModelVersion:
    """Store a fitted baseline as a candidate version: JSON only, no weights."""
    state = model.state()
    version = ModelVersion(
        series_id=series_id,
        architecture=model.spec.architecture,
        strategy=model.spec.strategy,
        hyperparameters=state.pop("spec"),
        normalization=state.pop("normalization"),
        feature_spec=state,
        train_start=naive_utc(train_start),
        train_end=naive_utc(pd.Timestamp(model.data_range["train_end"])),
        weights=None,
        status="candidate",
        run_id=run_id,
    )
    session.add(version)
    session.flush()
    return version


def save_global_model(
    *, session: Session, group: str, outcome: GlobalOutcome, run_id: int | None = None
) -> GlobalModel:
    """Store a global model's network once (safetensors bytes); its members are versions."""
    spec = outcome.spec
    row = GlobalModel(
        group=group,
        architecture=spec.architecture,
        strategy=spec.strategy,
        hyperparameters=spec.to_dict(),
        members=list(outcome.members),
        embedding_dim=outcome.embedding_dim,
        weights=save_safetensors(outcome.weights()),
        fit=outcome.fit.to_dict(),
        run_id=run_id,
    )
    session.add(row)
    session.flush()
    return row


def add_evaluation(*, session: Session, version_id: int, report: EvaluationReport) -> None:
    """Store a report's rows (replacing the same cells); NaN (undefined) figures become NULL.

    Each cell is an upsert (INSERT ... ON CONFLICT DO UPDATE on `uq_evaluation_cell`): two
    transactions scoring the same version at once (two candidates of a series re-scoring its
    baselines on two Dask workers) both succeed, the later one's figures kept, where a
    delete-then-insert collided on the unique constraint."""
    splits = {r.split for r in report.rows}
    session.execute(
        delete(EvaluationRow).where(
            EvaluationRow.model_version_id == version_id, EvaluationRow.split.in_(splits)
        )
    )
    rows = [
        {"model_version_id": version_id, "split": r.split, "model": r.model,
         "variable": r.variable, "step": r.step, "metric": r.metric,
         "value": finite_or_none(r.value)}
        for r in report.rows
    ]  # fmt: skip
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = insert(EvaluationRow)
        cell = ["model_version_id", "split", "model", "variable", "step", "metric"]
        session.execute(
            stmt.on_conflict_do_update(index_elements=cell, set_={"value": stmt.excluded.value}),
            rows,
        )
    session.flush()


def model_state(version: ModelVersion) -> dict[str, Any]:
    return {
        **version.feature_spec,
        "spec": version.hyperparameters,
        "normalization": version.normalization,
    }


def load_version(version: ModelVersion) -> Predictor:
    """Rebuild the model bit for bit; safetensors holds tensors only and a baseline is JSON only,
    so nothing is unpickled."""
    if is_baseline(version.architecture) and version.status != "failed":
        return BaselineModel.from_state(model_state(version))
    blob = version.weights
    if version.global_model is not None:  # a member: the group's network, stored once
        blob = version.global_model.weights
    if blob is None:
        raise UnknownModel(f"model version {version.id} has no weights (status {version.status})")
    return TrainedModel.from_state(model_state(version), load_safetensors(blob))


def report_from_rows(rows: Sequence[EvaluationRow]) -> EvaluationReport:
    return EvaluationReport(
        [
            EvalRow(
                r.split,
                r.model,
                r.variable,
                r.step,
                r.metric,
                math.nan if r.value is None else r.value,
            )
            for r in rows
        ]
    )


def find_baseline(
    *, session: Session, series_id: int, strategy: str, architecture: str
) -> ModelVersion | None:
    """The newest baseline version of this kind for the series and strategy."""
    return session.scalar(
        select(ModelVersion)
        .where(
            ModelVersion.series_id == series_id,
            ModelVersion.strategy == strategy,
            ModelVersion.architecture == architecture,
            ModelVersion.status != "failed",
        )
        .order_by(ModelVersion.id.desc())
        .limit(1)
    )

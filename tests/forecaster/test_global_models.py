"""Global models on the bundled stocks and weather stations: one network across the group,
registered once, a version per member that is saved, loaded and served for that member."""

from __future__ import annotations

import pickle

import pytest
import torch
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.app import catalog, forecasts, training
from forecaster.db.models import GlobalModel, ModelVersion
from forecaster.db.versions import load_version, report_from_rows
from forecaster.errors import ForecasterError, InvalidRequest
from forecaster.forecasting.prepare import prepare_data
from forecaster.global_models import _stack, finish_member, fit_global_model, train_global_model
from forecaster.models.group import GlobalModule
from forecaster.spec import ModelSpec
from tests.groups import STATIONS, STOCKS, store_group

TINY = {"lookback": 28, "horizon": 7, "hidden_size": 16, "num_layers": 1, "lr": 0.005}


def _train(factory: sessionmaker[Session], group: str, spec: ModelSpec) -> tuple[int, dict]:
    members = list(STATIONS if group == "stations" else STOCKS)
    return training.train_group(
        sessions=factory, group=group, members=members, spec=spec, origins=20, threads=1
    )


def test_a_global_model_over_the_weather_stations_serves_every_member(
    session_factory: sessionmaker[Session],
) -> None:
    frames = store_group(session_factory, "stations")
    spec = ModelSpec(architecture="gru", strategy="direct", epochs=8, **TINY)
    global_id, decisions = _train(session_factory, "stations", spec)
    assert list(decisions) == list(STATIONS)
    with session_factory.begin() as session:
        row = session.get(GlobalModel, global_id)
        assert row is not None and row.weights is not None  # the weights, stored once
        assert (row.group, row.members, row.embedding_dim) == ("stations", list(STATIONS), 4)
        assert row.hyperparameters["targets"] == ["tmax"]
        assert session.scalar(select(func.count()).select_from(GlobalModel)) == 1
        for key, decision in decisions.items():
            version = catalog.get_version(session=session, version_id=decision.version_id)
            assert (version.weights, version.global_model_id) == (None, global_id)
            assert version.trained  # through its global model
            assert version.status == ("champion" if decision.promoted else "candidate")
            # it learned: on the member's own test split it beats the naive forecast
            test = report_from_rows(catalog.version_metrics(session=session, version_id=version.id))
            assert test.score("mase", split="test") < test.score(
                "mase", split="test", model="naive"
            ), key
            # loaded from the database without unpickling: the same forecast as at training time
            loaded = load_version(version)
            assert loaded.module.index == list(STATIONS).index(key)  # type: ignore[union-attr]
            fc = loaded.predict(frames[key])
            assert list(fc.points["step"]) == list(range(1, 8))
            served = forecasts.forecast_series(
                session=session, series_key=key, strategy="direct", model=version.id
            )
            assert served.version.id == version.id
            assert served.points["value"].tolist() == fc.points["value"].tolist()
        # the members share one network: the same weights, different embedding rows
        nets = [
            load_version(catalog.get_version(session=session, version_id=d.version_id))
            for d in decisions.values()
        ]
        a, b = (n.module.net for n in nets[:2])  # type: ignore[union-attr]
        assert torch.equal(a.inner.head.weight, b.inner.head.weight)


def test_a_global_model_over_the_stocks_competes_for_each_members_champion(
    session_factory: sessionmaker[Session],
) -> None:
    store_group(session_factory, "stocks")
    spec = ModelSpec(
        architecture="lstm", strategy="direct", epochs=4, transform="log_return", **TINY
    )
    global_id, decisions = _train(session_factory, "stocks", spec)
    with session_factory.begin() as session:
        for key, decision in decisions.items():
            version = catalog.get_version(session=session, version_id=decision.version_id)
            assert version.global_model_id == global_id
            fit = version.feature_spec["fit"]
            assert fit["val_losses"][-1] <= fit["val_losses"][0]  # it learned on validation
            # the same rule as a series' own candidate: against this member's baselines
            assert decision.baseline_score is not None and decision.candidate_score is not None
            assert decision.promoted == (decision.candidate_score < decision.baseline_score)
            champion = catalog.get_champion(session=session, series_id=version.series_id,
                                             strategy="direct")  # fmt: skip
            assert champion.id == decision.served_id
            served = forecasts.forecast_series(session=session, series_key=key, strategy="direct")
            assert served.version.id == champion.id and len(served.points) == 7


def test_a_global_model_windows_never_span_two_members() -> None:
    frames = {k: STATIONS[k]() for k in ("gainesville", "chicago")}
    spec = ModelSpec(architecture="gru", strategy="direct", epochs=1, targets=("tmax",), **TINY)
    out = train_global_model(frames, spec, freq="D", embedding_dim=2)
    assert isinstance(out.net, GlobalModule) and out.net.embedding.weight.shape == (2, 2)
    assert out.spec.inputs == ("tmin", "tmax", "prcp", "wspd")  # what every station observes
    for key, outcome in out.outcomes.items():  # each member keeps its own splits and range
        assert outcome.model.data_range["end"] == frames[key].index[-1].isoformat()
    parts = [prepare_data(f, out.spec, freq="D") for f in frames.values()]
    for split in ("training", "validation"):
        windows = _stack(parts, split)
        _, cal, _ = windows.batch(torch.arange(len(windows)))
        assert cal is not None
        member = cal[..., -1]  # (N, L + H): the member index of every row of every window
        assert bool((member == member[:, :1]).all())  # one member per window
        counts = torch.bincount(member[:, 0].long()).tolist()
        assert counts == [len(p.origins[split]) for p in parts]


def test_members_finished_apart_match_and_old_weights_still_load() -> None:
    frames = {k: STATIONS[k]() for k in ("gainesville", "chicago")}
    spec = ModelSpec(architecture="gru", strategy="direct", epochs=2, targets=("tmax",), **TINY)
    out = train_global_model(frames, spec, freq="D", embedding_dim=2)
    # the shared fit, then each member finished from its own job (as a worker process gets it)
    shared = fit_global_model(frames, spec, freq="D", embedding_dim=2)
    for key, outcome in out.outcomes.items():
        apart = finish_member(pickle.loads(pickle.dumps(shared.member_job(key))))
        assert apart.model.module.index == outcome.model.module.index  # type: ignore[union-attr]
        assert apart.report.rows == outcome.report.rows, key
        assert apart.model.intervals == outcome.model.intervals
    gain = out.net.calendar_gain.detach()  # (members, calendar channels), trained from 0
    assert gain.shape == (2, out.outcomes["chicago"].model.pipeline.n_calendar)
    assert float(gain.abs().sum()) > 0
    # weights stored before the gain existed load with every gain at 1 (g = 0)
    old = {k: v for k, v in out.weights().items() if k != "calendar_gain"}
    out.net.load_state_dict(old, strict=True)
    assert float(out.net.calendar_gain.detach().abs().sum()) == 0


@pytest.mark.parametrize(
    ("members", "extra", "message"),
    [
        # one series is not a group
        (["chicago"], {}, "a global model needs at least two series, got 1: chicago"),
        # a segment model reads no covariates, so it cannot read the series embedding
        (
            ["chicago", "gainesville"],
            {"segment_len": 7},
            "a global model needs a model that reads covariates (its series embedding joins "
            "them): leave segment_len unset",
        ),
        # the member too short for the lookback is named
        (
            ["chicago", "gainesville"],
            {"lookback": 400},
            "group member 'gainesville': lookback=400 is longer than the history (181 rows); "
            "use a shorter lookback or provide more data",
        ),
    ],
)
def test_bad_groups_are_refused_with_the_reason(
    members: list[str], extra: dict, message: str
) -> None:
    frames = {k: STATIONS[k]() for k in members}
    spec = ModelSpec(
        architecture="gru", strategy="direct", epochs=1, targets=("tmax",), **{**TINY, **extra}
    )
    with pytest.raises(ForecasterError) as info:
        train_global_model(frames, spec, freq="D")
    assert str(info.value) == message


def test_members_of_different_frequencies_are_refused(
    session_factory: sessionmaker[Session],
) -> None:
    store_group(session_factory, "stocks", ["AAPL"])
    store_group(session_factory, "stations", ["gainesville"])
    spec = ModelSpec(architecture="gru", strategy="direct", epochs=1, **TINY)
    with pytest.raises(InvalidRequest) as info:
        training.train_group(
            sessions=session_factory, group="mixed", members=["AAPL", "gainesville"], spec=spec
        )
    assert str(info.value) == (
        "group 'mixed' mixes frequencies B, D; a global model's members share one frequency"
    )
    with session_factory.begin() as session:
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 0

"""The retrain config's groups: who is a member, which specs a group trains, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forecaster.errors import InvalidData
from forecaster.retrain_config import load_retrain_config

BASE = {
    "defaults": {"lookback": 28, "horizon": 7, "epochs": 3},
    "by_frequency": {"B": {"transform": "log_return"}},
    "candidates": [{"architecture": "gru", "strategy": "direct"}],
}


def _load(tmp_path: Path, groups: object) -> object:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({**BASE, "groups": groups}))
    return load_retrain_config(path)


def test_members_by_list_or_by_frequency_and_the_group_specs(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        {
            "stocks": {
                "frequency": "B",
                "hidden_size": 8,
                "candidates": [{"architecture": "lstm", "strategy": "direct"}],
            },  # fmt: skip
            "pair": {"series": ["sea", "chi", "absent"], "embedding_dim": 2},
        },
    )
    jobs = [("AAPL", "B"), ("sea", "D"), ("IBM", "B"), ("chi", "D")]
    stocks, pair = cfg.groups["stocks"], cfg.groups["pair"]  # type: ignore[attr-defined]
    assert stocks.members(jobs) == ["AAPL", "IBM"]
    assert pair.members(jobs) == ["sea", "chi"]  # only those in the run, in the listed order
    assert pair.embedding_dim == 2 and stocks.embedding_dim == 4
    (spec,) = cfg.group_specs("stocks", "B")  # type: ignore[attr-defined]
    assert (spec.architecture, spec.hidden_size, spec.transform) == ("lstm", 8, "log_return")
    (quick,) = cfg.group_specs("pair", "D", quick=True)  # type: ignore[attr-defined]
    assert (quick.architecture, quick.lookback) == ("gru", 28)  # the config's own candidates


def test_the_bundled_config_names_no_group() -> None:
    assert load_retrain_config().groups == {}


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        # neither members nor a frequency
        ({"g": {"embedding_dim": 4}}, "give its members as series: [KEY, ...] or frequency: ALIAS"),
        # a misspelt spec key
        ({"g": {"frequency": "D", "hiden_size": 8}}, "unknown field(s) hiden_size"),
        # a bad embedding size
        ({"g": {"frequency": "D", "embedding_dim": 0}}, "embedding_dim=0 must be an integer >= 1"),
    ],
)
def test_bad_groups_say_what_is_valid(tmp_path: Path, groups: object, message: str) -> None:
    with pytest.raises(InvalidData) as info:
        _load(tmp_path, groups)
    assert message in str(info.value)

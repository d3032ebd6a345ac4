"""The bundled real samples: present, unchanged, readable, and described truthfully."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from forecaster.errors import InvalidData
from forecaster.sources.csv import load_sample, read_table
from forecaster.sources.samples import SAMPLES, Sample, get_sample, sample_path
from tests.forecaster.sources.test_base import assert_normalized

README = Path(sample_path("AAPL")).parent / "README.md"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.key)
def test_sample_matches_its_readme_checksum(sample: Sample) -> None:
    digest = hashlib.sha256(sample_path(sample).read_bytes()).hexdigest()
    row = next(
        line
        for line in README.read_text().splitlines()
        if f"`{sample.filename}`" in line and "|" in line
    )
    assert re.search(digest, row), f"{sample.filename}: sha256 {digest} not in README row"


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.key)
def test_sample_loads_with_its_frequency_and_targets(sample: Sample) -> None:
    table = read_table(sample_path(sample))
    assert table.freq == sample.frequency  # what the file itself implies
    assert table.dropped == ()
    frame = load_sample(sample)
    assert_normalized(frame)
    for target in sample.targets:
        assert frame[target].notna().all()
    assert sample.source == "csv"


def test_samples_cover_stocks_and_weather():
    assert [s.key for s in SAMPLES] == ["AAPL", "IBM", "seattle-weather"]
    assert load_sample("AAPL").index[0].isoformat() == "2005-03-01T00:00:00"
    assert len(load_sample("seattle-weather")) == 1461


def test_bundled_aapl_close_has_no_split_jump():
    close = load_sample("AAPL")["close"]
    assert close.pct_change().abs().max() < 0.3  # the 2005 2:1 split is before the file


def test_get_sample_by_key_or_file_name():
    assert get_sample("aapl") is get_sample("AAPL.csv")


def test_unknown_sample_names_the_bundled_ones():
    with pytest.raises(InvalidData) as excinfo:
        get_sample("TSLA")
    assert str(excinfo.value) == (
        "unknown sample 'TSLA': bundled samples are AAPL, IBM, seattle-weather"
    )

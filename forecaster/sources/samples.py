"""The real data bundled in the wheel (forecaster/sample_data/): a catalogue and its files.

Provenance and licenses: forecaster/sample_data/README.md. Nothing here is synthetic.

Stocks run on the business-day calendar "B". Exchange holidays are business days with no
trading: they are *absent rows* (the file lists trading days only), not NaN rows, so a
"B" index has holes that the forecasting core handles.

Default targets for stocks are `close`, not `adj_close`: the adjusted close is re-based by
the source after every dividend and split, so the bundled `adj_close` (adjusted as of 2018)
would not join up with what a live Yahoo ingest returns today, and a stored history of it
goes stale. `close` is the price as traded and is never revised. Its one weakness, a jump at
each split, is kept out of the bundled AAPL file by starting it on 2005-03-01, after AAPL's
2005 2:1 split; IBM did not split in 2000-2013.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from forecaster.errors import InvalidData


@dataclass(frozen=True)
class Sample:
    """One bundled series."""

    key: str  # series key, e.g. "AAPL"
    filename: str  # file in forecaster/sample_data/
    frequency: str  # pandas alias: "B" (trading days), "D"
    description: str
    targets: tuple[str, ...]  # default forecasting targets (variables in the frame)
    source: Literal["csv"] = "csv"


SAMPLES: tuple[Sample, ...] = (
    Sample(
        key="AAPL",
        filename="AAPL.csv",
        frequency="B",
        description=(
            "Apple daily prices 2005-03-01..2013-03-01 (unadjusted open/high/low/close, "
            "volume, and adj_close as adjusted in 2018); Quandl WIKI, public domain"
        ),
        targets=("close",),
    ),
    Sample(
        key="IBM",
        filename="IBM.csv",
        frequency="B",
        description=(
            "IBM daily prices 2000-03-01..2013-03-01 (unadjusted open/high/low/close, "
            "volume, and adj_close as adjusted in 2018); Quandl WIKI, public domain"
        ),
        targets=("close",),
    ),
    Sample(
        key="seattle-weather",
        filename="seattle_daily.csv",
        frequency="D",
        description=(
            "Seattle daily weather 2012-01-01..2015-12-31: tmin/tmax degC, prcp mm, "
            "wspd km/h (other Meteostat-schema columns empty); NOAA, public domain"
        ),
        targets=("tmax",),
    ),
)


def get_sample(name: str) -> Sample:
    """The sample with this key or file name (case-insensitive)."""
    wanted = name.strip().lower()
    for sample in SAMPLES:
        if wanted in (sample.key.lower(), sample.filename.lower()):
            return sample
    valid = ", ".join(s.key for s in SAMPLES)
    raise InvalidData(f"unknown sample {name!r}: bundled samples are {valid}")


def sample_path(sample: Sample | str) -> Path:
    """A filesystem path to the sample's file, also from an installed wheel."""
    if isinstance(sample, str):
        sample = get_sample(sample)
    resource = resources.files("forecaster").joinpath("sample_data", sample.filename)
    if isinstance(resource, Path):
        return resource
    # Imported from a zip: copy the file out once, to a stable place.
    target = Path(tempfile.gettempdir()) / "forecaster-sample-data" / sample.filename
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with resource.open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return target

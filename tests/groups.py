"""The bundled groups a global model is tested on: real files, stored as series."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.db import observations as observations_db
from forecaster.db import series as series_db
from forecaster.sources.csv import load_sample, read_csv

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "data"

# three real stations of different lengths and climates (forecaster/sample_data, tests/fixtures/data)
STATIONS = {
    "seattle-weather": lambda: load_sample("seattle-weather").iloc[-500:],
    "chicago": lambda: read_csv(FIXTURES / "chicago_daily.csv", freq="D")[0],
    "gainesville": lambda: read_csv(FIXTURES / "gainesville_daily_2013h1.csv", freq="D")[0],
}
# the bundled stocks (forecaster/sample_data), their most recent two years
STOCKS = {
    "AAPL": lambda: load_sample("AAPL").iloc[-500:],
    "IBM": lambda: load_sample("IBM").iloc[-500:],
}


def store_group(
    factory: sessionmaker[Session], group: str, keys: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Register and store the members (`keys`, default all) of "stations" or "stocks"."""
    members, freq = (STATIONS, "D") if group == "stations" else (STOCKS, "B")
    frames = {}
    with factory.begin() as session:
        for key, load in members.items():
            if keys is not None and key not in keys:
                continue
            frame = load()
            series = series_db.register_series(
                session=session, key=key, source="csv", params={}, frequency=freq
            )
            observations_db.upsert_observations(session=session, series_id=series.id, frame=frame)
            frames[key] = frame
    return frames

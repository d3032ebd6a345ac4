"""Daily stock prices from Yahoo Finance through yfinance: one ticker per fetch, frequency "B".

Columns: open, high, low, close (as traded, split-adjusted by Yahoo), adj_close (also
dividend-adjusted, and re-based by Yahoo after every new dividend or split), volume.

Each row is labelled with its trading date at midnight. yfinance stamps daily bars at
midnight in the exchange's timezone; that date is kept as is rather than converted to UTC,
which would move every Asian or Pacific session to the previous day (a Sunday, for a
Monday bar). For American and European exchanges it is the UTC date of the session.

Gaps: a price Yahoo sends as null stays NaN. yfinance itself reports a missing volume as 0,
and drops the rows Yahoo sends with no price and no volume (days without trading): on the
"B" calendar those days are absent rows, as in the bundled samples.

Errors: a ticker Yahoo does not know, or a range with no trading, is a SourceError; a
network failure, a rate limit or a server error is SourceUnavailable (worth retrying).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pandas as pd
import yfinance as yf
from yfinance.exceptions import YFException, YFRateLimitError

from forecaster.errors import InvalidData, SourceError
from forecaster.sources.base import SourceUnavailable, normalize_frame

logger = logging.getLogger(__name__)

FREQ = "B"
COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}
_yf_config_lock = threading.Lock()


class YahooSource:
    """The Source for Yahoo Finance: params {"ticker": "AAPL"}."""

    name = "yahoo"
    freq = FREQ

    def fetch(self, params: dict[str, Any], start: date | None, end: date | None) -> pd.DataFrame:
        ticker = str(params.get("ticker") or "").strip().upper()
        if not ticker:
            raise InvalidData(
                f"yahoo source needs params {{'ticker': SYMBOL}} (e.g. 'AAPL'); got {params!r}"
            )
        return fetch_prices(ticker, start, end)


def fetch_prices(ticker: str, start: date | None, end: date | None) -> pd.DataFrame:
    """Daily OHLCV and adjusted close of `ticker`, `start` to `end` inclusive (None: all)."""
    span = f"between {start or 'the first trade'} and {end or 'today'}"
    try:
        with _yfinance_raises():
            history = yf.Ticker(ticker).history(
                **_range_args(start, end),
                interval="1d",
                auto_adjust=False,
                actions=False,
            )
    except YFRateLimitError as exc:
        raise SourceUnavailable(
            f"yahoo is rate-limiting requests for ticker {ticker!r}: try again later"
        ) from exc
    except YFException as exc:  # no timezone / no prices: Yahoo does not know the symbol
        logger.info("yahoo: %s", exc)
        history = pd.DataFrame()
    except OSError as exc:  # curl_cffi's errors, HTTP errors included, are OSErrors
        if _http_status(exc) == 404:
            history = pd.DataFrame()
        else:
            raise SourceUnavailable(
                f"yahoo could not be reached for ticker {ticker!r} {span}: {exc}"
            ) from exc
    if history.empty:
        raise SourceError(
            f"yahoo returned no rows for ticker {ticker!r} {span}: check the symbol on "
            "finance.yahoo.com (e.g. 'AAPL', 'BRK-B', '^GSPC') or widen the date range"
        )
    history = history[[c for c in COLUMNS if c in history.columns]].rename(columns=COLUMNS)
    if isinstance(history.index, pd.DatetimeIndex) and history.index.tz is not None:
        history.index = history.index.tz_localize(None)  # keep the exchange's trading date
    return normalize_frame(history, daily=True)


def _range_args(start: date | None, end: date | None) -> dict[str, Any]:
    args: dict[str, Any] = {"start": start} if start is not None else {"period": "max"}
    if end is not None:
        args["end"] = end + timedelta(days=1)  # yfinance's end is exclusive
    return args


@contextmanager
def _yfinance_raises() -> Iterator[None]:
    """yfinance logs and swallows errors by default, which hides a network failure behind an
    empty frame; let them raise for the duration of one call."""
    with _yf_config_lock:
        hidden = yf.config.debug.hide_exceptions
        yf.config.debug.hide_exceptions = False
        try:
            yield
        finally:
            yf.config.debug.hide_exceptions = hidden


def _http_status(exc: BaseException) -> int | None:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None

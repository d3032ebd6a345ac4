"""Domain errors. Messages say what was wrong, the value given and what is valid.

The errors a user most often meets carry their facts as fields (`NoChampion(series_key=...,
strategy=...)`); str() is the domain's text, which names no HTTP route nor CLI command, and
`render(hint)` words it with an adapter's own hint in its place (api/errors.py: a route; the
CLI: a command). One made from a plain message is shown as it is.

* ForecasterError
  + NotFound:        UnknownSeries, UnknownModel, UnknownRun
  + Conflict:        NoChampion, SeriesExists, RunInProgress, RunEnded
  + InvalidRequest:  HorizonTooLong, LevelOutOfRange, BadModelRef, BadDateRange, InvalidData
  + TooBusy:         a limit on concurrent work (queued runs) was reached
  + SourceError:     the upstream data source failed or returned nothing
  + Overloaded:      the server is busy computing other forecasts; retry later
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any


class ForecasterError(Exception):
    """Base of every error a user can cause or see."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.text())
        self.structured = not message  # made from fields: adapters may add their hint

    def text(self, hint: str | None = None) -> str:
        """The message, with an adapter's `hint` (a route, a command) where it belongs."""
        base = str(self.args[0]) if self.args else ""
        return f"{base}; {hint}" if hint else base

    def render(self, hint: str | None) -> str:
        """What an adapter shows: its hint worded in, or the plain message as it was made."""
        return self.text(hint) if self.structured else str(self)


class NotFound(ForecasterError):
    pass


class UnknownSeries(NotFound):
    def __init__(self, message: str = "", *, key: str = "", known: Sequence[str] = ()) -> None:
        self.key, self.known = key, tuple(known)
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        listed = (
            f"known series: {', '.join(self.known)}" if self.known else "no series are stored yet"
        )
        return f"unknown series {self.key!r}; {listed}" + (f" ({hint})" if hint else "")


class UnknownModel(NotFound):
    """No such version, or (`series_key` given) a version of another series than that one."""

    def __init__(
        self, message: str = "", *, version_id: int = 0, series_key: str | None = None
    ) -> None:
        self.version_id, self.series_key = version_id, series_key
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        if self.series_key is None:
            base = f"unknown model version {self.version_id}"
        else:
            base = f"model version {self.version_id} belongs to another series, not {self.series_key!r}"
        return f"{base}; {hint}" if hint else base


class UnknownRun(NotFound):
    def __init__(self, message: str = "", *, run_id: int = 0) -> None:
        self.run_id = run_id
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        base = f"unknown run id {self.run_id}"
        return f"{base}; {hint}" if hint else base


class Conflict(ForecasterError):
    pass


class SeriesExists(Conflict):
    """A new series' key is taken; `render(hint)` says how to update the existing one."""

    def __init__(
        self, message: str = "", *, key: str = "", source: str = "", params: Any = None
    ) -> None:
        self.key, self.source, self.params = key, source, params
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        base = f"series {self.key!r} already exists (source {self.source}, params {self.params})"
        return f"{base}; pick another key" + (f", or {hint}" if hint else "")


class NoChampion(Conflict):
    def __init__(self, message: str = "", *, series_key: str = "", strategy: str = "") -> None:
        self.series_key, self.strategy = series_key, strategy
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        return (
            f"series {self.series_key!r} has no {self.strategy} champion yet; "
            f"{hint or 'train one first'}"
        )


class RunInProgress(Conflict):
    pass


class RunEnded(Conflict):
    """A run that has ended cannot be cancelled (or changed)."""


class TooBusy(ForecasterError):
    """A limit on concurrent work was reached; the message names the limit. Try again later."""


class Unavailable(ForecasterError):
    """A service this needs (the Prefect server) cannot be reached; nothing was started. The
    request may be repeated after `retry_after` seconds."""

    def __init__(self, message: str = "", *, retry_after: int = 10) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidRequest(ForecasterError):
    pass


class BadModelRef(InvalidRequest):
    """A `model` that is neither "champion" nor a version id in 1..max_id."""

    def __init__(self, message: str = "", *, model: str | int = "", max_id: int = 0) -> None:
        self.model, self.max_id = model, max_id
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        listed = f"; {hint}" if hint else ""
        return (
            f"model={self.model!r} is neither 'champion' nor a model version id "
            f"(1..{self.max_id}{listed})"
        )


class HorizonTooLong(InvalidRequest):
    """Past a direct model's H (`strategy` direct), the configured cap on a recursive forecast's
    steps (`reason` None), or a recursive model's calibrated reach (`reason` says why)."""

    def __init__(
        self,
        message: str = "",
        *,
        horizon: int = 0,
        cap: int = 0,
        strategy: str = "",
        reason: str | None = None,
    ) -> None:
        self.horizon, self.cap, self.strategy, self.reason = horizon, cap, strategy, reason
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        h, cap = self.horizon, self.cap
        if self.strategy == "direct":
            return (
                f"horizon={h} exceeds this direct model's H={cap}; "
                f"use strategy=recursive or horizon<={cap}"
            )
        if self.reason is None:
            return (
                f"horizon={h} exceeds the limit of {cap} steps for a recursive forecast; "
                f"give horizon between 1 and {cap}"
            )
        return (
            f"horizon={h} exceeds this recursive model's maximum horizon {cap} "
            f"({self.reason}); use horizon<={cap}"
        )


class LevelOutOfRange(InvalidRequest):
    def __init__(self, message: str = "", *, level: float = 0.0) -> None:
        self.level = level
        super().__init__(message)

    def text(self, hint: str | None = None) -> str:
        return f"level={self.level} must be in (0, 1)"


class BadDateRange(InvalidRequest):
    pass


class InvalidData(InvalidRequest):
    """Input data (a CSV, a frame, a window) cannot be used as given."""


class SourceError(ForecasterError):
    """The upstream data source failed or returned nothing."""


class Overloaded(ForecasterError):
    """Every forecast worker is busy: the request may be repeated after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# --- quoting what was given -----------------------------------------------------------------

MAX_ECHO = 120  # characters of a refused value quoted back in an error (a field, a parameter)


def clip(text: str, *, length: int | None = None) -> str:
    """`text` cut to MAX_ECHO characters, saying how long it was (`length`: of the value shown).

    A 200 MB CSV field or a 5,000-character parameter is not worth sending back whole."""
    if len(text) <= MAX_ECHO:
        return text
    return f"{text[:MAX_ECHO]}... ({len(text) if length is None else length} characters)"


def echo(value: object) -> str:
    """repr(value) for an error message, clipped (a long string's repr is never built whole)."""
    shown = repr(value[: MAX_ECHO + 1] if isinstance(value, str) else value)
    return clip(shown, length=len(str(value)))


# --- the timestamps a series can hold ---------------------------------------------------------

# What pandas' nanosecond timestamps (and so every stored series) can represent; a CSV date and
# an API query timestamp are refused outside it, naming TS_RANGE.
TS_MIN = datetime(1677, 9, 22)
TS_MAX = datetime(2262, 4, 11)
TS_RANGE = f"{TS_MIN:%Y-%m-%d} .. {TS_MAX:%Y-%m-%d} (UTC)"

"""Domain errors. Messages say what was wrong, the value given and what is valid.

An error made from its fields (`HorizonTooLong(horizon=..., cap=..., strategy=...)`) words
itself; `render(hint)` adds an adapter's own hint where it belongs.

* ForecasterError
  + NotFound:        UnknownSeries, UnknownModel, UnknownRun
  + Conflict:        NoChampion, RunInProgress, RunEnded
  + InvalidRequest:  HorizonTooLong, LevelOutOfRange, BadDateRange, InvalidData
  + TooBusy:         a limit on concurrent work (queued runs) was reached
  + SourceError:     the upstream data source failed or returned nothing
  + Overloaded:      the server is busy computing other forecasts; retry later
"""

from __future__ import annotations


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
    pass


class UnknownModel(NotFound):
    pass


class UnknownRun(NotFound):
    pass


class Conflict(ForecasterError):
    pass


class NoChampion(Conflict):
    pass


class RunInProgress(Conflict):
    pass


class RunEnded(Conflict):
    """A run that has ended cannot be cancelled (or changed)."""


class TooBusy(ForecasterError):
    """A limit on concurrent work was reached; the message names the limit. Try again later."""


class Unavailable(ForecasterError):
    """A service this needs (the Prefect server) cannot be reached; nothing was started."""


class InvalidRequest(ForecasterError):
    pass


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

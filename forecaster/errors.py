"""Domain errors. Messages say what was wrong, the value given and what is valid.

* ForecasterError
  + NotFound:        UnknownSeries, UnknownModel, UnknownRun
  + Conflict:        NoChampion, RunInProgress, RunEnded
  + InvalidRequest:  HorizonTooLong, BadDateRange, InvalidData
  + TooBusy:         a limit on concurrent work (queued runs) was reached
  + SourceError:     the upstream data source failed or returned nothing
  + Overloaded:      the server is busy computing other forecasts; retry later
"""

from __future__ import annotations


class ForecasterError(Exception):
    """Base of every error a user can cause or see."""


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
    pass


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

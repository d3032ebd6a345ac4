"""What every family of the API's models shares: ids, keys, model refs, timestamps (the naive-UTC
helpers), the strategy and the error body."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel

from forecaster import values
from forecaster.errors import TS_MAX, TS_MIN, TS_RANGE

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL

# A database id in a path: a larger number cannot exist, and the database would reject it.
DbId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _id_pattern(top: int) -> str:
    """A regular expression matching exactly the decimal numbers 1..top (no leading zeros)."""
    digits = str(top)
    parts = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        low = "1" if i == 0 else "0"
        if int(d) > int(low):
            rest = len(digits) - i - 1
            below = f"[{low}-{int(d) - 1}]"
            parts.append(digits[:i] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    parts.append(digits)
    return "|".join(parts)


MODEL_REF_PATTERN = f"^(champion|{_id_pattern(MAX_ID)})$"
_MODEL_REF = re.compile(MODEL_REF_PATTERN)


def _model_ref(value: str) -> str:
    if _MODEL_REF.match(value):
        return value
    raise ValueError(
        f"model must be 'champion' or a model version id (1..{MAX_ID}; GET /api/v1/models)"
    )


ModelRef = Annotated[
    str,
    AfterValidator(_model_ref),  # the pattern, with a message that says what is valid
    Query(
        description=f"'champion' or a model version id, 1..{MAX_ID} (GET /api/v1/models)",
        json_schema_extra={"pattern": MODEL_REF_PATTERN},
    ),
]

KEY_PATTERN = r"^[A-Za-z0-9._^=-]+$"
SeriesKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=KEY_PATTERN,
        description="series key: 1-100 letters, digits, '-', '_', '.', '^' or '='",
    ),
]


# Timestamps a query may name: TS_MIN .. TS_MAX, the range every stored series can hold.
def naive_utc(value: datetime) -> datetime:
    """An offset is honoured, then dropped (the database stores naive UTC); ValueError outside
    TS_MIN .. TS_MAX, including a date an offset pushes past year 1 or 9999."""
    try:
        utc = values.naive_utc(value)
    except OverflowError:
        utc = None
    if utc is None or not TS_MIN <= utc <= TS_MAX:
        raise ValueError(f"{value.isoformat()} is outside the valid range {TS_RANGE}")
    return utc


QueryTimestamp = Annotated[datetime, AfterValidator(naive_utc)]


def as_utc(value: datetime) -> datetime:
    """Stored timestamps are naive UTC: answered with their offset (RFC 3339 `...Z`)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Every timestamp a response carries: `format: date-time` promises an offset.
Timestamp = Annotated[datetime, AfterValidator(as_utc)]


class Strategy(StrEnum):
    recursive = "recursive"
    direct = "direct"


class Message(BaseModel):
    message: str


class ErrorDetail(BaseModel):
    """Every error: what was wrong and what is valid."""

    detail: str

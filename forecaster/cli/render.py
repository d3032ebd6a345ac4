"""How the CLI prints: one table printer, value formatting, JSON, and domain messages as a CLI
user should read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from forecaster.errors import (
    BadModelRef,
    ForecasterError,
    NoChampion,
    UnknownModel,
    UnknownRun,
    UnknownSeries,
)


def fmt(value: Any) -> str:
    """A figure for a table cell: floats to four decimals, None as an empty cell."""
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def as_utc(value: datetime) -> datetime:
    """The database's naive timestamps are UTC: the same instant with its offset."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_time(value: datetime | None, spec: str = "%Y-%m-%d %H:%M:%S") -> str | None:
    """A time for a table cell, with its zone: "2026-12-07 20:44:31 UTC" (None stays empty)."""
    return None if value is None else f"{as_utc(value):{spec}} UTC"


def json_default(value: Any) -> str:
    """JSON for what json cannot write: times in ISO 8601 with their offset, as the API gives."""
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows as aligned columns under a header; `columns` default to the first row's keys (and
    no rows then read "(none)"). None is an empty cell."""
    if columns is None:
        if not rows:
            return "(none)"
        columns = list(rows[0])
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    print(table(rows, columns))


def metrics_rows(metrics: list[dict[str, Any]], *, pooled: bool = True) -> list[dict[str, Any]]:
    """Pivot per-metric rows to one row per (variable, step): model beside naive per metric."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for m in metrics:
        if m["metric"] == "coverage" or (pooled and m["step"] != 0):
            continue
        row = rows.setdefault(
            (m["variable"], m["step"]), {"variable": m["variable"], "step": m["step"] or "all"}
        )
        row[m["metric"]] = fmt(m["model"])
        row[f"{m['metric']} naive"] = fmt(m["naive"])
        row[f"{m['metric']} snaive"] = fmt(m["seasonal_naive"])
    return [rows[k] for k in sorted(rows)]


METRIC_COLUMNS = [
    "variable",
    "step",
    "mae",
    "mae naive",
    "mae snaive",
    "rmse",
    "rmse naive",
    "mape",
    "mape naive",
    "mase",
    "mase naive",
    "mase snaive",
]


def cli_hint(exc: ForecasterError) -> str | None:
    """The command that helps with a domain error, where the API would name a route."""
    match exc:
        case UnknownSeries():
            return "`forecaster series` lists them"
        case UnknownModel(series_key=str(key)) if key:
            return f"`forecaster models {key}` lists this series' versions"
        case UnknownModel():
            return "`forecaster models` lists the versions"
        case UnknownRun():
            return "`forecaster runs` lists recent runs"
        case BadModelRef():
            return "`forecaster models` lists them"
        case NoChampion(series_key=key, strategy=strategy):
            return f"train one with `forecaster train {key} --strategy {strategy}` or `forecaster retrain {key}`"
    return None


def cli_message(exc: ForecasterError) -> str:
    """A domain error as a CLI user reads it: one line, with a command where a hint helps."""
    return " ".join(exc.render(cli_hint(exc)).split())

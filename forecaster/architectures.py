"""Architecture names shared by every layer: which versions are baselines (no weights, no torch).

Kept import-free so the CLI's read commands can use it without loading the training stack.
"""

from __future__ import annotations

BASELINES = ("naive", "seasonal_naive")


def is_baseline(architecture: str) -> bool:
    return architecture in BASELINES

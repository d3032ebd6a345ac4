"""Architecture names shared by every layer: which versions are baselines (no weights, no torch),
and the label that tells a model's variants apart.

Kept import-free so the CLI's read commands can use it without loading the training stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

BASELINES = ("naive", "seasonal_naive")


def is_baseline(architecture: str) -> bool:
    return architecture in BASELINES


def variant_label(architecture: str, hyperparameters: Mapping[str, Any] | None = None) -> str:
    """A model as a reader tells it apart: "lstm", "seq2seq-attention (segment 5)",
    "gru (bidirectional)", "seq2seq-attention (luong, gru cells)", "naive".

    Names the choices that make a different model of one architecture (those differing from
    the spec's defaults); the strategy is shown beside it, not in it.
    """
    hp = hyperparameters or {}
    parts = []
    if hp.get("bidirectional"):
        parts.append("bidirectional")
    if architecture == "seq2seq_attention":
        if hp.get("attention", "bahdanau") != "bahdanau":
            parts.append(str(hp["attention"]))
        if hp.get("seq2seq_cell", "lstm") != "lstm":
            parts.append(f"{hp['seq2seq_cell']} cells")
    if hp.get("segment_len"):
        parts.append(f"segment {hp['segment_len']}")
    name = architecture.replace("_", "-")
    return f"{name} ({', '.join(parts)})" if parts else name

"""The label that tells a model's variants apart, in the CLI's tables and the retrain summary."""

from __future__ import annotations

from typing import Any

import pytest

from forecaster.architectures import variant_label

# (architecture, hyperparameters as a version stores them, label)
LABELS: list[tuple[str, dict[str, Any] | None, str]] = [
    ("lstm", {"segment_len": None, "bidirectional": False}, "lstm"),
    ("gru", {"segment_len": 48}, "gru (segment 48)"),
    ("rnn", {"bidirectional": True}, "rnn (bidirectional)"),
    ("seq2seq_attention", {"segment_len": None, "attention": "bahdanau"}, "seq2seq-attention"),
    ("seq2seq_attention", {"segment_len": 5}, "seq2seq-attention (segment 5)"),
    (
        "seq2seq_attention",
        {"attention": "luong", "seq2seq_cell": "gru", "segment_len": 10},
        "seq2seq-attention (luong, gru cells, segment 10)",
    ),
    ("naive", {}, "naive"),
    ("seasonal_naive", None, "seasonal-naive"),
]


@pytest.mark.parametrize(("architecture", "hyperparameters", "label"), LABELS)
def test_variant_label(
    architecture: str, hyperparameters: dict[str, Any] | None, label: str
) -> None:
    assert variant_label(architecture, hyperparameters) == label


def test_the_retrains_two_seq2seq_candidates_read_differently() -> None:
    step_wise = variant_label("seq2seq_attention", {"segment_len": None})
    segments = variant_label("seq2seq_attention", {"segment_len": 5})
    assert step_wise != segments
    assert len({label for _, _, label in LABELS}) == len(LABELS)

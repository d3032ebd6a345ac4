"""torch's process-wide random state, shared by fits that run in threads: seed it, or run a
block from a seed and leave it as it was, one thread at a time."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

# torch's CPU generator is one per process: fits running in a thread pool (the retrain flow's
# threads runner) share it. Seeding and drawing initial weights hold this lock, so every fit
# starts from its own seed's weights whatever else runs; what a fit draws while training (dropout
# masks, scheduled sampling) still comes from the shared generator, so with more than one thread
# those draws interleave (one worker, or Dask's processes, reproduce every weight exactly).
_RNG_LOCK = threading.RLock()


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run the block (building a module: its initial weights) from `seed`, atomically with
    respect to other threads, and leave the process's random state as it was."""
    with _RNG_LOCK:
        state = torch.get_rng_state()
        try:
            if seed is not None:
                torch.manual_seed(seed)
            yield
        finally:
            torch.set_rng_state(state)


@contextmanager
def rng_kept() -> Iterator[None]:
    """Leave the process's random state as it was before the block (a fit seeds it)."""
    with _RNG_LOCK:
        state = torch.get_rng_state()
    try:
        yield
    finally:
        with _RNG_LOCK:
            torch.set_rng_state(state)


def seed_process(seed: int) -> None:
    """Seed torch's global generator (a fit's dropout and scheduled sampling draw from it)."""
    with _RNG_LOCK:
        torch.manual_seed(seed)

"""A small bounded pool for forecasts that miss the cache: they run a model, cached reads do not.

A miss waits at most `wait_s` on the event loop for one of `size` slots, then is refused with
Overloaded (503 + Retry-After). Its model runs on threads of its own, so misses never hold the
thread pool that cached reads (and every other sync route) use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from forecaster.errors import Overloaded

T = TypeVar("T")


class ComputePool:
    """`size` computations at once; a request waits at most `wait_s` seconds for a slot."""

    def __init__(self, size: int, wait_s: float) -> None:
        if size < 1:
            raise ValueError(f"size={size} must be at least 1")
        self.size = size
        self.wait_s = wait_s
        self.running = 0  # read by tests and /metrics-style probes; changed on the event loop
        self.refused = 0
        # created on first use, inside the app's event loop (anyio primitives belong to one)
        self._slots: anyio.Semaphore | None = None
        self._threads: anyio.CapacityLimiter | None = None

    def _primitives(self) -> tuple[anyio.Semaphore, anyio.CapacityLimiter]:
        if self._slots is None or self._threads is None:
            self._slots = anyio.Semaphore(self.size)
            self._threads = anyio.CapacityLimiter(self.size)
        return self._slots, self._threads

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on a pool thread once a slot is free; Overloaded if none frees in time."""
        slots, threads = self._primitives()
        try:
            if self.wait_s <= 0:
                slots.acquire_nowait()
            else:
                with anyio.fail_after(self.wait_s):
                    await slots.acquire()
        except (anyio.WouldBlock, TimeoutError):
            self.refused += 1
            retry = max(1, math.ceil(self.wait_s))
            raise Overloaded(
                f"all {self.size} forecast workers are busy computing forecasts that were not "
                f"cached; retry in {retry} s (cached forecasts are answered at once)",
                retry_after=retry,
            ) from None
        self.running += 1
        try:
            # not cancellable: a client that hangs up does not free the slot before the model is done
            return await anyio.to_thread.run_sync(fn, limiter=threads)
        finally:
            self.running -= 1
            slots.release()

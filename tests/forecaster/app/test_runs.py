"""forecaster.app.runs: what a run records about who runs it."""

from __future__ import annotations

import os
import socket

from forecaster.app.runs import Executor


def test_the_executor_as_a_run_records_it() -> None:
    here = Executor.here()
    assert (here.host, here.pid) == (socket.gethostname(), os.getpid())
    assert Executor("h", 7).to_json() == {"host": "h", "pid": 7}
    assert list(Executor("h", 7).to_json("flow").items()) == [
        ("mode", "flow"), ("host", "h"), ("pid", 7)
    ]  # fmt: skip

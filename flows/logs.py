"""The process's own logging kept through Prefect's first import (Prefect reconfigures the
logging of the whole process when it is imported)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def keeping_logging() -> Iterator[None]:
    """Keep the process's own logging through a first `import prefect`.

    Importing Prefect configures logging for the whole process (prefect/main.py calls
    setup_logging): it sets `uvicorn` to WARNING with its own handler and resets `uvicorn.access`
    to NOTSET, so a service's access log went silent after its first in-process flow run. Every
    logger that is not Prefect's gets back its level, handlers, propagation and state."""
    manager = logging.Logger.manager
    loggers = [logging.getLogger()] + [
        lg
        for name, lg in list(manager.loggerDict.items())
        if isinstance(lg, logging.Logger) and not name.startswith("prefect")
    ]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate, lg.disabled) for lg in loggers]
    try:
        yield
    finally:
        for lg, level, handlers, propagate, disabled in saved:
            lg.setLevel(level)
            lg.handlers[:] = handlers
            lg.propagate, lg.disabled = propagate, disabled

"""What open (no API key) reads may show of server-side text: one line, no paths, URLs or hosts.

Failure reasons are stored in full (a traceback, the server's file paths, internal URLs) for
operators; an anonymous client gets `reason(text)`: the first line (exception type and
message) with each absolute path cut to its file name and each URL, IP address and host name replaced.
A request carrying the valid X-API-Key sees the stored text (api/deps.py: FullDetail).
"""

from __future__ import annotations

import re
from typing import Any

MAX_REASON = 300  # characters of a one-line reason

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)\]]+")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b")
# host names: "name:port", a name a driver quotes after "server at"/"host", "host=name", and
# dotted names under a network suffix (not module paths such as sqlalchemy.exc.OperationalError)
_HOST_PORT = re.compile(r"(?<![\w./\\-])[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*:\d{2,5}\b")
_QUOTED_HOST = re.compile(r"\b(server at|host|hostname|address)(\s+)\"[^\"]+\"", re.IGNORECASE)
_HOST_EQ = re.compile(r"\b(host|hostaddr|server)=([^\s&;,'\"]+)", re.IGNORECASE)
_NETWORK_NAME = re.compile(
    r"(?<![\w./\\-])(?:[A-Za-z0-9-]+\.)+(?:com|net|org|io|dev|cloud|internal|local|"
    r"localdomain|lan|corp|intra|svc|cluster|home|aws|azure|gcp)\b(?![\w-])",
    re.IGNORECASE,
)
# /abs/path/to/file or C:\dir\file, not inside a word ("a/b") nor a relative path
_POSIX_PATH = re.compile(r"(?<![\w.~/…-])(?:~)?/(?:[^\s/'\"<>:,;()\[\]]+/)*([^\s/'\"<>:,;()\[\]]*)")
_WINDOWS_PATH = re.compile(r"\b[A-Za-z]:\\(?:[^\s\\'\"<>:,;]+\\)*([^\s\\'\"<>:,;]*)")


def _file_name(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"…/{name}" if name else "…/"


def reason(text: str | None) -> str | None:
    """One sanitized line of a stored error or message (None stays None)."""
    if text is None:
        return None
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    line = next((ln for ln in lines if not ln.startswith("Traceback (most recent")), "")
    line = _URL.sub("<url>", line)
    line = _IP.sub("<host>", line)
    line = _QUOTED_HOST.sub(r'\1\2"<host>"', line)
    line = _HOST_EQ.sub(r"\1=<host>", line)
    line = _HOST_PORT.sub("<host>", line)
    line = _NETWORK_NAME.sub("<host>", line)
    line = _WINDOWS_PATH.sub(_file_name, line)
    line = _POSIX_PATH.sub(_file_name, line)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def value(data: Any) -> Any:
    """`reason` applied to every string inside JSON-like data (a run's result, parameters)."""
    if isinstance(data, str):
        return reason(data)
    if isinstance(data, dict):
        return {k: value(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [value(v) for v in data]
    return data


def source_params(params: dict[str, Any]) -> dict[str, Any]:
    """A series' source parameters without the server's directories (a CSV's path: its name)."""
    return {k: value(v) if k == "path" else v for k, v in params.items()}

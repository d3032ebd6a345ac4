"""The dashboard at "/": one HTML page and plotly's JS bundle, both served by the app itself.

The page reads the public JSON API (/api/v1) like any client; its own script and style are in
api/dashboard/static (mounted at /static by create_app). Plotly comes from
api/dashboard/vendor: the official 1.5 MB "cartesian" bundle of plotly.js (scatter, heatmap and
the other 2-D traces), vendored unmodified with its licence, so the page needs no CDN, works
offline, and a first visit compiles a third of the full 4.8 MB bundle.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

DASHBOARD_DIR = Path(__file__).resolve().parents[1] / "dashboard"
PLOTLY_PATH = "/vendor/plotly.min.js"
# Scripts, styles, data and fonts from this origin only: the page works offline and a request
# that tried to leave the machine would be blocked by the browser. Plotly sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


PLOTLY_FILE = DASHBOARD_DIR / "vendor" / "plotly-cartesian.min.js"


@lru_cache(maxsize=1)
def plotly_bundle() -> tuple[bytes, bytes, str]:
    """The vendored plotly.js bundle: (raw, gzipped, version)."""
    if not PLOTLY_FILE.is_file():
        raise FileNotFoundError(f"{PLOTLY_FILE} is missing from the installation")
    raw = PLOTLY_FILE.read_bytes()
    # "plotly.js (cartesian - minified) v4.1.1" in the licence header names the version
    header = raw[:200].decode("ascii", "replace")
    version = header.split(") v", 1)[-1].split()[0] if ") v" in header else "0"
    return raw, gzip.compress(raw, compresslevel=9, mtime=0), version


@lru_cache(maxsize=1)
def index_html() -> str:
    html = (DASHBOARD_DIR / "index.html").read_text(encoding="utf-8")
    try:
        version = plotly_bundle()[2]
    except FileNotFoundError:
        version = "missing"
    # The version in the URL lets browsers keep the bundle cached until plotly changes.
    return html.replace("{{plotly_src}}", f"{PLOTLY_PATH}?v={version}")


@router.get("/", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    """Series picker, history with forecasts and intervals, errors beside baselines, models, runs."""
    return HTMLResponse(
        index_html(),
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get(PLOTLY_PATH)
def plotly_js(request: Request) -> Response:
    """The vendored plotly.js bundle (gzipped when the client accepts it), cached for a year."""
    try:
        raw, packed, _version = plotly_bundle()
    except FileNotFoundError as exc:
        raise HTTPException(404, f"{exc}; the dashboard needs it for its charts") from exc
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(packed, media_type="text/javascript", headers=headers)
    return Response(raw, media_type="text/javascript", headers=headers)

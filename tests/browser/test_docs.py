"""The API docs in a real headless chromium that can reach nothing but the app: Swagger UI (/docs)
and ReDoc (/redoc) load their scripts from the app (api/dashboard/vendor) and draw every
operation (issue 24 item 2: from a CDN, both pages were blank offline)."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Dash, LiveApp

pytestmark = pytest.mark.browser


def _paths(base_url: str) -> set[str]:
    spec = httpx.get(base_url + "/openapi.json").json()
    return {path for path, operations in spec["paths"].items() for _ in operations}


def test_swagger_ui_lists_every_operation_offline(dash: Dash, live_app: LiveApp) -> None:
    dash.open_url("/docs")
    dash.page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    shown = dash.page.eval_on_selector_all(
        ".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path || n.textContent)"
    )
    assert {path.replace("\u200b", "") for path in shown} == _paths(live_app.base_url)
    assert dash.page.title() == "Forecaster - Swagger UI"
    assert any("/vendor/swagger-ui/swagger-ui-bundle.js" in url for url in dash.requests)


def test_redoc_draws_every_operation_offline(dash: Dash, live_app: LiveApp) -> None:
    dash.open_url("/redoc")
    dash.page.wait_for_selector('[data-section-id*="operation/"]', timeout=30_000)
    sections = dash.page.eval_on_selector_all(
        '[data-section-id*="operation/"]', "nodes => nodes.map(n => n.dataset.sectionId)"
    )
    spec = httpx.get(live_app.base_url + "/openapi.json").json()
    count = sum(len(operations) for operations in spec["paths"].values())
    # each operation once in the side menu and once as a section: count the operation ids
    assert len({section.split("operation/")[1] for section in sections}) == count
    assert "Forecaster" in (dash.page.text_content("h1") or "")
    assert any("/vendor/redoc/redoc.standalone.js" in url for url in dash.requests)

"""The OpenAPI document as the API really answers: every error body is `{"detail": str}`, and
every status a route can give is documented, so generated clients and fuzzers agree with it.

FastAPI documents 422 as its own `HTTPValidationError` array (api/errors.py answers a string)
and knows nothing of the statuses dependencies and handlers add; this fills both in.

/docs (Swagger UI) and /redoc (ReDoc) load their scripts from the app, not a CDN
(api/dashboard/vendor, like plotly): the API docs work offline and behind a firewall.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

VENDOR_DIR = Path(__file__).resolve().parent / "dashboard" / "vendor"

ERROR_REF = {"$ref": "#/components/schemas/ErrorDetail"}
ERROR_SCHEMA = {
    "title": "ErrorDetail",
    "description": "Every error: what was wrong and what is valid.",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
# what each status means wherever it is added (a route's own description wins)
MEANING = {
    "400": "the request body is not valid JSON",
    "401": "no API key: send it in the X-API-Key header",
    "403": "wrong API key",
    "404": "no such resource (the message names what exists)",
    "422": "a parameter or the body is not valid (the message says what is valid)",
    "503": "the server cannot serve this now: mutating routes with no API key configured, "
    "a busy compute pool (Retry-After) or an unavailable database",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}}}


def conform(schema: dict[str, Any]) -> dict[str, Any]:
    """Rewrite a FastAPI OpenAPI document in place to match what the routes answer."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorDetail"] = ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            statuses = {"422", "503"}  # any parameter; an unavailable database
            if "{" in path:
                statuses.add("404")
            if "requestBody" in operation:
                statuses.add("400")
            if operation.get("security"):
                statuses |= {"401", "403"}
            if not operation.get("parameters") and "requestBody" not in operation:
                statuses.discard("422")
            for status in sorted(statuses):
                current = responses.get(status)
                description = (current or {}).get("description") or MEANING[status]
                if status == "422" and description == "Validation Error":
                    description = MEANING["422"]
                responses[status] = _error(description)
            for status, response in responses.items():  # a route's own 409, 429, ...
                if status.startswith(("4", "5")):
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return schema


def install(app: FastAPI) -> None:
    """Serve the conformed document at /openapi.json (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = conform(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc as FastAPI draws them, with the vendored Swagger UI and ReDoc (the app
    is built with docs_url=None and redoc_url=None, so these are the only ones)."""
    app.mount("/vendor/swagger-ui", StaticFiles(directory=VENDOR_DIR / "swagger-ui"), "swagger-ui")
    app.mount("/vendor/redoc", StaticFiles(directory=VENDOR_DIR / "redoc"), "redoc")
    redirect = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect,
            swagger_js_url="/vendor/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/vendor/swagger-ui/swagger-ui.css",
            swagger_favicon_url="data:,",
            swagger_ui_parameters={"validatorUrl": None},  # no badge from validator.swagger.io
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url="/vendor/redoc/redoc.standalone.js",
            redoc_favicon_url="data:,",
            with_google_fonts=False,
        )

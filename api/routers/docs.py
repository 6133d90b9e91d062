"""The interactive API documentation (Swagger UI 5, which reads OpenAPI 3.1), served with its
scripts and styles from the installed `swagger-ui-py` package: it works offline and on a
closed network, and the page loads nothing from another site."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.problems import ProblemError

router = APIRouter(include_in_schema=False)

DOCS_PATH = "/api/v1/docs"
ASSETS = Path(str(files("swagger_ui") / "static"))
#: The files the page loads (a fixed set: nothing else of the package is served).
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


@router.get(DOCS_PATH, response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Anyone: the documentation of the public API (the document itself is public too)."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} API",
        swagger_js_url=f"{DOCS_PATH}/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_PATH}/assets/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_PATH}/assets/favicon-32x32.png",
    )


@router.get(DOCS_PATH + "/assets/{name}")
def swagger_asset(name: str) -> Response:
    """Anyone: one of the Swagger UI files shipped by the installed package."""
    if name not in ASSET_TYPES or not (ASSETS / name).is_file():
        raise ProblemError(404, f"There is no documentation file '{name}'.")
    return FileResponse(
        ASSETS / name,
        media_type=ASSET_TYPES[name],
        headers={"Cache-Control": "public, max-age=86400"},
    )

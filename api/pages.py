"""The web page at `/` (a starting page until the web UI lands)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(settings: SettingsDep) -> str:
    prefect_ui = escape(settings.resolved_prefect_api_url.removesuffix("/api"))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Model Commons</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>Model Commons</h1>
<p>Versioned, permissioned models run as reproducible workflows. The web pages for segmenting photos,
training classifiers and publishing models are coming; today everything is reachable over the REST API.</p>
<ul>
<li><a href="/docs">REST API documentation</a> (OpenAPI)</li>
<li><a href="/api/v1/resources">Public resources</a> (JSON)</li>
<li><a href="/api/v1/health">Health of the stack</a></li>
<li><a href="{prefect_ui}">Prefect UI</a> (flow runs of every task)</li>
</ul></body></html>"""

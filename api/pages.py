"""The web pages: server-rendered shells (Jinja2) whose scripts call the same REST API programs use.

No page reads the registry itself: each template carries only the page's name and the ids in its URL,
and its script (`api/web/static/pages/<page>.js`) fetches everything through `/api/v1`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.deps import SettingsDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor

WEB = Path(__file__).with_name("web")
templates = Jinja2Templates(directory=WEB / "templates")
# ONNX Runtime Web (`make install` copies it to static/vendor/ort/, gitignored) is an ES module that loads a .wasm:
# browsers need these types (module scripts are refused otherwise, under X-Content-Type-Options: nosniff), whatever
# the host's /etc/mime.types says.
mimetypes.add_type("text/javascript", ".mjs")
mimetypes.add_type("application/wasm", ".wasm")
static_files = StaticFiles(directory=WEB / "static")
router = APIRouter(include_in_schema=False)

# path → (template, title). Every page extends base.html and loads /static/pages/<template>.js.
PAGES: dict[str, tuple[str, str]] = {
    "/signin": ("signin", "Sign in"),
    "/signup": ("signup", "Sign up"),
    "/tokens": ("tokens", "API tokens"),
    "/explore": ("explore", "Explore models"),
    "/segment": ("segment", "Segment photos"),
    "/datasets": ("datasets", "Datasets"),
    "/train": ("train", "Train a classifier"),
    "/build": ("build", "Build a model"),
    "/evaluate": ("evaluate", "Evaluate and predict"),
    "/inspect": ("inspect", "Inspect a classifier"),
    "/provide": ("provide", "Provide a model"),
    "/tasks": ("tasks", "Your tasks"),
    "/groups": ("groups", "Groups"),
    "/inbox": ("inbox", "Inbox"),
}


def render(request: Request, template: str, title: str, settings: Any, **context: Any) -> HTMLResponse:
    prefect_ui = settings.resolved_prefect_api_url.removesuffix("/api")
    return templates.TemplateResponse(
        request,
        f"{template}.html",
        {"page": template, "title": title, "prefect_ui": prefect_ui, **context},
    )


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """The icon browsers ask for on their own (pages name /static/favicon.svg too): an SVG, as modern ones accept."""
    return FileResponse(WEB / "static" / "favicon.svg", media_type="image/svg+xml")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/explore", status_code=307)


def _simple(path: str, template: str, title: str) -> None:
    def page(request: Request, settings: SettingsDep) -> HTMLResponse:
        return render(request, template, title, settings)

    router.add_api_route(path, page, methods=["GET"], response_class=HTMLResponse, name=f"page-{template}")


for _path, (_template, _title) in PAGES.items():
    _simple(_path, _template, _title)


@router.get("/resources/{name:ref}", response_class=HTMLResponse)
def resource_page(name: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    return render(request, "resource", f"Model {name}", settings, name=name)


@router.get("/datasets/{dataset_id:ref}", response_class=HTMLResponse)
def dataset_page(dataset_id: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    return render(request, "dataset", "Dataset", settings, dataset_id=dataset_id)


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(task_id: str, request: Request, settings: SettingsDep) -> HTMLResponse:
    return render(request, "task", "Task", settings, task_id=task_id)

"""The FastAPI application: routers under `/api/v1`, error handlers, and the reaper's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from api import pages
from api.body_limits import install_body_limits
from api.concurrency import InFlightLimit
from api.errors import install_error_handlers
from api.json_guard import install_json_guard
from api.metrics import install_metrics
from api.routes import (
    access_requests,
    admin,
    audit,
    blocks,
    cards,
    crates,
    dataset_coco,
    dataset_label_studio,
    dataset_sharing,
    dataset_tasks,
    datasets,
    grants,
    groups,
    health,
    label_studio,
    notifications,
    resources,
    tasks,
    upload_files,
    uploads,
    users,
    webhooks,
)
from api.security import install_security
from commons.logging import configure_logging
from commons.settings import Settings, get_settings
from commons.store import ObjectStore
from commons.webhook_settings import get_webhook_settings
from services.dispatch import Dispatcher
from services.reaper import Reaper
from services.webhook_delivery import WebhookSender


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check_signing_key()  # production: the API alone holds COMMONS_SECRET_KEY, and must
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store.ensure_bucket()
        app.state.dispatcher = Dispatcher(settings)
        reaper = Reaper(settings=settings, dispatcher=app.state.dispatcher)
        reaper.start()
        sender = WebhookSender(database_url=settings.resolved_database_url, settings=app.state.webhook_settings)
        sender.start()
        try:
            yield
        finally:
            sender.stop()
            reaper.stop()
            app.state.dispatcher.close()

    app = FastAPI(
        title="Model Commons",
        version="0.1.0",
        description="Publish trained models as versioned, permissioned resources; run tasks on them as "
        "Prefect workflows; get every output with a provenance manifest.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.webhook_settings = get_webhook_settings()
    app.state.store = ObjectStore.from_settings(settings)
    install_error_handlers(app)
    install_json_guard(app)  # innermost: NaN, huge numbers, deep nesting in JSON bodies → 422
    app.add_middleware(InFlightLimit, limit=settings.api_max_in_flight)  # inside the metrics: they time the wait
    install_body_limits(app, settings)  # outside the bound: a body is received in full before a slot
    install_metrics(app, settings)
    install_security(app, settings)
    app.include_router(api_v1())
    app.include_router(pages.router)
    app.mount("/static", pages.static_files, name="static")
    return app


ROUTE_MODULES = (
    users,
    resources,
    cards,
    grants,
    access_requests,
    uploads,
    upload_files,
    tasks,
    datasets,
    dataset_tasks,
    dataset_sharing,
    dataset_coco,
    dataset_label_studio,
    blocks,
    audit,
    groups,
    health,
    admin,
    notifications,
    crates,
    webhooks,
    label_studio,
)


def api_v1() -> APIRouter:
    """Every route module's router under `/api/v1`; the item routers last: `/resources/{ref}` would shadow
    `/resources/{ref}/…` routes, and likewise `/datasets/{ref}`."""
    v1 = APIRouter(prefix="/api/v1")
    for module in ROUTE_MODULES:
        v1.include_router(module.router)
    v1.include_router(resources.item_router)
    v1.include_router(datasets.item_router)
    return v1

"""A COCO import as the API shows it."""

from __future__ import annotations

from sqlmodel import Session

from registry.datasets.coco import CocoImportPublic, CocoOutcome
from registry.models import User
from registry.views.base import view
from registry.views.datasets import dataset_view


def coco_import_view(session: Session, outcome: CocoOutcome, user: User) -> CocoImportPublic:
    plan = outcome.plan
    return view(
        CocoImportPublic,
        plan,
        dataset=dataset_view(session, outcome.dataset, user),
        added=len(plan.images),
        classes=[category.name for category in sorted(plan.document.categories, key=lambda c: c.id)],
        labelled=sum(image.label is not None for image in plan.images),
    )

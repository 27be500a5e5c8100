"""A Label Studio import as the API shows it."""

from __future__ import annotations

from sqlmodel import Session

from registry.datasets.label_studio import LabelStudioImportPublic, LabelStudioOutcome
from registry.models import User
from registry.views.base import view
from registry.views.datasets import dataset_view


def label_studio_import_view(session: Session, outcome: LabelStudioOutcome, user: User) -> LabelStudioImportPublic:
    plan = outcome.plan
    return view(
        LabelStudioImportPublic,
        plan,
        dataset=dataset_view(session, outcome.dataset, user),
        added=len(plan.images),
        labelled=sum(image.label is not None for image in plan.images),
    )

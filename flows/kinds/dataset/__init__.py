"""`dataset`: the tasks that work on a dataset alone, with no model (augment makes a derived dataset). Not a kind
a resource can have: its tasks are started from the dataset (`POST /datasets/{ref}/augment`)."""

from __future__ import annotations

from pydantic import BaseModel

from flows.kinds.dataset.augment import augment_dataset
from flows.kinds.spec import Inputs, KindSpec, ModeSpec, ParamsRequest
from flows.steps.prepare import DATASET_KIND
from registry.vocabulary import Mode
from resources.augment import parse_augment_params


def _augment_params(request: ParamsRequest) -> BaseModel:
    return parse_augment_params(request.raw)


KIND = KindSpec(
    name=DATASET_KIND,
    for_resources=False,
    modes={Mode.AUGMENT: ModeSpec(augment_dataset, _augment_params, Inputs.DATASET, stores=True)},
)

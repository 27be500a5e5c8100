"""Property-based requests from the running app's OpenAPI (schemathesis): no operation answers 5xx.

Bounded: a few positive and negative examples per operation, as a fresh signed-in user, on the SQLite
stack only (the PostgreSQL stack runs the same routes in the other API tests).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from api.client import CommonsClient
from resources.sam.model import TINY_CONFIG
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo

POSITIVE_EXAMPLES = 10
NEGATIVE_EXAMPLES = 5
OWN_ID_EXAMPLES = 8
# (METHOD, path) → the 5xx status it is documented to answer, and why that is not a failure.
EXPECTED_5XX: dict[tuple[str, str], tuple[int, str]] = {
    ("GET", "/api/v1/health"): (503, "the documented answer while a component is down"),
}


def exercise(
    operation: Any, *, base_url: str, headers: dict[str, str], failures: list[str], own: dict[str, str]
) -> list[int]:
    """Send the operation's bounded examples (positive, negative, then positive with the user's own ids in
    the path so the handlers run past their lookups); note each 5xx. Returns the statuses seen."""
    key = (operation.method.upper(), operation.path)
    allowed = EXPECTED_5XX.get(key, (None, ""))[0]
    grant = own["dataset_grant_id"] if operation.path.startswith("/api/v1/datasets") else own["grant_id"]
    ids = {**own, "grant_id": grant}
    statuses: list[int] = []
    use_own = False

    def call(case: Any) -> None:
        if use_own:
            case.path_parameters.update({name: ids[name] for name in case.path_parameters if name in ids})
        response = case.call(base_url=base_url, headers=headers, timeout=60)
        statuses.append(response.status_code)
        if response.status_code >= 500 and response.status_code != allowed:
            failures.append(
                f"{key[0]} {key[1]} → {response.status_code}: {response.text[:300]}\n  {case.as_curl_command()}"
            )

    passes = [(GenerationMode.POSITIVE, POSITIVE_EXAMPLES, False), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES, False)]
    if "{" in operation.path:
        passes.append((GenerationMode.POSITIVE, OWN_ID_EXAMPLES, True))
    for mode, examples, with_own_ids in passes:
        use_own = with_own_ids
        bounded = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        try:
            bounded(given(case=operation.as_strategy(generation_mode=mode))(call))()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # nothing to make invalid: the operation takes no parameters and no body
    return statuses


def own_things(user: CommonsClient, weights: Path) -> dict[str, str]:
    """A resource with a version and a grant, a dataset with a class, an item and a grant, and a token."""
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    user.create_resource(name=name, kind="segmenter.sam", title="Fuzzed", visibility="private")
    user.upload_version(name, files=[weights], config=TINY_CONFIG)
    dataset = user.http.post("/datasets", json={"name": "Fuzzed", "classes": ["cat"]}).json()["id"]
    item = user.http.post(f"/datasets/{dataset}/items", files=[("files", ("a.png", photo(3), "image/png"))]).json()
    return {
        "name": name,
        "version": "1",
        "grant_id": user.grant(name, "*", "use")["id"],
        "dataset_id": dataset,
        "class_id": user.http.get(f"/datasets/{dataset}/classes").json()[0]["id"],
        "item_id": item[0]["id"],
        "dataset_grant_id": user.http.post(
            f"/datasets/{dataset}/grants", json={"username": "*", "permission": "use"}
        ).json()["id"],
        "token_id": user.http.post("/users/me/tokens", json={"name": "fuzz"}).json()["id"],
        "group_name": user.http.post("/groups", json={"name": f"fuzz-{uuid.uuid4().hex[:8]}"}).json()["name"],
        "file_name": weights.name,
    }


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_no_operation_answers_5xx(stack: RunningStack, tiny_weights: Path) -> None:
    user = stack.new_user()
    own = own_things(user, tiny_weights)
    headers = {"Authorization": user.http.headers["Authorization"]}
    base_url = stack.settings.api_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=30)
    failures: list[str] = []
    calls: dict[str, list[int]] = {}
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"schema error: {result.err()}")
            continue
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        calls[label] = exercise(operation, base_url=base_url, headers=headers, failures=failures, own=own)
    assert len(calls) >= 30, f"only {len(calls)} operations in the schema"
    assert not failures, "server errors:\n" + "\n".join(failures)
    assert all(calls.values()), f"operations never called: {[label for label, seen in calls.items() if not seen]}"
    reached = [label for label, seen in calls.items() if "{" in label and any(200 <= s < 300 for s in seen)]
    assert len(reached) >= 10, f"only {reached} answered 2xx: the examples hardly get past the id lookups"

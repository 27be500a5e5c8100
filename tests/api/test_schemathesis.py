"""Property-based requests from the running app's OpenAPI (schemathesis): no operation answers 5xx.

Bounded: a few positive and negative examples per operation, as a fresh signed-in user, on the SQLite
stack only (the PostgreSQL stack runs the same routes in the other API tests). Then a stateful run: sequences
of calls joined by the links schemathesis infers from the schema (a created dataset's id fed to its classes,
items, grants; a resource's name to its versions…), so the handlers run on things that exist.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Flaky, Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case

from launcher.client import CommonsClient
from resources.sam.model import TINY_CONFIG
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo

POSITIVE_EXAMPLES = 10
NEGATIVE_EXAMPLES = 5
OWN_ID_EXAMPLES = 8
STATEFUL_SCENARIOS = 60  # sequences of linked calls …
STATEFUL_STEPS = 8  # … of at most this many calls each
STATEFUL_BUDGET_SECONDS = 90
# Left out of the stateful run: signing out or changing the password ends the run's session (every later call
# is a 401), and an event stream lasts as long as its task; the per-operation test above covers all three.
SESSION_ENDING = r"/users/me/(signout|password)$"
STATEFUL_EXCLUDED = SESSION_ENDING + r"|/events$"
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
    results = list(schema.get_all_operations())
    # Signing out or changing the password ends the caller's session: every later call would be a 401.
    results.sort(key=lambda result: isinstance(result, Ok) and bool(re.search(SESSION_ENDING, result.ok().path)))
    for result in results:
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


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
def test_stateful_sequences_answer_no_5xx(stack: RunningStack, tiny_weights: Path) -> None:
    """Linked sequences (create, then read, change, delete what was created) never answer 5xx.

    schemathesis' dependency analysis infers the links between operations from the schema. The run is bounded
    in scenarios, steps and time, seeded (suite n runs with seed n), and collects every 5xx instead of stopping
    at the first. A live server answers differently to the same draws as its data changes, which Hypothesis
    reports as a flaky strategy; like schemathesis' own runner, that ends the suite and the next seed runs."""
    user = stack.new_user()
    own_things(user, tiny_weights)  # something of the user's to find in the listings from the first step
    headers = {"Authorization": user.http.headers["Authorization"]}
    base_url = stack.settings.api_url
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=30).exclude(path_regex=STATEFUL_EXCLUDED)
    failures: list[str] = []
    calls: list[tuple[str, int]] = []
    scenarios = 0
    deadline = time.monotonic() + STATEFUL_BUDGET_SECONDS

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": 60}

        def before_call(self, case: Case) -> None:
            if time.monotonic() > deadline:  # out of time: the remaining steps end at once, unsent
                raise TimeoutError("stateful run out of time")

        def validate_response(self, response: Response, case: Case, *args: Any, **kwargs: Any) -> None:
            key = (case.operation.method.upper(), case.operation.path)
            calls.append((f"{key[0]} {key[1]}", response.status_code))
            if response.status_code >= 500 and response.status_code != EXPECTED_5XX.get(key, (None, ""))[0]:
                failures.append(
                    f"{key[0]} {key[1]} → {response.status_code}: {response.text[:300]}\n  {case.as_curl_command()}"
                )

        def teardown(self) -> None:
            nonlocal scenarios
            scenarios += 1
            super().teardown()

    bounded = settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=STATEFUL_STEPS,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    suite = 0
    while scenarios < STATEFUL_SCENARIOS and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError, Flaky):  # out of time; or the server's state made the draws differ
            seed(suite)(Sequences).run(settings=bounded)
        suite += 1
    print(f"stateful: {suite} suites, {scenarios} scenarios, {len(calls)} calls, {len(set(calls))} (operation, status)")
    assert not failures, "server errors in linked sequences:\n" + "\n".join(failures)
    assert len(calls) >= 50, f"only {len(calls)} calls were made"
    succeeded = {label for label, status in calls if 200 <= status < 300}
    assert len(succeeded) >= 5, f"the sequences hardly get past validation: 2xx only from {sorted(succeeded)}"

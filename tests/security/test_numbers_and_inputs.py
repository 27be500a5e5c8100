"""Numbers and JSON an unfriendly client sends get a 422 naming the field, never a 500 or a silent null.

Seen before: a version number of 2^63 in a path, a body or `parent` answered 500; a version upload's form
field holding a 5,000-digit integer or a 5,000-deep nesting answered 500; a non-string `sha256` answered 500;
`reported_metrics` with NaN or Infinity was stored as null. Every case runs against the running API on both
database backends; the OpenAPI walk needs no stack.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from commons import strict_json
from commons.settings import Settings
from registry.schemas import MAX_VERSION
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS, Published, publish
from tests.conftest import RunningStack

HUGE = 2**63  # past a signed 64-bit column: the database driver itself refuses it
LONG_INT = "1" * 5000  # past Python's int-digits limit (4,300)
DEEP = "[" * 5000 + "]" * 5000  # past the recursion limit of Python's json


def field_of(response: httpx.Response) -> str:
    """The field a 422 names: `field` of a domain error, or the first `loc` of a validation error."""
    body = response.json()
    if "errors" in body:  # a request validation error: its first location, in full
        return ".".join(str(part) for part in body["errors"][0]["loc"])
    return str(body.get("field", ""))


def assert_refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, f"{response.status_code}: {response.text[:300]}"
    named = field_of(response)
    assert named == field or named.startswith(field + "."), response.text[:300]  # a union's member: version.int


# --- the OpenAPI: every integer the API takes is bounded --------------------------------------------------


def _integers(schema: Any, where: str, components: dict[str, Any], seen: frozenset[str]) -> list[tuple[str, Any]]:
    """(place, schema) of every integer in a request schema, $refs followed."""
    if not isinstance(schema, dict):
        return []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return [] if name in seen else _integers(components[name], where, components, seen | {name})
    found = [(where, schema)] if schema.get("type") == "integer" else []
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            found += _integers(sub, where, components, seen)
    for name, sub in schema.get("properties", {}).items():
        found += _integers(sub, f"{where}.{name}", components, seen)
    for key, suffix in (("items", "[]"), ("additionalProperties", "{}")):
        found += _integers(schema.get(key), where + suffix, components, seen)
    return found


def test_every_integer_parameter_and_body_field_has_a_maximum(tmp_path: Path) -> None:
    """A new unbounded integer (path, query, header, form or JSON body) fails this test."""
    spec = create_app(Settings(data_dir=tmp_path)).openapi()
    components = spec.get("components", {}).get("schemas", {})
    integers: list[tuple[str, Any]] = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                place = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                integers += _integers(parameter.get("schema", {}), place, components, frozenset())
            for media in operation.get("requestBody", {}).get("content", {}).values():
                integers += _integers(media.get("schema", {}), f"{method.upper()} {path} body", components, frozenset())
    assert len(integers) >= 10, integers  # the walk does see the API's integers (page, limit, version, parent…)
    unbounded = [place for place, schema in integers if "maximum" not in schema and "exclusiveMaximum" not in schema]
    assert not unbounded, f"integers without a maximum: {unbounded}"
    places = [place for place, _ in integers]
    assert "POST /api/v1/tasks body.version" in places
    assert any(place.endswith("body.parent") for place in places)


# --- the strict parser on its own -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "path", "problem"),
    [
        ('{"a": NaN}', "a", "NaN"),
        ('{"a": [1, Infinity]}', "a[1]", "Infinity"),
        ('{"a": {"b": -Infinity}}', "a.b", "-Infinity"),
        ('{"a": 1e999}', "a", "out of range"),
        ('{"a": ' + LONG_INT + "}", "a", "5000 digits"),
        ('{"a": ' + DEEP + "}", "", "nested deeper"),
        ('{"a": ' + "[" * 100 + "]" * 100 + "}", "a" + "[0]" * 63, "nested deeper"),
    ],
)
def test_strict_json_refuses_with_the_place(text: str, path: str, problem: str) -> None:
    with pytest.raises(strict_json.JsonRefused) as refused:
        strict_json.loads(text)
    assert refused.value.path == path
    assert problem in refused.value.problem


def test_strict_json_takes_ordinary_json() -> None:
    text = '{"a": [1, 2.5, -3e10, null, true, "NaN"], "b": {"c": 12345678901234567890}}'
    assert strict_json.loads(text) == json.loads(text)
    assert math.isfinite(strict_json.loads("1e308"))


# --- version numbers: path, body, form --------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(stack: RunningStack, tiny_weights: Path) -> Published:
    """One published SAM resource per backend for the whole module (publishing takes seconds)."""
    return publish(stack, tiny_weights)


def test_huge_version_numbers_in_paths_are_422(model: Published) -> None:
    client = model.provider
    ref = f"{client.username}/{model.name}"
    for number in (HUGE, 2**31, 10**10, 0):
        for path in (f"/resources/{ref}/versions/{number}", f"/resources/{ref}/versions/{number}/files/x"):
            assert_refused(client.http.get(path), "path.version" if number >= 10**10 else "version")
    assert_refused(client.http.get(f"/resources/{ref}/versions/{LONG_INT}"), "path.version")
    assert client.http.get(f"/resources/{ref}/versions/{MAX_VERSION}").status_code == 404
    assert client.http.get(f"/resources/{ref}/versions/1").status_code == 200
    assert client.http.get(f"/resources/{ref}/versions/latest").status_code == 200


def test_huge_version_number_in_a_task_is_422(model: Published) -> None:
    client = model.provider
    for version in (HUGE, 2**31, 0, -1):
        body = {"resource": model.name, "version": version, "inputs": ["x"], "params": AUTO_PARAMS}
        assert_refused(client.http.post("/tasks", json=body), "body.version")
    body = {"resource": model.name, "version": 7, "inputs": ["x"], "params": AUTO_PARAMS}
    assert client.http.post("/tasks", json=body).status_code == 404  # in range, not there


def test_huge_parent_of_a_version_is_422(model: Published) -> None:
    for parent in (str(HUGE), str(2**31), "0", LONG_INT):
        assert_refused(upload_form(model, parent=parent), "body.parent")


# --- the JSON form fields of a version upload -------------------------------------------------------------


def upload_form(published: Published, **fields: str) -> httpx.Response:
    data = {"config": json.dumps(TINY_CONFIG), **fields}
    return published.provider.http.post(f"/resources/{published.name}/versions", data=data)


def test_long_integers_deep_nesting_and_long_form_fields_are_422(model: Published) -> None:
    for field in ("config", "sha256", "execution", "reported_metrics"):
        response = upload_form(model, **{field: '{"x": ' + LONG_INT + "}"})
        assert_refused(response, f"{field}.x")
        assert "5000 digits" in response.json()["detail"]
        response = upload_form(model, **{field: '{"x": ' + DEEP + "}"})
        assert_refused(response, field)
        assert "nested deeper" in response.json()["detail"]
        response = upload_form(model, **{field: '{"x": "' + "a" * 300_000 + '"}'})
        assert_refused(response, field)
        assert "longer than" in response.json()["detail"]


def test_non_finite_reported_metrics_are_422_not_null(model: Published) -> None:
    for constant in ("NaN", "Infinity", "-Infinity", "1e999"):
        response = upload_form(model, reported_metrics='{"accuracy": ' + constant + "}")
        assert_refused(response, "reported_metrics.accuracy")
        assert constant.lstrip("-") in response.json()["detail"]
    versions = model.provider.http.get(f"/resources/{model.name}/versions").json()
    assert len(versions) == 1  # nothing was stored


def test_sha256_must_be_64_hex_digits(model: Published) -> None:
    name = TINY_CONFIG["checkpoint"]
    for value in (5, None, ["a" * 64], {"x": 1}, "not hex", "a" * 63, "g" * 64, "a" * 65):
        response = upload_form(model, sha256=json.dumps({name: value}))
        assert_refused(response, f"sha256.{name}")
        assert "64 hex digits" in response.json()["detail"]


# --- JSON bodies ------------------------------------------------------------------------------------------

BAD_TASK_BODIES = [
    ('{"resource": "r", "params": {"seed": NaN}}', "params.seed"),
    ('{"resource": "r", "params": {"auto": {"pred_iou_thresh": Infinity}}}', "params.auto.pred_iou_thresh"),
    ('{"resource": "r", "params": {"lr": -Infinity}}', "params.lr"),
    ('{"resource": "r", "params": {"lr": 1e999}}', "params.lr"),
    ('{"resource": "r", "params": {"seed": ' + LONG_INT + "}}", "params.seed"),
    ('{"resource": "r", "params": ' + DEEP + "}", "body"),  # too deep to parse: no place to name
]


def test_json_bodies_refuse_nan_huge_and_deep(model: Published) -> None:
    for raw, field in BAD_TASK_BODIES:
        response = model.provider.http.post("/tasks", content=raw, headers={"content-type": "application/json"})
        assert_refused(response, field)
        assert field in response.json()["detail"]


def test_json_body_guard_covers_other_routes(model: Published) -> None:
    client = model.provider
    raw = '{"name": "x", "expires_in_days": ' + LONG_INT + "}"
    response = client.http.post("/users/me/tokens", content=raw, headers={"content-type": "application/json"})
    assert_refused(response, "expires_in_days")
    raw = '{"name": "Deep", "classes": ' + "[" * 200 + "]" * 200 + "}"
    response = client.http.post("/datasets", content=raw, headers={"content-type": "application/json; charset=utf-8"})
    assert_refused(response, "classes" + "[0]" * 63)
    # ordinary bodies and broken JSON are as before: the first works, the second is FastAPI's 422
    assert client.http.post("/datasets", json={"name": "Fine", "classes": ["a"]}).status_code == 201
    broken = client.http.post("/datasets", content=b'{"name": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422 and broken.json()["errors"][0]["type"] == "json_invalid"

"""Validation errors in plain words, with the field a page shows them next to: no "Value error, " prefix, a
`message` about the first `field`, every field's message in `fields`, pydantic's list kept for programs."""

from __future__ import annotations

import uuid

from tests.conftest import RunningStack


def test_a_bad_user_name_is_explained_in_plain_words(stack: RunningStack) -> None:
    response = stack.client().http.post("/users", json={"username": "x!", "password": "correct horse battery"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert "Value error" not in response.text
    assert body["field"] == "username"
    assert body["message"].startswith("3–64 characters") or "User name" in body["message"]
    assert body["message"][0].isupper() or body["message"][0].isdigit()
    assert body["fields"] == [{"field": "username", "message": body["message"]}]
    assert body["detail"] == f"username: {body['message']}"
    assert body["errors"][0]["loc"] == ["body", "username"] and body["errors"][0]["msg"] == body["message"]


def test_every_wrong_field_is_named(stack: RunningStack) -> None:
    response = stack.client().http.post("/users", json={"username": "ab", "password": "short", "extra": 1})
    assert response.status_code == 422, response.text
    fields = {item["field"]: item["message"] for item in response.json()["fields"]}
    assert set(fields) == {"username", "password", "extra"}
    assert "at least 8 characters" in fields["password"]
    assert fields["extra"] == "This is not a field this request takes; remove it"


def test_a_domain_error_keeps_its_field(stack: RunningStack) -> None:
    client = stack.new_user()
    name = f"wording-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="classifier.resnet", title="t", visibility="public")
    asker = stack.new_user()
    response = asker.http.post(
        f"/resources/{client.username}/{name}/access-requests", json={"permission": "use", "group": "no-such-group"}
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == "group" and "group" in body["detail"]

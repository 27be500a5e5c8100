"""Named API tokens over REST: made once, used by scripts, listed without the secret, revoked one by one."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlmodel import Session, create_engine, select

from registry.clock import utcnow
from registry.models import ApiToken
from tests.conftest import RunningStack


def as_script(stack: RunningStack, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=stack.settings.api_url + "/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_tokens_work_until_revoked_or_expired(stack: RunningStack) -> None:
    user = stack.new_user()
    made = user.http.post("/users/me/tokens", json={"name": "lab laptop", "expires_in_days": 30})
    assert made.status_code == 201, made.text
    laptop = made.json()
    assert laptop["token"].startswith("mc_") and laptop["token"].startswith(laptop["prefix"])
    forever = user.http.post("/users/me/tokens", json={"name": "cluster", "expires_in_days": None}).json()
    assert forever["expires_at"] is not None, "null takes the default lifetime: no token lives forever"

    with as_script(stack, laptop["token"]) as script:
        me = script.get("/users/me")
        assert me.status_code == 200 and me.json()["username"] == user.username
        assert (
            script.post(
                "/resources", json={"name": "x-" + laptop["id"][:8], "kind": "segmenter.sam", "title": "t"}
            ).status_code
            == 201
        )

    listed = user.http.get("/users/me/tokens").json()
    assert [t["name"] for t in listed] == ["cluster", "lab laptop"]
    assert all("token" not in t for t in listed), "the secret is shown only when made"
    assert next(t for t in listed if t["name"] == "lab laptop")["last_used_at"] is not None

    assert user.http.delete(f"/users/me/tokens/{laptop['id']}").status_code == 204
    with as_script(stack, laptop["token"]) as script:
        refused = script.get("/users/me")
        assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    with as_script(stack, forever["token"]) as script:
        assert script.get("/users/me").status_code == 200, "revoking one token leaves the others working"

    other = stack.new_user()
    assert other.http.delete(f"/users/me/tokens/{forever['id']}").status_code == 404
    with as_script(stack, "mc_" + "x" * 43) as script:
        assert script.get("/users/me").status_code == 401

    engine = create_engine(stack.settings.resolved_database_url)
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.id == forever["id"])).one()
        assert row.token_hash != forever["token"] and forever["token"] not in row.token_hash
        row.expires_at = utcnow() - timedelta(minutes=1)
        session.add(row)
        session.commit()
    engine.dispose()
    with as_script(stack, forever["token"]) as script:
        expired = script.get("/users/me")
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_token_requests_are_checked(stack: RunningStack) -> None:
    user = stack.new_user()
    assert user.http.post("/users/me/tokens", json={"name": "", "expires_in_days": 30}).status_code == 422
    assert user.http.post("/users/me/tokens", json={"name": "a", "expires_in_days": 0}).status_code == 422
    assert user.http.post("/users/me/tokens", json={"name": "a", "expires_in_days": 366}).status_code == 422
    assert httpx.post(stack.settings.api_url + "/api/v1/users/me/tokens", json={"name": "a"}).status_code == 401

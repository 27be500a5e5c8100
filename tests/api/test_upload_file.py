"""GET /uploads/{id}/file: a photo's bytes for its owner (the Segment page reopens a task on it), 404 for others."""

from __future__ import annotations

import numpy as np

from tests.api.conftest import png_bytes
from tests.conftest import RunningStack


def test_the_owner_gets_the_photo_back_and_nobody_else(stack: RunningStack) -> None:
    owner = stack.new_user()
    photo = png_bytes(np.full((20, 30, 3), 77, dtype=np.uint8))
    upload = owner.upload("grey.png", photo)
    response = owner.http.get(f"/uploads/{upload['id']}/file")
    assert response.status_code == 200, response.text
    assert response.content == photo and response.headers["content-type"] == "image/png"
    stranger = stack.new_user().http.get(f"/uploads/{upload['id']}/file")
    assert stranger.status_code == 404 and "no upload" in stranger.text
    assert owner.http.get("/uploads/nope/file").status_code == 404

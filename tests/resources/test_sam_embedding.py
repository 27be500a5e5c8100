"""A photo's SAM embedding, kept as bytes and turned back into a predictor, decodes prompts exactly as a fresh
`SamPredictor.set_image` does; anything but a stored embedding is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save as save_tensors
from segment_anything import SamPredictor
from segment_anything.modeling import Sam
from skimage import data as skdata

from commons.errors import InvalidInput
from resources.sam import embedding
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Sam:
    weights = tmp_path_factory.mktemp("sam") / "tiny.safetensors"
    config = parse_sam_config(TINY_CONFIG)
    save_random_weights(config, weights, seed=3)
    return build_sam(config, weights, device="cpu")


def test_a_kept_embedding_decodes_as_a_fresh_one(sam: Sam) -> None:
    photo = np.ascontiguousarray(np.asarray(skdata.coffee())[::4, ::4])
    kept = embedding.from_bytes(embedding.to_bytes(embedding.embed(sam, photo)))
    assert kept.original_size == photo.shape[:2]
    assert max(kept.input_size) == sam.image_encoder.img_size
    fresh = SamPredictor(sam)
    fresh.set_image(photo)
    primed = embedding.predictor_for(sam, kept)
    points, labels = np.array([[50, 40], [10, 90]], dtype=np.float32), np.array([1, 0])
    results = [
        predictor.predict(point_coords=points, point_labels=labels, multimask_output=True)
        for predictor in (primed, fresh)
    ]
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "blob",
    [b"", b"not safetensors at all", (10**9).to_bytes(8, "little") + b"{}", save_tensors({"other": torch.zeros(1)})],
    ids=["empty", "junk", "huge-header", "other-tensors"],
)
def test_anything_else_is_refused(blob: bytes) -> None:
    with pytest.raises(InvalidInput, match="not a stored SAM embedding"):
        embedding.from_bytes(blob)


def test_the_key_changes_with_whatever_the_embedding_depends_on() -> None:
    base = ("sha256:a", "b", "cpu", "float32", 1024)
    changed = [("sha256:c", "b", "cpu", "float32", 1024), ("sha256:a", "d", "cpu", "float32", 1024)]
    changed += [("sha256:a", "b", "cuda", "float32", 1024), ("sha256:a", "b", "cpu", "bfloat16", 1024)]
    changed += [("sha256:a", "b", "cpu", "float32", 512)]
    keys = {key(*parts) for parts in [base, *changed]}
    assert len(keys) == 6 and key(*base) == key(*base)


def key(digest: str, photo: str, device: str, dtype: str, size: int) -> str:
    return embedding.cache_key(
        version_digest=digest, photo_sha256=photo, device_class=device, dtype=dtype, input_size=size
    )

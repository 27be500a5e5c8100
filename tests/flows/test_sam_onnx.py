"""SAM's prompt decoder exported to ONNX decodes prompts as the PyTorch predictor does (the in-browser path of the
Segment page): masks with IoU ≥ 0.99 for points and boxes on photos of several shapes, and the mask a prompt task
keeps (`segment_prompt` with `multimask_for`) is the graph's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from segment_anything.modeling import Sam
from skimage import data as skdata

from commons.errors import InvalidInput, InvalidWeights
from resources.sam import onnx_decoder
from resources.sam.config import PromptParams, parse_embed_params, parse_export_params, parse_sam_config
from resources.sam.embedding import embed
from resources.sam.infer import segment_prompt
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Sam:
    weights = tmp_path_factory.mktemp("sam") / "tiny.safetensors"
    config = parse_sam_config(TINY_CONFIG)
    save_random_weights(config, weights, seed=5)
    return build_sam(config, weights, device="cpu")


@pytest.fixture(scope="module")
def decoder(sam: Sam, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return onnx_decoder.export_decoder(sam, tmp_path_factory.mktemp("onnx") / "decoder.onnx")


PHOTOS = {
    "landscape": lambda: np.asarray(skdata.coffee())[::2, ::2],  # 200 x 300
    "portrait": lambda: np.ascontiguousarray(np.asarray(skdata.astronaut())[::3, ::5]),  # 171 x 103
}


@pytest.mark.parametrize("shape", sorted(PHOTOS))
def test_the_graph_decodes_as_the_predictor_on_a_real_embedding(sam: Sam, decoder: Path, shape: str) -> None:
    photo = np.ascontiguousarray(PHOTOS[shape]())
    height, width = photo.shape[:2]
    embedding = embed(sam, photo)
    session = onnx_decoder.load_decoder(decoder)
    prompts: list[tuple[list[onnx_decoder.Point], onnx_decoder.Box | None]] = [
        ([(width // 2, height // 2, 1)], None),
        ([(width // 3, height // 3, 1)], None),
        ([(width // 2, height // 2, 1), (width // 5, height // 4, 0)], None),
        ([(10, 12, 1), (width - 5, height - 7, 1), (width // 2, 3, 0)], None),
        ([], (width / 5, height / 6, 4 * width / 5, 5 * height / 6)),
        ([(width // 2, height // 2, 1)], (2.0, 3.0, width - 2.0, height - 3.0)),
    ]
    sizes = set()
    for points, box in prompts:
        found = onnx_decoder.decode(session, embedding, points, box)
        expected = onnx_decoder.torch_mask(sam, embedding, points, box)
        assert found.shape == (height, width)
        assert onnx_decoder.iou(found, expected) >= 0.99, (points, box)
        sizes.add(int(found.sum()))
    assert len(sizes) > 2, "different prompts give different masks (the check is not vacuous)"


def test_a_prompt_task_keeps_the_mask_the_graph_shows(sam: Sam, decoder: Path) -> None:
    """What the page saves: a prompt task with the same points and `multimask` as `multimask_for` says."""
    photo = np.ascontiguousarray(np.asarray(skdata.coffee())[::2, ::2])
    embedding = embed(sam, photo)
    session = onnx_decoder.load_decoder(decoder)
    for points in ([(150, 100, 1)], [(150, 100, 1), (40, 30, 0)]):
        shown = onnx_decoder.decode(session, embedding, points)
        params = PromptParams(points=points, multimask=onnx_decoder.multimask_for(points, None))
        (record,) = segment_prompt(sam, photo, params)
        assert onnx_decoder.iou(shown, record["segmentation"]) >= 0.99, points


def test_the_export_check_passes_and_its_stand_in_embedding_fits_the_model(sam: Sam, decoder: Path) -> None:
    stand_in = onnx_decoder.stand_in_embedding(sam, height=300, width=200)
    assert stand_in.input_size == (1024, 683) and tuple(stand_in.features.shape) == (1, 256, 64, 64)
    assert onnx_decoder.check_decoder(decoder, sam, stand_in) >= 0.99


def test_a_file_that_is_no_decoder_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "decoder.onnx"
    junk.write_bytes(b"not an onnx graph")
    with pytest.raises(InvalidWeights, match="ONNX Runtime cannot load it"):
        onnx_decoder.load_decoder(junk)


def test_export_and_embed_params_are_checked() -> None:
    assert parse_export_params({}).opset == 17
    with pytest.raises(InvalidInput, match=r"params\.opset"):
        parse_export_params({"opset": 9})
    with pytest.raises(InvalidInput, match=r"params\.points"):
        parse_embed_params({"points": []})

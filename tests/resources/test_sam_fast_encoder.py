"""The fast engine's image encoder (resources.sam.fast.encoder, .precision) against the library's, on the CPU with a
tiny SAM whose relative-position tables are random: fused attention gives the library's features, a reduced
precision is used only where the model's own probe masks keep, and the form is kept as long as its model."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
import torch

from resources.sam.fast import encoder as encoder_module
from resources.sam.fast.decode import embed
from resources.sam.fast.encoder import Acceleration, FastEncoder, fast_encoder
from resources.sam.fast.generator import encoder_batch
from resources.sam.fast.precision import Choice, choose, probe_input, probe_masks, worst_iou
from tests.sam_support import tiny_sam

pytestmark = pytest.mark.usefixtures("two_threads")

PLAIN = Acceleration(sdpa=False, dtype=torch.float32, compiled=None)
FUSED = Acceleration(sdpa=True, dtype=torch.float32, compiled=None)


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return tiny_sam(tmp_path_factory.mktemp("weights"), seed=4, rel_pos=True)


@pytest.fixture(scope="module")
def batch(sam: Any) -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    second = sam.preprocess(torch.randint(0, 256, (1, 3, 1024, 1024), generator=generator).float())
    return torch.cat([probe_input(sam), second])  # a padded photo and a full square


def test_fused_attention_gives_the_librarys_features(sam: Any, batch: torch.Tensor) -> None:
    with torch.inference_mode():
        expected = sam.image_encoder(batch)
        found = FastEncoder(sam, FUSED)(batch)
        unchanged = FastEncoder(sam, PLAIN)(batch)
    assert found.shape == expected.shape == (2, 256, 64, 64)
    assert found.dtype == torch.float32
    assert torch.equal(unchanged, expected)
    assert (found - expected).abs().max().item() < 1e-4 * expected.abs().max().item()
    # the relative-position term is at work: without it the features differ far more than rounding
    tables = [(block.attn.rel_pos_h, block.attn.rel_pos_w) for block in sam.image_encoder.blocks]
    saved = [(h.data.clone(), w.data.clone()) for h, w in tables]
    try:
        for h, w in tables:
            h.data.zero_()
            w.data.zero_()
        with torch.inference_mode():
            without = FastEncoder(sam, FUSED)(batch)
    finally:
        for (h, w), (h0, w0) in zip(tables, saved, strict=True):
            h.data, w.data = h0, w0
    assert (without - expected).abs().max().item() > 100 * (found - expected).abs().max().item()


def test_a_compiled_form_gives_the_same_features(sam: Any, batch: torch.Tensor) -> None:
    # torch.compile's "aot_eager" backend traces the module as inductor does (CUDA's compiled form) and runs the
    # traced graph eagerly: the capture itself is what is checked here, without a C++ toolchain's minutes
    compiled = FastEncoder(sam, Acceleration(sdpa=True, dtype=torch.float32, compiled="aot_eager"))
    with torch.inference_mode():
        expected = FastEncoder(sam, FUSED)(batch)
        assert torch.allclose(compiled(batch), expected, atol=1e-5)
        assert torch.allclose(compiled(batch[:1]), expected[:1], atol=1e-5)


def test_reduced_precision_is_used_only_where_the_probe_masks_keep(sam: Any) -> None:
    half = Acceleration(sdpa=True, dtype=torch.bfloat16, compiled=None, fallbacks=(torch.float16,))
    with torch.inference_mode():
        chosen = FastEncoder.build(sam, half, min_iou=0.5)  # bf16 (autocast on the CPU here) keeps 0.5
    assert chosen.acceleration == Acceleration(sdpa=True, dtype=torch.bfloat16, compiled=None)
    assert 0.5 <= chosen.precision_iou < 1.0  # bf16 rounding moved some probe pixels
    rounded = round(chosen.precision_iou, 4)
    assert chosen.describe() == {"sdpa": True, "dtype": "bfloat16", "compiled": False, "precision_iou": rounded}


def test_precision_candidates_are_tried_in_order_then_float32(sam: Any) -> None:
    with torch.inference_mode():
        exact = FastEncoder(sam, FUSED)(probe_input(sam))
    noise = torch.randn(exact.shape, generator=torch.Generator().manual_seed(3))
    spread = {torch.bfloat16: 5.0, torch.float16: 1e-6, torch.float32: 0.0}  # how far each dtype's features stray
    tried: list[torch.dtype] = []

    def encode(dtype: torch.dtype) -> Any:
        tried.append(dtype)
        return lambda batch: exact + spread[dtype] * exact.abs().max() * noise

    assert choose(sam, (torch.bfloat16, torch.float16), encode).dtype == torch.float16
    assert tried == [torch.float32, torch.bfloat16, torch.float16]
    assert choose(sam, (torch.bfloat16,), encode) == Choice(torch.float32, 1.0)


def test_probe_masks_compare_mask_by_mask(sam: Any) -> None:
    with torch.inference_mode():
        features = FastEncoder(sam, FUSED)(probe_input(sam))[0]
        masks = probe_masks(sam, features)
    assert masks.shape == (48, 256, 256) and masks.dtype == torch.bool
    assert worst_iou(masks, masks) == 1.0
    flipped = masks.clone()
    flipped[3] = ~flipped[3]
    assert worst_iou(flipped, masks) < 0.5


def test_the_cpu_policy_and_the_form_kept_with_its_model(tmp_path: Path) -> None:
    cpu = Acceleration.for_device(torch.device("cpu"), long_lived=True)
    assert cpu == Acceleration(sdpa=encoder_module.CPU_SDPA, dtype=torch.float32, compiled=None)
    model = tiny_sam(tmp_path, seed=9)
    assert encoder_batch(model, 4) == 4
    first = fast_encoder(model)
    assert fast_encoder(model, long_lived=True) is first  # nothing to compile on the CPU: the same form
    assert first.describe() == {"sdpa": True, "dtype": "float32", "compiled": False, "precision_iou": 1.0}
    with torch.inference_mode():
        features, sizes = embed(model, [torch.zeros(30, 40, 3, dtype=torch.uint8).numpy()])
    assert features.shape == (1, 256, 64, 64) and sizes == [(768, 1024)]
    held = len(encoder_module._forms)
    del model, first
    gc.collect()
    assert len(encoder_module._forms) == held - 1  # the model's form went with it

"""SAM's image encoder for the fast engine: the library's modules and weights, run faster where the device allows.

- Attention through PyTorch's `scaled_dot_product_attention` (fused kernels) instead of the library's plain
  `softmax(q·kᵀ)·v`; the decomposed relative-position term is the same, passed as the attention's additive bias.
- On CUDA, autocast to bf16 (or float16) for the encoder, where the model's own masks allow it: checked when the
  fast encoder is built (`resources.sam.fast.precision`), else float32. Its output is returned as float32, so the
  decoder and everything after it run as the library's.
- A compiled form (`torch.compile`) where compiling pays: on CUDA, for a model a warm worker keeps (the compile
  costs tens of seconds once and is kept with the model, see `fast_encoder`).

The encoder's output equals the library's up to float rounding (bf16 rounding on CUDA); the masks are checked
against the reference engine's (IoU ≥ 0.99) by the parity tests and `bench/sam_engines.py`.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, replace
from typing import Any, Final

import torch
import torch.nn.functional as F
from segment_anything.modeling import Sam
from segment_anything.modeling.image_encoder import (
    Attention,
    Block,
    ImageEncoderViT,
    get_rel_pos,
    window_partition,
    window_unpartition,
)
from torch import nn

from resources.sam.fast import precision

CPU_SDPA: Final[bool] = True  # measured on the development CPU: see README's Benchmark (encoder per photo)


@dataclass(frozen=True)
class Acceleration:
    """How the encoder runs: fused attention, the autocast dtype (float32: none) with the lower precisions to try
    before float32, and the `torch.compile` backend of its compiled form (None: not compiled)."""

    sdpa: bool
    dtype: torch.dtype
    compiled: str | None
    fallbacks: tuple[torch.dtype, ...] = ()

    @classmethod
    def for_device(cls, device: torch.device, *, long_lived: bool = False) -> Acceleration:
        """What pays on `device`; `long_lived`: the model is kept by a warm worker, so a compile is paid once."""
        if device.type == "cuda":
            halves = (torch.bfloat16, torch.float16) if torch.cuda.is_bf16_supported() else (torch.float16,)
            return cls(sdpa=True, dtype=halves[0], compiled="inductor" if long_lived else None, fallbacks=halves[1:])
        return cls(sdpa=CPU_SDPA, dtype=torch.float32, compiled=None)

    def describe(self) -> dict[str, Any]:
        """For the manifest's timings: what the encoder ran with."""
        dtype = str(self.dtype).removeprefix("torch.")
        return {"sdpa": self.sdpa, "dtype": dtype, "compiled": self.compiled is not None}


def rel_pos_bias(attn: Attention, q: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The library's `add_decomposed_rel_pos` term alone, for queries `q` (B, heads, N, c): (B, heads, N, N)."""
    height, width = size
    rel_h = get_rel_pos(height, height, attn.rel_pos_h)  # (h, h, c)
    rel_w = get_rel_pos(width, width, attn.rel_pos_w)  # (w, w, c)
    b, heads, n, c = q.shape
    grid = q.reshape(b * heads, height, width, c)
    along_h = torch.einsum("bhwc,hkc->bhwk", grid, rel_h)  # (B·heads, h, w, h)
    along_w = torch.einsum("bhwc,wkc->bhwk", grid, rel_w)  # (B·heads, h, w, w)
    bias = along_h[:, :, :, :, None] + along_w[:, :, :, None, :]  # (B·heads, h, w, h, w)
    return bias.reshape(b, heads, n, n)


def sdpa_attention(attn: Attention, x: torch.Tensor) -> torch.Tensor:
    """`attn(x)` for x (B, H, W, dim) with PyTorch's fused attention (the same scale, 1/√c)."""
    b, height, width, _ = x.shape
    qkv = attn.qkv(x).reshape(b, height * width, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.unbind(0)  # each (B, heads, N, c)
    bias = rel_pos_bias(attn, q, (height, width)).to(q.dtype) if attn.use_rel_pos else None
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = out.view(b, attn.num_heads, height, width, -1).permute(0, 2, 3, 1, 4).reshape(b, height, width, -1)
    projected: torch.Tensor = attn.proj(out)
    return projected


def _block(block: Block, x: torch.Tensor) -> torch.Tensor:
    """`Block.forward` with `sdpa_attention`."""
    shortcut = x
    x = block.norm1(x)
    if block.window_size > 0:
        height, width = x.shape[1], x.shape[2]
        x, padded = window_partition(x, block.window_size)
        x = window_unpartition(sdpa_attention(block.attn, x), block.window_size, padded, (height, width))
    else:
        x = sdpa_attention(block.attn, x)
    x = shortcut + x
    out: torch.Tensor = x + block.mlp(block.norm2(x))
    return out


class SdpaImageEncoder(nn.Module):
    """`ImageEncoderViT.forward` over the library's own submodules (no weights copied), attention fused."""

    def __init__(self, encoder: ImageEncoderViT) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        encoder = self.encoder
        x = encoder.patch_embed(x)
        if encoder.pos_embed is not None:
            x = x + encoder.pos_embed
        for block in encoder.blocks:
            x = _block(block, x)
        out: torch.Tensor = encoder.neck(x.permute(0, 3, 1, 2))
        return out


class FastEncoder:
    """SAM's image encoder under an `Acceleration`: preprocessed input (n, 3, S, S) → float32 (n, C, h, w).

    `precision_iou`: the worst probe-mask IoU of its dtype against float32 (see `build`)."""

    def __init__(self, sam: Sam, acceleration: Acceleration, *, precision_iou: float = 1.0) -> None:
        self.acceleration = acceleration
        self.precision_iou = precision_iou
        self.device = sam.device
        module: nn.Module = SdpaImageEncoder(sam.image_encoder) if acceleration.sdpa else sam.image_encoder
        backend = acceleration.compiled
        self._run: Any = module if backend is None else torch.compile(module, backend=backend, dynamic=False)

    @classmethod
    def build(cls, sam: Sam, preferred: Acceleration, *, min_iou: float = precision.MIN_IOU) -> FastEncoder:
        """`preferred`, its reduced precision first checked on `sam` (`precision.choose`): the first of its dtype and
        fallbacks whose probe masks reach `min_iou` against float32's, else float32."""
        if preferred.dtype == torch.float32:
            return cls(sam, preferred)
        plain = replace(preferred, compiled=None, fallbacks=())

        def encode(dtype: torch.dtype) -> precision.Encode:
            return cls(sam, replace(plain, dtype=dtype))

        choice = precision.choose(sam, (preferred.dtype, *preferred.fallbacks), encode, min_iou=min_iou)
        return cls(sam, replace(preferred, dtype=choice.dtype, fallbacks=()), precision_iou=choice.worst_iou)

    def describe(self) -> dict[str, Any]:
        """For the manifest's timings: what the encoder runs with."""
        return {**self.acceleration.describe(), "precision_iou": round(self.precision_iou, 4)}

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        dtype = self.acceleration.dtype
        if dtype == torch.float32:
            features: torch.Tensor = self._run(batch)
            return features
        with torch.autocast(device_type=self.device.type, dtype=dtype):
            features = self._run(batch)
        return features.float()


_forms: weakref.WeakKeyDictionary[Sam, FastEncoder] = weakref.WeakKeyDictionary()
_forms_lock = threading.Lock()


def fast_encoder(sam: Sam, *, long_lived: bool = False) -> FastEncoder:
    """The fast encoder of `sam`, built once per model object and kept as long as the model is: a warm worker's
    cached SAM keeps its compiled form, and an evicted model takes its compiled form with it (the entry holds the
    model weakly, the encoder only its submodules). A compiled form, once made, is what later calls get."""
    with _forms_lock:
        found = _forms.get(sam)
        if found is not None and (found.acceleration.compiled is not None or not long_lived):
            return found
        wanted = Acceleration.for_device(sam.device, long_lived=long_lived)
        if found is None or wanted.compiled is not None:
            found = _forms[sam] = FastEncoder.build(sam, wanted)
        return found

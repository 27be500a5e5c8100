"""SAM's two-way transformer attentions, reassociated for many prompts over one image.

The library expands the image tokens once per prompt and projects all of them in every attention. Here
the prompt-independent projections are done once, and where the image tokens already differ per prompt the
few prompt tokens are folded into the projection weights instead (the products are reassociated; the
results equal the library's up to float rounding). Shapes: B prompts, T prompt tokens, N image tokens,
D channels, H heads of c channels (H·c = the attention's internal width).
"""

from __future__ import annotations

import math

import torch
from segment_anything.modeling.transformer import Attention


def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, H·c) → (B, H, L, c)."""
    b, length, width = x.shape
    return x.reshape(b, length, heads, width // heads).transpose(1, 2)


def _weight_heads(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """A projection's (H·c, D) weight as (H, c, D)."""
    return weight.reshape(heads, weight.shape[0] // heads, weight.shape[1])


def token_to_image(attn: Attention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """`attn(q, k, v)` for prompt tokens `q` (B, T, D) over image tokens `k`, `v` (1 or B, N, D)."""
    heads = attn.num_heads
    batch, tokens, _ = q.shape
    qh = _heads(attn.q_proj(q), heads)  # B, H, T, c
    scale = math.sqrt(qh.shape[-1])
    if k.shape[0] == 1:  # one image for every prompt: project it once
        kh, vh = _heads(attn.k_proj(k), heads), _heads(attn.v_proj(v), heads)  # 1, H, N, c
        weights = torch.softmax(qh @ kh.transpose(2, 3) / scale, dim=-1)
        out = weights @ vh  # B, H, T, c
    else:
        # q·(W_k x + b_k) = (W_kᵀ q)·x + const: the bias term does not change the softmax over image tokens.
        folded = (qh @ _weight_heads(attn.k_proj.weight, heads)).reshape(batch, heads * tokens, -1)
        weights = torch.softmax(folded @ k.transpose(1, 2) / scale, dim=-1)  # B, H·T, N
        mixed = (weights @ v).reshape(batch, heads, tokens, -1)  # B, H, T, D
        # Σ a·(W_v x + b_v) = W_v (Σ a·x) + b_v since the weights sum to one.
        value = _weight_heads(attn.v_proj.weight, heads).transpose(1, 2)  # H, D, c
        out = mixed @ value + attn.v_proj.bias.reshape(heads, 1, -1)
    return attn.out_proj(out.transpose(1, 2).reshape(batch, tokens, -1))


def image_to_token(attn: Attention, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """`attn(q, k, v)` for image tokens `q` (1 or B, N, D) over prompt tokens `k`, `v` (B, T, D): (B, N, D)."""
    heads = attn.num_heads
    batch, tokens, _ = k.shape
    kh, vh = _heads(attn.k_proj(k), heads), _heads(attn.v_proj(v), heads)  # B, H, T, c
    scale = math.sqrt(kh.shape[-1])
    if q.shape[0] == 1:
        qh = _heads(attn.q_proj(q), heads)  # 1, H, N, c
        scores = (qh @ kh.transpose(2, 3)).transpose(1, 2).reshape(batch, -1, heads * tokens)  # B, N, H·T
    else:
        # (W_q x + b_q)·k = x·(W_qᵀ k) + b_q·k, one (D, H·T) matrix per prompt.
        folded = _weight_heads(attn.q_proj.weight, heads).transpose(1, 2) @ kh.transpose(2, 3)  # B, H, D, T
        bias = (kh @ attn.q_proj.bias.reshape(heads, -1, 1)).reshape(batch, 1, heads * tokens)
        scores = q @ folded.transpose(1, 2).reshape(batch, -1, heads * tokens) + bias  # B, N, H·T
    weights = torch.softmax((scores / scale).reshape(batch, -1, heads, tokens), dim=-1)
    # out_proj(Σ_h a_h v_h) = Σ_h a_h (v_h W_o,hᵀ) + b_o: fold the prompt values into the output projection.
    out_weight = attn.out_proj.weight.reshape(attn.out_proj.weight.shape[0], heads, -1).permute(1, 2, 0)  # H, c, D
    projected = (vh @ out_weight).reshape(batch, heads * tokens, -1)  # B, H·T, D
    out: torch.Tensor = weights.reshape(batch, -1, heads * tokens) @ projected + attn.out_proj.bias
    return out

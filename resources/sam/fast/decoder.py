"""SAM's mask decoder for many point prompts on one image embedding, without copying the image per prompt.

Computes what `sam.mask_decoder(..., multimask_output=True)` computes (the same modules and weights; the
attentions reassociated as in `attention`), so the logits agree with the library's up to float rounding.
"""

from __future__ import annotations

import torch
from segment_anything.modeling import Sam
from segment_anything.modeling.transformer import TwoWayAttentionBlock, TwoWayTransformer

from resources.sam.fast.attention import image_to_token, token_to_image


def _block(
    layer: TwoWayAttentionBlock, queries: torch.Tensor, keys: torch.Tensor, query_pe: torch.Tensor, key_pe: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`TwoWayAttentionBlock.forward` with image tokens `keys` (1 or B, N, D) shared where they can be."""
    if layer.skip_first_layer_pe:
        queries = layer.self_attn(q=queries, k=queries, v=queries)
    else:
        q = queries + query_pe
        queries = queries + layer.self_attn(q=q, k=q, v=queries)
    queries = layer.norm1(queries)
    keys_pe = keys + key_pe  # unchanged until norm4: shared by both cross attentions
    queries = layer.norm2(queries + token_to_image(layer.cross_attn_token_to_image, queries + query_pe, keys_pe, keys))
    queries = layer.norm3(queries + layer.mlp(queries))
    attn_out = image_to_token(layer.cross_attn_image_to_token, keys_pe, queries + query_pe, queries)
    keys = layer.norm4(keys + attn_out)
    return queries, keys


def _transformer(
    transformer: TwoWayTransformer, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    queries, keys = tokens, image
    for layer in transformer.layers:
        queries, keys = _block(layer, queries, keys, tokens, image_pe)
    attn_out = token_to_image(transformer.final_attn_token_to_image, queries + tokens, keys + image_pe, keys)
    return transformer.norm_final_attn(queries + attn_out), keys


def decode_masks(
    sam: Sam, features: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Low-resolution logits (B, 3, 4h, 4w) and predicted IoUs (B, 3) of the multimask output for B prompts.

    features: the image embedding (C, h, w); sparse: (B, T, C) prompt embeddings; dense: (1, C, h, w), the
    same for every prompt (no mask input).
    """
    decoder = sam.mask_decoder
    output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0)
    tokens = torch.cat((output_tokens.unsqueeze(0).expand(sparse.size(0), -1, -1), sparse), dim=1)
    channels, height, width = features.shape
    image = (features[None] + dense).flatten(2).transpose(1, 2)  # 1, N, C
    image_pe = sam.prompt_encoder.get_dense_pe().flatten(2).transpose(1, 2)
    hs, keys = _transformer(decoder.transformer, image, image_pe, tokens)
    src = keys.transpose(1, 2).reshape(-1, channels, height, width)
    upscaled = decoder.output_upscaling(src)
    hyper_in = torch.stack(
        [decoder.output_hypernetworks_mlps[i](hs[:, 1 + i, :]) for i in range(1, decoder.num_mask_tokens)], dim=1
    )
    b, c, up_h, up_w = upscaled.shape
    masks = (hyper_in @ upscaled.view(b, c, up_h * up_w)).view(b, -1, up_h, up_w)
    iou_pred: torch.Tensor = decoder.iou_prediction_head(hs[:, 0, :])[:, 1:]
    return masks, iou_pred

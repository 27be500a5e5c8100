"""SAM automatic masks, vectorised: the `fast` engine beside the library's `SamAutomaticMaskGenerator`.

Same point grid, crops, thresholds, stability scores and NMS as the library, with the per-mask Python work
(stability, boxes, filtering, run-length encoding) done in batched tensor operations, and the image encoder
run once per crop, several crops (of one or several photos) per encoder batch. `generate` returns the
library's records (see resources.sam.infer).
"""

from resources.sam.fast.generator import generate, generate_many

__all__ = ["generate", "generate_many"]

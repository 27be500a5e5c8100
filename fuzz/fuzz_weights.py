"""Fuzz the weights-file checks and the load they guard (`resources.weights.read_state_dict`: the container
check, then safetensors or `torch.load(weights_only=True)`).

Input: the first byte picks the file name (.pth or .safetensors), the rest is the file. Documented error:
InvalidWeights.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fuzz.harness import fuzz, instrumented, selector

with instrumented(__name__ == "__main__"):
    from commons.errors import InvalidWeights
    from resources.weights import read_shapes, read_state_dict

NAMES = ("weights.pth", "weights.safetensors")
_FOLDER = Path(tempfile.mkdtemp(prefix="commons-fuzz-weights-"))


def target(data: bytes) -> None:
    name, body = selector(data, NAMES)
    path = _FOLDER / name
    path.write_bytes(body)
    try:
        read_shapes(path)
        read_state_dict(path)
    except InvalidWeights:
        pass


if __name__ == "__main__":
    fuzz(target)

"""Export a classifier to ONNX (float) and TorchScript (float or INT8), and check each export runs alike.

ONNX: torch.onnx's exporter, input "images" Bx3xSxS float32 (B dynamic), output "logits" BxC float32,
checked with ONNX Runtime's CPU provider. TorchScript: `torch.jit.script` of the model (an INT8
`QuantizedResNet` exports its deployed path only), loaded back with `torch.jit.load` on the CPU.

Tolerance: ONNX Runtime and torch run the same float32 graph with different kernels (convolution
algorithms, summation order, fused batch norm), so logits differ by float32 rounding accumulated over
~20 layers: ~1e-6…1e-5 on logits of magnitude ~1–10. The default check, |onnx − torch| ≤ atol + rtol·|torch|
with atol 1e-4 and rtol 1e-3, is ~10× above that and far below any change of prediction. TorchScript
runs torch's own kernels, so its default tolerance is tighter (atol 1e-5, rtol 1e-5).
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path
from typing import Final

import numpy as np
import torch
from torch import nn

from commons.errors import CommonsError, InvalidInput, InvalidWeights
from resources.classifier.int8.quantize import QuantizedResNet, check_images, quiet_quantization

ONNX_ATOL: Final[float] = 1e-4
ONNX_RTOL: Final[float] = 1e-3
TORCHSCRIPT_ATOL: Final[float] = 1e-5
TORCHSCRIPT_RTOL: Final[float] = 1e-5
DEFAULT_OPSET: Final[int] = 18
MIN_OPSET: Final[int] = 13


class ExportMismatch(CommonsError):
    """An exported model's outputs differ from torch's beyond the stated tolerance (the export is unusable)."""


def export_onnx(
    model: nn.Module, path: Path, *, input_size: int, channels: int = 3, opset: int = DEFAULT_OPSET
) -> Path:
    """Write the float `model` (eval mode, CPU) as ONNX to `path` (.onnx, replaced atomically).

    The graph takes "images" BxCxSxS float32 normalised (C = channels, S = input_size, B dynamic) and gives
    "logits" BxC float32. INT8 models are exported as TorchScript instead.
    """
    if isinstance(model, QuantizedResNet):
        raise InvalidInput(
            "model: an INT8 QuantizedResNet cannot be exported to ONNX here; export the float model to ONNX "
            "and the INT8 model to TorchScript",
            field="model",
        )
    if not path.name.lower().endswith(".onnx"):
        raise InvalidInput(f"path: an ONNX file must end in .onnx (got {path.name})", field="path")
    if not MIN_OPSET <= opset <= DEFAULT_OPSET + 5:
        raise InvalidInput(f"opset: must be from {MIN_OPSET} to {DEFAULT_OPSET + 5} (got {opset})", field="opset")
    if input_size < 8:
        raise InvalidInput(f"input_size: must be ≥ 8 (got {input_size})", field="input_size")
    source = _cpu_eval_copy(model)
    example = torch.zeros(2, channels, input_size, input_size)
    partial = path.with_name(f".{path.name}.partial")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        program = torch.onnx.export(
            source,
            (example,),
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=4096)},),
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
    if program is None:  # pragma: no cover - dynamo=True always returns a program
        raise CommonsError("torch.onnx.export returned no program")
    program.save(str(partial), external_data=False)
    os.replace(partial, path)
    return path


def check_onnx(
    path: Path,
    model: nn.Module,
    images: torch.Tensor,
    *,
    atol: float = ONNX_ATOL,
    rtol: float = ONNX_RTOL,
) -> float:
    """Run `images` (Bx3xSxS float32 normalised) through ONNX Runtime (CPU) and `model`; return max |Δlogits|.

    Raises ExportMismatch with the largest difference and where it is when any logit differs by more
    than atol + rtol·|torch logit|; InvalidWeights when the file is not a loadable ONNX model.
    """
    import onnxruntime as ort  # heavy; only export tasks need it

    x = check_images(images, name="images")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own exception types for unreadable graphs
        raise InvalidWeights(f"{path.name}: ONNX Runtime cannot load it ({error})", field="path") from error
    (onnx_logits,) = session.run(["logits"], {"images": x.numpy()})
    with torch.inference_mode():
        torch_logits = _cpu_eval_copy(model)(x).numpy()
    return _compare(path.name, "ONNX Runtime", np.asarray(onnx_logits), torch_logits, atol=atol, rtol=rtol)


def export_torchscript(model: nn.Module, path: Path) -> Path:
    """Script `model` (float ResNet or INT8 QuantizedResNet's deployed path) to `path` (.pt, atomic).

    The scripted module takes Bx3xSxS float32 normalised images and returns BxC float32 logits.
    """
    if not path.name.lower().endswith(".pt"):
        raise InvalidInput(f"path: a TorchScript file must end in .pt (got {path.name})", field="path")
    source = model.deployable() if isinstance(model, QuantizedResNet) else _cpu_eval_copy(model)
    partial = path.with_name(f".{path.name}.partial")
    with quiet_quantization(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
        scripted = torch.jit.script(source.eval())
        torch.jit.save(scripted, str(partial))
    os.replace(partial, path)
    return path


def load_torchscript(path: Path, *, input_size: int, num_classes: int, channels: int = 3) -> torch.jit.ScriptModule:
    """Load a TorchScript classifier on the CPU and check that 1xCxSxS float32 gives 1 x num_classes finite logits.

    Only load files this platform wrote (TorchScript is code); raises InvalidWeights otherwise.
    """
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as error:
        raise InvalidWeights(f"{path.name}: not a loadable TorchScript file ({error})", field="path") from error
    module.eval()
    with torch.inference_mode(), quiet_quantization():
        out = module(torch.zeros(1, channels, input_size, input_size))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, num_classes) or not bool(out.isfinite().all()):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InvalidWeights(
            f"{path.name}: expected 1x{num_classes} finite logits for a 1x{channels}x{input_size}x{input_size} input, "
            f"got {shape}",
            field="path",
        )
    return module


def check_torchscript(
    module: torch.jit.ScriptModule,
    model: nn.Module,
    images: torch.Tensor,
    *,
    atol: float = TORCHSCRIPT_ATOL,
    rtol: float = TORCHSCRIPT_RTOL,
) -> float:
    """Max |Δlogits| between a loaded TorchScript module and `model` on `images`; ExportMismatch beyond tolerance."""
    x = check_images(images, name="images")
    with torch.inference_mode(), quiet_quantization():
        scripted = module(x).numpy()
        reference = (model if isinstance(model, QuantizedResNet) else _cpu_eval_copy(model))(x).numpy()
    return _compare("TorchScript module", "TorchScript", scripted, reference, atol=atol, rtol=rtol)


def _compare(
    name: str, runtime: str, exported: np.ndarray, reference: np.ndarray, *, atol: float, rtol: float
) -> float:
    if exported.shape != reference.shape:
        raise ExportMismatch(f"{name}: {runtime} gives logits of shape {exported.shape}, torch {reference.shape}")
    difference = np.abs(exported.astype(np.float64) - reference.astype(np.float64))
    allowed = atol + rtol * np.abs(reference.astype(np.float64))
    if not np.all(np.isfinite(exported)) or np.any(difference > allowed):
        worst = np.unravel_index(int(np.nanargmax(difference - allowed)), difference.shape)
        raise ExportMismatch(
            f"{name}: {runtime} and torch differ by up to {float(np.nanmax(difference)):.3g} "
            f"(image {worst[0]}, logit {worst[1]}: {float(exported[worst]):.6g} vs {float(reference[worst]):.6g}); "
            f"allowed atol {atol:g} + rtol {rtol:g}·|torch|"
        )
    return float(difference.max()) if difference.size else 0.0


def _cpu_eval_copy(model: nn.Module) -> nn.Module:
    """`model` itself when already on the CPU (it is put in eval mode), else a CPU copy in eval mode."""
    parameter = next(model.parameters(), None)
    if parameter is not None and parameter.device.type != "cpu":
        model = copy.deepcopy(model).to("cpu")
    return model.eval()

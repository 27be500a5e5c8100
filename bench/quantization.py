"""Benchmark: ResNet-18 INT8 (unit-by-unit FX post-training quantization) vs. float, and ONNX Runtime vs. torch, CPU.

In one run:

- weights: ResNet-18 from random initialisation trained here with resources/classifier/train.py on
  scikit-learn's handwritten digits (10 classes, `--per-class` each, 80/20 stratified split) at
  `--train-size` px for `--epochs` epochs;
- accuracy: float vs. INT8 on the validation split, at the training size, for every calibration method
  (calibration: `--calibration` training images);
- latency per image (batch 1, median of `--repeats` after warm-up) at `--size` px (224 by default) with
  the same weights, INT8 calibrated on the training images resized to that size: torch float, torch
  INT8 (x86 engine), ONNX Runtime float (CPU provider); all with the same number of threads.

Prints the figures and the ratios against torch float measured in the same run. Goal: INT8 ≥ 2× faster
than float with ≤ 1 point of accuracy lost.
Usage: .venv/bin/python bench/quantization.py [--per-class 80] [--train-size 32] [--epochs 4] [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments
from resources.classifier.config import ClassifierConfig, parse_classifier_config, parse_train_params
from resources.classifier.data import Item, LabelledImages, split_indices
from resources.classifier.int8.calibration import METHODS
from resources.classifier.int8.compare import accuracy_comparison, latency_per_image, state_dict_bytes
from resources.classifier.int8.quantize import quantize_int8
from resources.classifier.resnet.model import build_classifier
from resources.classifier.tools.export import check_onnx, export_onnx
from resources.classifier.train import train
from tests.resources.test_classifier_data import digit_items


def batches(items: list[Item], *, size: int, count: int, batch: int = 16) -> list[torch.Tensor]:
    config = parse_classifier_config({"arch": "resnet18", "classes": [str(i) for i in range(10)], "input_size": size})
    dataset = LabelledImages(items[:count], config=config)
    return list(torch.stack([dataset[i][0] for i in range(len(dataset))]).split(batch))


def onnx_latency(path: Path, *, size: int, repeats: int, warmup: int, threads: int) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    timings = []
    for index in range(warmup + repeats):
        started = time.perf_counter()
        session.run(["logits"], {"images": x})
        if index >= warmup:
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = arguments(__doc__, per_class=80, train_size=32, epochs=4, size=224, calibration=64, repeats=30)
    parser.add_argument("--method", default="kl", choices=METHODS, help="calibration used for the latency model")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, config, train_items, val_items = trained(args)
    print(f"\nAccuracy on the validation split ({len(val_items)} images, {args.train_size} px), float vs. INT8:")
    calibration = batches(train_items, size=args.train_size, count=args.calibration)
    for method in METHODS:
        started = time.perf_counter()
        int8 = quantize_int8(model, calibration, method=method)
        seconds = time.perf_counter() - started
        report = accuracy_comparison(model, int8, items=val_items, config=config)
        print(
            f"  {method:10s} float {100 * report['float_accuracy']:6.2f} %  INT8 {100 * report['int8_accuracy']:6.2f} %"
            f"  lost {report['drop_points']:+.2f} points  (agreement {100 * report['agreement']:.1f} %, "
            f"quantized in {seconds:.1f} s)"
        )

    float_s, int8_s = latencies_and_sizes(model, train_items, val_items, args)
    final = accuracy_comparison(
        model, quantize_int8(model, calibration, method=args.method), items=val_items, config=config
    )
    speed_ok = float_s / int8_s >= 2.0
    accuracy_ok = final["drop_points"] <= 1.0
    print(
        f"\nGoal (INT8 ≥ 2x faster, ≤ 1 point lost) with {args.method}: speed {float_s / int8_s:.2f}x "
        f"{'met' if speed_ok else 'NOT met'}, {final['drop_points']:+.2f} points "
        f"{'met' if accuracy_ok else 'NOT met'}"
    )


def trained(args: argparse.Namespace) -> tuple[nn.Module, ClassifierConfig, list[Item], list[Item]]:
    """ResNet-18 from random initialisation trained on the digits' training split: the model, its config, the
    training items and the validation items."""
    items = digit_items(10, args.per_class, size=args.train_size)
    train_at, val_at = split_indices([label for _, label in items], val_fraction=0.2, seed=0)
    train_items, val_items = [items[i] for i in train_at], [items[i] for i in val_at]
    config = parse_classifier_config(
        {"arch": "resnet18", "classes": [str(i) for i in range(10)], "input_size": args.train_size}
    )
    model = build_classifier(config, None, device="cpu")
    params = parse_train_params({"epochs": args.epochs, "batch_size": 32, "lr": 1e-3, "target_accuracy": None})
    print(
        f"ResNet-18 (random init) trained on {len(train_items)} digits at {args.train_size} px for {args.epochs} "
        f"epochs, validated on {len(val_items)}; CPU, {torch.get_num_threads()} threads, torch {torch.__version__}",
        flush=True,
    )
    result = train(model, train_items=train_items, val_items=val_items, params=params, config=config, device="cpu")
    print(f"  training: {result.seconds:.1f} s, final validation accuracy {result.history[-1]['val_accuracy']:.4f}")
    return model, config, train_items, val_items


def latencies_and_sizes(
    model: nn.Module, train_items: list[Item], val_items: list[Item], args: argparse.Namespace
) -> tuple[float, float]:
    """Print the latency per image at `--size` of torch float, torch INT8 and ONNX Runtime, and the sizes of
    the three; returns the seconds per image of torch float and of torch INT8."""
    size, repeats, warmup = args.size, args.repeats, 5
    int8 = quantize_int8(model, batches(train_items, size=size, count=args.calibration), method=args.method)
    float_s = latency_per_image(model, input_size=size, repeats=repeats, warmup=warmup)
    int8_s = latency_per_image(int8, input_size=size, repeats=repeats, warmup=warmup)
    with tempfile.TemporaryDirectory(prefix="commons-bench-") as folder:
        path = export_onnx(model, Path(folder) / "resnet18.onnx", input_size=size)
        difference = check_onnx(path, model, torch.cat(batches(val_items, size=size, count=16)))
        onnx_s = onnx_latency(path, size=size, repeats=repeats, warmup=warmup, threads=args.threads)
        onnx_bytes = path.stat().st_size
    float_bytes, int8_bytes = state_dict_bytes(model), state_dict_bytes(int8)
    print(f"\nLatency per image at {size}x{size}, batch 1, median of {repeats}:")
    print(f"  torch float      {1000 * float_s:8.2f} ms   (reference)")
    print(f"  torch INT8 ({args.method:4s}) {1000 * int8_s:8.2f} ms   {float_s / int8_s:5.2f}x faster than float")
    print(f"  ONNX Runtime     {1000 * onnx_s:8.2f} ms   {float_s / onnx_s:5.2f}x faster than torch float")
    print(f"  (ONNX vs. torch logits: max |diff| {difference:.2e})")
    print(
        f"Size: float state dict {float_bytes / 1e6:.1f} MB, INT8 {int8_bytes / 1e6:.1f} MB "
        f"({float_bytes / int8_bytes:.2f}x smaller), ONNX {onnx_bytes / 1e6:.1f} MB"
    )
    return float_s, int8_s


if __name__ == "__main__":
    main()

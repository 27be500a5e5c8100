"""Benchmark: one epoch of ResNet-18 training through the platform vs. a plain PyTorch loop on the same data.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports):

- the data: scikit-learn's handwritten digits (all 10 classes, `--per-class` of each) upscaled to
  `--size` px RGB PNGs, imported as a dataset from an ImageFolder zip;
- plain: a loop written here with torchvision only — resnet18(weights=None) with a new fc, Resize,
  RandomHorizontalFlip, ToTensor, Normalize, Adam, cross-entropy, a validation pass after each epoch —
  on the same 80/20 split, batch size and number of threads;
- platform: a `train` task on an architecture-only `classifier.resnet` version with the same
  parameters; its per-epoch `seconds` come from GET /tasks/{id}/metrics.

Prints the median epoch time of each and their ratio (goal ≤ 1.05), and the whole task (submit → done)
beside the plain loop's total for context. The plain loop runs first, while the stack is idle.
Usage: .venv/bin/python bench/classifier_epoch.py [--per-class 60] [--size 64] [--epochs 3] [--batch-size 32]
"""

from __future__ import annotations

import io
import json
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from torchvision.models import resnet18

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments, bench_settings, running, signed_in
from launcher.client import CommonsClient

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def digits(per_class: int, size: int) -> list[tuple[Image.Image, int]]:
    """`per_class` digits of each class 0-9 as size x size RGB images, in the data set's order."""
    found = load_digits()
    taken = [0] * 10
    items = []
    for pixels, target in zip(found.images, found.target, strict=True):
        label = int(target)
        if taken[label] >= per_class:
            continue
        taken[label] += 1
        grey = Image.fromarray((pixels * 255 / 16).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
        items.append((grey.convert("RGB"), label))
    return items


def zip_of(items: list[tuple[Image.Image, int]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (image, label) in enumerate(items):
            encoded = io.BytesIO()
            image.save(encoded, format="PNG")
            archive.writestr(f"digit-{label}/{index}.png", encoded.getvalue())
    return buffer.getvalue()


class Images(Dataset[tuple[torch.Tensor, int]]):
    def __init__(self, items: list[tuple[Image.Image, int]], transform: transforms.Compose) -> None:
        self.items, self.transform = items, transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.items[index]
        return self.transform(image), label


def split(labels: list[int], *, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A stratified split of the same sizes as the platform's (round(n * fraction) per class)."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(set(labels)):
        members = [i for i, value in enumerate(labels) if value == label]
        shuffled = [members[i] for i in rng.permutation(len(members))]
        count = max(1, round(len(members) * val_fraction))
        val += shuffled[:count]
        train += shuffled[count:]
    return sorted(train), sorted(val)


def plain_loop(
    items: list[tuple[Image.Image, int]], *, size: int, epochs: int, batch_size: int, lr: float
) -> tuple[list[float], float]:
    """(seconds per epoch incl. its validation pass, total seconds incl. building the model)."""
    started = time.perf_counter()
    torch.manual_seed(0)
    train_at, val_at = split([label for _, label in items], val_fraction=0.2, seed=0)
    resize, to_tensor = transforms.Resize((size, size)), transforms.ToTensor()
    normalise = transforms.Normalize(MEAN, STD)
    train_tf = transforms.Compose([resize, transforms.RandomHorizontalFlip(), to_tensor, normalise])
    val_tf = transforms.Compose([resize, to_tensor, normalise])
    train_loader = DataLoader(Images([items[i] for i in train_at], train_tf), batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(Images([items[i] for i in val_at], val_tf), batch_size=batch_size)
    model = resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    seconds = []
    for _ in range(epochs):
        epoch_started = time.perf_counter()
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            for images, labels in val_loader:
                loss_fn(model(images), labels)
        seconds.append(time.perf_counter() - epoch_started)
    return seconds, time.perf_counter() - started


def platform_run(
    client: CommonsClient, archive: bytes, *, size: int, epochs: int, batch_size: int, lr: float
) -> tuple[list[float], float]:
    """(the task's per-epoch seconds, submit → succeeded seconds)."""
    dataset = client.http.post("/datasets", json={"name": "digits"}).json()
    imported = client.http.post(f"/datasets/{dataset['id']}/import", files={"file": ("d.zip", archive)})
    imported.raise_for_status()
    classes = client.http.get(f"/datasets/{dataset['id']}").json()["classes"]
    config = {"arch": "resnet18", "classes": classes, "input_size": size}
    client.create_resource(name="bench-resnet18", kind="classifier.resnet", title="bench", visibility="private")
    client.http.post("/resources/bench-resnet18/versions", data={"config": json.dumps(config)})
    params = {
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "target_accuracy": None,
        "val_fraction": 0.2,
        "seed": 0,
    }
    started = time.perf_counter()
    task = client.submit(resource="bench-resnet18", version=1, mode="train", dataset=dataset["id"], params=params)
    final = client.wait(task["id"], timeout=7200, poll=0.5)  # gentle polling: the CPU belongs to the worker
    elapsed = time.perf_counter() - started
    if final["status"] != "succeeded":
        raise RuntimeError(f"platform task failed: {final['error']}")
    return [record["seconds"] for record in client.metrics(task["id"])], elapsed


def main() -> None:
    parser = arguments(__doc__, per_class=60, size=64, epochs=3, batch_size=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    items = digits(args.per_class, args.size)
    archive = zip_of(items)
    with tempfile.TemporaryDirectory(prefix="commons-bench-") as folder:
        settings = bench_settings(Path(folder), warm_workers=0)
        with running(settings):
            client, _ = signed_in(settings, "bench")
            print(
                f"\nResNet-18 (random init), {len(items)} digits at {args.size}x{args.size} px (80/20 split), "
                f"batch {args.batch_size}, {args.epochs} epochs, CPU, {torch.get_num_threads()} threads",
                flush=True,
            )
            plain, plain_total = plain_loop(
                items, size=args.size, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr
            )
            platform, task_total = platform_run(
                client, archive, size=args.size, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr
            )
            plain_epoch, platform_epoch = statistics.median(plain), statistics.median(platform)
            print(f"  plain PyTorch loop, epoch (train + validation), median: {plain_epoch:8.2f} s")
            print(
                f"  platform train task, epoch (train + validation), median: {platform_epoch:8.2f} s   "
                f"ratio {platform_epoch / plain_epoch:.3f}"
            )
            print(
                f"  whole run: plain {plain_total:.2f} s (model + {args.epochs} epochs); platform task submit → "
                f"succeeded {task_total:.2f} s (process start, dataset fetch, {args.epochs} epochs, publish)"
            )
            client.close()


if __name__ == "__main__":
    main()

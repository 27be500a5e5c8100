"""Train a classifier (ResNet or from blocks) on labelled images: seeded, deterministic, early stop, cancellable.

Items are ``(HxWx3 uint8 RGB array, class index)`` pairs (see `resources.classifier.data`); the caller
splits them with `split_indices`. The model is trained in place and ends with the weights of its best epoch
by validation accuracy (the last epoch's without validation).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.config import ImageClassifierConfig, TrainParams
from resources.classifier.data import Item, LabelledImages, check_items, make_loader
from resources.classifier.evaluate import collect_logits
from resources.classifier.resnet.model import freeze_backbone

EpochCallback = Callable[[dict[str, Any]], None]
Loader = torch.utils.data.DataLoader[tuple[torch.Tensor, int]]


@dataclass
class TrainResult:
    """What a training run did. `history` holds one dict per completed epoch (the ones `on_epoch` got);
    `best_epoch` (1-based) is the epoch whose weights the model was left with, the first of those with the
    highest validation accuracy (`best_val_accuracy`); both None without validation."""

    stopped_early: bool = False
    stop_reason: str | None = None
    cancelled: bool = False
    seconds: float = 0.0
    best_epoch: int | None = None
    best_val_accuracy: float | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary for task records and manifests: `epochs_run`, then every field (a copy of the
        history last)."""
        return {"epochs_run": self.epochs_run, **asdict(self)}


def train(
    model: nn.Module,
    *,
    train_items: Sequence[Item],
    val_items: Sequence[Item],
    params: TrainParams,
    config: ImageClassifierConfig,
    device: str,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train `model` (moved to `device` first) for up to `params.epochs` epochs with cross-entropy loss.

    After each epoch, `on_epoch` receives ``{"epoch": int (1-based), "train_loss": float,
    "train_accuracy": float in [0, 1], "val_loss": float | None, "val_accuracy": float | None,
    "seconds": float}`` (val_* are None when `val_items` is empty). Training stops early once
    val_accuracy ≥ params.target_accuracy. `should_stop()` is asked before every batch; when it returns
    True the run ends without error, the unfinished epoch is dropped and `cancelled` is set. With
    params.freeze_backbone only `fc` learns, and the backbone's batch norm statistics stay fixed too.

    With validation, the best epoch's weights (highest val_accuracy, the earlier on ties) are kept on the CPU
    and loaded back at the end, after an early stop or a cancellation too; without, the last epoch's stay.

    Deterministic: torch is seeded with params.seed (the caller's RNG state is restored afterwards) and
    deterministic algorithms are enforced while training, so on the CPU the same model, data and seed
    give bit-identical weights. On CUDA the non-deterministic kernels some ops lack an alternative for
    (adaptive average pooling's backward) only warn. The model is left in eval mode.
    """
    _check_inputs(train_items, val_items, params=params, config=config)
    train_set, train_loader, val_loader = _loaders(train_items, val_items, params=params, config=config, device=device)
    model.to(device)
    result = TrainResult()
    best: dict[str, torch.Tensor] | None = None
    started = time.perf_counter()
    with _deterministic(device), torch.random.fork_rng(devices=_cuda_devices(device)):
        torch.manual_seed(params.seed)
        optimizer = _optimizer(model, params)
        loss_fn = nn.CrossEntropyLoss()
        for epoch in range(1, params.epochs + 1):
            epoch_started = time.perf_counter()
            train_set.set_epoch(epoch)
            _train_mode(model, frozen=params.freeze_backbone)
            totals = _train_epoch(model, train_loader, optimizer, loss_fn, device=device, should_stop=should_stop)
            if totals is None:
                result.cancelled = True
                break
            val_loss, val_accuracy = _validate(model, val_loader, device=device)
            record = _epoch_record(epoch, totals, val_loss=val_loss, val_accuracy=val_accuracy, started=epoch_started)
            result.history.append(record)
            if _improved(result, epoch=epoch, val_accuracy=val_accuracy):
                best = _cpu_state(model)
            if on_epoch is not None:
                on_epoch(dict(record))
            if _reached_target(result, params=params, epoch=epoch, val_accuracy=val_accuracy):
                break
    if best is not None:
        model.load_state_dict(best)
    model.eval()
    result.seconds = time.perf_counter() - started
    return result


def _loaders(
    train_items: Sequence[Item],
    val_items: Sequence[Item],
    *,
    params: TrainParams,
    config: ImageClassifierConfig,
    device: str,
) -> tuple[LabelledImages, Loader, Loader]:
    """(the training images, augmented per epoch; their loader: shuffled, seeded; the validation loader)."""
    train_set = LabelledImages(train_items, config=config, train=True, augment=params.augment, seed=params.seed)
    remainder = len(train_items) % params.batch_size
    train_loader = make_loader(
        train_set,
        batch_size=params.batch_size,
        shuffle=True,
        seed=params.seed,
        device=device,
        num_workers=params.num_workers,
        drop_last=remainder == 1,  # batch norm cannot train on a batch of one 1x1 feature map
    )
    val_loader = make_loader(
        LabelledImages(val_items, config=config), batch_size=params.batch_size, shuffle=False, seed=0, device=device
    )
    return train_set, train_loader, val_loader


def _train_epoch(
    model: nn.Module,
    loader: Loader,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    *,
    device: str,
    should_stop: Callable[[], bool] | None,
) -> tuple[torch.Tensor, torch.Tensor, int] | None:
    """One pass over the training loader: (summed loss, right predictions, images seen), or None when
    `should_stop()` said so before a batch."""
    loss_sum = torch.zeros((), device=device)
    right = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    for images, labels in loader:
        if should_stop is not None and should_stop():
            return None
        images = images.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(labels)
        right += (logits.detach().argmax(dim=1) == labels).sum()
        seen += len(labels)
    return loss_sum, right, seen


def _epoch_record(
    epoch: int,
    totals: tuple[torch.Tensor, torch.Tensor, int],
    *,
    val_loss: float | None,
    val_accuracy: float | None,
    started: float,
) -> dict[str, Any]:
    """What `on_epoch` receives (see `train`); `seconds` since `started`."""
    loss_sum, right, seen = totals
    return {
        "epoch": epoch,
        "train_loss": float(loss_sum) / seen,
        "train_accuracy": int(right) / seen,
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "seconds": time.perf_counter() - started,
    }


def _improved(result: TrainResult, *, epoch: int, val_accuracy: float | None) -> bool:
    """Whether `epoch` is the best so far (strictly higher validation accuracy); then `result` records it."""
    if val_accuracy is None or (result.best_val_accuracy is not None and val_accuracy <= result.best_val_accuracy):
        return False
    result.best_epoch, result.best_val_accuracy = epoch, val_accuracy
    return True


def _cpu_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the model's weights and buffers on the CPU (the best epoch's, kept while training goes on)."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def _reached_target(result: TrainResult, *, params: TrainParams, epoch: int, val_accuracy: float | None) -> bool:
    """Whether validation accuracy reached `params.target_accuracy` (then `result` says why it stopped)."""
    target = params.target_accuracy
    if target is not None and val_accuracy is not None and val_accuracy >= target:
        result.stopped_early = epoch < params.epochs
        result.stop_reason = f"validation accuracy {val_accuracy:.4f} reached the target {target:g}"
        return True
    return False


def _check_inputs(
    train_items: Sequence[Item], val_items: Sequence[Item], *, params: TrainParams, config: ImageClassifierConfig
) -> None:
    if len(train_items) < 2:
        raise InvalidInput(
            f"training needs at least 2 training images (got {len(train_items)}); add images to the dataset",
            field="train_items",
        )
    check_items(train_items, num_classes=len(config.classes), name="train_items")
    check_items(val_items, num_classes=len(config.classes), name="val_items")
    if params.batch_size == 1 and math.ceil(config.input_size / 32) == 1 and not params.freeze_backbone:
        raise InvalidInput(
            f"params.batch_size: 1 cannot train a ResNet at input_size {config.input_size} (batch norm sees a "
            "single value per channel); use batch_size ≥ 2 or input_size > 32",
            field="params.batch_size",
        )


def _optimizer(model: nn.Module, params: TrainParams) -> torch.optim.Optimizer:
    """The optimizer over what trains: with params.freeze_backbone only `fc` (frozen here), else everything."""
    if params.freeze_backbone:
        freeze_backbone(_resnet(model))
    parameters = [p for p in model.parameters() if p.requires_grad]
    if params.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=params.lr, momentum=params.momentum)
    if params.optimizer == "adamw":
        return torch.optim.AdamW(parameters, lr=params.lr)
    return torch.optim.Adam(parameters, lr=params.lr)


def _resnet(model: nn.Module) -> ResNet:
    if not isinstance(model, ResNet):
        raise InvalidInput(
            "params.freeze_backbone: only a ResNet has a backbone to freeze; a model from blocks trains whole",
            field="params.freeze_backbone",
        )
    return model


def _train_mode(model: nn.Module, *, frozen: bool) -> None:
    """Train mode; with a frozen backbone its batch norm statistics stay fixed too (eval mode)."""
    if frozen:
        model.eval()
        _resnet(model).fc.train()
    else:
        model.train()


def _validate(model: nn.Module, loader: Loader, *, device: str) -> tuple[float | None, float | None]:
    """(mean cross-entropy, accuracy) over the validation loader, or (None, None) when it is empty."""
    logits, labels = collect_logits(model, loader, device=device)
    if len(labels) == 0:
        return None, None
    loss = nn.functional.cross_entropy(logits, labels)
    return float(loss), float((logits.argmax(dim=1) == labels).float().mean())


def _cuda_devices(device: str) -> list[int]:
    """The CUDA device indices whose RNG state `fork_rng` must save and restore."""
    if not device.startswith("cuda"):
        return []
    return [torch.device(device).index or 0]


@contextmanager
def _deterministic(device: str) -> Iterator[None]:
    """Enforce deterministic algorithms (warn-only on CUDA), restoring the previous settings after."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    on_cuda = device.startswith("cuda")
    if on_cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS's deterministic mode
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    torch.use_deterministic_algorithms(True, warn_only=on_cuda)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn

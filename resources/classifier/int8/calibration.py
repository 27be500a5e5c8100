"""Calibration observers for post-training INT8 quantization with `torch.ao.quantization` (x86/fbgemm).

One activation observer per calibration method; weights are always per-output-channel symmetric qint8
(`PerChannelMinMaxObserver`, what the x86/fbgemm kernels expect). Activations are quint8 affine.

    minmax      torch's MinMaxObserver: the range is [min(x), max(x)] over every calibration batch.
    percentile  |x| histogram; T = the `percentile`-th percentile of |x| (99.99 by default, linear
                interpolation inside a bin); the range is [max(min, −T), min(max, T)], so both tails
                are clipped at the same magnitude and the side that never reaches T is kept as seen.
    kl          TensorRT's entropy calibration on the |x| histogram: among thresholds T = i·bin_width,
                i = L … bins, choose the one minimising KL(P‖Q), P the histogram clipped at T (the
                outliers folded into its last bin), Q the same mass quantized to L levels and expanded
                back over the non-empty bins. L is the number of levels the affine grid gives to [0, T]:
                all of them for non-negative data (post-ReLU), half of them for signed data. The range
                is then [max(min, −T), min(max, T)] as for percentile.
    log2        MinMax, then the scale rounded UP to a power of two (2^ceil(log2 s), so nothing new is
                clipped) and the zero point recomputed for it: the shift-only arithmetic of integer
                engines. Non-negative activations get zero point 0.

x86/fbgemm activations use the quint8 range 0…127 (torch's `reduce_range` for those engines: their
u8×s8 kernels can saturate a 16-bit accumulator with the full 0…255 range); other engines use 0…255.
Tensor shapes: observers accept any float32 tensor and pass it through unchanged.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, Final

import torch
from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver, QConfig, QConfigMapping
from torch.ao.quantization.observer import UniformQuantizationObserverBase
from torch.ao.quantization.qconfig_mapping import get_default_qconfig_mapping

from commons.errors import InvalidInput

METHODS: Final[tuple[str, ...]] = ("minmax", "percentile", "kl", "log2")
BACKENDS: Final[tuple[str, ...]] = ("x86", "fbgemm")
HISTOGRAM_BINS: Final[int] = 2048
DEFAULT_PERCENTILE: Final[float] = 99.99
_KL_CHUNK: Final[int] = 256  # candidate thresholds evaluated at once (bounds memory to ~chunk x bins)
_KL_EPS: Final[float] = 1e-4  # smoothing of empty bins before the KL divergence (as TVM/MXNet do)


def check_method(method: str) -> None:
    """Raise InvalidInput naming `method` and the valid choices when it is not a calibration method."""
    if method not in METHODS:
        raise InvalidInput(
            f"method: unknown calibration method {method!r}; choose one of {', '.join(METHODS)}", field="method"
        )


def check_backend(backend: str) -> None:
    """Raise InvalidInput unless `backend` is a quantized engine this module configures and torch has."""
    if backend not in BACKENDS or backend not in torch.backends.quantized.supported_engines:
        available = [name for name in BACKENDS if name in torch.backends.quantized.supported_engines]
        raise InvalidInput(
            f"backend: {backend!r} is not available; choose one of {', '.join(available)}", field="backend"
        )


def activation_range(backend: str) -> tuple[int, int]:
    """(quant_min, quant_max) of quint8 activations on `backend`: 0…127 on x86/fbgemm, else 0…255."""
    return (0, 127) if backend in ("x86", "fbgemm") else (0, 255)


class AbsHistogramObserver(UniformQuantizationObserverBase):
    """Collects min, max and a `bins`-bin histogram of |x| over [0, R], R the largest |x| seen so far.

    When a batch exceeds R, R grows by a power of two and old bins merge in groups of 2^k, so the
    histogram stays exact (no re-interpolation). Subclasses choose the clipping threshold T.
    """

    histogram: torch.Tensor
    abs_max: torch.Tensor
    min_val: torch.Tensor
    max_val: torch.Tensor

    def __init__(self, *, bins: int = HISTOGRAM_BINS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if bins < 256 or bins & (bins - 1):
            raise InvalidInput(f"bins must be a power of two ≥ 256 (got {bins})", field="bins")
        self.bins = bins
        self.register_buffer("histogram", torch.zeros(bins, dtype=torch.float64))
        self.register_buffer("abs_max", torch.tensor(0.0))
        self.register_buffer("min_val", torch.tensor(float("inf")))
        self.register_buffer("max_val", torch.tensor(float("-inf")))
        self._limit: float | None = None  # the threshold of the data seen so far, once computed

    def forward(self, x_orig: torch.Tensor) -> torch.Tensor:
        if x_orig.numel() == 0:
            return x_orig
        x = x_orig.detach().float()
        self._limit = None
        self.min_val = torch.minimum(self.min_val, x.min())
        self.max_val = torch.maximum(self.max_val, x.max())
        magnitude = x.abs()
        top = float(magnitude.max())
        if not math.isfinite(top):
            raise InvalidInput("calibration produced a non-finite activation; check the images", field="calibration")
        if top > float(self.abs_max):
            self._grow(top)
        if float(self.abs_max) > 0.0:
            counts = torch.histc(magnitude, bins=self.bins, min=0.0, max=float(self.abs_max))
            self.histogram += counts.to(torch.float64)
        return x_orig

    def _grow(self, top: float) -> None:
        old = float(self.abs_max)
        if old == 0.0:
            self.abs_max = torch.tensor(top)
            return
        shift = math.ceil(math.log2(top / old))
        group = 2**shift
        self.abs_max = torch.tensor(old * group)
        index = torch.arange(self.bins) // group
        merged = torch.zeros_like(self.histogram).index_add_(0, index, self.histogram)
        self.histogram = merged

    @abstractmethod
    def threshold(self) -> float:
        """The clipping magnitude T (≥ 0) chosen from the |x| histogram (each method defines it)."""

    def calculate_qparams(self) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """(scale: 1-element float32, zero_point: 1-element int) for the range [max(min,−T), min(max,T)]."""
        if float(self.histogram.sum()) == 0.0:
            return self._calculate_qparams(self.min_val.clamp(max=0.0), self.max_val.clamp(min=0.0))
        if self._limit is None:
            self._limit = self.threshold()
        limit = self._limit
        low = torch.maximum(self.min_val, torch.tensor(-limit))
        high = torch.minimum(self.max_val, torch.tensor(limit))
        return self._calculate_qparams(low, high)

    def levels(self) -> int:
        """Quantization levels covering [0, T]: all of them for non-negative data, half for signed."""
        span = self.quant_max - self.quant_min + 1
        return span if float(self.min_val) >= 0.0 else span // 2

    def bin_width(self) -> float:
        return float(self.abs_max) / self.bins


class PercentileObserver(AbsHistogramObserver):
    """T = the `percentile`-th percentile of |x| (0 < percentile ≤ 100), read off the histogram."""

    def __init__(self, *, percentile: float = DEFAULT_PERCENTILE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 < percentile <= 100.0:
            raise InvalidInput(f"percentile must be in (0, 100] (got {percentile})", field="percentile")
        self.percentile = percentile

    def threshold(self) -> float:
        cumulative = torch.cumsum(self.histogram, 0)
        target = float(cumulative[-1]) * self.percentile / 100.0
        index = int(
            torch.searchsorted(cumulative, torch.tensor([target], dtype=torch.float64)).clamp(max=self.bins - 1)
        )
        before = float(cumulative[index - 1]) if index > 0 else 0.0
        inside = float(self.histogram[index])
        fraction = (target - before) / inside if inside > 0 else 1.0
        return (index + min(max(fraction, 0.0), 1.0)) * self.bin_width()


class KLObserver(AbsHistogramObserver):
    """T minimising KL(P‖Q) between the clipped |x| histogram and its L-level quantization (TensorRT)."""

    def threshold(self) -> float:
        divergences = kl_divergences(self.histogram, levels=self.levels())
        best = int(torch.argmin(divergences))
        return (best + min(self.levels(), self.bins)) * self.bin_width()


def kl_divergences(histogram: torch.Tensor, *, levels: int) -> torch.Tensor:
    """KL(P_i‖Q_i) for every candidate i = levels … bins (float64, length bins − levels + 1).

    `histogram`: 1-D, length `bins`, non-negative counts of |x|. For candidate i, P_i is
    histogram[:i] with histogram[i:] added to its last bin; Q_i splits histogram[:i] into `levels`
    groups (bin j → group ⌊j·levels/i⌋), spreads each group's sum evenly over its non-empty bins.
    Both are smoothed (empty bins get ε, taken proportionally from the others) and normalised.
    """
    hist = histogram.to(torch.float64)
    bins = hist.numel()
    levels = min(levels, bins)
    candidates = torch.arange(levels, bins + 1)
    total = hist.sum()
    prefix = torch.cat([hist.new_zeros(1), torch.cumsum(hist, 0)])  # prefix[j] = sum(hist[:j])
    nonzero = torch.cat([hist.new_zeros(1), torch.cumsum((hist > 0).to(torch.float64), 0)])
    positions = torch.arange(bins)
    groups = torch.arange(levels + 1)
    results = []
    for start in range(0, len(candidates), _KL_CHUNK):
        sizes = candidates[start : start + _KL_CHUNK]  # C
        rows = torch.arange(len(sizes))
        inside = positions[None, :] < sizes[:, None]  # C x B
        p = torch.where(inside, hist[None, :], 0.0)
        p[rows, sizes - 1] += total - prefix[sizes]  # outliers folded into the last kept bin
        # group g holds bins ceil(g·i/L) … ceil((g+1)·i/L) − 1, i.e. the j with ⌊j·L/i⌋ = g
        bounds = (groups[None, :] * sizes[:, None] + levels - 1) // levels  # C x (L+1)
        sums = prefix[bounds[:, 1:]] - prefix[bounds[:, :-1]]
        counts = nonzero[bounds[:, 1:]] - nonzero[bounds[:, :-1]]
        spread = sums / counts.clamp(min=1.0)  # C x L
        member = ((positions[None, :] * levels) // sizes[:, None]).clamp(max=levels - 1)
        q = torch.where(inside & (hist[None, :] > 0), torch.gather(spread, 1, member), 0.0)
        results.append(_kl(_smooth(p, inside), _smooth(q, inside), inside))
    return torch.cat(results)


def _smooth(distribution: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    """Normalise each row over `inside`, giving empty bins ε taken evenly from the non-empty ones."""
    total = distribution.sum(1, keepdim=True).clamp(min=1e-300)
    d = distribution / total
    empty = inside & (d == 0)
    full = inside & (d > 0)
    n_empty = empty.sum(1, keepdim=True).to(torch.float64)
    n_full = full.sum(1, keepdim=True).clamp(min=1).to(torch.float64)
    taken = _KL_EPS * n_empty / n_full
    return d + _KL_EPS * empty - taken * full


def _kl(p: torch.Tensor, q: torch.Tensor, inside: torch.Tensor) -> torch.Tensor:
    valid = inside & (p > 0) & (q > 0)
    terms = torch.where(valid, p * torch.log(torch.where(valid, p / q, 1.0)), 0.0)
    return terms.sum(1)


class Log2Observer(MinMaxObserver):
    """MinMax with the scale rounded up to a power of two and the zero point recomputed for it."""

    def calculate_qparams(self) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        """(scale = 2^k float32 1-element, zero_point int 1-element) covering [min, max]."""
        scale, _ = self._calculate_qparams(self.min_val, self.max_val)
        power = torch.exp2(torch.ceil(torch.log2(scale.clamp(min=float(self.eps)))))
        low = torch.clamp(self.min_val, max=0.0)
        zero_point = torch.clamp(self.quant_min - torch.round(low / power), self.quant_min, self.quant_max)
        return power.to(torch.float32).reshape(1), zero_point.to(torch.int64).reshape(1)


def qconfig_for(method: str, *, backend: str = "x86") -> QConfig:
    """The QConfig of `method`: its activation observer (quint8 affine) and per-channel symmetric qint8 weights."""
    check_method(method)
    check_backend(backend)
    quant_min, quant_max = activation_range(backend)
    common: dict[str, Any] = {
        "dtype": torch.quint8,
        "qscheme": torch.per_tensor_affine,
        "quant_min": quant_min,
        "quant_max": quant_max,
    }
    observers: dict[str, Any] = {
        "minmax": MinMaxObserver.with_args(**common),
        "percentile": PercentileObserver.with_args(**common),
        "kl": KLObserver.with_args(**common),
        "log2": Log2Observer.with_args(**common),
    }
    weight = PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric)
    return QConfig(activation=observers[method], weight=weight)


def qconfig_mapping_for(method: str, *, backend: str = "x86") -> QConfigMapping:
    """torch's default mapping for `backend` (fixed-qparams ops keep theirs) with `method` as the global QConfig."""
    qconfig = qconfig_for(method, backend=backend)
    return get_default_qconfig_mapping(backend).set_global(qconfig)

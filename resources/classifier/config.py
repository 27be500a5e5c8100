"""Schemas of a `classifier.resnet` version's config and of its train/evaluate/predict parameters.

Pydantic only, no torch: the API imports this module to validate uploads and task requests. Failures
become `InvalidInput` whose message names the field path, e.g. ``params.epochs: must be ≥ 1 (got 0)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final, Literal, Protocol

from pydantic import AfterValidator, AllowInfNan, BaseModel, ConfigDict, Field, Strict, field_validator

from commons.errors import InvalidInput
from resources.schema import WEIGHT_SUFFIXES as WEIGHT_SUFFIXES
from resources.schema import Bool, Float, Int, check_weights_name, field_error, parse_model

Arch = Literal["resnet18", "resnet34", "resnet50"]
Augment = Literal["rotate", "blur", "flip", "flop"]
Seed = Annotated[int, Strict(), Field(ge=0, le=2**32 - 1)]
MeanValue = Annotated[float, Strict(), AllowInfNan(False), Field(ge=0.0, le=1.0)]
StdValue = Annotated[float, Strict(), AllowInfNan(False), Field(gt=0.0, le=1.0)]
ClassName = Annotated[str, Strict(), Field(min_length=1, max_length=100)]
QuantMethod = Literal["minmax", "percentile", "kl", "log2"]
QuantBackend = Literal["x86", "fbgemm"]
ExportFormat = Literal["onnx", "torchscript", "int8"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = ("onnx", "torchscript", "int8")

IMAGENET_MEAN: Final[tuple[float, float, float]] = (0.485, 0.456, 0.406)
IMAGENET_STD: Final[tuple[float, float, float]] = (0.229, 0.224, 0.225)
MAX_CLASSES: Final[int] = 1000
_SLUG: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")


_BLOCKS_PER_STAGE: Final[dict[str, tuple[int, int, int, int]]] = {
    "resnet18": (2, 2, 2, 2),
    "resnet34": (3, 4, 6, 3),
    "resnet50": (3, 4, 6, 3),
}


def unit_names_for(arch: str) -> list[str]:
    """The unit names of `arch` in execution order ("stem", "layer1.0", …, "pool", "fc"), as
    `resources.classifier.resnet.units.resnet_units` makes them; what `keep_float` and inspect records use."""
    blocks = _BLOCKS_PER_STAGE[arch]
    stages = [f"layer{stage + 1}.{index}" for stage, count in enumerate(blocks) for index in range(count)]
    return ["stem", *stages, "pool", "fc"]


def check_class_names(value: list[str]) -> list[str]:
    """`value` unless a name is blank or repeated (then a pydantic error naming its index)."""
    seen: dict[str, int] = {}
    for index, name in enumerate(value):
        if not name.strip():
            raise field_error(f"[{index}]", "must not be blank")
        if name in seen:
            raise field_error(
                f"[{index}]", f"repeats {name!r} (also classes[{seen[name]}]); class names must be unique"
            )
        seen[name] = index
    return value


# A config's class names (distinct, none blank) and its `checkpoint` (a plain weights file name), for every kind.
ClassNames = Annotated[list[ClassName], AfterValidator(check_class_names)]
WeightsName = Annotated[str, AfterValidator(check_weights_name)]


def check_slug(value: str | None) -> str | None:
    """`value` unless it is not a resource slug (then ValueError, for pydantic validators)."""
    if value is not None and not _SLUG.fullmatch(value):
        raise ValueError(
            "must be a resource slug: 1-64 lowercase letters, digits or '-', not starting or ending "
            f"with '-' (got {value!r})"
        )
    return value


class ActivationQuant(BaseModel):
    """One activation quantizer of an INT8 unit: the value it quantizes (an FX node name), scale, zero point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = Field(min_length=1, max_length=100)
    observes: str = Field(min_length=1, max_length=200)
    scale: Float = Field(gt=0.0)
    zero_point: Int = Field(ge=0, le=255)


class QuantizationSpec(BaseModel):
    """`config.quantization` of an INT8 version: what turns its float weights into the calibrated INT8
    model (see `resources.classifier.int8.version`). `calibration` is provenance (dataset digest, images)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: QuantMethod
    backend: QuantBackend = "x86"
    keep_float: list[str] = Field(default_factory=list, max_length=64)
    activations: list[ActivationQuant] = Field(min_length=1, max_length=512)
    calibration: dict[str, Any] = Field(default_factory=dict)


class ClassifierConfig(BaseModel):
    """`config.json` of a classifier version: architecture, ordered class names, preprocessing, weights.

    `classes[i]` is the name of output logit i. `checkpoint` None means an architecture-only version:
    the model is initialised from `init_seed` (untrained) and meant to be trained.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Arch
    classes: ClassNames = Field(min_length=2, max_length=MAX_CLASSES)
    input_size: Int = Field(default=224, ge=16, le=1024)
    mean: tuple[MeanValue, MeanValue, MeanValue] = IMAGENET_MEAN
    std: tuple[StdValue, StdValue, StdValue] = IMAGENET_STD
    checkpoint: WeightsName | None = None
    init_seed: Seed = 0
    quantization: QuantizationSpec | None = Field(
        default=None, description="Set on INT8 versions made by an export task; absent on float versions."
    )

    @property
    def input_channels(self) -> int:
        """Channels of the input: RGB."""
        return 3

    @property
    def model_name(self) -> str:
        """How messages name the model: its architecture."""
        return self.arch

    def unit_names(self) -> list[str]:
        """The units `keep_float` and inspect records name, in execution order."""
        return unit_names_for(self.arch)


class TrainParams(BaseModel):
    """What a training task asks for. `momentum` is used by sgd only; `augment` ops apply at train time."""

    model_config = ConfigDict(extra="forbid")

    epochs: Int = Field(default=50, ge=1, le=1000)
    batch_size: Int = Field(default=32, ge=1, le=1024)
    lr: Float = Field(default=1e-3, gt=0.0, le=10.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    momentum: Float = Field(default=0.9, ge=0.0, lt=1.0)
    target_accuracy: Float | None = Field(default=0.90, ge=0.0, le=1.0)
    val_fraction: Float = Field(default=0.2, gt=0.0, lt=1.0)
    seed: Seed = 0
    augment: list[Augment] = Field(default_factory=list, max_length=16)
    freeze_backbone: Bool = False
    num_workers: Int = Field(default=0, ge=0, le=16)
    publish_as: str | None = None

    @field_validator("augment")
    @classmethod
    def _deduplicate(cls, value: list[Augment]) -> list[Augment]:
        return list(dict.fromkeys(value))

    @field_validator("publish_as")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return check_slug(value)


class EvalParams(BaseModel):
    """What an evaluation task asks for."""

    model_config = ConfigDict(extra="forbid")

    batch_size: Int = Field(default=64, ge=1, le=1024)


class PredictParams(BaseModel):
    """What a prediction task asks for; `top_k` larger than the number of classes gives every class."""

    model_config = ConfigDict(extra="forbid")

    top_k: Int = Field(default=5, ge=1, le=100)
    batch_size: Int = Field(default=64, ge=1, le=1024)


class ExportParams(BaseModel):
    """What an export task asks for: the formats, and for INT8 the calibration method, the units kept in
    float (hybrid) and how many of the dataset's images calibrate; the rest measure float vs. INT8."""

    model_config = ConfigDict(extra="forbid")

    formats: list[ExportFormat] = Field(default_factory=lambda: list(EXPORT_FORMATS), min_length=1)
    method: QuantMethod = "percentile"
    backend: QuantBackend = "x86"
    keep_float: list[str] = Field(default_factory=list, max_length=64)
    calibration_images: Int = Field(default=64, ge=1, le=4096)
    batch_size: Int = Field(default=32, ge=1, le=1024)
    onnx_atol: Float = Field(
        default=1e-4, gt=0.0, le=1.0, description="ONNX Runtime vs. torch: |Δlogit| ≤ onnx_atol + 1e-3·|logit|"
    )
    latency_repeats: Int = Field(default=20, ge=1, le=1000)
    seed: Seed = 0
    publish_as: str | None = None

    @field_validator("formats")
    @classmethod
    def _distinct_formats(cls, value: list[ExportFormat]) -> list[ExportFormat]:
        return list(dict.fromkeys(value))

    @field_validator("publish_as")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return check_slug(value)


class InspectParams(BaseModel):
    """What an inspect task asks for: histogram bins and feature maps per layer, and (for an INT8 version)
    the cross-inference sweep in both directions."""

    model_config = ConfigDict(extra="forbid")

    histogram_bins: Int = Field(default=32, ge=1, le=1024)
    max_maps: Int = Field(default=16, ge=1, le=256)
    cross: Bool = True


class ImageClassifierConfig(Protocol):
    """What preprocessing, training and evaluation read of a classifier's config, ResNet or blocks alike:
    `classes[i]` names logit i; images are resized to `input_size` x `input_size`, given `input_channels`
    channels (3: RGB, 1: grey) and normalised with `mean`/`std` (one value per channel)."""

    @property
    def classes(self) -> Sequence[str]: ...

    @property
    def input_size(self) -> int: ...

    @property
    def input_channels(self) -> int: ...

    @property
    def mean(self) -> Sequence[float]: ...

    @property
    def std(self) -> Sequence[float]: ...

    @property
    def checkpoint(self) -> str | None: ...

    @property
    def quantization(self) -> QuantizationSpec | None: ...

    @property
    def model_name(self) -> str: ...

    def unit_names(self) -> list[str]: ...


class UnitModel(Protocol):
    """A classifier config that names its model and its quantization units (ResNet or blocks)."""

    @property
    def model_name(self) -> str: ...

    @property
    def quantization(self) -> QuantizationSpec | None: ...

    def unit_names(self) -> list[str]: ...


def check_units(names: list[str], *, known: list[str], model: str, field: str) -> None:
    """Refuse unit names the model (`model` names it in the message) does not have, listing the ones it has."""
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InvalidInput(
            f"{field}: {model} has no unit {', '.join(map(repr, unknown))}; its units are {', '.join(known)}",
            field=field,
        )


def parse_export_params(raw: Mapping[str, Any], *, config: UnitModel) -> ExportParams:
    """Validate export parameters against the version's config; errors name `params.<path>`."""
    params = parse_model(ExportParams, raw, prefix="params")
    check_units(params.keep_float, known=config.unit_names(), model=config.model_name, field="params.keep_float")
    if params.keep_float and "int8" not in params.formats:
        raise InvalidInput("params.keep_float: only INT8 export keeps units in float; add 'int8' to params.formats")
    if config.quantization is not None:
        raise InvalidInput(
            "this version is already INT8; export its float parent (see the version's lineage)", field="version"
        )
    return params


def parse_inspect_params(raw: Mapping[str, Any]) -> InspectParams:
    """Validate inspect parameters; errors become InvalidInput naming `params.<path>`."""
    return parse_model(InspectParams, raw, prefix="params")


def parse_classifier_config(raw: Mapping[str, Any]) -> ClassifierConfig:
    """Validate a version's config.json; errors become InvalidInput naming `config.<path>`."""
    return parse_model(ClassifierConfig, raw, prefix="config")


def parse_train_params(raw: Mapping[str, Any]) -> TrainParams:
    """Validate training parameters; errors become InvalidInput naming `params.<path>`."""
    return parse_model(TrainParams, raw, prefix="params")


def parse_eval_params(raw: Mapping[str, Any]) -> EvalParams:
    """Validate evaluation parameters; errors become InvalidInput naming `params.<path>`."""
    return parse_model(EvalParams, raw, prefix="params")


def parse_predict_params(raw: Mapping[str, Any]) -> PredictParams:
    """Validate prediction parameters; errors become InvalidInput naming `params.<path>`."""
    return parse_model(PredictParams, raw, prefix="params")

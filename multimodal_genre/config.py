"""Typed, validated configuration read from YAML.

The default values live in ``configs/default.yaml`` (data, not code). The dataclasses below only
describe the shape and the allowed values, so that a typo or a bad value fails before any work
starts, with the file and the full key in the message.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import yaml

from multimodal_genre.errors import ConfigError

Problems = Iterator[tuple[str, str]]
T = typing.TypeVar("T")


@dataclasses.dataclass(frozen=True)
class CropBox:
    """The plot area inside the spectrogram image, as inclusive pixel ranges."""

    rows: tuple[int, int]
    cols: tuple[int, int]

    def problems(self) -> Problems:
        for name, (first, last) in (("rows", self.rows), ("cols", self.cols)):
            if not 0 <= first <= last:
                yield name, f"must be [first, last] with 0 <= first <= last, got [{first}, {last}]"

    @property
    def height(self) -> int:
        return self.rows[1] - self.rows[0] + 1

    @property
    def width(self) -> int:
        return self.cols[1] - self.cols[0] + 1

    @property
    def pil_box(self) -> tuple[int, int, int, int]:
        """(left, upper, right, lower) with exclusive right and lower edges, as Pillow wants it."""
        return self.cols[0], self.rows[0], self.cols[1] + 1, self.rows[1] + 1


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    """How a spectrogram PNG becomes a model input array."""

    crop: CropBox | None
    height: int | None
    width: int | None
    color: Literal["rgb", "grayscale"]

    def problems(self) -> Problems:
        if self.height is None and self.width is None:
            yield "height", "and width cannot both be null"
        for name in ("height", "width"):
            value = getattr(self, name)
            if value is not None and not 8 <= value <= 4096:
                yield name, f"must be between 8 and 4096 pixels, got {value}"

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1


@dataclasses.dataclass(frozen=True)
class DataConfig:
    image: ImageConfig
    cache: bool
    cache_dir: str | None


@dataclasses.dataclass(frozen=True)
class SplitConfig:
    seed: int
    test_fraction: float
    validation_fraction: float
    folds: int

    def problems(self) -> Problems:
        if not 0.0 < self.test_fraction <= 0.5:
            yield "test_fraction", f"must be in (0, 0.5], got {self.test_fraction}"
        if not 0.0 <= self.validation_fraction <= 0.5:
            yield "validation_fraction", f"must be in [0, 0.5] (0: no validation side), got {self.validation_fraction}"
        if self.test_fraction + self.validation_fraction > 0.6:
            yield "validation_fraction", "plus test_fraction must leave at least 40% for training"
        if self.folds < 2:
            yield "folds", f"must be at least 2, got {self.folds}"


def _positive(names: tuple[str, ...], values: tuple[float, ...]) -> Problems:
    for name, value in zip(names, values, strict=True):
        if value <= 0:
            yield name, f"must be positive, got {value}"


def _rate(name: str, value: float, top: float = 0.9) -> Problems:
    if not 0.0 <= value <= top:
        yield name, f"must be between 0 and {top}, got {value}"


def _widths(name: str, widths: tuple[int, ...]) -> Problems:
    if any(width < 1 for width in widths):
        yield name, f"must all be at least 1, got {list(widths)}"


@dataclasses.dataclass(frozen=True)
class BackboneConfig:
    """A keras.applications network in place of the convolution blocks: transfer learning."""

    name: Literal["mobilenet_v2", "efficientnet_b0", "resnet50", "xception"]
    # "imagenet" (a file for this network in $MULTIMODAL_GENRE_WEIGHTS, else Keras downloads it),
    # the path of a weights file of the network without its top, or null for a random start.
    weights: str | None
    # null: the backbone is frozen; a layer name: that layer and every later one train; "all": all train.
    fine_tune_from: str | None

    def problems(self) -> Problems:
        if self.weights == "":
            yield "weights", "must be imagenet, a file path or null, got an empty string"
        if self.fine_tune_from == "":
            yield "fine_tune_from", "must be a layer name, all or null, got an empty string"


@dataclasses.dataclass(frozen=True)
class ImageBranchConfig:
    """Blocks of same-padded convolutions, each followed by pooling and dropout, or a pretrained
    backbone; then global pooling."""

    filters: tuple[int, ...]  # one block per entry
    convs_per_block: int
    kernel_size: int
    batch_norm: bool
    pooling: Literal["max", "average"]
    dropout: float
    global_pooling: Literal["time_average", "average", "max", "flatten"]
    # Momentum of the batch-norm moving averages. With about 25 steps an epoch, 0.9 lets them
    # settle within an epoch, so the weights early stopping restores come with fitting statistics.
    batch_norm_momentum: float
    # Training-time augmentation: roll each spectrogram along time by up to this fraction of its width.
    time_shift: float
    # A pretrained network instead of the blocks above (whose filters, convolutions, kernel size,
    # batch norm and pooling then do not apply; dropout follows the global pooling).
    backbone: BackboneConfig | None

    def problems(self) -> Problems:
        if not self.filters:
            yield "filters", "must list at least one block"
        yield from _widths("filters", self.filters)
        yield from _positive(("convs_per_block",), (self.convs_per_block,))
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            yield "kernel_size", f"must be an odd number of pixels, got {self.kernel_size}"
        yield from _rate("dropout", self.dropout)
        if not 0.0 < self.batch_norm_momentum < 1.0:
            yield "batch_norm_momentum", f"must be between 0 and 1, got {self.batch_norm_momentum}"
        yield from _rate("time_shift", self.time_shift, top=1.0)


@dataclasses.dataclass(frozen=True)
class TabularBranchConfig:
    """An MLP over the standardised feature row."""

    # Take the log of the 28 variance columns first: their values span several orders of magnitude.
    log_variances: bool
    widths: tuple[int, ...]
    dropout: float

    def problems(self) -> Problems:
        yield from _widths("widths", self.widths)
        yield from _rate("dropout", self.dropout)


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """Dense layers between the (concatenated) branch outputs and the softmax."""

    widths: tuple[int, ...]
    dropout: float
    # Chance of silencing one branch's whole output for a training example, so that the fused
    # model cannot lean on one view alone; it has no effect on a single-branch model.
    branch_dropout: float
    # Weight of an extra softmax on each branch, trained alongside the fused output so that each
    # branch learns to classify on its own (a slow image branch is not left behind by a quick
    # tabular one). Training only: the saved model has the fused output alone. 0 switches it off.
    auxiliary_weight: float

    def problems(self) -> Problems:
        yield from _widths("widths", self.widths)
        yield from _rate("dropout", self.dropout)
        yield from _rate("branch_dropout", self.branch_dropout, top=0.5)
        yield from _rate("auxiliary_weight", self.auxiliary_weight, top=2.0)


@dataclasses.dataclass(frozen=True)
class EarlyStoppingConfig:
    monitor: Literal["val_loss", "val_accuracy"]
    patience: int

    def problems(self) -> Problems:
        yield from _positive(("patience",), (self.patience,))


@dataclasses.dataclass(frozen=True)
class ReduceLRConfig:
    monitor: Literal["val_loss", "val_accuracy"]
    factor: float
    patience: int
    min_learning_rate: float

    def problems(self) -> Problems:
        if not 0.0 < self.factor < 1.0:
            yield "factor", f"must be between 0 and 1, got {self.factor}"
        yield from _positive(("patience",), (self.patience,))


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    epochs: int
    batch_size: int
    optimizer: Literal["adam", "nadam", "adamw"]
    learning_rate: float
    weight_decay: float  # used by adamw only
    early_stopping: EarlyStoppingConfig
    reduce_lr: ReduceLRConfig

    def problems(self) -> Problems:
        yield from _positive(
            ("epochs", "batch_size", "learning_rate"), (self.epochs, self.batch_size, self.learning_rate)
        )
        if self.weight_decay < 0:
            yield "weight_decay", f"must not be negative, got {self.weight_decay}"


@dataclasses.dataclass(frozen=True)
class NetworkConfig:
    """A Keras model: an image branch, a tabular branch or both, a head, and how to train it."""

    image: ImageBranchConfig | None
    tabular: TabularBranchConfig | None
    head: HeadConfig
    training: TrainingConfig


@dataclasses.dataclass(frozen=True)
class XGBoostConfig:
    """Gradient-boosted trees on the raw feature row; the number of rounds comes from early stopping."""

    max_depth: int
    learning_rate: float
    subsample: float
    colsample_bytree: float
    min_child_weight: float
    reg_alpha: float
    reg_lambda: float
    max_rounds: int
    early_stopping_rounds: int

    def problems(self) -> Problems:
        yield from _positive(
            ("max_depth", "learning_rate", "max_rounds", "early_stopping_rounds"),
            (self.max_depth, self.learning_rate, self.max_rounds, self.early_stopping_rounds),
        )
        for name in ("subsample", "colsample_bytree"):
            if not 0.0 < getattr(self, name) <= 1.0:
                yield name, f"must be in (0, 1], got {getattr(self, name)}"
        for name in ("min_child_weight", "reg_alpha", "reg_lambda"):
            if getattr(self, name) < 0:
                yield name, f"must not be negative, got {getattr(self, name)}"


@dataclasses.dataclass(frozen=True)
class ModelsConfig:
    """The four models a comparison trains: each network has exactly the branches its name says."""

    fused: NetworkConfig
    cnn: NetworkConfig
    mlp: NetworkConfig
    xgboost: XGBoostConfig

    def problems(self) -> Problems:
        expected = {"fused": (True, True), "cnn": (True, False), "mlp": (False, True)}
        for name, (image, tabular) in expected.items():
            network = getattr(self, name)
            if (network.image is not None, network.tabular is not None) != (image, tabular):
                branches = " and ".join(b for b, on in (("image", image), ("tabular", tabular)) if on)
                yield name, f"must have the {branches} branch{'es' if image and tabular else ''} and no other"


MODEL_NAMES = ("fused", "cnn", "mlp", "xgboost")


@dataclasses.dataclass(frozen=True)
class Config:
    data: DataConfig
    split: SplitConfig
    seed: int  # weight initialisation, shuffling and XGBoost sampling
    models: ModelsConfig


def load_config(path: str | Path | None = None) -> Config:
    """Read the packaged defaults, overlay the keys of ``path`` (if given) and validate the result."""
    if path is None:
        return changed_config({}, "default.yaml")
    return changed_config(read_yaml(Path(path), str(path)), str(path))


def changed_config(changes: Mapping[str, Any], source: str) -> Config:
    """The packaged defaults with ``changes`` (parsed YAML) overlaid, validated; errors name ``source``."""
    defaults = read_yaml(files("multimodal_genre.configs") / "default.yaml", "default.yaml")
    return _build(Config, merge(defaults, changes), "", source)


def config_dict(config: Config) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples as lists): ``from_data(Config, ...)`` reads it back."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def from_data(kind: type[T], data: Any, source: str, key: str = "") -> T:
    """Validate plain data (parsed YAML) as the settings dataclass ``kind``: every key known, every
    value of its type and within its bounds; errors name ``source`` and the full key."""
    return _build(kind, data, key, source)


def read_yaml(path: Any, name: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: config file not found") from None
    except OSError as error:
        raise ConfigError(f"{name}: cannot read config file ({error.strerror})") from None
    try:
        content = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{name}: invalid YAML{line}") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of sections, got {type(content).__name__}")
    return content


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge: mappings merge key by key, any other value replaces the default."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), Mapping):
            merged[key] = merge(base[key], value)
        else:
            merged[key] = value
    return merged


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _build(kind: Any, value: Any, key: str, source: str) -> Any:
    """Convert parsed YAML to ``kind``, raising ConfigError that names ``source`` and ``key``."""

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{source}: '{key}' {problem}")

    if dataclasses.is_dataclass(kind):
        if not isinstance(value, Mapping):
            raise fail(f"must be a mapping, got {value!r}")
        names = [field.name for field in dataclasses.fields(kind)]
        for name in value:
            if name not in names:
                raise ConfigError(
                    f"{source}: unknown key '{_join(key, str(name))}' (expected one of: {', '.join(sorted(names))})"
                )
        hints = typing.get_type_hints(kind)
        missing = [name for name in names if name not in value]
        if missing:
            raise ConfigError(f"{source}: missing key '{_join(key, missing[0])}'")
        built = kind(**{name: _build(hints[name], value[name], _join(key, name), source) for name in names})
        for name, problem in getattr(built, "problems", lambda: ())():
            raise ConfigError(f"{source}: '{_join(key, name)}' {problem}")
        return built

    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise fail("must not be null")
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _build(inner, value, key, source)
    if value is None:
        raise fail("must not be null")
    if origin is Literal:
        if value in args:
            return value
        raise fail(f"must be one of {', '.join(map(str, args))}, got {value!r}")
    if origin is dict:
        if not isinstance(value, Mapping):
            raise fail(f"must be a mapping, got {value!r}")
        return {str(name): _build(args[1], item, _join(key, str(name)), source) for name, item in value.items()}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            if not isinstance(value, (list, tuple)):
                raise fail(f"must be a list, got {value!r}")
            args = (args[0],) * len(value)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise fail(f"must be a list of {len(args)} values, got {value!r}")
        return tuple(
            _build(arg, item, f"{key}[{i}]", source) for i, (arg, item) in enumerate(zip(args, value, strict=True))
        )
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise fail(f"must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail(f"must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise fail(f"must be a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise fail(f"must be a string, got {value!r}")
    raise TypeError(f"config type {kind!r} of '{key}' is not supported")

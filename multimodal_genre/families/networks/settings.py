"""The settings of a Keras network: its image branch (3x3 convolution blocks or a pretrained
backbone), its tabular branch, its pre-trained music branch, its head and how it trains.
``build.py`` builds a network from them, ``fitting.py`` trains it."""

from __future__ import annotations

import dataclasses
from typing import Literal

from multimodal_genre.musicnn import Embedding, network_of, resolved_source, view_problems
from multimodal_genre.settings import Problems, Settings


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
class BackboneConfig(Settings):
    """A keras.applications network in place of the convolution blocks: transfer learning. Its
    default in the config is null, so a mapping that names only some keys (``{name: mobilenet_v2}``)
    takes the defaults below for the others: ImageNet weights, frozen."""

    name: Literal["mobilenet_v2", "efficientnet_b0", "resnet50", "xception"]
    # "imagenet" (a file for this network in $MULTIMODAL_GENRE_WEIGHTS, else Keras downloads it),
    # the path of a weights file of the network without its top, or null for a random start.
    weights: str | None = "imagenet"
    # null: the backbone is frozen; a layer name: that layer and every later one train; "all": all train.
    fine_tune_from: str | None = None

    def problems(self) -> Problems:
        if self.weights == "":
            yield "weights", "must be imagenet, a file path or null, got an empty string"
        if self.fine_tune_from == "":
            yield "fine_tune_from", "must be a layer name, all or null, got an empty string"


@dataclasses.dataclass(frozen=True)
class MaskingConfig(Settings):
    """SpecAugment-style masking for training: bands of columns (time) and of rows (frequency) set to
    zero, each as wide as a random share of the image up to its ``*_width``, so the network cannot lean
    on any one moment or pitch band."""

    time_masks: int = 2
    time_width: float = 0.1  # at most this fraction of the width per band
    frequency_masks: int = 2
    frequency_width: float = 0.1  # at most this fraction of the height per band

    def problems(self) -> Problems:
        for name in ("time_masks", "frequency_masks"):
            if getattr(self, name) < 0:
                yield name, f"must not be negative, got {getattr(self, name)}"
        yield from _rate("time_width", self.time_width, top=0.5)
        yield from _rate("frequency_width", self.frequency_width, top=0.5)


@dataclasses.dataclass(frozen=True)
class TimeCropConfig(Settings):
    """Train the image branch on random windows along time and predict from evenly spaced windows
    averaged: a genre is heard in any few seconds of a clip, so each clip yields many examples."""

    width: float  # of the clip's width, e.g. 0.33
    test_crops: int = 5  # windows averaged at prediction time, first and last at the clip's ends

    def problems(self) -> Problems:
        if not 0.0 < self.width < 1.0:
            yield "width", f"must be between 0 and 1 (a share of the clip), got {self.width}"
        if self.test_crops < 1:
            yield "test_crops", f"must be at least 1, got {self.test_crops}"


@dataclasses.dataclass(frozen=True)
class ImageBranchConfig(Settings):
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
    # Training-time augmentation after the shift: masked time and frequency bands (null: none).
    masking: MaskingConfig | None = None
    # Random windows along time in training, windows averaged at prediction time (null: whole clips).
    time_crop: TimeCropConfig | None = None

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
class TabularBranchConfig(Settings):
    """An MLP over the standardised feature row."""

    # Take the log of the 28 variance columns first: their values span several orders of magnitude.
    log_variances: bool
    widths: tuple[int, ...]
    dropout: float

    def problems(self) -> Problems:
        yield from _widths("widths", self.widths)
        yield from _rate("dropout", self.dropout)


@dataclasses.dataclass(frozen=True)
class MusicBackboneConfig(Settings):
    """A network pre-trained to tag music (musicnn, Pons and Serra 2019), reading each clip's picture."""

    name: Literal["musicnn", "musicnn_vgg"]  # musicnn, or the VGG-like network it was compared with
    # msd: trained on the Million Song Dataset's tags; mtt: on MagnaTagATune's; or the prefix of a
    # TensorFlow checkpoint of the same network (DIR/model for DIR/model.index).
    weights: str
    # null: frozen, its view of each track computed once; a layer name: that layer and the later ones
    # train; all: every layer trains.
    fine_tune_from: str | None

    @property
    def network(self) -> Literal["musicnn", "vgg"]:
        return network_of(self.name)

    def problems(self) -> Problems:
        if not self.weights:
            yield "weights", "must be msd, mtt or a checkpoint prefix, got an empty string"
        if self.fine_tune_from == "":
            yield "fine_tune_from", "must be a layer name, all or null, got an empty string"


@dataclasses.dataclass(frozen=True)
class PretrainedBranchConfig(Settings):
    """A pre-trained music network's activations on each 3 s patch of the clip, pooled over the
    clip by their mean and max, then dense layers."""

    backbone: MusicBackboneConfig
    activations: tuple[str, ...]  # musicnn: mean_pool, max_pool, penultimate, tags; musicnn_vgg: pool5, tags
    widths: tuple[int, ...]
    dropout: float
    # 3 s patches of a clip the network reads: null, every whole one (10 of a 30 s clip); a number, that
    # many evenly spaced (a quicker pass over the pictures).
    patches: int | None = None
    # Where musicnn reads each clip: auto, from its audio where every track of the dataset has one (the
    # full Kaggle download), else from its picture; picture; or audio. Resolved against the dataset
    # when a run starts and recorded in its config, so prediction takes the same route.
    source: Literal["auto", "picture", "audio"] = "picture"
    # How a frozen view is standardised on the training rows: columns, each column to unit variance;
    # blocks, as the SVM reads it (``scaling.py``): each block of columns (an activation's mean or max
    # over the patches) weighing the same, units that never fire read as 0.
    scaling: Literal["columns", "blocks"] = "columns"

    @property
    def embedding(self) -> Embedding:
        """The view of the tracks this branch reads: computed once where the network is frozen, the
        clip's patches where it is fine-tuned inside the model."""
        backbone = self.backbone
        trainable = backbone.fine_tune_from is not None
        source = resolved_source(self.source)
        return Embedding(backbone.network, backbone.weights, self.activations, self.patches, trainable, source)

    def problems(self) -> Problems:
        yield from view_problems(self.backbone.network, self.activations, self.patches)
        yield from _widths("widths", self.widths)
        yield from _rate("dropout", self.dropout)


@dataclasses.dataclass(frozen=True)
class HeadConfig(Settings):
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
class EarlyStoppingConfig(Settings):
    monitor: Literal["val_loss", "val_accuracy"]
    patience: int

    def problems(self) -> Problems:
        yield from _positive(("patience",), (self.patience,))


@dataclasses.dataclass(frozen=True)
class ReduceLRConfig(Settings):
    monitor: Literal["val_loss", "val_accuracy"]
    factor: float
    patience: int
    min_learning_rate: float

    def problems(self) -> Problems:
        if not 0.0 < self.factor < 1.0:
            yield "factor", f"must be between 0 and 1, got {self.factor}"
        yield from _positive(("patience",), (self.patience,))


@dataclasses.dataclass(frozen=True)
class TrainingConfig(Settings):
    epochs: int
    batch_size: int
    optimizer: Literal["adam", "nadam", "adamw"]
    learning_rate: float
    weight_decay: float  # used by adamw only
    # plateau: the learning rate is cut when the monitored loss stalls (reduce_lr); cosine: it rises
    # linearly for warmup_epochs, then falls along a half cosine to zero at the last epoch, so
    # ``epochs`` is the training's length (early stopping may still end it sooner).
    # null: no early stopping; a run trains for ``epochs`` on the training and validation rows together.
    early_stopping: EarlyStoppingConfig | None
    reduce_lr: ReduceLRConfig  # plateau only
    schedule: Literal["plateau", "cosine"] = "plateau"
    warmup_epochs: int = 0  # cosine only
    # Mixup's Beta(alpha, alpha) parameter: training examples are blends of two tracks, both views and
    # the genres by the same share. 0: off.
    mixup: float = 0.0

    def problems(self) -> Problems:
        yield from _positive(
            ("epochs", "batch_size", "learning_rate"), (self.epochs, self.batch_size, self.learning_rate)
        )
        if self.weight_decay < 0:
            yield "weight_decay", f"must not be negative, got {self.weight_decay}"
        if self.mixup < 0:
            yield "mixup", f"must not be negative (0: off), got {self.mixup}"
        if not 0 <= self.warmup_epochs < self.epochs:
            yield "warmup_epochs", f"must be at least 0 and fewer than epochs ({self.epochs}), got {self.warmup_epochs}"


@dataclasses.dataclass(frozen=True)
class NetworkConfig(Settings):
    """A Keras model: an image branch, a tabular branch, a pre-trained music branch or several, a
    head, and how to train it."""

    image: ImageBranchConfig | None
    tabular: TabularBranchConfig | None
    head: HeadConfig
    training: TrainingConfig
    pretrained: PretrainedBranchConfig | None = None

    def problems(self) -> Problems:
        if self.image is None and self.tabular is None and self.pretrained is None:
            yield "image", "'tabular' and 'pretrained' cannot all be null: a network needs a branch"

    def embeddings(self) -> tuple[Embedding, ...]:
        """The pre-trained view of the tracks its music branch reads, if it has one."""
        return () if self.pretrained is None else (self.pretrained.embedding,)

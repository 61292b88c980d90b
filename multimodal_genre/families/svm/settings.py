"""The settings of the support vector machine: which views of a track it reads, and its one knob."""

from __future__ import annotations

import dataclasses
from typing import Literal

from multimodal_genre.musicnn import Embedding, network_of, resolved_source, view_problems
from multimodal_genre.settings import Problems, Settings


@dataclasses.dataclass(frozen=True)
class MusicViewConfig(Settings):
    """A pre-trained music network's view of each clip (``musicnn/embeddings.py``): its activations on
    each 3 s patch, pooled over the clip by their mean and max, computed once and cached."""

    name: Literal["musicnn", "musicnn_vgg"]
    weights: str  # msd, mtt, or the prefix of a checkpoint of the same network
    activations: tuple[str, ...]  # musicnn: mean_pool, max_pool, penultimate, tags; musicnn_vgg: pool5, tags
    patches: int | None = None  # 3 s patches a clip: null, every whole one; a number, that many evenly spaced
    source: Literal["auto", "picture", "audio"] = "picture"  # as a network's pre-trained branch reads it

    @property
    def embedding(self) -> Embedding:
        source = resolved_source(self.source)
        return Embedding(network_of(self.name), self.weights, self.activations, self.patches, source=source)

    def problems(self) -> Problems:
        if not self.weights:
            yield "weights", "must be msd, mtt or a checkpoint prefix, got an empty string"
        yield from view_problems(network_of(self.name), self.activations, self.patches)


@dataclasses.dataclass(frozen=True)
class SVMConfig(Settings):
    """An RBF support vector machine on the standardised feature row and, beside it, a pre-trained
    music network's view of the clip; each block of columns (the feature row, each pooled activation)
    weighs the same in the kernel's distance, however many columns it has."""

    c: float  # the penalty on margin violations: larger fits the training rows more closely
    log_variances: bool  # the log of the 28 variance columns first
    pretrained: MusicViewConfig | None  # null: the feature row alone

    def problems(self) -> Problems:
        if self.c <= 0:
            yield "c", f"must be positive, got {self.c}"
